"""Recordings as users find them: a variant run judged again, a summary.json cut short or edited, events.jsonl
corrupted, a run folder that cannot be written (a CI artifact), a broken neighbour in the runs folder. Each is
judged from what can be trusted, or said in one line naming the file (and line); none ends in a traceback or a
hang. Made from the real recordings in tests/fixtures/recordings, corrupted in a copy."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from lab.errors import InvalidInput, LabError
from lab.judge.recording import read_recording
from lab.judge.summary import JUDGING, read_summary
from lab.judge.verdict import judge_run, summary_of
from lab.record.events import read_events
from lab.report.build import report_run
from lab.report.narrative import measure_proofs
from lab.report.replay import replay_lines
from lab.report.runs import compare, list_runs
from lab.scenario.reader import load
from tests.unit.test_bad_input import assert_one_line, run_lab

RECORDINGS = Path(__file__).resolve().parent.parent / "fixtures" / "recordings"
PASS = "20261126T220157Z-db-network-misconfig"
WRONG_FIX = "20261126T223001Z-wrong-fix"
SEED = Path(__file__).resolve().parents[2] / "scenarios" / "db-network-misconfig.yaml"
EVENT_LINE = 5
"""A request of the passing run, well inside it."""


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    """A runs folder holding copies of the passing run and the wrong fix's run."""
    target = tmp_path / "runs"
    for name in (PASS, WRONG_FIX):
        shutil.copytree(RECORDINGS / name, target / name)
    return target


def _edit_event(run_dir: Path, number: int, edit: Callable[[dict[str, object]], object]) -> None:
    """Replace line `number` of events.jsonl with what `edit` makes of its event, as JSON."""
    path = run_dir / "events.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[number - 1] = json.dumps(edit(json.loads(lines[number - 1]))) + "\n"
    path.write_text("".join(lines))


def _make_variant_run(run_dir: Path, name: str, checks: dict[str, object]) -> None:
    """The recording as a run of a variant: the variant in its scenario.yaml, and its name where a run records
    it (run.started: lab.record.recorder)."""
    scenario_path = run_dir / "scenario.yaml"
    document = yaml.safe_load(scenario_path.read_text())
    document["variants"] = [{"name": name, "measure": "Page the on-call engineer louder", "checks": checks}]
    scenario_path.write_text(yaml.safe_dump(document, sort_keys=False))
    _edit_event(run_dir, 1, lambda started: {**started, "variant": name})


def _replace_with_a_directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


# --- a variant run is judged by its variant ----------------------------------------------------------------------

def test_a_variant_run_is_judged_again_by_its_variants_checks(runs_dir: Path) -> None:
    """The passing run, recorded as a variant that requires 90% errors during the fault, fails: `lab runs` and
    `lab report` both judge it by the variant's checks (the report judged it by the base scenario's: PASS)."""
    run_dir = runs_dir / PASS
    _make_variant_run(run_dir, "strict", {"impact": {"min_error_rate": 0.9}})
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
    _edit_event(run_dir, 1, lambda started: {**started, "variant": "gone"})
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
    "a directory": lambda path: _replace_with_a_directory(path),
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
    result = run_lab("compare", str(runs_dir / PASS), str(runs_dir / WRONG_FIX), env_extra={"COLUMNS": "200"})
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert re.search(r"recovered after the fix +│ PASS +│ FAIL", result.stdout), result.stdout


# --- events.jsonl is checked where it is read ---------------------------------------------------------------------

def _replace_line(text: str) -> Callable[[Path], object]:
    def replace(run_dir: Path) -> None:
        path = run_dir / "events.jsonl"
        lines = path.read_bytes().split(b"\n")
        lines[EVENT_LINE - 1] = text.encode()
        path.write_bytes(b"\n".join(lines))
    return replace


def _at(t: object) -> Callable[[Path], object]:
    return lambda run_dir: _edit_event(run_dir, EVENT_LINE, lambda event: {**event, "t": t})


def _one_byte_ff(run_dir: Path) -> None:
    path = run_dir / "events.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[EVENT_LINE - 1] = lines[EVENT_LINE - 1].replace(b'"kind"', b'"ki\xffnd"')
    path.write_bytes(b"\n".join(lines))


