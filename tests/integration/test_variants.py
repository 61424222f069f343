"""A corrective measure proven with figures: the seed incident played twice on real Docker, as it was and with the
load balancer's health check made deep (the variant), then compared. With the deep check HAProxy takes app-2 out of
rotation within seconds, so users barely notice what hit a third of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import lifecycle
from lab.images import LabImages

from .helpers import checks_of, lab_cli, leftovers, summary_of

pytestmark = pytest.mark.docker

SPEED = "3"  # a 30 s fault window: long against the seconds HAProxy needs to take app-2 out


def test_the_deep_health_check_cuts_the_impact_and_compare_shows_it(tmp_path: Path, engine: lifecycle.Engine,
                                                                    lab_images: LabImages) -> None:
    """The variant passes its own checks: error rate during the fault under 5%, users affected under a fifth of
    the fault window, against a third of requests failing the whole window without it; `lab compare` and the
    variant's postmortem draft both show the two side by side."""
    runs = tmp_path / "runs"
    base = lab_cli("run", "db-network-misconfig", "--speed", SPEED, env={"LAB_RUNS_DIR": str(runs)})
    assert base.returncode == 0, base.stdout[-3000:] + base.stderr[-2000:]
    varied = lab_cli("run", "db-network-misconfig", "--speed", SPEED, "--variant", "deep-health-check",
                     env={"LAB_RUNS_DIR": str(runs)})
    assert varied.returncode == 0, varied.stdout[-3000:] + varied.stderr[-2000:]
    base_dir, variant_dir = sorted(runs.iterdir())
    assert variant_dir.name.endswith("-deep-health-check")
    before, after = summary_of(base_dir), summary_of(variant_dir)
    assert after["variant"] == "deep-health-check" and all(checks_of(after).values())
    assert before["fault"]["overall"]["error_rate"] > 0.2 and before["impact_share"] > 0.8
    assert after["fault"]["overall"]["error_rate"] < 0.05 and after["impact_share"] < 0.2
    assert after["impacted_s"] < before["impacted_s"] / 5
    compared = lab_cli("compare", str(base_dir), str(variant_dir), env={"COLUMNS": "200"})
    assert compared.returncode == 0 and "deep-health-check" in compared.stdout
    assert "users affected (s)" in compared.stdout
    draft = (variant_dir / "postmortem.md").read_text()
    assert f"without it (run {base_dir.name})" in draft and "Proven in the lab" in draft
    for summary in (before, after):
        assert leftovers(engine, summary["run_id"]) == []
