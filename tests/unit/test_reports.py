"""Training outputs rendered from real recordings committed as test data (made by `lab run` on real Docker):
a passing run, a run whose runbook step did not fix the network, and a run stopped by SIGINT."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from lab.clock import FakeClock
from lab.judge.recording import read_recording
from lab.judge.summary import JUDGING
from lab.judge.verdict import judge_run, summary_of
from lab.play.console import summary_table
from lab.report.build import report_run
from lab.report.chart import LANE_NAME_MAX, DeploySpan, Halt, Replacement, deploy_spans, timeline_svg
from lab.report.narrative import measure_proofs
from lab.report.replay import replay
from lab.report.runs import compare, latest_run, list_runs
from lab.scenario.reader import load

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"
PASS = "20261126T220157Z-db-network-misconfig"
WRONG_FIX = "20261126T223001Z-wrong-fix"
PARTIAL = "20261126T223501Z-sigint"


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A copy of the recordings: reports are written into run directories."""
    target = tmp_path / "runs"
    shutil.copytree(RECORDINGS, target)
    return target


def test_report_html_is_one_self_contained_file(runs_dir: Path) -> None:
    """No script, stylesheet or image is fetched: the report opens on an air-gapped laptop."""
    html = report_run(runs_dir / PASS).html.read_text()
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", html)
    assert "url(http" not in html and "@import" not in html
    assert '<figure id="timeline-chart">' in html and "<svg" in html


def test_a_replica_with_a_very_long_name_still_gets_its_chart(runs_dir: Path) -> None:
    """A team's replica header may say anything: a 200-character name is cut in the chart's lane label (in full it
    would leave the chart no room, and matplotlib refuses such margins)."""
    events = read_recording(runs_dir / PASS).events
    long_name = "orders-" + "x" * 193
    renamed = [{**event, "replica": long_name} if event.get("replica") == "app-2" else event for event in events]
    svg = timeline_svg(renamed, judge_run(runs_dir / PASS).summary)
    assert long_name not in svg and long_name[:LANE_NAME_MAX - 1] + "…" in svg
    assert "app-1" in svg and "app-3" in svg


def deploy_events(t: float, *, done: bool = True) -> list[dict[str, Any]]:
    """A push of renamed-env to app-1, app-2 and app-3 from `t`, halted by its health gate at app-1, which the gate
    rolls back; without `done`, the recording ends before its deploy.done."""
    wall = "2026-11-26T22:02:30.000+00:00"
    events: list[dict[str, Any]] = [
        {"t": t, "wall": wall, "kind": "deploy.started", "release": "renamed-env",
         "services": ["app-1", "app-2", "app-3"], "health_gate": {"within_s": 5.0, "roll_back": True}},
        {"t": t + 6.5, "wall": wall, "kind": "deploy.replaced", "service": "app-1", "release": "renamed-env",
         "previous": "current", "container": "0123456789ab", "serving": False, "detail": "not healthy after 5 s"},
        {"t": t + 6.5, "wall": wall, "kind": "deploy.halted", "release": "renamed-env", "service": "app-1",
         "within_s": 5.0, "detail": "not healthy after 5 s", "not_deployed": ["app-2", "app-3"],
         "rolling_back_to": "current"},
        {"t": t + 8.0, "wall": wall, "kind": "deploy.replaced", "service": "app-1", "release": "current",
         "previous": "renamed-env", "container": "ba9876543210", "serving": True, "detail": "", "rollback": True},
    ]
    if done:
        events.append({"t": t + 8.0, "wall": wall, "kind": "deploy.done", "release": "renamed-env", "serving": [],
                       "not_serving": [], "rolled_back": ["app-1"], "not_deployed": ["app-2", "app-3"]})
    return events


def test_deploys_are_spans_from_their_start_to_their_end_with_what_happened_between() -> None:
    """Each deploy.started opens a span that its deploy.done closes, with its replacements (the gate's rollback
    one of them) and its halt; one the recording ends before (or the next deploy begins before) ends there,
    marked unfinished."""
    assert deploy_spans(deploy_events(20.0)) == [DeploySpan(
        "renamed-env", 20.0, 28.0, True,
        (Replacement(26.5, "app-1", serving=False, rollback=False), Replacement(28.0, "app-1", True, True)),
        Halt(26.5, "app-1", ("app-2", "app-3")))]
    cut = [*deploy_events(20.0, done=False), {"t": 31.0, "wall": "", "kind": "request"}]
    assert [(span.end, span.done) for span in deploy_spans(cut)] == [(31.0, False)]
    rollback = {"t": 40.0, "wall": "", "kind": "deploy.started", "release": "current", "services": ["app-1"]}
    spans = deploy_spans([*deploy_events(20.0, done=False), rollback])
    assert [(span.release, span.end, span.done) for span in spans] == [("renamed-env", 40.0, False),
                                                                        ("current", 40.0, False)]


