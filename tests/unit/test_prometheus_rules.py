"""A scenario's Prometheus rule files (`observe.rules`): confined to its directory, read before anything starts,
their alerts the only ones a `detection` check may name besides the scenario's own; promtool's complaints said as
FILE:LINE; Prometheus's alerts API read into alert events; the detection check judging a named alert."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.judge.alerts import AlertSpan, alert_spans
from lab.judge.analysis import analyse
from lab.judge.checks import evaluate
from lab.judge.checks.detection import DetectionCheck
from lab.record.prometheus_alerts import firing
from lab.scenario.reader import load
from lab.scenario.rule_files import rule_problems
from lab.scenario.shaping import with_variant
from lab.stack.alert_rules import promtool_problems
from tests.cli import lab_cli
from tests.unit.test_bad_input import SEED, assert_one_line

from .streams import Incident, event, recording

RULES = """groups:
  - name: availability
    rules:
      - record: job:errors:rate5s
        expr: sum(rate(haproxy_backend_http_responses_total{code="5xx"}[5s]))
      - alert: HighErrorRate
        expr: job:errors:rate5s > 0.05
"""


def seed_with(directory: Path, observe: dict[str, Any] | None, detection: dict[str, Any] | None = None,
              rules: str = RULES) -> Path:
    """The seed scenario in `directory` with its runbooks, a rule file rules/availability.yml, and `observe:` and
    `checks.detection` as given (its variants left out)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(SEED.parent / "runbooks", directory / "runbooks", dirs_exist_ok=True)
    (directory / "rules").mkdir(exist_ok=True)
    (directory / "rules" / "availability.yml").write_text(rules)
    document = yaml.safe_load(SEED.read_text())
    document.pop("variants")
    if observe is not None:
        document["observe"] = observe
    if detection is not None:
        document["checks"]["detection"] = detection
    path = directory / "scenario.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_a_scenario_naming_its_rules_and_their_alert_is_valid(tmp_path: Path) -> None:
    """Rule files inside the scenario's directory, a detection check naming an alert one of them defines: no
    problem, and `lab validate` says ok."""
    path = seed_with(tmp_path, {"rules": ["rules/availability.yml"]}, {"within_s": 10, "alert": "HighErrorRate"})
    assert rule_problems(load(path)) == []
    assert lab_cli("validate", str(path)).returncode == 0


@pytest.mark.parametrize(("rule", "says"), [
    ("../outside.yml", "is outside"), ("rules/missing.yml", "does not exist"), ("rules", "is not a file")],
    ids=["climbing out", "missing", "a directory"])
def test_a_rule_file_outside_the_scenario_or_missing_is_refused_in_one_line(tmp_path: Path, rule: str,
                                                                          says: str) -> None:
    """A rule file is confined to the scenario's directory as runbook scripts are (the lab copies it into a
    container), and must exist: one line naming the field, exit 2, before Docker is asked anything."""
    (tmp_path / "outside.yml").write_text(RULES)
    path = seed_with(tmp_path / "incident", {"rules": [rule]})
    for command in ("validate", "run"):
        result = lab_cli(command, str(path))
        assert_one_line(result, 2, "observe.rules[0]: ")
        assert says in result.stderr


def test_a_rule_file_that_is_not_yaml_is_named_with_its_line(tmp_path: Path) -> None:
    """Unreadable YAML in a rule file is one line with the file and the line, exit 2."""
    path = seed_with(tmp_path, {"rules": ["rules/availability.yml"]},
                     rules="groups:\n  - name: a\n    rules: [\n      - alert: X\n")
    result = lab_cli("validate", str(path))
    assert_one_line(result, 2, f"{tmp_path / 'rules' / 'availability.yml'}:4: not valid YAML")


@pytest.mark.parametrize("observe", [{"rules": ["rules/availability.yml"]}, None], ids=["rules", "no rules"])
def test_a_detection_check_naming_an_alert_no_rule_defines_is_refused(tmp_path: Path,
                                                                      observe: dict[str, Any] | None) -> None:
    """`checks.detection.alert` must name an alert of a rule file (or of the scenario's own `alerts:`): otherwise
    one line saying which alerts the files do define, exit 2, for `lab validate` and `lab run` alike."""
    path = seed_with(tmp_path, observe, {"within_s": 10, "alert": "HighErorRate"})
    for command in ("validate", "run"):
        result = lab_cli(command, str(path))
        assert_one_line(result, 2, "checks.detection.alert: no rule defines the alert `HighErorRate` (")
        assert ("rules/availability.yml defines HighErrorRate" if observe else "no `observe.rules` names a rule "
                "file") in result.stderr


