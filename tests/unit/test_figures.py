"""A figure a test says reaches the session's summary, also from a worker process of pytest-xdist (the integration
tests run two at a time, and a worker's own output is never shown)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["one process", "two workers"])
def test_a_said_figure_is_in_the_summary_under_its_tests_name(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, workers: tuple[str, ...]) -> None:
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    pytester.makeconftest("from tests.conftest import figure, pytest_terminal_summary  # noqa: F401\n")
    pytester.makepyfile(test_said="def test_one(figure):\n    figure('[x] 42 ms')\n\n"
                                  "def test_two():\n    pass\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *workers)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*= figures measured =*", "[[]x[]] 42 ms  (test_one)"])