def test_the_chart_marks_each_deploy_with_its_release_its_replacements_and_its_halt(runs_dir: Path) -> None:
    """A reader sees when the change happened beside the error rate: the deploy's band is labelled with its
    release (in the legend and at its start), each replacement and the gate's halt are marked and named."""
    recording = runs_dir / PASS
    events = read_recording(recording).events
    summary = judge_run(recording).summary
    plain = timeline_svg(events, summary)
    assert "deploy renamed-env" not in plain and "halted at" not in plain
    svg = timeline_svg(sorted(events + deploy_events(20.0), key=lambda event: event["t"]), summary)
    assert svg.count("deploy renamed-env") == 2, "the legend's entry and the band's label"
    assert "halted at app-1 (not deployed: app-2, app-3)" in svg
    assert "app-1 rolled back" in svg and "app-1 not serving" not in svg  # the halt's label names it
    unfinished = timeline_svg(sorted(events + deploy_events(20.0, done=False), key=lambda event: event["t"]),
                              summary)
    assert "deploy renamed-env (unfinished)" in unfinished


def test_report_shows_milestones_checks_and_first_db_errors(runs_dir: Path) -> None:
    """Milestones with incident clock, every check, and the app's first database errors are on the page."""
    html = report_run(runs_dir / PASS).html.read_text()
    for text in ("fault injected", "alert fired", "restart db", "mitigation", "recovered", "15:30",
                 "restart did not help", "psycopg.errors.ConnectionTimeout", 'id="verdict">PASS'):
        assert text in html, text


def test_postmortem_has_the_shape_of_a_real_one_with_measured_figures(runs_dir: Path) -> None:
    """Summary, Impact, Timeline, Root cause, Detection, measures, went well/badly; figures from summary.json."""
    made = report_run(runs_dir / PASS)
    text = made.postmortem.read_text()
    headings = re.findall(r"^## (.+)$", text, flags=re.MULTILINE)
    assert headings == ["Summary", "Impact", "Timeline", "Root cause and resolution", "Detection",
                        "Corrective and preventive measures", "What went well", "What went badly"]
    summary = summary_of(runs_dir / PASS)
    fault = summary["fault"]["overall"]
    assert f"{fault['error_rate'] * 100:.1f}% of {fault['requests']}" in text
    assert "| 14:20 |" in text and "| 15:30 |" in text
    assert "Make the load balancer's health check see the database path" in text


def test_partial_recording_is_reported_as_partial(runs_dir: Path) -> None:
    """A run stopped by SIGINT: verdict partial, a banner in the HTML and a note in the postmortem."""
    made = report_run(runs_dir / PARTIAL)
    summary = summary_of(runs_dir / PARTIAL)
    assert summary["verdict"] == "partial" and summary["ended_reason"] == "interrupted"
    assert 'id="partial-banner"' in made.html.read_text() and "did not finish (interrupted)" in made.html.read_text()
    assert "Partial recording" in made.postmortem.read_text()
    assert "recording partial: interrupted" in (runs_dir / PARTIAL / "junit.xml").read_text()


def test_replay_prints_events_in_order_at_high_speed() -> None:
    """Replay at 1000x on a fake clock: the incident's steps and the alert appear in recording order."""
    events = read_recording(RECORDINGS / PASS).events
    output = io.StringIO()
    reached = replay(events, 1000, Console(file=output, width=200), FakeClock())
    text = output.getvalue()
    order = [text.index(marker) for marker in ("14:00 apply", "ALERT", "14:20 restart", "15:30 revert")]
    assert order == sorted(order)
    assert "req/s" in text and "run ended (completed)" in text
    assert reached == pytest.approx(max(e["t"] for e in events), abs=1.0)


def test_replay_follows_a_rollout_and_the_users_rate() -> None:
    """A gated push halted at its canary and rolled back, and a surge: each shows in the replay, in order."""
    events = read_recording(RECORDINGS / PASS).events
    surge = {"t": 19.0, "wall": "", "kind": "traffic.changed", "rate": 60.0, "ramp_s": 0.0}
    played = sorted([*events, surge, *deploy_events(20.0)], key=lambda event: event["t"])
    output = io.StringIO()
    replay(played, 1000, Console(file=output, width=300), FakeClock())
    text = output.getvalue()
    said = ["traffic 60.0 requests per second",
            "deploy of release renamed-env to app-1, app-2, app-3 behind a health gate",
            "deploy app-1 on release renamed-env, was current: not serving",
            "deploy halted at app-1: not healthy after 5 s; not deployed: app-2, app-3",
            "deploy app-1 on release current (the gate's rollback), was renamed-env: serving",
            "deploy done, release renamed-env: rolled back: app-1; not deployed: app-2, app-3"]
    missing = [line for line in said if line not in text]
    assert not missing, text
    assert [text.index(line) for line in said] == sorted(text.index(line) for line in said)


