"""Every file the lab reads, fuzzed: scenario files, runbook files (`lab run --runbook`), a game day's engines file
(`lab gameday --engines`), postmortems (`lab new --from-postmortem`) and a recording's summary.json, each through the
function the command reads it with. Whatever the input, only the lab's own errors (LabError: one line, an exit code)
may come out of it, never another exception. 10,000 examples in all (tests/unit/fuzz_documents.py writes them),
derandomized so that every run of the suite draws the same ones; a few go through the real `lab validate`."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, note, settings
from hypothesis import strategies as st

from lab.errors import LabError
from lab.gameday.engines import load_engines
from lab.judge.summary import read_summary, write_summary
from lab.judge.verdict import judge_run, summary_of
from lab.scenario.postmortem import write_skeleton
from lab.scenario.reader import load_runbook, parse
from lab.stack.builtin import BUILTIN_TOPOLOGY
from tests.cli import lab_cli
from tests.unit.fuzz_documents import FIELD_NAMES, SERVICES, Writer
from tests.unit.recordings import PASS, RECORDINGS
from tests.unit.test_bad_input import SEED

SEED_DOCUMENT = yaml.safe_load(SEED.read_text())
SEED_LINES = yaml.safe_dump(SEED_DOCUMENT, sort_keys=False, width=10**6).splitlines()
FIELD_LINES = [index for index, line in enumerate(SEED_LINES) if ": " in line]
SEED_JSON = json.dumps(SEED_DOCUMENT)
"""The seed as JSON, which is YAML too: copied and written again in microseconds, where PyYAML's dump takes ten."""

writers = st.randoms(use_true_random=True).map(Writer)