BROKEN_EVENTS: dict[str, tuple[Callable[[Path], object], str]] = {
    "a byte that is not UTF-8": (_one_byte_ff, f"line {EVENT_LINE}: not UTF-8 text"),
    "a JSON list": (_replace_line("[1, 2]"), f"line {EVENT_LINE}: not an event: an array, not a JSON object"),
    "garbage in the middle": (_replace_line("garbage"), f"line {EVENT_LINE}: not JSON"),
    "an empty line": (_replace_line(""), f"line {EVENT_LINE}: an empty line"),
    "t a word": (_at("late"), f'line {EVENT_LINE}: "t" must be a finite number of seconds from 0, got "late"'),
    "t NaN": (_at(float("nan")), f'line {EVENT_LINE}: "t" must be a finite number of seconds from 0, got NaN'),
    "t Infinity": (_at(float("inf")), f'line {EVENT_LINE}: "t" must be a finite number of seconds from 0, got '
                                      "Infinity"),
    "t negative": (_at(-1), f'line {EVENT_LINE}: "t" must be a finite number of seconds from 0, got -1'),
    "t true": (_at(True), f'line {EVENT_LINE}: "t" must be a finite number of seconds from 0, got true'),
    "t 1e9": (_at(1e9), f'line {EVENT_LINE}: "t" 1000000000.0 is later than any recording lasts'),
    "t 1e6": (_at(1e6), f'line {EVENT_LINE}: "t" 1000000.0 is later than any recording lasts'),
    "no kind": (lambda run_dir: _edit_event(run_dir, EVENT_LINE, lambda event: {"t": event["t"]}),
                f'line {EVENT_LINE}: "kind" must be a string, got null'),
    "all garbage": (lambda run_dir: (run_dir / "events.jsonl").write_text("garbage\n" * 50), "line 1: not JSON"),
    "a directory": (lambda run_dir: _replace_with_a_directory(run_dir / "events.jsonl"),
                    "events.jsonl: Is a directory"),
    "speed null": (lambda run_dir: _edit_event(run_dir, 1, lambda started: {**started, "speed": None}),
                   'line 1: "speed" must be a positive number, got null'),
    "speed a word": (lambda run_dir: _edit_event(run_dir, 1, lambda started: {**started, "speed": "fast"}),
                     'line 1: "speed" must be a positive number, got "fast"'),
}


@pytest.mark.parametrize("breakage", BROKEN_EVENTS)
def test_a_broken_event_line_is_invalid_input_naming_the_file_and_line(runs_dir: Path, breakage: str) -> None:
    """Every reader of a recording (report, replay, compare, runs) gets the one line; none drops the line silently,
    crashes on it, or draws and replays a million seconds for a broken "t"."""
    run_dir = runs_dir / PASS
    corrupt, message = BROKEN_EVENTS[breakage]
    corrupt(run_dir)
    with pytest.raises(InvalidInput) as raised:
        read_recording(run_dir)
    assert str(run_dir / "events.jsonl") in str(raised.value) and message in str(raised.value)
    with pytest.raises(InvalidInput, match=r"events\.jsonl"):
        summary_of(run_dir)


@pytest.mark.parametrize("command", ["report", "replay"])
def test_report_and_replay_of_a_run_with_a_far_future_event_end_in_one_line(runs_dir: Path, command: str) -> None:
    """`lab report` hung on an event at t = 1e6 s, and `lab replay` printed a status line for each of its seconds."""
    _at(1e6)(runs_dir / PASS)
    assert_one_line(run_lab(command, str(runs_dir / PASS)), 2, f"events.jsonl, line {EVENT_LINE}: \"t\" 1000000.0")


def test_a_last_line_cut_short_by_a_killed_run_is_still_skipped(runs_dir: Path) -> None:
    run_dir = runs_dir / PASS
    whole = read_recording(run_dir).events
    with (run_dir / "events.jsonl").open("a") as events:
        events.write('{"t": 60.1, "wall": "2026-11-26T22:03:04.7')
    assert read_recording(run_dir).events == whole
    assert judge_run(run_dir).verdict == "pass"


def test_a_line_cut_short_is_only_excused_at_the_end(tmp_path: Path) -> None:
    """A line with its line end was written whole: cut or not, it is broken, even the last one."""
    path = tmp_path / "events.jsonl"
    path.write_text('{"t": 1, "wall": "2026-11-26T21:10:01.000+00:00", "kind": "a"}\n{"t": 2, "ki\n')
    with pytest.raises(InvalidInput, match=r"events\.jsonl, line 2: not JSON"):
        read_events(path)


# --- an event's fields are checked where they are read --------------------------------------------------------

def _first_line(run_dir: Path, kind: str, **having: object) -> int:
    """The line of events.jsonl holding the first event of `kind` whose fields have the values in `having`."""
    lines = (run_dir / "events.jsonl").read_text().splitlines()
    return next(number for number, line in enumerate(lines, 1)
                if (event := json.loads(line))["kind"] == kind and all(event.get(k) == v for k, v in having.items()))


