"""The incident library: the scenarios shipped with the lab, and a team's own (LAB_SCENARIOS_DIR) before them.
What `lab scenarios` lists, what a name resolves to, and what `lab drill --random` draws from."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lab.errors import InvalidInput, LabError
from lab.scenario.document import Scenario
from lab.scenario.reader import load

DIFFICULTIES = ("easy", "medium", "hard")


@dataclass(frozen=True)
class Entry:
    path: Path
    scenario: Scenario | None
    problem: str = ""
    """Why the file is not a valid scenario (it is listed, not hidden)."""

    @property
    def name(self) -> str:
        return self.scenario.name if self.scenario else self.path.stem

    @property
    def incident_minutes(self) -> float:
        assert self.scenario is not None
        return max((step.at_minutes for step in self.scenario.timeline), default=0.0)

    @property
    def fault_kinds(self) -> list[str]:
        assert self.scenario is not None
        return sorted({fault.kind for fault in self.scenario.faults})


def entries(directories: tuple[Path, ...]) -> list[Entry]:
    """Every scenario file of the directories, the first directory's first: a name defined twice is the first
    one's (a team's own scenario shadows a built-in one of the same name)."""
    seen: set[str] = set()
    found = []
    for directory in directories:
        for path in sorted(directory.glob("*.yaml")) if directory.is_dir() else []:
            try:
                entry = Entry(path, load(path))
            except LabError as exc:
                entry = Entry(path, None, str(exc))
            if entry.name not in seen:
                seen.add(entry.name)
                found.append(entry)
    return found


def of_cause(found: list[Entry], cause: str | None) -> list[Entry]:
    """The entries of a cause class (all if None): an invalid file has no class, so it is listed only with all."""
    return found if cause is None else [entry for entry in found if entry.scenario and entry.scenario.cause == cause]


def plays(directories: tuple[Path, ...]) -> list[tuple[Scenario, str | None]]:
    """Every valid scenario of the directories as written (None) and with each of its corrective measures'
    variants: what the library's test and the stability bench play."""
    return [(entry.scenario, variant) for entry in entries(directories) if entry.scenario is not None
            for variant in (None, *(v.name for v in entry.scenario.variants))]


def drillable(directories: tuple[Path, ...], difficulty: str | None, cause: str | None = None) -> list[Entry]:
    """The scenarios a random drill draws from: those with a fault, of the difficulty and cause class asked (any if
    None), by name."""
    pool = [entry for entry in entries(directories)
            if entry.scenario is not None and entry.scenario.faults
            and (difficulty is None or entry.scenario.difficulty == difficulty)
            and (cause is None or entry.scenario.cause == cause)]
    if not pool:
        asked = " and ".join([*([f"difficulty {difficulty}"] if difficulty else []),
                              *([f"cause {cause}"] if cause else [])])
        raise InvalidInput(f"no scenario with a fault{f' of {asked}' if asked else ''} in "
                           f"{', '.join(str(d) for d in directories)}")
    return sorted(pool, key=lambda entry: entry.name)


def pick_at_random(directories: tuple[Path, ...], difficulty: str | None, seed: int | None, cause: str | None = None,
                   recent: Sequence[str] = ()) -> Scenario:
    """A scenario with a fault, of the difficulty and cause class asked (any if None), drawn so that `seed` repeats
    the draw. `recent` names the scenarios drilled lately, newest first: they are drawn only when nothing else is
    left, and then the one drilled longest ago, so that a trainee is never refused a drill."""
    pool = drillable(directories, difficulty, cause)
    fresh = [entry for entry in pool if entry.name not in recent]
    picked = (random.Random(seed).choice(fresh) if fresh
              else max(pool, key=lambda entry: recent.index(entry.name))).scenario
    assert picked is not None  # drillable() keeps valid scenarios only
    return picked