def fuzzed(examples: int) -> settings:
    """Hypothesis settings of a fuzz test: `examples` of them, the same ones each run, no deadline (the first
    example of a run pays for imports)."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None)


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """A directory the examples write their files in (hypothesis runs many examples per test function)."""
    with tempfile.TemporaryDirectory(prefix="lab-fuzz-") as directory:
        yield Path(directory)


def written(path: Path, text: str) -> Path:
    """`text` in `path` as UTF-8, where a lone surrogate makes bytes that are not UTF-8 (a file is bytes)."""
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    return path


# --- scenario files ---------------------------------------------------------------------------------------------


def any_scenario(writer: Writer) -> str:
    kind = writer.rng.randrange(3)
    if kind == 0:
        return writer.mapping({name: writer.value for name in SEED_DOCUMENT})
    return writer.value() if kind == 1 else writer.raw()


def mutated_seed(writer: Writer) -> str:
    """The seed scenario with one field replaced by any value (a new field, perhaps), or one of its lines given
    twice with any value."""
    rng = writer.rng
    if writer.chance(0.3):
        index = rng.choice(FIELD_LINES)
        copy = SEED_LINES[index].split(": ", 1)[0] + ": " + writer.value()
        return "\n".join([*SEED_LINES[:index + 1], copy, *SEED_LINES[index + 1:]]) + "\n"
    document = json.loads(SEED_JSON)
    section = rng.choice(sorted(document))
    target = document[section]
    if isinstance(target, list) and target and writer.chance(0.8):
        target = rng.choice(target)
    if isinstance(target, dict):
        target[rng.choice(sorted(target)) if writer.chance(0.8) else rng.choice(FIELD_NAMES)] = "FUZZ_PLACEHOLDER"
    else:
        document[section] = "FUZZ_PLACEHOLDER"
    return json.dumps(document).replace('"FUZZ_PLACEHOLDER"', writer.value(), 1)


@fuzzed(2000)
@given(writer=writers)
def test_any_scenario_text_is_a_scenario_or_a_scenario_error(writer: Writer) -> None:
    """Any scenario text gives a scenario or a LabError, never another exception."""
    text = note_of(any_scenario(writer))
    with contextlib.suppress(LabError):
        parse(text, source="fuzz.yaml")


@fuzzed(2500)
@given(writer=writers)
def test_a_mutated_seed_is_a_scenario_or_a_scenario_error(writer: Writer) -> None:
    """The seed with one field replaced by anything, or a line given twice, gives a scenario or a LabError."""
    text = note_of(mutated_seed(writer))
    with contextlib.suppress(LabError):
        parse(text, source="fuzz.yaml")


def note_of(text: str) -> str:
    """`text`, noted: a failing example shows the document that failed, not the seed of its Random."""
    note(f"document: {text!r}")
    return text


# --- runbook files and engines files ----------------------------------------------------------------------------


def runbook_file(writer: Writer) -> str:
    def pick(*choices: str) -> Any:
        return lambda: writer.rng.choice(choices) if writer.chance(0.8) else writer.value()

    step = {"at": pick("0", "90", "200", "-1"), "action": pick("runbook", "runbook", "note", "restart", "revert"),
            "service": pick(*SERVICES), "netns": pick(*SERVICES), "script": pick("fix.sh", "../fix.sh", "/bin/sh", ""),
            "command": pick("[iptables, -S]", "[]", "iptables -S"), "args": pick("[a, b]", "[]", "a"),
            "timeout_s": pick("60", "0", "3601", ".inf"), "text": writer.value, "milestone": pick("resolved", "x")}
    if writer.chance(0.1):
        return writer.value()
    steps = ", ".join(writer.mapping(step) for _ in range(writer.rng.randrange(4)))
    return f"title: {writer.scalar()}\nsteps: [{steps}]\n" if writer.chance(0.3) else f"steps: [{steps}]\n"


@fuzzed(2000)
@given(writer=writers)
def test_any_runbook_file_is_steps_or_an_error(scratch: Path, writer: Writer) -> None:
    """Any runbook file (`lab run X --runbook FILE`) gives its steps or a LabError."""
    path = written(scratch / "runbook.yaml", note_of(runbook_file(writer)))
    with contextlib.suppress(LabError):
        load_runbook(path, BUILTIN_TOPOLOGY)


def engines_file(writer: Writer) -> bytes:
    def pick(*choices: str) -> Any:
        return lambda: writer.rng.choice(choices) if writer.chance(0.8) else writer.value()

    engine = {"name": pick("here", "rack-2", "x", "-x"), "docker_host": pick("unix:///run/d.sock", "tcp://h:2376"),
              "context": pick("no-such-context-of-the-fuzz", "default"), "max_stacks": pick("1", "0", "-2")}
    kind = writer.rng.randrange(10)
    if kind == 0:
        return writer.rng.randbytes(writer.rng.randrange(60))
    if kind == 1:
        return writer.value().encode("utf-8", "surrogatepass")
    engines = ", ".join(writer.mapping(engine) for _ in range(writer.rng.randrange(4)))
    return f"engines: [{engines}]\n".encode("utf-8", "surrogatepass")


@fuzzed(1500)
@given(writer=writers)
def test_any_engines_file_is_engines_or_an_error(scratch: Path, writer: Writer) -> None:
    """Any engines file (`lab gameday --engines FILE`), bytes that are not UTF-8 too, gives engines or a LabError."""
    content = engines_file(writer)
    note(f"engines file: {content!r}")
    path = scratch / "engines.yaml"
    path.write_bytes(content)
    with contextlib.suppress(LabError):
        load_engines(path)


# --- postmortems ------------------------------------------------------------------------------------------------


def postmortem(writer: Writer) -> str:
    rng = writer.rng
    lines = []
    for _ in range(rng.randrange(12)):
        if writer.chance(0.6):
            lines.append(f"{rng.choice(['', '- ', '**', '[', '# ', '| ', '  '])}{rng.randint(0, 30)}:"
                         f"{rng.randint(0, 70):02d}{rng.choice(['', ' PM', ' am', ' UTC', ':59', '**'])}"
                         f"{rng.choice([' - ', ': ', '** ', '] ', ' | ', ''])}{writer.text(40)}")
        else:
            lines.append(writer.text(60) if writer.chance(0.5) else writer.raw(60))
    return "\n".join(lines)


@fuzzed(1000)
@given(writer=writers)
def test_any_postmortem_is_a_skeleton_or_an_error(scratch: Path, writer: Writer) -> None:
    """Any postmortem (`lab new NAME --from-postmortem FILE`) gives a skeleton that validates or a LabError."""
    source, out = written(scratch / "postmortem.md", note_of(postmortem(writer))), scratch / "incident.yaml"
    out.unlink(missing_ok=True)
    with contextlib.suppress(LabError):
        write_skeleton("incident", source, out)


# --- a recording's summary.json ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def recording(scratch: Path) -> tuple[Path, dict[str, Any]]:
    """A copy of a real recording, and the summary its judging writes."""
    run_dir = scratch / PASS
    shutil.copytree(RECORDINGS / PASS, run_dir)
    return run_dir, judge_run(run_dir).summary


def summary_text(writer: Writer, summary: dict[str, Any]) -> str:
    """summary.json as written with one field replaced by any JSON value, or any JSON, or text that is not."""
    kind = writer.rng.randrange(4)
    if kind == 0:
        return json.dumps({**summary, writer.rng.choice(sorted(summary)): writer.json_value()})
    if kind == 1:
        return json.dumps(writer.json_value())
    if kind == 2:
        return "[" * writer.rng.randrange(200_000)
    return writer.text(100)


@fuzzed(1000)
@given(writer=writers)
def test_any_summary_json_is_read_or_judged_again(recording: tuple[Path, dict[str, Any]], writer: Writer) -> None:
    """A summary.json of any content is read as written if it has its shape, else as None (the cache is not
    trusted), never as an exception."""
    run_dir, summary = recording
    written(run_dir / "summary.json", note_of(summary_text(writer, summary)))
    found = read_summary(run_dir)
    assert found is None or isinstance(found, dict)


@fuzzed(20)
@given(writer=writers)
def test_a_recordings_summary_of_any_content_gives_its_figures(recording: tuple[Path, dict[str, Any]],
                                                               writer: Writer) -> None:
    """`summary_of` (what `lab runs` and `lab compare` read) gives the cache if it holds, else the verdict of the
    recording judged again, whatever summary.json held."""
    run_dir, summary = recording
    written(run_dir / "summary.json", note_of(summary_text(writer, summary)))
    cached = read_summary(run_dir)
    assert summary_of(run_dir)["verdict"] == (summary["verdict"] if cached is None else cached["verdict"])
    write_summary(run_dir, summary)


# --- the real command, end to end --------------------------------------------------------------------------------


@fuzzed(5)
@given(seed=st.integers(0, 2**32))
def test_lab_validate_of_a_fuzzed_scenario_is_ok_or_one_line(scratch: Path, seed: int) -> None:
    """`lab validate` of a mutated seed says ok, or one line and exit 2, never a traceback."""
    shutil.copytree(SEED.parent / "runbooks", scratch / "runbooks", dirs_exist_ok=True)  # the seed's script
    shutil.copytree(SEED.parent / "rules", scratch / "rules", dirs_exist_ok=True)  # its variant's rule file
    path = written(scratch / "scenario.yaml", note_of(mutated_seed(Writer(random.Random(seed)))))
    result = lab_cli("validate", str(path))
    assert "Traceback" not in result.stderr
    assert result.returncode == 0 or (result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1)
