"""Recordings as users find them: a variant run judged again, a summary.json cut short or edited, a run folder that
cannot be written (a CI artifact), a broken neighbour in the runs folder. Each is judged from what can be trusted,
or said in one line naming the file; none ends in a traceback or a hang. Made from the real recordings in
tests/fixtures/recordings, corrupted in a copy."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.errors import InvalidInput, LabError
from lab.judge.recording import read_recording
from lab.judge.summary import JUDGING, read_summary
from lab.judge.verdict import judge_run, summary_of
from lab.report.build import report_run
from lab.report.narrative import measure_proofs
from lab.report.runs import compare, list_runs
from lab.scenario.reader import load
from tests.cli import lab_cli
from tests.unit.recordings import (
    EVENT_LINE,
    PASS,
    RECORDINGS,
    SEED,
    WRONG_FIX,
    copy_runs,
    edit_event,
    make_variant_run,
    replace_with_a_directory,
)
from tests.unit.test_bad_input import assert_one_line
from tests.unit.test_broken_events import BROKEN_EVENTS


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return copy_runs(tmp_path)


# --- a variant run is judged by its variant ----------------------------------------------------------------------

def test_a_variant_run_is_judged_again_by_its_variants_checks(runs_dir: Path) -> None:
    """The passing run, recorded as a variant that requires 90% errors during the fault, fails: `lab runs` and
    `lab report` both judge it by the variant's checks (the report judged it by the base scenario's: PASS)."""
    run_dir = runs_dir / PASS
    make_variant_run(run_dir, "strict", {"impact": {"min_error_rate": 0.9}})
    assert next(row for row in list_runs(runs_dir) if row.run_dir == run_dir).verdict == "fail"
    (run_dir / "summary.json").unlink(missing_ok=True)
    made = report_run(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (summary["verdict"], summary["variant"], summary["measure"]) == (
        "fail", "strict", "Page the on-call engineer louder")
    assert 'id="verdict">FAIL' in made.html.read_text()
    scenario = read_recording(run_dir).scenario
    assert scenario.variant is not None and scenario.variant.name == "strict"


def test_a_run_naming_a_variant_its_scenario_lacks_is_one_line(runs_dir: Path) -> None:
    run_dir = runs_dir / PASS
    edit_event(run_dir, 1, lambda started: {**started, "variant": "gone"})
    with pytest.raises(InvalidInput, match=r"events\.jsonl, line 1: the run's variant is not in .*scenario\.yaml: "
                                           r"scenario db-network-misconfig has no variant 'gone'"):
        read_recording(run_dir)


# --- summary.json is a cache ---------------------------------------------------------------------------------------

BROKEN_SUMMARIES: dict[str, Callable[[Path], object]] = {
    "not JSON": lambda path: path.write_text('{"scenario": "db-network-misc'),
    "a list": lambda path: path.write_text("[1, 2]"),
    "no verdict": lambda path: path.write_text(json.dumps({"scenario": "db-network-misconfig"})),
    "no scenario": lambda path: path.write_text(json.dumps({"verdict": "pass"})),
    "wrong types": lambda path: path.write_text(json.dumps({
        **json.loads(path.read_text()), "intervals": "fast", "fault": {"overall": {"error_rate": "high"}}})),
    "not UTF-8": lambda path: path.write_bytes(b"\xff\xfe{}"),
    "a directory": lambda path: replace_with_a_directory(path),
    "judged by earlier checks": lambda path: path.write_text(json.dumps({  # whose verdict differed
        **{key: value for key, value in json.loads(path.read_text()).items() if key != "judging"}, "verdict": "fail"})),
}


@pytest.mark.parametrize("breakage", BROKEN_SUMMARIES)
def test_a_summary_that_cannot_be_used_is_judged_again_from_the_recording(runs_dir: Path, breakage: str) -> None:
    """`lab runs` and `lab compare` read summary.json, only a cache of the recording's verdict: one that cannot be
    read, or is not a summary, is judged again; a listing never rewrites a run's files (only its own report does)."""
    run_dir = runs_dir / PASS
    judge_run(run_dir).write()
    assert read_summary(run_dir) is not None  # as written: trusted
    BROKEN_SUMMARIES[breakage](run_dir / "summary.json")
    assert summary_of(run_dir)["verdict"] == "pass"
    assert [row.verdict for row in list_runs(runs_dir)] == ["fail", "pass"]
    rows = {(row.section, row.name): row for row in compare(summary_of(run_dir), summary_of(runs_dir / WRONG_FIX))}
    assert (rows[("run", "verdict")].a, rows[("run", "verdict")].b) == ("pass", "fail")
    assert read_summary(run_dir) is None


def test_a_summary_a_later_lab_judged_is_kept(runs_dir: Path) -> None:
    """Two versions of the lab sharing a runs folder would otherwise undo each other's summaries: the earlier one
    keeps what the later one's judging wrote."""
    run_dir = runs_dir / PASS
    judge_run(run_dir).write()
    path = run_dir / "summary.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "judging": JUDGING + 1, "verdict": "fail"}))
    assert summary_of(run_dir)["verdict"] == "fail"