def test_replay_stops_when_asked() -> None:
    """Setting the stop event (what Ctrl-C does) ends the replay where it is."""
    events = read_recording(RECORDINGS / PASS).events
    stop = threading.Event()
    stop.set()
    output = io.StringIO()
    assert replay(events, 1, Console(file=output), FakeClock(), stop) == 0.0
    assert output.getvalue() == ""


def test_replay_of_a_partial_recording_says_so() -> None:
    """A recording without its end still replays, and says it is partial when it has no run.ended."""
    events = read_recording(RECORDINGS / PASS).events
    cut = [e for e in events if e["t"] < 25 and e["kind"] != "run.ended"]
    output = io.StringIO()
    replay(cut, 1000, Console(file=output, width=200), FakeClock())
    assert "recording partial" in output.getvalue()


def test_runs_lists_newest_first_with_verdicts(runs_dir: Path) -> None:
    """`lab runs` order and verdicts come from the run directories."""
    rows = list_runs(runs_dir)
    assert [row.run_dir.name for row in rows] == [PARTIAL, WRONG_FIX, PASS]
    assert [row.verdict for row in rows] == ["partial", "fail", "pass"]
    assert rows[2].intervals["detect"] > 0


def test_compare_shows_where_two_runs_differ(runs_dir: Path) -> None:
    """The right fix against the wrong one: recovery interval and the recovery check differ."""
    rows = compare(summary_of(runs_dir / PASS), summary_of(runs_dir / WRONG_FIX))
    by_name = {(row.section, row.name): row for row in rows}
    assert by_name[("run", "verdict")].difference == "differs"
    recovery_check = by_name[("check", "recovered after the fix")]
    assert (recovery_check.a, recovery_check.b) == ("PASS", "FAIL")
    recover = by_name[("interval (s)", "recover")]
    assert float(recover.difference) > 5


CHROMIUM = shutil.which("chromium")


