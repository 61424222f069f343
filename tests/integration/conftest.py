"""Real Docker for the integration tests: one engine connection, the lab's images and the library's plays per
session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from lab.settings import Settings
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack

from .library_plays import LibraryPlays


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


@pytest.fixture(scope="session")
def library(tmp_path_factory: pytest.TempPathFactory, lab_images: LabImages) -> LibraryPlays:
    """The incident library's plays of this session (library_plays): each run once, judged by every test asking."""
    return LibraryPlays(tmp_path_factory.mktemp("library") / "runs")
