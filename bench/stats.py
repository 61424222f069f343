"""min / median / p99 / max of a list of measurements."""

from __future__ import annotations

from typing import Any

from lab.judge.requests import percentile


def summarize(values: list[float], unit: str = "s") -> dict[str, Any]:
    if not values:
        return {"n": 0, "unit": unit}
    return {"n": len(values), "unit": unit, "min": min(values), "median": percentile(values, 50),
            "p99": percentile(values, 99), "max": max(values)}
