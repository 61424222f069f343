"""Documents a user wrote that YAML or Python cannot take as they are: a key given twice, 5,000 levels of nesting, a
file that is not UTF-8, a number of 400 digits, a date that does not exist, a name ending in a newline. Scenario
files, runbook files (`lab run --runbook`) and a game day's engines file are read by one loader (lab.yaml_file):
each problem is one line naming the file and where, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.errors import InvalidInput, ScenarioError
from lab.gameday.engines import load_engines
from lab.scenario.reader import load_runbook, parse
from lab.stack.builtin import BUILTIN_TOPOLOGY
from tests.cli import lab_cli
from tests.unit.test_bad_input import SEED, assert_one_line, write

DEEP = "[" * 5000 + "]" * 5000


def seed_text() -> str:
    """The seed scenario in block style: a field per line, at a line the tests can find."""
    return yaml.safe_dump(yaml.safe_load(SEED.read_text()), sort_keys=False)


def line_of(text: str, line: str) -> int:
    return text.splitlines().index(line) + 1


def test_a_scenario_key_given_twice_is_refused_naming_both_lines(tmp_path: Path) -> None:
    """A key given twice in a scenario (a second `traffic:`, a second `rate:`) is refused, each one named with its
    path and both lines, exit 2."""
    lines = seed_text().splitlines()
    first = lines.index("traffic:") + 1
    path = write(tmp_path, "\n".join([*lines, "traffic:", "  rate: 20", "  rate: 999"]) + "\n")
    end = len(lines)
    assert_one_line(lab_cli("validate", path), 2, f"{path}: traffic: duplicate key (lines {first} and {end + 1}); "
                                                  f"traffic.rate: duplicate key (lines {end + 2} and {end + 3})")


def test_a_duplicate_key_deep_in_a_list_is_named_by_its_path() -> None:
    """A duplicate key's path names the list item holding it, and two on one line are said to be on that line."""
    text = seed_text().replace("- at: 5\n", "- at: 5\n  at: 6\n", 1) + "extra: {a: 1, a: 2}\n"
    with pytest.raises(ScenarioError) as refused:
        parse(text, source="x.yaml")
    line = line_of(text, "  at: 6")
    assert refused.value.problems == [f"timeline[1].at: duplicate key (lines {line - 1} and {line})",
                                      f"extra.a: duplicate key (twice on line {len(text.splitlines())})"]


def test_a_merge_key_may_be_overridden() -> None:
    """A key that overrides one merged in with `<<: *defaults` is not a duplicate."""
    document = yaml.safe_load(seed_text())
    text = yaml.safe_dump(document).replace("traffic:\n", "defaults: &d {rate: 5}\ntraffic:\n  <<: *d\n", 1)
    with pytest.raises(ScenarioError, match=r"^x\.yaml: defaults: unknown field$"):  # the anchor's key, not rate
        parse(text, source="x.yaml")


def test_a_runbook_file_key_given_twice_is_refused(tmp_path: Path) -> None:
    """A key given twice in a runbook file is refused naming its path and both lines."""
    runbook = Path(write(tmp_path, "steps:\n  - at: 1\n    at: 2\n    action: note\n", "runbook.yaml"))
    with pytest.raises(ScenarioError, match=r"runbook\.yaml: steps\[0\]\.at: duplicate key \(lines 2 and 3\)$"):
        load_runbook(runbook, BUILTIN_TOPOLOGY)


def test_an_engines_file_key_given_twice_is_refused(tmp_path: Path) -> None:
    """A key given twice in a game day's engines file is refused naming its path and both lines."""
    engines = Path(write(tmp_path, "engines:\n  - name: a\n    name: b\n", "engines.yaml"))
    with pytest.raises(InvalidInput, match=r"engines\.yaml: engines\[0\]\.name: duplicate key \(lines 2 and 3\)$"):
        load_engines(engines)


def test_a_runbook_file_nested_5000_levels_is_one_line(tmp_path: Path) -> None:
    """A runbook file nested 5,000 levels deep is one line naming it, exit 2."""
    path = write(tmp_path, f"steps: {DEEP}\n", "deep.yaml")
    assert_one_line(lab_cli("run", "db-network-misconfig", "--runbook", path), 2,
                    f"{path}: nested too deeply to be a runbook")


