"""Figures the tests measure (the README quotes several): said through the `figure` fixture and printed together
at the end of the session. Printing from inside a test does not work once the tests run in several processes
(pytest-xdist): a worker's output is not shown, but a report's user properties travel to the controller."""

from __future__ import annotations

from collections.abc import Callable

Figure = Callable[[str], None]

PROPERTY = "figure"
