"""A trainee's drill history: the incidents they drilled lately, so that `lab drill --random --trainee NAME` gives
them none of their last five while another is left.

The history is the runs folder itself: a drill with a named trainee keeps a small record (`trainee.json`: who, which
scenario, when it started) in its run directory, beside its recording, and a trainee's last drills are read back from
there, newest first by their start. No second store to keep in step with the runs: a run removed from the folder
leaves the history with it, each drill writes a file of its own (no read-modify-write of a shared one to lose a drill
to), and a record is written once, never rewritten. A drill given an --out outside the runs folder is not in it."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import AwareDatetime, BaseModel, ConfigDict, ValidationError

from lab.errors import InvalidInput

RECORD = "trainee.json"
RECENT = 5
"""How many of a trainee's last drills a random draw keeps away from."""
TRAINEE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


class DrillRecord(BaseModel):
    """Who drilled which scenario, from when."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    trainee: str
    scenario: str
    started: AwareDatetime


def checked_trainee(name: str) -> str:
    """A trainee's name as given, or one line saying why it is not one (it is written in records and shown)."""
    if not TRAINEE_NAME.fullmatch(name):
        raise InvalidInput(f"--trainee must be 1 to 64 letters (a-z, A-Z), digits, dots, underscores or dashes, "
                           f"got {name!r}")
    return name


def write_record(run_dir: Path, record: DrillRecord) -> None:
    (run_dir / RECORD).write_text(record.model_dump_json(indent=2) + "\n")


def read_record(run_dir: Path) -> DrillRecord | None:
    """The run's drill record; None for a run without one, or with one that cannot be read (it is no history)."""
    try:
        return DrillRecord.model_validate_json((run_dir / RECORD).read_bytes())
    except (OSError, ValidationError):
        return None


def recent_scenarios(runs_dir: Path, trainee: str, count: int = RECENT) -> list[str]:
    """The scenarios of the trainee's last `count` drills in the runs folder, newest first (a scenario drilled twice
    is named twice). A folder that does not exist, or cannot be read, holds none."""
    try:
        run_dirs = [entry for entry in runs_dir.iterdir() if entry.is_dir()]
    except OSError:
        return []
    records = [record for record in map(read_record, run_dirs) if record is not None and record.trainee == trainee]
    newest_first = sorted(records, key=lambda record: record.started, reverse=True)
    return [record.scenario for record in newest_first[:count]]
