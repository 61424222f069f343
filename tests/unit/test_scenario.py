"""Scenario files: the seed scenario is valid, and every kind of mistake is reported with its field path."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.errors import InvalidInput, ScenarioError
from lab.faults import families
from lab.faults.packet_drop import PacketDropSpec
from lab.judge.verdict import recovery_rule
from lab.scenario.pacing import faster, max_speed
from lab.scenario.reader import load, load_runbook, parse, resolve
from lab.scenario.traffic import MAX_RATE
from lab.settings import PROJECT_ROOT
from lab.stack.builtin import BUILTIN_TOPOLOGY

SEED = PROJECT_ROOT / "scenarios" / "db-network-misconfig.yaml"


def seed_document() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(SEED.read_text())
    return document


def problems_of(document: object) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse(yaml.safe_dump(document), source="x.yaml")
    assert str(caught.value).startswith("x.yaml: ")
    return caught.value.problems


def test_seed_scenario_replays_the_incident_timeline() -> None:
    """The seed scenario has the postmortem's steps at the postmortem's clock times."""
    scenario = load(SEED)
    assert [(s.clock, s.action) for s in scenario.timeline] == [
        ("14:00", "apply"), ("14:05", "note"), ("14:20", "restart"), ("14:35", "note"), ("15:15", "runbook"),
        ("15:30", "runbook"), ("16:30", "note"),
    ]
    fault = scenario.faults[0]
    assert isinstance(fault, PacketDropSpec) and fault.target == "app-2" and fault.destination == "db"
    assert next(s for s in scenario.timeline if s.milestone == "mitigation").clock == "15:30"


def test_one_incident_minute_is_one_second_and_speed_compresses_further() -> None:
    """Offsets: steady state + minutes x seconds-per-minute; --speed 3 divides the incident part only."""
    scenario = load(SEED)
    assert scenario.offset_s(20) == pytest.approx(15 + 20)
    fast = faster(scenario, 3)
    assert fast.offset_s(90) == pytest.approx(15 + 30)
    assert fast.duration_s == pytest.approx(15 + 50 + 15)


def test_a_pace_change_plays_later_minutes_at_their_own_pace() -> None:
    """A 43 s partition at real time, then the day of aftermath fast-forwarded: offsets add each part's pace, --speed
    divides every pace, the incident minute of an offset is found back, and the speed limit sees the real gaps."""
    document = seed_document()
    document["time"].update(seconds_per_incident_minute=60, pace=[{"at": 1, "seconds_per_incident_minute": 1},
                                                                  {"at": 30, "seconds_per_incident_minute": 0.1}])
    del document["checks"]["restart_ineffective"]  # the time it needs before the fix would set the limit instead
    scenario = parse(yaml.safe_dump(document))
    assert scenario.offset_s(0.5) == pytest.approx(15 + 30)
    assert scenario.offset_s(20) == pytest.approx(15 + 60 + 19)
    assert scenario.offset_s(150) == pytest.approx(15 + 60 + 29 + 12)
    assert scenario.time.incident_minutes(60 + 29 + 12) == pytest.approx(150)
    assert scenario.time.incident_minutes(30) == pytest.approx(0.5)
    fast = faster(scenario, 2)
    assert fast.offset_s(150) == pytest.approx(15 + (60 + 29 + 12) / 2)
    assert fast.time.pace[1].seconds_per_incident_minute == pytest.approx(0.05)
    assert max_speed(scenario) == pytest.approx(15 * 0.1 / 0.2)  # 15:15 -> 15:30 at 0.1 s per minute


def test_pace_changes_come_in_order() -> None:
    """Two pace changes out of order are one problem at time.pace."""
    document = seed_document()
    document["time"]["pace"] = [{"at": 30, "seconds_per_incident_minute": 1},
                                {"at": 5, "seconds_per_incident_minute": 1}]
    assert any(p.startswith("time.pace: must be in increasing order of `at`") for p in problems_of(document))


def test_speed_must_be_positive() -> None:
    """--speed 0 is invalid input, not a division by zero."""
    with pytest.raises(InvalidInput, match="--speed must be greater than 0"):
        faster(load(SEED), 0)


def test_a_replay_lasts_at_most_a_day() -> None:
    """A time scale is bounded by the longest replay (a day, as a drill): 1e300 s per minute, in the time section or
    a pace, is refused by the field; a scale that makes the whole replay longer than a day is refused by its
    duration, as is a --speed below 1 that would (at 30 s per incident minute, the seed lasts 25 hours at 0.05)."""
    document = seed_document()
    document["time"].update(seconds_per_incident_minute=1e300, pace=[{"at": 1, "seconds_per_incident_minute": 1.7e308}])
    assert problems_of(document) == ["time.seconds_per_incident_minute: must be at most 86400, got 1e+300",
                                     "time.pace[0].seconds_per_incident_minute: must be at most 86400, got 1.7e+308"]
    document["time"].update(seconds_per_incident_minute=600.0, pace=[])
    assert problems_of(document) == ["time: the replay would last 90030 s at speed 1, more than a day (86400 s): "
                                     "lower seconds_per_incident_minute (or a pace's)"]
    document["time"].update(seconds_per_incident_minute=30.0)  # 4,530 s at speed 1
    slow = parse(yaml.safe_dump(document), base_dir=SEED.parent)
    assert faster(slow, 0.1).duration_s == pytest.approx(45030)
    with pytest.raises(InvalidInput, match=r"--speed 0.05 would make db-network-misconfig last 90030 s, more than"):
        faster(slow, 0.05)
    document["time"].update(seconds_per_incident_minute=1.0,
                            pace=[{"at": 149.5, "seconds_per_incident_minute": 1000.0}])
    brief_but_slow = parse(yaml.safe_dump(document), base_dir=SEED.parent)  # 30 s at speed 1 more than the seed
    with pytest.raises(InvalidInput, match=r"--speed 0.01 would play an incident minute of db-network-misconfig in "
                                           r"100000 s, more than a day"):
        faster(brief_but_slow, 0.01)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["timeline"][3].update(at=-5), "timeline[3].at: must be at least 0"),
        (lambda d: d["timeline"][3].update(at=1), "timeline[3].at: 1 comes before the previous step's 20"),
        (lambda d: d["timeline"][2].update(action="reboot"), "timeline[2].action: unknown value 'reboot'"),
        (lambda d: d["timeline"][2].update(service="cache"), "timeline[2].service: unknown service 'cache'"),
        (lambda d: d["faults"][0].update(target="app-9"), "faults[0].target: unknown service 'app-9'"),
        (lambda d: d["faults"][0].update(kind="cpu-hog"), "faults[0].kind: unknown value 'cpu-hog'"),
        (lambda d: d["faults"][0].update(destination="app-2"), "faults[0].destination: must differ from the target"),
        (lambda d: d["time"].update(seconds_per_incident_minute=0),
         "time.seconds_per_incident_minute: must be greater than 0"),
        (lambda d: d["traffic"].update(rate=100000), f"traffic.rate: must be at most {MAX_RATE:g}"),
        (lambda d: d["traffic"].update(rate=-1), "traffic.rate: must be greater than 0"),
        (lambda d: d["traffic"].update(rate="fast"), "traffic.rate: must be a number, got a string"),
        (lambda d: [d["timeline"].pop(5), d["timeline"].pop(4)],
         "faults[0]: fault 'app2-db-packets-dropped' is applied but never reverted"),
        (lambda d: d["timeline"][0].update(fault="nope"), "timeline[0].fault: unknown fault 'nope'"),
        (lambda d: d["timeline"][2].update(clock="14:25"), "timeline[2].clock: 14:25 does not match"),
        (lambda d: d["timeline"][2].update(milestone="panic"), "timeline[2].milestone: unknown value 'panic'"),
        (lambda d: d.update(colour="red"), "colour: unknown field"),
        (lambda d: d["timeline"][2].update(action="runbook", command="iptables -F"),
         "timeline[2].command: must be a list of arguments (argv), not a shell string"),
        (lambda d: d["timeline"][0].pop("fault"), "timeline[0].fault: is required for action 'apply'"),
        (lambda d: d["faults"][0].update(id="Bad Id!"), "faults[0].id: must be lowercase letters"),
        (lambda d: d["checks"].update(recovery={"within_s": 0}), "checks.recovery.within_s: must be greater than 0"),
        (lambda d: d.update(timeline=[]), "timeline: must list at least 1 item"),
        (lambda d: d.update(timeline="soon"), "timeline: must be a list, got a string"),
        (lambda d: d.update(name="../../../tmp/evil"),
         "name: must be lowercase letters, digits and dashes, starting with a letter or digit, at most 60 characters, "
         "got '../../../tmp/evil'"),
        (lambda d: d.update(name="seed\nrm -rf"), "name: must be lowercase letters, digits and dashes"),
        (lambda d: d.update(name="seed\n"), "name: must be lowercase letters, digits and dashes"),
        (lambda d: d["variants"][0].update(name="../fast"), "variants[0].name: must be lowercase letters, digits"),
        (lambda d: d["variants"][0].update(name="fast\n"), "variants[0].name: must be lowercase letters, digits"),
        (lambda d: d["timeline"][2].update(action="load", rate=0), "timeline[2].rate: must be greater than 0"),
        (lambda d: d["timeline"][2].update(action="load", rate=MAX_RATE + 1),
         f"timeline[2].rate: must be at most {MAX_RATE:g}"),
        (lambda d: d["timeline"][2].update(action="load", rate=100, over=-1),
         "timeline[2].over: must be at least 0"),
        (lambda d: d["timeline"][2].update(action="load"), "timeline[2].rate: is required for action 'load'"),
        (lambda d: d["timeline"][2].update(action="deploy", services=["app-9"], release="current"),
         "timeline[2].services[0]: unknown service 'app-9'"),
        (lambda d: d["timeline"][2].update(action="deploy", services=["db"], release="current"),
         "timeline[2].services[0]: 'db' is not an app service (apps: app-1, app-2, app-3)"),
        (lambda d: d["timeline"][2].update(action="deploy", services=["app-1"], release="v9"),
         "timeline[2].release: unknown release 'v9' (releases: current, unmigrated-table, renamed-env, pool-of-one, "
         "wrong-db-host)"),
        (lambda d: d["timeline"][2].update(action="deploy", services=[], release="current"),
         "timeline[2].services: must list at least 1 item"),
        (lambda d: d["faults"][0].update(kind="release", release="current"),
         "faults[0].release: must be a release other than 'current'"),
        (lambda d: d["faults"][0].update(kind="release", release="nightly"), "faults[0].release: unknown release"),
        (lambda d: d["checks"].update(amplification={}),
         "checks.amplification.max_during_fault: give min_during_fault, max_during_fault or both"),
        (lambda d: d["checks"].update(amplification={"min_during_fault": 3, "max_during_fault": 2}),
         "checks.amplification.max_during_fault: must be at least min_during_fault (3), got 2"),
        (lambda d: d["variants"][0].update(retry={"attempts": 0}), "variants[0].retry.attempts: must be at least 1"),
    ],
)
def test_each_mistake_is_reported_with_its_field_path(mutate: Callable[[dict[str, Any]], object],
                                                      expected: str) -> None:
    """A bad field is named by its path, e.g. timeline[3].at, with what was wrong."""
    document = seed_document()
    mutate(document)
    problems = problems_of(document)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_traffic_step_raises_the_rate_the_scenario_reaches() -> None:
    """The rate a run is checked against before it starts (has this machine carried it?) is the highest one the
    scenario reaches, a surge's included; its ramp is played at the scenario's pace."""
    document = seed_document()
    at = document["timeline"][1]["at"]
    document["timeline"].insert(1, {"at": at, "action": "load", "rate": 150, "over": 2, "text": "a surge"})
    scenario = parse(yaml.safe_dump(document), base_dir=SEED.parent)
    assert scenario.largest_rate == 150.0 and load(SEED).largest_rate == load(SEED).traffic.rate


def test_all_problems_are_reported_at_once() -> None:
    """Three mistakes in one file come back together, not one per attempt."""
    document = seed_document()
    document["timeline"][3]["at"] = -1
    document["faults"][0]["target"] = "nowhere"
    document["traffic"]["rate"] = 0
    problems = problems_of(document)
    assert len(problems) >= 3
    assert {p.split(":")[0] for p in problems} >= {"timeline[3].at", "faults[0].target", "traffic.rate"}


def test_a_missing_kind_or_action_lists_the_known_ones_and_a_lone_bad_item_is_not_a_short_list() -> None:
    """Without `kind` or `action` the problem lists what they may be (it listed nothing); a list whose only item is
    invalid is that item's problem, not also "must list at least 1 item"."""
    document = seed_document()
    del document["faults"][0]["kind"]
    document["timeline"] = [{"at": 0, "text": "x"}]
    document["workload"] = {"requests": [{"name": "x"}]}
    assert problems_of(document) == [
        "workload.requests[0].path: is required",
        f"faults[0].kind: is required (known: {', '.join(families())})",
        "timeline[0].action: is required (known: note, load, apply, revert, restart, deploy, runbook)",
    ]


