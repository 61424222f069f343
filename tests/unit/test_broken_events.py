"""Recordings whose events.jsonl or its fields are broken (a line that is not JSON, a time that is not one, a latency
that is a word): said in one line naming the file and line, by every command that reads them, or skipped where a
killed run cut its last line short. Made from the real recordings in tests/fixtures/recordings, corrupted in a
copy."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from lab.errors import InvalidInput
from lab.judge.recording import read_recording
from lab.judge.verdict import judge_run, summary_of
from lab.record.events import read_events
from lab.report.build import report_run
from lab.report.replay import replay_lines
from lab.report.runs import list_runs
from tests.cli import lab_cli
from tests.unit.recordings import (
    EVENT_LINE,
    PASS,
    WRONG_FIX,
    copy_runs,
    edit_event,
    replace_with_a_directory,
)
from tests.unit.test_bad_input import assert_one_line


@pytest.fixture
def runs_dir(tmp_path: Path) -> Path:
    return copy_runs(tmp_path)


# --- events.jsonl is checked where it is read ---------------------------------------------------------------------

def _replace_line(text: str) -> Callable[[Path], object]:
    def replace(run_dir: Path) -> None:
        path = run_dir / "events.jsonl"
        lines = path.read_bytes().split(b"\n")
        lines[EVENT_LINE - 1] = text.encode()
        path.write_bytes(b"\n".join(lines))
    return replace


def _at(t: object) -> Callable[[Path], object]:
    return lambda run_dir: edit_event(run_dir, EVENT_LINE, lambda event: {**event, "t": t})


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
    "no kind": (lambda run_dir: edit_event(run_dir, EVENT_LINE, lambda event: {"t": event["t"]}),
                f'line {EVENT_LINE}: "kind" must be a string, got null'),
    "all garbage": (lambda run_dir: (run_dir / "events.jsonl").write_text("garbage\n" * 50), "line 1: not JSON"),
    "a directory": (lambda run_dir: replace_with_a_directory(run_dir / "events.jsonl"),
                    "events.jsonl: Is a directory"),
    "speed null": (lambda run_dir: edit_event(run_dir, 1, lambda started: {**started, "speed": None}),
                   'line 1: "speed" must be a positive number, got null'),
    "speed a word": (lambda run_dir: edit_event(run_dir, 1, lambda started: {**started, "speed": "fast"}),
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
    assert_one_line(lab_cli(command, str(runs_dir / PASS)), 2, f"events.jsonl, line {EVENT_LINE}: \"t\" 1000000.0")


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
                                '"error_rate" of an "alert.fired" event must be a number from 0 to 1 or null, '
                                'got "high"'),
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
    edit_event(run_dir, number, lambda event: {**{k: v for k, v in event.items() if k != field},
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
        result = lab_cli("runs", "--dir", str(runs_dir))
        assert result.returncode == 0 and "unreadable" in result.stdout
        assert result.stderr == f"lab: warning: {expected}\n"
    else:
        assert_one_line(lab_cli(command, str(run_dir), "--speed", "1000") if command == "replay" else
                        lab_cli(command, str(run_dir)), 2, expected)


def test_fields_only_shown_as_text_are_read_as_they_come(runs_dir: Path) -> None:
    """What no reader takes apart stays readable whatever it holds: an app's error line (`app.error`) whose replica
    is an array, a docker event whose service is one, a fault's target that is a number; and an app's database
    error with an empty message (the replay took its first line, and there was none)."""
    run_dir = runs_dir / PASS
    edit_event(run_dir, _first_line(run_dir, "docker.container"), lambda event: {**event, "service": ["db"]})
    edit_event(run_dir, _first_line(run_dir, "fault.applied"), lambda event: {**event, "target": 5432})
    edit_event(run_dir, _first_line(run_dir, "app.db_error"), lambda event: {**event, "message": ""})
    with (run_dir / "events.jsonl").open("a") as events:
        events.write(json.dumps({"t": 30.0, "wall": "2026-11-26T22:02:35.000+00:00", "kind": "app.error",
                                 "replica": ["app-2"], "message": "error: code :x: failed"}) + "\n")
    events_read = read_recording(run_dir).events
    assert any(event["kind"] == "app.error" for event in events_read)
    assert judge_run(run_dir).verdict == "pass"
    assert "['db']" in "\n".join(line.text for line in replay_lines(events_read))
    report_run(run_dir)


