"""A run's scratch directory on this host: its Compose override, its owner file and a drill's control socket. Removed
with the run, or by the next lab command if the run's process died (lab.stack.cleanup)."""

from __future__ import annotations

import tempfile
from pathlib import Path


def scratch_root() -> Path:
    return Path(tempfile.gettempdir()) / "outage-lab"


def scratch_directory(run_id: str) -> Path:
    return scratch_root() / run_id