@pytest.mark.skipif(CHROMIUM is None and not os.environ.get("CI"), reason="Debian's chromium is not installed")
def test_report_renders_in_a_real_headless_browser(runs_dir: Path, tmp_path: Path) -> None:
    """Chromium loads report.html offline: the chart's SVG and the milestone table are in the rendered page."""
    assert CHROMIUM is not None, "CI must have chromium: `make test` installs it"
    html = report_run(runs_dir / PASS).html
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'ud'}"]
    dom = subprocess.run([CHROMIUM, *flags, "--dump-dom", html.as_uri()], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert re.search(r'<figure id="timeline-chart">\s*<svg', dom)
    assert "fault injected" in dom and "recovered" in dom
    screenshot = tmp_path / "report.png"
    subprocess.run([CHROMIUM, *flags, "--window-size=1280,2000", f"--screenshot={screenshot}", html.as_uri()],
                   capture_output=True, timeout=120, check=True)
    assert screenshot.stat().st_size > 50_000  # a rendered page, not a blank one


SEED = Path(__file__).resolve().parents[2] / "scenarios" / "db-network-misconfig.yaml"


def _recording(runs_dir: Path, name: str, scenario: str, variant: str | None, verdict: str = "pass",
               fault_error_rate: float = 0.3) -> Path:
    """A run directory holding only what a runs folder is searched by: its summary."""
    run_dir = runs_dir / name
    run_dir.mkdir(parents=True)
    (run_dir / "summary.json").write_text(json.dumps({
        "judging": JUDGING, "scenario": scenario, "variant": variant, "verdict": verdict,
        "fault": {"overall": {"error_rate": fault_error_rate}}}))
    return run_dir


def _found(latest: tuple[Path, dict[str, Any]] | None) -> Path | None:
    return latest[0] if latest else None


def test_latest_run_is_the_newest_complete_recording_of_that_scenario_and_variant(tmp_path: Path) -> None:
    seed, variant = "db-network-misconfig", "deep-health-check"
    older = _recording(tmp_path, "20261101T100000Z-db-network-misconfig-deep-health-check", seed, variant)
    _recording(tmp_path, "20261102T100000Z-db-network-misconfig-deep-health-check", seed, variant, "partial")
    without = _recording(tmp_path, "20261103T100000Z-db-network-misconfig", seed, None)
    (tmp_path / "20261104T100000Z-db-network-misconfig-deep-health-check").mkdir()  # killed before its summary
    torn = tmp_path / "20261105T100000Z-db-network-misconfig-deep-health-check"
    torn.mkdir()
    (torn / "summary.json").write_text('{"scenario": "db-net')
    (tmp_path / "notes.txt").write_text("not a run")
    assert _found(latest_run(tmp_path, seed, variant)) == older
    assert _found(latest_run(tmp_path, seed, None)) == without
    assert latest_run(tmp_path, "another-scenario", None) is None
    assert latest_run(tmp_path / "missing", seed, None) is None


def test_latest_run_passes_over_what_the_lab_named_for_something_else(tmp_path: Path) -> None:
    """A runs folder only grows, and every report searches it: a directory the lab named for another scenario, a
    drill or a game day is passed over by its name (its summary, which here claims to match, is not read); one
    named with --out can hold anything, so its summary is read."""
    seed = "db-network-misconfig"
    match = _recording(tmp_path, "20261101T100000Z-db-network-misconfig", seed, None)
    for number, subject in enumerate(("drill-db-network-misconfig", "gameday", "pool-exhaustion",
                                      "db-network-misconfig-deep-health-check")):
        _recording(tmp_path, f"20261102T10000{number}Z-{subject}", seed, None)
    assert _found(latest_run(tmp_path, seed, None)) == match
    named = _recording(tmp_path, "ci-replay", seed, None)
    assert _found(latest_run(tmp_path, seed, None)) == named


def test_a_report_names_the_variant_run_that_tested_a_measure(tmp_path: Path) -> None:
    scenario = load(SEED)
    measure = scenario.variants[0]
    base = _recording(tmp_path, "20261101T100000Z-db-network-misconfig", scenario.name, None)
    _recording(tmp_path, f"20261102T100000Z-db-network-misconfig-{measure.name}", scenario.name, measure.name,
               fault_error_rate=0.012)
    summary = json.loads((base / "summary.json").read_text())
    assert measure_proofs(base, summary, scenario) == {measure.measure: (
        f"tested by variant {measure.name} (run 20261102T100000Z-db-network-misconfig-{measure.name}, pass): "
        "error rate 1.2% during the fault, against error rate 30.0% during the fault in this run")}
    variant_summary = {**summary, "variant": measure.name, "measure": measure.measure}
    assert measure_proofs(tmp_path / "next", variant_summary, scenario) == {measure.measure: (
        f"tested by this run (variant {measure.name}): error rate 30.0% during the fault, against error rate "
        "30.0% during the fault without it (run 20261101T100000Z-db-network-misconfig)")}


def test_answers_too_slow_before_the_fault_are_counted_where_the_steady_state_is_shown(runs_dir: Path) -> None:
    """A recording whose app-1 answered in 1.5 s before the fault: the steady-state check fails on it, and the
    console's summary, the report and the postmortem count those answers beside the steady window's 0% of errors
    (they read as a contradiction otherwise)."""
    path = runs_dir / PASS / "events.jsonl"
    events = [json.loads(line) for line in path.read_text().splitlines()]
    slowed = [{**e, "latency_s": 1.5} if e["kind"] == "request" and e["replica"] == "app-1" and e["t"] < 15.0
              else e for e in events]
    path.write_text("".join(json.dumps(e) + "\n" for e in slowed))
    summary = judge_run(runs_dir / PASS).summary
    steady = summary["steady"]["overall"]
    assert summary["verdict"] == "fail" and steady["errors"] == 0 and steady["slow"] > 0
    made = report_run(runs_dir / PASS)
    assert f'<td class="num">0.0%</td>\n<td class="num">{steady["slow"]}</td>' in made.html.read_text()
    assert f"| steady state | {steady['requests']} | 0 | 0.0% | {steady['slow']} |" in made.postmortem.read_text()
    output = io.StringIO()
    Console(file=output, width=200).print(summary_table(summary))
    assert f"{steady['requests']} requests, error rate 0.0%, {steady['slow']} answered slower than 1 s" in \
        output.getvalue()
    rows = {(row.section, row.name): row for row in compare(summary_of(runs_dir / WRONG_FIX), summary)}
    slow_row = rows[("steady impact", "answered too slowly")]
    assert (slow_row.a, slow_row.b, slow_row.difference) == ("0", str(steady["slow"]), f"+{steady['slow']}")
