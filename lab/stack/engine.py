"""The Docker engine as every lab command meets it: connected, with the leftovers of dead runs removed first, Compose
found when a command starts a stack, and the stacks of its runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import docker

from lab.settings import Settings
from lab.stack import images
from lab.stack.cleanup import reap_dead_runs
from lab.stack.compose import compose_command
from lab.stack.docker_api import connect
from lab.stack.project import Stack

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Engine:
    """What every stack command needs: a live Docker client, and the Compose argv once it is needed."""

    client: docker.DockerClient
    settings: Settings
    compose_argv: list[str] | None = None
    """Found by `with_compose()`; left None, a stack finds it when it first runs Compose (commands that only
    look, such as `lab exec`, never need it: finding it costs a subprocess or two)."""
    reaped: tuple[str, ...] = ()
    """Runs whose owner process was gone, removed when this engine connected."""

    @classmethod
    def connect(cls, settings: Settings) -> Engine:
        """Connect, and remove what dead runs left behind (every lab command does this first)."""
        client = connect()
        return cls(client=client, settings=settings, reaped=tuple(reap_dead_runs(client)))

    def with_compose(self) -> Engine:
        """The same engine with Compose found now: commands that start a stack fail early without it."""
        return self if self.compose_argv else replace(self, compose_argv=compose_command())

    def stack(self, run_id: str | None = None, **kwargs: object) -> Stack:
        """A new stack (fresh run id), or the handle of an existing run's."""
        if run_id is not None:
            kwargs["run_id"] = run_id
        return Stack(self.client, self.compose_argv, self.settings, **kwargs)  # type: ignore[arg-type]

    def images(self, progress: Progress) -> images.LabImages:
        """The lab's images, built where their inputs changed."""
        return images.build_images(self.client, self.settings, progress)
