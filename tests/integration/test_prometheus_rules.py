"""A team's Prometheus rules judged on the seed incident on real Docker: the seed's `prometheus-alert` variant loads
its rule on HAProxy's 5xx answers into the stack's Prometheus, which fires it within the detection bound and
resolves it after the fix; a rule on a metric the incident does not move fails the detection check, saying so; a
rule Prometheus rejects is refused, naming its file and line, before anything starts."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from lab.settings import PROJECT_ROOT
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli
from tests.figures import Figure

from .helpers import checks_of, events_of, leftovers, seed, summary_of, variant
from .library_plays import LibraryPlays

pytestmark = pytest.mark.docker

RULES = PROJECT_ROOT / "scenarios" / "rules"
DETECTION = "alert fired after the fault"


def seed_with_rules(tmp_path: Path) -> str:
    """The seed as the tests play it, with its rule files beside it."""
    shutil.copytree(RULES, tmp_path / "rules")
    return seed(tmp_path)


def run(tmp_path: Path, scenario: str, *args: str) -> tuple[int, Path, str]:
    runs = tmp_path / "runs"
    result = lab_cli("run", scenario, "--speed", "max", *args, env={"LAB_RUNS_DIR": str(runs)})
    (run_dir,) = runs.iterdir()
    return result.returncode, run_dir, result.stdout[-3000:] + result.stderr[-2000:]


def step_t(events: list[dict[str, Any]], action: str, milestone: str | None = None) -> float:
    return next(float(e["t"]) for e in events if e["kind"] == "step" and e["action"] == action
                and (milestone is None or e.get("milestone") == milestone))


@pytest.mark.serial  # the library's run (library_plays), played with the machine alone
def test_the_seeds_prometheus_rule_fires_within_the_bound_and_resolves_after_the_fix(
        library: LibraryPlays, engine: Engine, figure: Figure) -> None:
    """At the seed's largest speed, `HighErrorRate` (rules/orders-error-rate.yml: over 5% of the apps' answers
    through HAProxy are 5xx over 5 s) fires within the detection check's 10 s of the fault, the check says so by
    name, and it resolves after the runbook's fix; `DatabaseErrorsOnReplica` fires during the fault; every other
    check passes as without Prometheus."""
    played = library.play("db-network-misconfig", "prometheus-alert")
    code, run_dir, output = played.returncode, played.run_dir, played.stderr[-2000:]
    summary = summary_of(run_dir)
    detection = next(c for c in summary["checks"] if c["name"] == DETECTION)
    assert code == 0 and all(checks_of(summary).values()), output
    assert detection["detail"].startswith("alert `HighErrorRate` fired ") and detection["detail"].endswith(
        " s after the fault (max 10 s)")
    events = events_of(run_dir)
    fault_t, fix_t = step_t(events, "apply"), step_t(events, "runbook", "mitigation")
    ours = [e for e in events if e["kind"].startswith("alert.") and e.get("source") == "prometheus"
            and e["alert"] == "HighErrorRate"]
    assert [(e["kind"], e["alert"]) for e in ours] == [("alert.fired", "HighErrorRate"),
                                                       ("alert.resolved", "HighErrorRate")], ours
    fired, resolved = ours[0]["t"], ours[1]["t"]
    assert fault_t < fired <= fault_t + 10 and fix_t < resolved
    replica = next(e["t"] for e in events if e["kind"] == "alert.fired" and e["alert"] == "DatabaseErrorsOnReplica")
    assert fault_t < replica < fix_t
    lab_alert = next(e["t"] for e in events if e["kind"] == "alert.fired" and e.get("source", "lab") == "lab")
    figure(f"HighErrorRate at the seed's largest speed: fired {fired - fault_t:.1f} s after the fault (the lab's "
           f"own rule: {lab_alert - fault_t:.1f} s; DatabaseErrorsOnReplica: {replica - fault_t:.1f} s), resolved "
           f"{resolved - fix_t:.1f} s after the fix")
    assert leftovers(engine, summary["run_id"]) == []


RULE_THAT_CANNOT_FIRE = """groups:
  - name: orders-up
    rules:
      # A replica down: the incident's app-2 stays up, it only cannot reach its database.
      - alert: OrdersReplicaDown
        expr: up{job="app"} == 0
"""


@pytest.mark.serial  # a whole `lab run`, whose checks hold the generator to its schedule
def test_a_rule_on_a_metric_the_incident_does_not_move_fails_detection(tmp_path: Path, engine: Engine,
                                                                      lab_images: LabImages) -> None:
    """A rule that cannot fire for this incident (a replica down, when app-2 is up and only cut off from its
    database) fails the detection check with the sentence a team needs, and only that check."""
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "rules" / "replica-down.yml").write_text(RULE_THAT_CANNOT_FIRE)

    def replica_down(document: dict[str, Any]) -> None:
        (prometheus,) = [v for v in document["variants"] if v["name"] == "prometheus-alert"]
        prometheus["observe"]["rules"] = ["rules/replica-down.yml"]
        prometheus["checks"]["detection"]["alert"] = "OrdersReplicaDown"

    scenario = str(variant(tmp_path, replica_down, name="db-network-misconfig.yaml"))
    code, run_dir, output = run(tmp_path, scenario, "--variant", "prometheus-alert")
    summary = summary_of(run_dir)
    results = {c["name"]: c for c in summary["checks"]}
    assert code == 1, output
    assert results.pop(DETECTION)["detail"] == ("alert `OrdersReplicaDown` never fired: your rule would not have "
                                                "paged anyone")
    assert all(c["passed"] for c in results.values()), results
    assert not any(e["kind"] == "alert.fired" and e.get("source") == "prometheus" for e in events_of(run_dir))
    assert leftovers(engine, summary["run_id"]) == []


def test_a_rule_prometheus_rejects_is_refused_naming_its_file_and_line(tmp_path: Path, engine: Engine,
                                                                      lab_images: LabImages) -> None:
    """promtool (the observe image's own) rejects an expression that does not parse: one line naming the file and
    the line of its `expr:` (promtool's own: the position in the expression follows), exit 2, and nothing of the
    run is left on the engine."""
    scenario = seed_with_rules(tmp_path)
    rule = tmp_path / "rules" / "orders-error-rate.yml"
    rule.write_text(rule.read_text().replace("> 0.05", "> > 0.05"))
    before = {c.id for c in engine.client.containers.list(all=True)}
    result = lab_cli("run", scenario, "--speed", "max", "--variant", "prometheus-alert",
                     env={"LAB_RUNS_DIR": str(tmp_path / "runs")})
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    expr_line = next(i for i, text in enumerate(rule.read_text().splitlines(), 1) if "expr:" in text)
    assert lines[0].startswith(f"lab: error: {rule}:{expr_line}: ") and "parse error" in lines[0], lines
    assert {c.id for c in engine.client.containers.list(all=True)} <= before
