"""What rate of synthetic users this machine was measured to carry: the highest `--rate` at which a whole `lab run`
of the seed passed every check here (`make bench`), kept in the runs folder per host. A run above it, or above what
any machine the lab supports carries when this one was never measured, says so before it starts: the recording's
own check (the generator kept up) then says whether it did."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

MEASURE_FILE = ".rate-measure.json"
UNMEASURED_RATE = 250.0
"""The rate a 2-core machine carries with one of its cores kept busy by another program (bench/RESULTS.md): what
is assumed of a machine never measured."""


@dataclass(frozen=True)
class RateMeasure:
    host: str
    cores: int
    rate: float
    """The highest rate at which the measured run passed every check."""
    measured_at: str


def this_host() -> str:
    return socket.gethostname()


def load_measure(runs_dir: Path, host: str) -> RateMeasure | None:
    """This host's measure, if one was kept and can be read (a broken file is no measure)."""
    try:
        kept = json.loads((runs_dir / MEASURE_FILE).read_text()).get(host)
        measure = RateMeasure(**kept) if isinstance(kept, dict) else None
    except (OSError, ValueError, TypeError, AttributeError):
        return None
    if measure is None or isinstance(measure.rate, bool) or not isinstance(measure.rate, int | float):
        return None
    return measure


def save_measure(runs_dir: Path, measure: RateMeasure) -> None:
    path = runs_dir / MEASURE_FILE
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        kept = {}
    kept = kept if isinstance(kept, dict) else {}
    kept[measure.host] = asdict(measure)
    runs_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(kept, indent=2) + "\n")


def unmeasured(runs_dir: Path, rate: float) -> str | None:
    """Why `rate` was never shown to be carried here, or None if it was."""
    measure = load_measure(runs_dir, this_host())
    if measure is not None:
        if rate <= measure.rate:
            return None
        return (f"this machine ({measure.host}, {measure.cores} cores) was measured to carry {measure.rate:g} "
                f"requests per second ({measure.measured_at}), not {rate:g}")
    if rate <= UNMEASURED_RATE:
        return None
    return (f"this machine ({this_host()}, {os.cpu_count()} cores) has not been measured at {rate:g} requests per "
            f"second (`make bench ARGS=\"--only run --rates {rate:g}\"` measures it)")