GONE = object()
"""The field taken out of the event."""
BROKEN_FIELDS: dict[str, tuple[tuple[str, dict[str, object]], str, object, str]] = {
    # name: ((kind, having), field, its value, what the line says)
    "latency a word": (("request", {}), "latency_s", "slow",
                       '"latency_s" of a "request" event must be a finite number of seconds from 0, got "slow"'),
    "latency NaN": (("request", {}), "latency_s", float("nan"),
                    '"latency_s" of a "request" event must be a finite number of seconds from 0, got NaN'),
    "ok a word": (("request", {"ok": False}), "ok", "false",
                  '"ok" of a "request" event must be true or false, got "false"'),
    "status an array": (("request", {"ok": False}), "status", [503],
                        '"status" of a "request" event must be a whole number or null, got [503]'),
    "replica a number": (("request", {}), "replica", 2,
                         '"replica" of a "request" event must be a string or null, got 2'),
    "error a number": (("request", {"ok": False}), "error", 7,
                       '"error" of a "request" event must be a string or null, got 7'),
    "started_t a word": (("request", {}), "started_t", "soon",
                         '"started_t" of a "request" event must be a finite number of seconds from 0 or null, got '
                         '"soon"'),
    "no latency": (("request", {}), "latency_s", GONE,
                   'a "request" event has no "latency_s" (a finite number of seconds from 0)'),
    "no wall": (("step", {"index": 0}), "wall", GONE,
                'a "step" event has no "wall" (an ISO 8601 time from the year 1970 to 9000)'),
    "wall not a time": (("request", {}), "wall", "yesterday",
                        '"wall" of a "request" event must be an ISO 8601 time from the year 1970 to 9000, got '
                        '"yesterday"'),
    "wall in the year 9999": (("step", {"index": 0}), "wall", "9999-12-31T23:59:59.999+00:00",
                              '"wall" of a "step" event must be an ISO 8601 time from the year 1970 to 9000, got '
                              '"9999-12-31T23:59:59.999+00:00"'),
    "took null": (("step", {"index": 2}), "took_s", None,
                  '"took_s" of a "step" event must be a finite number of seconds from 0, got null'),
    "service a number": (("step", {"index": 2}), "service", 7,
                         '"service" of a "step" event must be a string or null, got 7'),
    "milestone an array": (("step", {"index": 1}), "milestone", ["investigating"],
                           '"milestone" of a "step" event must be a string or null, got ["investigating"]'),
    "alert error rate a word": (("alert.fired", {}), "error_rate", "high",
                                '"error_rate" of an "alert.fired" event must be a number from 0 to 1, got "high"'),
    "app error during an array": (("app.db_error", {}), "during", ["checkout"],
                                  '"during" of an "app.db_error" event must be a string or null, got ["checkout"]'),
    "app error no message": (("app.db_error", {}), "message", GONE,
                             'an "app.db_error" event has no "message" (a string or null)'),
    "missing writes a number": (("writes.verified", {}), "missing", 7,
                                '"missing" of a "writes.verified" event must be an array, got 7'),
    "partial a word": (("run.ended", {}), "partial", "no",
                       '"partial" of a "run.ended" event must be true or false, got "no"'),
}


def _break_field(run_dir: Path, breakage: str) -> int:
    """Give the event BROKEN_FIELDS names its wrong field; returns its line."""
    (kind, having), field, value, _ = BROKEN_FIELDS[breakage]
    number = _first_line(run_dir, kind, **having)
    _edit_event(run_dir, number, lambda event: {**{k: v for k, v in event.items() if k != field},
                                                **({} if value is GONE else {field: value})})
    return number


@pytest.mark.parametrize("breakage", BROKEN_FIELDS)
def test_an_event_field_of_the_wrong_type_is_invalid_input_naming_the_file_and_line(runs_dir: Path,
                                                                                    breakage: str) -> None:
    """A field judging, the reports or the replay take apart, of the wrong type or missing, is the line's problem:
    every reader says it in one line (it was a TypeError or KeyError in a report, or a string "false" counted as a
    request answered)."""
    run_dir = runs_dir / PASS
    (run_dir / "summary.json").unlink(missing_ok=True)
    number = _break_field(run_dir, breakage)
    expected = f"{run_dir}/events.jsonl, line {number}: {BROKEN_FIELDS[breakage][3]}"
    with pytest.raises(InvalidInput) as raised:
        read_recording(run_dir)
    assert str(raised.value) == expected
    with pytest.raises(InvalidInput, match=re.escape(expected)):
        summary_of(run_dir)
    rows = {row.run_dir.name: row for row in list_runs(runs_dir)}
    assert (rows[PASS].verdict, rows[PASS].problem) == ("unreadable", expected)
    assert rows[WRONG_FIX].verdict == "fail"


