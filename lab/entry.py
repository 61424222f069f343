"""The `lab` command's entry point. Loading the CLI takes about a second (click, rich, pydantic, the Docker SDK), and
a Ctrl-C in that second must end as one anywhere else does, in one line and exit 130, not in a KeyboardInterrupt
traceback from deep inside an import: so nothing of the CLI is imported before that can be caught."""

from __future__ import annotations

import os
import sys
from typing import NoReturn

from lab.errors import EXIT_SIGINT


def main() -> NoReturn:
    try:
        from lab.cli.app import entry
    except KeyboardInterrupt:
        sys.stderr.write("lab: interrupted\n")
        sys.stderr.flush()
        os._exit(EXIT_SIGINT)  # as entry() ends: the interpreter's shutdown has nothing to do
    entry()


if __name__ == "__main__":  # pragma: no cover
    main()
