"""A trainee's drill history without Docker: names checked in one line, each drill's record kept in its run directory
by the drill's own writer, the last five read back newest first by their start, and a random draw that gives a
trainee none of them while another incident is left, and the one drilled longest ago when none is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from lab.drill.history import RECORD, DrillRecord, checked_trainee, recent_scenarios
from lab.drill.trainee import DrillOptions, TraineeDriver
from lab.errors import InvalidInput
from lab.scenario.library import pick_at_random
from lab.scenario.reader import load
from lab.settings import BUILTIN_SCENARIOS, Settings
from tests.cli import lab_cli

SEED = BUILTIN_SCENARIOS / "db-network-misconfig.yaml"
MONDAY = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def drilled(runs_dir: Path, trainee: str, scenario: str, started: datetime) -> None:
    """A drill's run directory as the lab leaves it: named by its start, its record written by the drill's driver."""
    run_dir = runs_dir / f"{started:%Y%m%dT%H%M%SZ}-drill-random"
    run_dir.mkdir(parents=True)
    document = yaml.safe_load(SEED.read_text())
    document["name"] = scenario
    (run_dir / "scenario.yaml").write_text(yaml.safe_dump(document))
    driver = TraineeDriver(load(run_dir / "scenario.yaml"), Settings.from_env({"LAB_RUNS_DIR": str(runs_dir)}),
                           DrillOptions(trainee=trainee), Console(quiet=True))
    driver.record_trainee(run_dir, started)


def library_of(directory: Path, *names: str) -> tuple[Path, ...]:
    """Scenarios with a fault named `names`, the only ones of the library drawn from."""
    directory.mkdir()
    for name in names:
        document = yaml.safe_load(SEED.read_text())
        document["name"] = name
        (directory / f"{name}.yaml").write_text(yaml.safe_dump(document))
    return (directory,)


@pytest.mark.parametrize("name", ["ada", "Ada.Lovelace", "on-call_2", "x" * 64, "0"])
def test_a_trainee_name_is_letters_digits_dots_underscores_and_dashes(name: str) -> None:
    """What a name may be: 1 to 64 of those characters, case kept."""
    assert checked_trainee(name) == name


@pytest.mark.parametrize("name", ["", "x" * 65, "ada lovelace", "../ada", "ada\n", "José", "ada;rm"])
def test_any_other_trainee_name_is_one_line_and_exit_2(name: str) -> None:
    """Empty, too long, a space, a path, a newline, a letter beyond ASCII, a shell character: refused in one line,
    before anything starts."""
    with pytest.raises(InvalidInput, match="--trainee must be 1 to 64 letters"):
        checked_trainee(name)
    refused = lab_cli("drill", "--random", "--trainee", name)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused.stderr
    assert refused.stderr.startswith("lab: error: --trainee must be 1 to 64 letters")


def test_a_drill_with_a_trainee_keeps_its_record_and_one_without_keeps_none(tmp_path: Path) -> None:
    """The driver writes who drilled which scenario, from when, beside the recording; with no trainee, nothing."""
    drilled(tmp_path, "ada", "first", MONDAY)
    (run_dir,) = tmp_path.iterdir()
    assert DrillRecord.model_validate_json((run_dir / RECORD).read_text()) == DrillRecord(
        trainee="ada", scenario="first", started=MONDAY)
    anonymous = TraineeDriver(load(SEED), Settings.from_env(), DrillOptions(), Console(quiet=True))
    anonymous.record_trainee(tmp_path, MONDAY)
    assert not (tmp_path / RECORD).exists()


def test_the_last_five_drills_of_a_trainee_newest_first_by_their_start(tmp_path: Path) -> None:
    """Seven drills of ada's, written out of order, among another trainee's and a run with no record or a broken
    one: her last five scenarios, newest first by their start (not by their directory's name), repeats kept."""
    for day, scenario in [(3, "c"), (1, "a"), (6, "f"), (2, "b"), (5, "e"), (7, "c"), (4, "d")]:
        drilled(tmp_path / "runs", "ada", scenario, MONDAY + timedelta(days=day))
    drilled(tmp_path / "runs", "grace", "z", MONDAY + timedelta(days=9))
    drilled(tmp_path / "runs", "Ada", "y", MONDAY + timedelta(days=10))
    (tmp_path / "runs" / "20260401T000000Z-db-network-misconfig").mkdir()
    broken = tmp_path / "runs" / "20260402T000000Z-drill-random"
    broken.mkdir()
    (broken / RECORD).write_text('{"trainee": "ada", "scenario": 3}')
    renamed = sorted((tmp_path / "runs").glob("*-drill-random"))[0]  # --out names a run anything
    renamed.rename(tmp_path / "runs" / "zz-named-by-out")
    assert recent_scenarios(tmp_path / "runs", "ada") == ["c", "f", "e", "d", "c"]
    assert recent_scenarios(tmp_path / "runs", "grace") == ["z"]
    assert recent_scenarios(tmp_path / "runs", "linus") == []
    assert recent_scenarios(tmp_path / "nowhere", "ada") == []


def test_a_draw_gives_a_trainee_none_of_their_last_five_while_another_is_left(tmp_path: Path) -> None:
    """Six scenarios, five drilled lately: every seed draws the sixth; with no history, seeds draw them all (the
    seed's draw is unchanged)."""
    library = library_of(tmp_path / "library", *"abcdef")
    for day, scenario in enumerate("abcde"):
        drilled(tmp_path / "runs", "ada", scenario, MONDAY + timedelta(days=day))
    recent = recent_scenarios(tmp_path / "runs", "ada")
    assert {pick_at_random(library, None, seed, recent=recent).name for seed in range(20)} == {"f"}
    assert {pick_at_random(library, None, seed).name for seed in range(40)} == set("abcdef")
    assert pick_at_random(library, None, 3, recent=[]).name == pick_at_random(library, None, 3).name


def test_when_every_candidate_was_drilled_lately_the_one_drilled_longest_ago_is_drawn(tmp_path: Path) -> None:
    """Never a refusal: of three scenarios all in the last five (c, a, b, a, c newest first), b was drilled longest
    ago, for every seed."""
    library = library_of(tmp_path / "library", *"abc")
    for day, scenario in enumerate("cabac"):
        drilled(tmp_path / "runs", "ada", scenario, MONDAY + timedelta(days=day))
    recent = recent_scenarios(tmp_path / "runs", "ada")
    assert recent == ["c", "a", "b", "a", "c"]
    assert {pick_at_random(library, None, seed, recent=recent).name for seed in range(20)} == {"b"}
