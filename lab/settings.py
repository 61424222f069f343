"""Settings from the environment, read when a command runs (never at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from lab import user_paths
from lab.errors import InvalidInput

ALLOW_SCRIPTS_OPTION = "--allow-scripts-in"
"""The option that lets runbook scripts be in a directory besides their scenario's (every command playing one)."""

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PACKAGE_DIR = Path(__file__).resolve().parent
BUILTIN_SCENARIOS = PACKAGE_DIR / "scenarios"
"""The incident library shipped with the package (a source checkout links scenarios/ to it)."""
BUILTIN_COMPOSE_FILE = PACKAGE_DIR / "compose" / "stack.yaml"
DEFAULT_BASE_IMAGE = "debian:bookworm-slim"
BOOTSTRAPPED_BASE_IMAGE = "outage-lab/base:bookworm-debootstrap"


@dataclass(frozen=True)
class Settings:
    base_image: str
    """Debian bookworm image the lab's images build on; users with a registry get debian:bookworm-slim."""
    offline: bool
    """Never pull: bootstrap the base image with debootstrap when it is not present locally."""
    runs_dir: Path
    compose_file: Path
    user_scenarios_dir: Path | None
    """LAB_SCENARIOS_DIR: a team's own scenarios, found by name before the built-in library."""
    engine_wait_s: float = 60.0
    """How long a run whose Docker engine went away waits for it to come back before it gives up cleaning up."""
    script_dirs: tuple[Path, ...] = ()
    """Directories a scenario's runbook scripts may be in besides its own (`--allow-scripts-in`: a command's option,
    never the environment's, so that trusting a directory is said each time)."""

    @property
    def scenario_dirs(self) -> tuple[Path, ...]:
        """Where scenario names are looked up, in order: the team's own directory, then the built-in library. A
        LAB_SCENARIOS_DIR that is not a directory is refused: ignored, the team's scenarios would go unfound."""
        own = self.user_scenarios_dir
        if own is None:
            return (BUILTIN_SCENARIOS,)
        try:
            found, there = user_paths.is_dir(own), user_paths.exists(own)
        except InvalidInput as exc:  # a name the system refuses to look up
            raise InvalidInput(f"LAB_SCENARIOS_DIR: {exc}") from exc
        if not found:
            raise InvalidInput(f"LAB_SCENARIOS_DIR: {own} {'is not a directory' if there else 'does not exist'}")
        return (own, BUILTIN_SCENARIOS)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            base_image=env.get("LAB_BASE_IMAGE", DEFAULT_BASE_IMAGE),
            offline=env.get("LAB_OFFLINE", "") not in ("", "0", "false", "no"),
            runs_dir=Path(env.get("LAB_RUNS_DIR", "runs")),
            compose_file=Path(env.get("LAB_COMPOSE_FILE", BUILTIN_COMPOSE_FILE)),
            user_scenarios_dir=Path(env["LAB_SCENARIOS_DIR"]) if env.get("LAB_SCENARIOS_DIR") else None,
            engine_wait_s=_seconds(env, "LAB_ENGINE_WAIT_S", 60.0),
        )


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "")
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise InvalidInput(f"{name} must be a number of seconds, 0 or more, got {raw!r}")
    return value