def test_a_runbook_step_without_an_action_lists_a_runbook_files_actions(tmp_path: Path) -> None:
    """A runbook file's steps take the responders' actions only: those are the known ones."""
    runbook = tmp_path / "runbook.yaml"
    runbook.write_text(yaml.safe_dump({"steps": [{"at": 1, "text": "x"}]}))
    with pytest.raises(ScenarioError) as caught:
        load_runbook(runbook, BUILTIN_TOPOLOGY)
    assert caught.value.problems == ["steps[0].action: is required (known: note, restart, deploy, runbook)"]


def test_overlapping_faults_on_one_target_are_refused() -> None:
    """Two faults on app-2 whose windows overlap cannot be replayed (which one did the damage?)."""
    document = seed_document()
    second = dict(document["faults"][0], id="second-drop")
    document["faults"].append(second)
    document["timeline"].insert(2, {"at": 10, "action": "apply", "fault": "second-drop"})
    document["timeline"].append({"at": 160, "action": "revert", "fault": "second-drop"})
    assert any("overlaps fault 'app2-db-packets-dropped'" in p for p in problems_of(document))


def test_malformed_yaml_names_the_line() -> None:
    """A YAML syntax error is one line naming where it is."""
    with pytest.raises(ScenarioError, match=r"x.yaml: not valid YAML at line 3, column 3"):
        parse("title: x\ntimeline: [\n  - {at: 0\n", source="x.yaml")