def test_compare_with_a_broken_summary_prints_the_comparison(runs_dir: Path) -> None:
    BROKEN_SUMMARIES["a list"](runs_dir / PASS / "summary.json")
    result = lab_cli("compare", str(runs_dir / PASS), str(runs_dir / WRONG_FIX), env={"COLUMNS": "200"})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert re.search(r"recovered after the fix +│ PASS +│ FAIL", result.stdout), result.stdout


# --- scenario.yaml ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["report", "replay", "compare", "runs"])
def test_a_scenario_that_is_not_utf8_is_one_line(runs_dir: Path, command: str) -> None:
    """As `lab validate` says of the same file."""
    with (runs_dir / PASS / "scenario.yaml").open("ab") as scenario:
        scenario.write(b"\xff")
    run_dir = str(runs_dir / PASS)
    args = {"report": [run_dir], "replay": [run_dir], "compare": [run_dir, str(runs_dir / WRONG_FIX)],
            "runs": ["--dir", str(runs_dir)]}[command]
    result = lab_cli(command, *args)
    if command == "runs":  # the others are listed; this one as unreadable, with why
        assert result.returncode == 0 and "unreadable" in result.stdout and "fail" in result.stdout
        assert result.stderr.startswith("lab: warning: cannot read scenario ") and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    else:
        assert_one_line(result, 2, f"cannot read scenario {run_dir}/scenario.yaml: 'utf-8' codec can't decode")


# --- run folders that cannot be written ---------------------------------------------------------------------------

def test_a_recording_whose_summary_cannot_be_written_is_judged_all_the_same(runs_dir: Path) -> None:
    """summary.json and junit.xml are a cache when a recording is judged again: where they cannot be written (here a
    directory is in the way; a read-only CI artifact is the same OSError), they are skipped."""
    run_dir = runs_dir / PASS
    (run_dir / "summary.json").mkdir()
    assert judge_run(run_dir).verdict == "pass"
    assert [row.verdict for row in list_runs(runs_dir)] == ["fail", "pass"]
    assert (run_dir / "summary.json").is_dir()


def test_the_run_just_recorded_must_have_its_summary_written(runs_dir: Path) -> None:
    """Judging the run just played (given its scenario) is not a cache: its summary not written is an error."""
    run_dir = runs_dir / PASS
    (run_dir / "summary.json").mkdir()
    with pytest.raises(IsADirectoryError):
        judge_run(run_dir).write()


def test_a_report_that_cannot_be_written_says_where(runs_dir: Path) -> None:
    """The file system's problem, not the recording's: exit 3, as for a run whose report could not be written."""
    run_dir = runs_dir / PASS
    (run_dir / "report.html").mkdir()
    with pytest.raises(LabError, match=re.escape(f"cannot write {run_dir}/report.html: Is a directory")) as raised:
        report_run(run_dir)
    assert not isinstance(raised.value, InvalidInput)
    assert_one_line(lab_cli("report", str(run_dir)), 3, f"cannot write {run_dir}/report.html")


def test_runs_lists_a_recording_that_cannot_be_judged_as_unreadable(runs_dir: Path) -> None:
    """An event of the right form without what judging reads (a request with no latency) spoils its own run's row
    only, and says which line (it said "cannot be judged: KeyError: 'latency_s'")."""
    (runs_dir / PASS / "summary.json").unlink(missing_ok=True)
    edit_event(runs_dir / PASS, EVENT_LINE, lambda event: {"t": event["t"], "wall": event["wall"], "kind": "request"})
    rows = {row.run_dir.name: row for row in list_runs(runs_dir)}
    assert rows[PASS].verdict == "unreadable"
    assert rows[PASS].problem == (f'{runs_dir / PASS}/events.jsonl, line {EVENT_LINE}: a "request" event has no '
                                  '"latency_s" (a finite number of seconds from 0)')
    assert rows[WRONG_FIX].verdict == "fail"


# --- the runs folder ----------------------------------------------------------------------------------------------

def test_a_broken_run_is_listed_as_unreadable_and_the_others_still_are(runs_dir: Path) -> None:
    BROKEN_EVENTS["t 1e6"][0](runs_dir / PASS)
    rows = list_runs(runs_dir)
    assert [(row.run_dir.name, row.verdict) for row in rows] == [(WRONG_FIX, "fail"), (PASS, "unreadable")]
    assert rows[1].problem is not None and f"events.jsonl, line {EVENT_LINE}" in rows[1].problem
    result = lab_cli("runs", "--dir", str(runs_dir))
    assert result.returncode == 0 and "unreadable" in result.stdout
    assert result.stderr == f"lab: warning: {rows[1].problem}\n"


