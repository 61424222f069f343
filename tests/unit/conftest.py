"""Unit tests never touch Docker: every one of them, and every `lab` process they start, sees a DOCKER_HOST that
nothing listens on, so that any attempt to reach an engine fails loudly instead of acting on the developer's."""

from __future__ import annotations

import pytest

NO_DOCKER_HOST = "unix:///nonexistent/outage-lab-unit-tests/docker.sock"


@pytest.fixture(autouse=True)
def no_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_DOCKER_HOST)