def test_empty_and_non_mapping_documents_are_refused() -> None:
    """An empty file and a bare list are scenario errors, not crashes."""
    with pytest.raises(ScenarioError, match="is empty"):
        parse("", source="x.yaml")
    with pytest.raises(ScenarioError, match="must be a mapping"):
        parse("- 1\n- 2\n", source="x.yaml")


def test_resolve_finds_names_and_refuses_missing_files(tmp_path: Path) -> None:
    """A name looks in scenarios/; a missing name or path is one clear error."""
    assert resolve("db-network-misconfig", (SEED.parent,)) == SEED
    with pytest.raises(InvalidInput, match=r"no scenario named 'nope' \(known: .*db-network-misconfig"):
        resolve("nope", (SEED.parent,))
    with pytest.raises(InvalidInput, match="does not exist"):
        resolve(str(tmp_path / "missing.yaml"), (SEED.parent,))


def test_a_scenario_without_a_recovery_check_judges_recovery_without_a_deadline() -> None:
    """No `checks.recovery`: users must be back to steady state at some point, with the default windows."""
    document = seed_document()
    del document["checks"]["recovery"]
    criteria = recovery_rule(parse(yaml.safe_dump(document), source="x.yaml").checks)
    assert criteria.within_s == float("inf") and criteria.window_s == 3.0 and criteria.max_error_rate == 0.01


def test_a_scenario_without_a_name_is_named_after_its_file_as_a_name_may_be(tmp_path: Path) -> None:
    """The name goes into the run directory's: a file `Payments DB_v2.yaml` gives `payments-db-v2`, not a name with
    a space the name rule would have refused."""
    document = seed_document()
    del document["name"]
    shutil.copytree(SEED.parent / "runbooks", tmp_path / "runbooks")
    shutil.copytree(SEED.parent / "rules", tmp_path / "rules")
    path = tmp_path / "Payments DB_v2.yaml"
    path.write_text(yaml.safe_dump(document))
    assert load(path).name == "payments-db-v2"
