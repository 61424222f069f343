"""The incident library's plays, each played once per test session and judged by every test that asks for it.

A scenario played at its largest speed takes 30-60 s of the machine alone; the library's test, the comparison of a
corrective measure's variant with the scenario as written, and the test of a team's Prometheus rules all judge the
same runs, so each is played once, into one runs folder, as a team's CI would keep them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab.scenario.document import Scenario
from lab.scenario.library import entries
from lab.scenario.pacing import largest_allowed
from lab.scenario.shaping import with_variant
from lab.settings import BUILTIN_SCENARIOS
from tests.cli import lab_cli


@dataclass(frozen=True)
class Played:
    """One `lab run NAME [--variant V] --speed LARGEST` of the library, ended."""

    scenario: Scenario
    variant: str | None
    speed: float
    returncode: int
    stderr: str
    run_dir: Path

    @property
    def label(self) -> str:
        return self.scenario.name + (f" --variant {self.variant}" if self.variant else "")


class LibraryPlays:
    """The plays of one session, by scenario name and variant, all in the runs folder `runs`."""

    def __init__(self, runs: Path) -> None:
        self.runs = runs
        self._library = {e.scenario.name: e.scenario for e in entries((BUILTIN_SCENARIOS,)) if e.scenario}
        self._played: dict[tuple[str, str | None], Played] = {}

    def play(self, name: str, variant: str | None = None) -> Played:
        """The library's scenario `name` (with `variant`) played at its largest speed, once per session. A variant's
        run comes after the run without it: its postmortem draft compares the two, finding the other in the same
        runs folder."""
        if (name, variant) not in self._played:
            if variant is not None:
                self.play(name)
            self._played[name, variant] = self._run(name, variant)
        return self._played[name, variant]

    def _run(self, name: str, variant: str | None) -> Played:
        scenario = self._library[name]
        speed = largest_allowed(scenario if variant is None else with_variant(scenario, variant))
        before = set(self.runs.iterdir()) if self.runs.is_dir() else set()
        result = lab_cli("run", name, *(["--variant", variant] if variant else []), "--speed", f"{speed:g}",
                         env={"LAB_RUNS_DIR": str(self.runs)})
        (run_dir,) = set(self.runs.iterdir()) - before
        return Played(scenario, variant, speed, result.returncode, result.stderr, run_dir)
