"""What a scenario and its variants may be called: their names go into run directories, file names and shell lines,
so they hold lowercase letters, digits and dashes only."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, Field

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,59}")
"""A scenario's name: it names the run directory (`runs/<utc>-<name>-<variant>`) and the file `lab new` writes, so no
path separator, dot, space or newline can take either elsewhere or break the shell line that names it."""
VARIANT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


def _name_check(rule: re.Pattern[str], longest: int) -> Callable[[str], str]:
    """Checks a name with `rule` in full (a schema's `$` would let a trailing newline through), saying what a name
    may hold rather than quoting the expression."""

    def check(value: str) -> str:
        if rule.fullmatch(value) is None:
            raise ValueError(f"must be lowercase letters, digits and dashes, starting with a letter or digit, at most "
                             f"{longest} characters, got {value!r}")
        return value

    return check


ScenarioName = Annotated[str, Field(json_schema_extra={"pattern": f"^{NAME.pattern}$"}),
                         AfterValidator(_name_check(NAME, 60))]
VariantName = Annotated[str, Field(json_schema_extra={"pattern": f"^{VARIANT_NAME.pattern}$"}),
                        AfterValidator(_name_check(VARIANT_NAME, 40))]


def name_from(words: str, default: str = "scenario") -> str:
    """A scenario name made of any words, such as a file's stem (`Payments DB` -> `payments-db`) or a repository's
    folder (`lab init`); `default` if they hold no letter or digit. A name the file does not give names the run
    directory all the same."""
    return re.sub(r"[^a-z0-9]+", "-", words.lower()).strip("-")[:60].strip("-") or default