@pytest.mark.parametrize("command", ["report", "replay", "runs"])
def test_a_request_whose_latency_is_a_word_is_one_line_in_every_command(runs_dir: Path, command: str) -> None:
    """`lab report` and `lab replay` end in the one line and exit 2 (they ended in a TypeError's traceback);
    `lab runs` lists the run as unreadable with that line and goes on."""
    run_dir = runs_dir / PASS
    (run_dir / "summary.json").unlink(missing_ok=True)
    number = _break_field(run_dir, "latency a word")
    expected = f"{run_dir}/events.jsonl, line {number}: {BROKEN_FIELDS['latency a word'][3]}"
    if command == "runs":
        result = run_lab("runs", "--dir", str(runs_dir))
        assert result.returncode == 0 and "unreadable" in result.stdout
        assert result.stderr == f"lab: warning: {expected}\n"
    else:
        assert_one_line(run_lab(command, str(run_dir), "--speed", "1000") if command == "replay" else
                        run_lab(command, str(run_dir)), 2, expected)


def test_fields_only_shown_as_text_are_read_as_they_come(runs_dir: Path) -> None:
    """What no reader takes apart stays readable whatever it holds: an app's error line (`app.error`) whose replica
    is an array, a docker event whose service is one, a fault's target that is a number; and an app's database
    error with an empty message (the replay took its first line, and there was none)."""
    run_dir = runs_dir / PASS
    _edit_event(run_dir, _first_line(run_dir, "docker.container"), lambda event: {**event, "service": ["db"]})
    _edit_event(run_dir, _first_line(run_dir, "fault.applied"), lambda event: {**event, "target": 5432})
    _edit_event(run_dir, _first_line(run_dir, "app.db_error"), lambda event: {**event, "message": ""})
    with (run_dir / "events.jsonl").open("a") as events:
        events.write(json.dumps({"t": 30.0, "wall": "2026-11-26T22:02:35.000+00:00", "kind": "app.error",
                                 "replica": ["app-2"], "message": "error: code :x: failed"}) + "\n")
    events_read = read_recording(run_dir).events
    assert any(event["kind"] == "app.error" for event in events_read)
    assert judge_run(run_dir).verdict == "pass"
    assert "['db']" in "\n".join(line.text for line in replay_lines(events_read))
    report_run(run_dir)


# --- scenario.yaml ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("command", ["report", "replay", "compare", "runs"])
def test_a_scenario_that_is_not_utf8_is_one_line(runs_dir: Path, command: str) -> None:
    """As `lab validate` says of the same file."""
    with (runs_dir / PASS / "scenario.yaml").open("ab") as scenario:
        scenario.write(b"\xff")
    run_dir = str(runs_dir / PASS)
    args = {"report": [run_dir], "replay": [run_dir], "compare": [run_dir, str(runs_dir / WRONG_FIX)],
            "runs": ["--dir", str(runs_dir)]}[command]
    result = run_lab(command, *args)
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
    assert_one_line(run_lab("report", str(run_dir)), 3, f"cannot write {run_dir}/report.html")


def test_runs_lists_a_recording_that_cannot_be_judged_as_unreadable(runs_dir: Path) -> None:
    """An event of the right form without what judging reads (a request with no latency) spoils its own run's row
    only, and says which line (it said "cannot be judged: KeyError: 'latency_s'")."""
    (runs_dir / PASS / "summary.json").unlink(missing_ok=True)
    _edit_event(runs_dir / PASS, EVENT_LINE, lambda event: {"t": event["t"], "wall": event["wall"], "kind": "request"})
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
    result = run_lab("runs", "--dir", str(runs_dir))
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
    assert_one_line(run_lab("runs", "--dir", str(missing)), 2, f"no runs folder at {missing}")
    assert_one_line(run_lab("runs", "--dir", str(a_file)), 2, f"cannot read the runs folder {a_file}: Not a dir")
    assert_one_line(run_lab("runs", env_extra={"LAB_RUNS_DIR": str(too_long)}), 2,
                    f"cannot read the runs folder {too_long}: File name too long")
    result = run_lab("runs", env_extra={"LAB_RUNS_DIR": str(missing)})
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
    _make_variant_run(earlier, variant, {})
    (earlier / "summary.json").write_text(json.dumps({
        "scenario": scenario.name, "variant": variant, "verdict": "fail", "fault": {"overall": {"error_rate": 0.9}}}))
    summary = json.loads((base / "summary.json").read_text())
    [proof] = measure_proofs(base, summary, scenario).values()
    assert proof.startswith(f"tested by variant {variant} (run {earlier.name}, pass): error rate 33")
    assert "judging" not in json.loads((earlier / "summary.json").read_text())
