"""The `figure` fixture and the session's summary of the figures the tests said."""

from __future__ import annotations

import pytest

from tests.figures import PROPERTY, Figure


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Figure:
    """Say a figure this test measured: it is printed in the session's summary, under the test's name."""
    def say(text: str) -> None:
        request.node.user_properties.append((PROPERTY, text))
    return say


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    said = [(report.nodeid, str(text)) for reports in terminalreporter.stats.values() for report in reports
            if isinstance(report, pytest.TestReport) and report.when == "call"
            for name, text in report.user_properties if name == PROPERTY]
    if said:
        terminalreporter.section("figures measured")
        for nodeid, text in sorted(said):
            terminalreporter.write_line(f"{text}  ({nodeid.rpartition('::')[2]})")