def test_a_runs_folder_that_is_missing_or_not_a_folder_is_named(tmp_path: Path) -> None:
    """The default folder not made yet has no recordings; one named with --dir that does not exist, or a file, or a
    name too long to look up is said in one line naming it (LAB_RUNS_DIR gave a traceback)."""
    missing, a_file, too_long = tmp_path / "nope", tmp_path / "file", tmp_path / ("x" * 300)
    a_file.write_text("")
    assert list_runs(missing) == []
    with pytest.raises(InvalidInput, match=re.escape(f"no runs folder at {missing}")):
        list_runs(missing, missing_ok=False)
    assert_one_line(lab_cli("runs", "--dir", str(missing)), 2, f"no runs folder at {missing}")
    assert_one_line(lab_cli("runs", "--dir", str(a_file)), 2, f"cannot read the runs folder {a_file}: Not a dir")
    assert_one_line(lab_cli("runs", env={"LAB_RUNS_DIR": str(too_long)}), 2,
                    f"cannot read the runs folder {too_long}: File name too long")
    result = lab_cli("runs", env={"LAB_RUNS_DIR": str(missing)})
    assert result.returncode == 0 and f"no recordings yet in {missing}" in result.stdout


# --- a report's neighbours ----------------------------------------------------------------------------------------

BROKEN_NEIGHBOURS: dict[str, Callable[[Path], object]] = {
    "no verdict": lambda path: path.write_text(json.dumps({"scenario": "db-network-misconfig",
                                                           "variant": "deep-health-check"})),
    "fault not a window": lambda path: path.write_text(json.dumps({
        "scenario": "db-network-misconfig", "variant": "deep-health-check", "verdict": "pass", "fault": "big"})),
    "error rate a word": lambda path: path.write_text(json.dumps({
        "scenario": "db-network-misconfig", "variant": "deep-health-check", "verdict": "pass",
        "fault": {"overall": {"error_rate": "high"}}})),
    "impact share a word": lambda path: path.write_text(json.dumps({
        "scenario": "db-network-misconfig", "variant": "deep-health-check", "verdict": "pass", "impacted_s": 3,
        "impact_share": "most"})),
    "a list": lambda path: path.write_text("[]"),
    "not UTF-8": lambda path: path.write_bytes(b"\xff"),
    "a directory": lambda path: path.mkdir(),
    "judged earlier, no recording to judge again": lambda path: path.write_text(json.dumps({
        "scenario": "db-network-misconfig", "variant": "deep-health-check", "verdict": "pass"})),
}


@pytest.mark.parametrize("breakage", BROKEN_NEIGHBOURS)
def test_a_broken_neighbour_is_passed_over_by_a_report(tmp_path: Path, breakage: str) -> None:
    """A report names the newest variant run in its folder as proof of a measure: a newer one that cannot be read,
    or is not a summary, is passed over for the older good one (it broke the good run's report)."""
    scenario = load(SEED)
    variant = scenario.variants[0].name
    base = tmp_path / "20261101T100000Z-db-network-misconfig"
    good = tmp_path / f"20261102T100000Z-db-network-misconfig-{variant}"
    broken = tmp_path / f"20261103T100000Z-db-network-misconfig-{variant}"
    for run_dir, verdict in ((base, "fail"), (good, "pass")):
        run_dir.mkdir()
        (run_dir / "summary.json").write_text(json.dumps({
            "judging": JUDGING, "scenario": scenario.name, "variant": None if run_dir == base else variant,
            "verdict": verdict,
            "fault": {"overall": {"error_rate": 0.3 if run_dir == base else 0.012}}}))
    broken.mkdir()
    BROKEN_NEIGHBOURS[breakage](broken / "summary.json")
    summary = json.loads((base / "summary.json").read_text())
    assert measure_proofs(base, summary, scenario) == {scenario.variants[0].measure: (
        f"tested by variant {variant} (run {good.name}, pass): error rate 1.2% during the fault, against error rate "
        "30.0% during the fault in this run")}



def test_a_neighbour_judged_by_earlier_checks_is_judged_again_for_a_report(tmp_path: Path) -> None:
    """A variant run whose summary an earlier judging wrote (no `judging`, and here a verdict the recording does not
    bear out) is judged again from its recording before a report names its verdict as a measure's proof; the
    report leaves that other run's files as they were."""
    scenario = load(SEED)
    variant = scenario.variants[0].name
    base = tmp_path / "20261101T100000Z-db-network-misconfig"
    base.mkdir()
    (base / "summary.json").write_text(json.dumps({
        "judging": JUDGING, "scenario": scenario.name, "variant": None, "verdict": "fail",
        "fault": {"overall": {"error_rate": 0.3}}}))
    earlier = tmp_path / f"20261102T100000Z-db-network-misconfig-{variant}"
    shutil.copytree(RECORDINGS / PASS, earlier)
    make_variant_run(earlier, variant, {})
    (earlier / "summary.json").write_text(json.dumps({
        "scenario": scenario.name, "variant": variant, "verdict": "fail", "fault": {"overall": {"error_rate": 0.9}}}))
    summary = json.loads((base / "summary.json").read_text())
    [proof] = measure_proofs(base, summary, scenario).values()
    assert proof.startswith(f"tested by variant {variant} (run {earlier.name}, pass): error rate 33")
    assert "judging" not in json.loads((earlier / "summary.json").read_text())