def test_a_detection_check_may_name_one_of_the_scenarios_own_alerts(tmp_path: Path) -> None:
    """The lab's own rule (`alerts:`) is a name the detection check may judge too, without Prometheus."""
    path = seed_with(tmp_path, None, {"within_s": 10, "alert": "error-rate-high"})
    assert rule_problems(load(path)) == []


def test_the_seeds_prometheus_variant_turns_the_observability_part_on() -> None:
    """The seed's `prometheus-alert` variant names its rule file and judges its alert; the seed itself does not
    (its CI runs keep their stack and their cost)."""
    seed = load(SEED)
    assert seed.observe is None and seed.checks.model_dump()["detection"]["alert"] is None
    varied = with_variant(seed, "prometheus-alert")
    assert varied.observe is not None and varied.observe.rules == ("rules/orders-error-rate.yml",)
    assert varied.checks.model_dump()["detection"]["alert"] == "HighErrorRate"
    assert rule_problems(seed) == []


PROMTOOL_OUTPUT = """Checking /tmp/rules/00-bad.yml
  FAILED:
/tmp/rules/00-bad.yml: 5:15: group "g", rule 1, "HighErrorRate": could not parse expression: 1:21: parse error: \
unclosed left parenthesis

Checking /tmp/rules/01-bad2.yml
  FAILED:
/tmp/rules/01-bad2.yml: yaml: unmarshal errors:
  line 7: field bogus not found in type rulefmt.RuleNode

Checking /tmp/rules/02-ok.yml
  SUCCESS: 1 rules found
"""


def test_promtools_complaints_are_said_with_the_scenarios_file_and_line() -> None:
    """promtool's output (Prometheus 2.42's, as the observe image prints it) becomes one "FILE:LINE: what" per
    problem, FILE as the scenario names it: a rule's expression and a YAML field alike."""
    shown = {"/tmp/rules/00-bad.yml": "rules/bad.yml", "/tmp/rules/01-bad2.yml": "rules/bad2.yml",
             "/tmp/rules/02-ok.yml": "rules/ok.yml"}
    assert promtool_problems(PROMTOOL_OUTPUT, shown) == [
        'rules/bad.yml:5: group "g", rule 1, "HighErrorRate": could not parse expression: 1:21: parse error: '
        "unclosed left parenthesis",
        "rules/bad2.yml:7: field bogus not found in type rulefmt.RuleNode"]


def test_only_firing_alerts_count_once_per_name() -> None:
    """Of Prometheus's alerts API, a pending alert is not firing yet, and an alert firing for several series is
    one alert, with its first series' value."""
    answer = {"status": "success", "data": {"alerts": [
        {"labels": {"alertname": "HighErrorRate", "replica": "app-2"}, "state": "firing", "value": "3.4e-01"},
        {"labels": {"alertname": "HighErrorRate", "replica": "app-1"}, "state": "firing", "value": "1e-01"},
        {"labels": {"alertname": "SlowRequests"}, "state": "pending", "value": "2"}]}}
    assert firing(answer) == {"HighErrorRate": 0.34}


def test_alert_spans_pair_each_firing_with_its_resolution_per_source() -> None:
    """A firing ends at the next resolution of the same name and source; the lab's alert of the same name is its
    own span."""
    events = [event("alert.fired", 10, alert="A", source="prometheus", value=0.3),
              event("alert.fired", 11, alert="A", error_rate=0.2, threshold=0.05, window_s=5),
              event("alert.resolved", 20, alert="A", source="prometheus"),
              event("alert.fired", 30, alert="A", source="prometheus")]
    assert alert_spans(events) == [AlertSpan("A", "prometheus", 10, 20), AlertSpan("A", "lab", 11, None),
                                   AlertSpan("A", "prometheus", 30, None)]


def detection_detail(events: list[dict[str, Any]], alert: str, within_s: float) -> tuple[bool, str]:
    checks = load(SEED).checks.model_copy(update={"detection": DetectionCheck(within_s=within_s, alert=alert)})
    result = next(r for r in evaluate(analyse(events), checks) if r.name == "alert fired after the fault")
    return result.passed, result.detail


def test_the_detection_check_judges_the_alert_it_names() -> None:
    """Named, the alert is timed from the fault: passes within the bound, fails beyond it, and says it never fired
    (not paging anyone) when it did not, whatever other alert fired."""
    base = recording(Incident(fault_t=15.0, alert_t=16.0))
    fired = [*base, event("alert.fired", 19.2, alert="HighErrorRate", source="prometheus", value=0.3)]
    assert detection_detail(fired, "HighErrorRate", 10) == (
        True, "alert `HighErrorRate` fired 4.2 s after the fault (max 10 s)")
    assert detection_detail(fired, "HighErrorRate", 3)[0] is False
    assert detection_detail(base, "HighErrorRate", 10) == (
        False, "alert `HighErrorRate` never fired: your rule would not have paged anyone")
