"""Paths a user names (arguments, options, environment variables), asked what they are without an OSError escaping.
`Path.is_dir()` and its kind answer False for a path that does not exist but raise for one the system refuses to
look up: a name longer than its limit (ENAMETOOLONG), a directory it may not search. Those are the user's input too:
invalid input, said in one line naming the path."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from lab.errors import InvalidInput


def is_dir(path: Path) -> bool:
    return _asked(path, Path.is_dir)


def is_file(path: Path) -> bool:
    return _asked(path, Path.is_file)


def exists(path: Path) -> bool:
    return _asked(path, Path.exists)


def _asked(path: Path, question: Callable[[Path], bool]) -> bool:
    try:
        return question(path)
    except OSError as exc:
        raise InvalidInput(f"cannot use {path}: {exc.strerror or exc}") from exc
