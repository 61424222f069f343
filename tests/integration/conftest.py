"""Real Docker for the integration tests: one engine connection and the lab's images per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lab.settings import Settings
from lab.stack import commands as lifecycle
from lab.stack.images import LabImages
from lab.stack.project import Stack

pytestmark = pytest.mark.docker


@pytest.fixture(scope="session")
def settings() -> Settings:
    os.environ.setdefault("LAB_OFFLINE", "1")  # tests never pull: no registry is assumed
    return Settings.from_env()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> lifecycle.Engine:
    return lifecycle.Engine.connect(settings)


@pytest.fixture(scope="session")
def lab_images(engine: lifecycle.Engine) -> LabImages:
    return lifecycle.ensure_images(engine, progress=lambda message: print(message))


@pytest.fixture
def stack(engine: lifecycle.Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images) as running:
        yield running