@pytest.mark.parametrize(("content", "problem"), [
    (f"engines: {DEEP}\n".encode(), "{path}: nested too deeply to be an engines file"),
    (b"\xff\xfe engines", "cannot read the engines file {path}: not UTF-8 text (invalid start byte at byte 0)"),
], ids=["deep", "not UTF-8"])
def test_an_engines_file_deep_or_not_text_is_one_line(tmp_path: Path, content: bytes, problem: str) -> None:
    """An engines file nested 5,000 levels deep, or not UTF-8, is one line naming it, exit 2, before any engine is
    asked."""
    path = tmp_path / "engines.yaml"
    path.write_bytes(content)
    assert_one_line(lab_cli("gameday", "--engines", str(path)), 2, problem.format(path=path))


def test_a_400_digit_rate_says_what_a_number_must_be(tmp_path: Path) -> None:
    """A rate of 400 digits, too large for a float, is refused with the range a number must be in and the size of
    the one given, not its digits."""
    path = write(tmp_path, SEED.read_text().replace("  rate: 20 ", f"  rate: {'9' * 400} "))
    assert_one_line(lab_cli("validate", path), 2,
                    f"{path}: traffic.rate: must be a number between -1.8e+308 and 1.8e+308, got one of 400 digits")


def test_a_whole_number_beyond_a_bound_is_shown_by_its_size() -> None:
    """A port of 400 digits is refused by its bound, showing how many digits it has rather than all of them."""
    text = seed_text().replace("  port: 5432\n", f"  port: {'9' * 400}\n")
    with pytest.raises(ScenarioError) as refused:
        parse(text, source="x.yaml")
    assert refused.value.problems == ["faults[0].port: must be at most 65535, got a number of 400 digits"]


@pytest.mark.parametrize(("value", "problem"), [
    ("2020-02-30", "not valid YAML at line {line}, column 7: '2020-02-30' is not a valid timestamp: day is out of "
                   "range for month"),
    ("9" * 5000, "not valid YAML at line {line}, column 7: '99999999999999999999...9999999999' is not a valid int: "
                 "Exceeds the limit (4300 digits) for integer string conversion: value has 5000 digits"),
    ("!!bool maybe", "not valid YAML at line {line}, column 7: 'maybe' is not a valid bool"),
    (f"0x{'f' * 4000}", "not valid YAML at line {line}, column 7: '0xffffffffffffffffff...ffffffffff' is not a valid "
                        "int: Exceeds the limit (4300 digits) for integer string conversion"),
], ids=["no such date", "5000 digits", "no such boolean", "hexadecimal beyond Python's text"])
def test_a_value_python_cannot_make_is_a_problem_at_its_line(value: str, problem: str) -> None:
    """A YAML value Python cannot make (a date that does not exist, a number of 5,000 digits, `!!bool maybe`) is a
    problem at its line and column."""
    text = seed_text().replace("- at: 5\n", f"- at: {value}\n", 1)
    line = line_of(text, f"- at: {value}")
    with pytest.raises(ScenarioError) as refused:
        parse(text, source="x.yaml")
    assert refused.value.problems == [problem.format(line=line)]


@pytest.mark.parametrize(("section", "field", "value", "problem"), [
    ("faults", "id", "app2-db\n", "faults[0].id: must be lowercase letters, digits and dashes (at most 40), got "
                                  "'app2-db\\n'"),
    ("timeline", "clock", "14:05\n", "timeline[1].clock: must match ^(([01]\\d|2[0-3]):([0-5]\\d))?$, got "
                                     "'14:05\\n'"),
    ("time", "incident_start", "14:00\n", "time.incident_start: must match ^([01]\\d|2[0-3]):([0-5]\\d)$, got "
                                          "'14:00\\n'"),
], ids=["fault id", "step clock", "incident start"])
def test_a_name_ending_in_a_newline_is_refused(section: str, field: str, value: str, problem: str) -> None:
    """A fault id, or any patterned field, ending in a newline is refused: its pattern is matched to the end of the
    text, not to the newline before it."""
    document = yaml.safe_load(seed_text())
    target = document[section][1] if section == "timeline" else document[section]
    (target[0] if isinstance(target, list) else target)[field] = value
    with pytest.raises(ScenarioError) as refused:
        parse(yaml.safe_dump(document), source="x.yaml")
    assert problem in refused.value.problems


def test_a_database_field_ending_in_a_newline_is_refused() -> None:
    """db-access-rule's `user` ending in a newline, which would split its pg_hba.conf line in two, is refused."""
    document = yaml.safe_load(seed_text())
    document["faults"][0] = {"id": "rule", "kind": "db-access-rule", "target": "db", "client": "app-2",
                             "user": "all\n"}
    with pytest.raises(ScenarioError, match=r"faults\[0\]\.user: must match"):
        parse(yaml.safe_dump(document), source="x.yaml")
