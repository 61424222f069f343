"""Schedule skew of the runner itself: many steps on the real monotonic clock, nothing else running."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import yaml

from bench.stats import summarize
from lab.clock import MonotonicClock
from lab.play.timeline import Runner
from lab.record.events import EventLog
from lab.scenario.reader import parse

STEPS = 60


def scheduler_skew() -> dict[str, Any]:
    document = {
        "title": "skew", "time": {"seconds_per_incident_minute": 0.1, "steady_state_s": 3, "tail_s": 0},
        "timeline": [{"at": i, "action": "note", "text": f"step {i}"} for i in range(STEPS)],
    }
    scenario = parse(yaml.safe_dump(document))
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp) / "events.jsonl", MonotonicClock())
        records = Runner(scenario, log.clock, log, lambda step: "noted").run()
        log.close()
    return summarize([abs(r.skew_s) for r in records])
