"""Real Docker for the integration tests: one engine connection and the lab's images per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lab.settings import Settings
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack


@pytest.fixture(scope="session")
def settings() -> Settings:
    os.environ.setdefault("LAB_OFFLINE", "1")  # tests never pull: no registry is assumed
    return Settings.from_env()


@pytest.fixture(scope="session")
def engine(settings: Settings) -> Engine:
    return Engine.connect(settings)


@pytest.fixture(scope="session")
def lab_images(engine: Engine) -> LabImages:
    return engine.images(progress=lambda message: print(message))


@pytest.fixture
def stack(engine: Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images) as running:
        yield running
