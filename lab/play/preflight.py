"""What `lab run` and `lab drill` check before anything starts, so that a mistake is one line and exit 2 rather than
a run that fails half-way: every runbook script is in its scenario's directory (or its runbook file's, or one the
user allowed with `--allow-scripts-in`), exists and is executable, and the credentials the run will need (an
administrator of each database a write check or a database fault acts on) are in the environment.

A script is confined because a scenario is a file people share and run: `script: /bin/sh` with `args: [-c, ...]`,
or `../../../bin/sh`, would run anything on the host of whoever runs it, while the README promises scripts relative
to the scenario. Its path is resolved, symlinks included, before it is compared.

`lab validate` checks the scripts too: they are files of the scenario, and a scenario that validates should not be
refused by the run. The credentials are not: they belong to the environment a run happens in (a CI secret), not to
the scenario."""

from __future__ import annotations

import os
from pathlib import Path

from lab.errors import InvalidInput
from lab.play.steps.runbook import RunbookStep
from lab.scenario.document import Scenario
from lab.scenario.rule_files import rule_problems
from lab.settings import ALLOW_SCRIPTS_OPTION


def preflight(scenario: Scenario, allowed: tuple[Path, ...] = ()) -> None:
    check_scripts(scenario, allowed)
    check_credentials(scenario)


def check_scripts(scenario: Scenario, allowed: tuple[Path, ...] = ()) -> None:
    found = script_problems(scenario, allowed) + rule_problems(scenario, variants=False)
    if found:
        raise InvalidInput("; ".join(found))


def script_problems(scenario: Scenario, allowed: tuple[Path, ...] = ()) -> list[str]:
    """Every runbook script that the run could not or must not execute, with its field path. `allowed`: directories
    the user allowed scripts in besides their own."""
    found: list[str] = []
    for step in scenario.timeline:
        if isinstance(step, RunbookStep) and step.script is not None:
            problem = _script_problem(step.script_path(scenario.base_dir), step.home(scenario.base_dir), allowed)
            if problem:
                found.append(f"timeline[{step.index}].script: {problem}")
    return found


def _script_problem(path: Path, home: Path, allowed: tuple[Path, ...]) -> str | None:
    try:
        resolved = path.resolve()
        places = [place.resolve() for place in (home, *allowed)]
        if not any(resolved.is_relative_to(place) for place in places):
            shown = path if resolved == path else f"{path} (that is {resolved})"
            return (f"{shown} is outside {home}: a script must be in the directory of the file that names it, or in "
                    f"one given with {ALLOW_SCRIPTS_OPTION}")
        if path.is_dir():
            return f"{path} is a directory, not a script"
        if not path.is_file():
            return f"{path} does not exist"
    except (OSError, RuntimeError) as exc:  # a name too long, a symlink loop (RuntimeError before Python 3.13)
        return f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}"
    if not os.access(path, os.X_OK):
        return f"{path} is not executable (chmod +x it)"
    return None


def check_credentials(scenario: Scenario) -> None:
    """A team's stack names environment variables for its databases' credentials: those the run needs are set."""
    if scenario.stack is None:
        return  # the built-in stack's password is the lab's own, random per run
    check = scenario.workload_spec.write_check
    needed = {check.database} if check else set()
    needed |= {fault.target for fault in scenario.faults if fault.target in scenario.topology.databases}
    for database in scenario.stack.databases:
        if database.service not in needed:
            continue
        names = (database.user_env, database.password_env)
        if not all(names):
            raise InvalidInput(f"stack.databases: {database.service}: name the environment variables of an "
                               "administrator's credentials (user_env, password_env)")
        missing = [name for name in names if name and name not in os.environ]
        if missing:
            raise InvalidInput(f"stack.databases: {database.service}: set {' and '.join(missing)} in the "
                               "environment (an administrator's credentials, never printed)")
