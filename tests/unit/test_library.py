"""The incident library without Docker: postmortems turned into scenario skeletons, the library listed and drawn
from (a team's own directory first), corrective measures as variants, and the impact figures variants are judged
by."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.errors import InvalidInput
from lab.judge.checks.detection import KIND as DETECTION
from lab.judge.checks.impact import KIND as IMPACT
from lab.judge.checks.recovery import KIND as RECOVERY
from lab.judge.checks.restart_ineffective import KIND as RESTART_INEFFECTIVE
from lab.judge.requests import RecoveryCriteria, Request
from lab.judge.windows import impacted_seconds
from lab.scenario.library import drillable, entries, pick_at_random
from lab.scenario.pacing import faster
from lab.scenario.postmortem import entries as timeline_entries
from lab.scenario.postmortem import skeleton, summary_of, title_of
from lab.scenario.reader import load, parse
from lab.scenario.shaping import with_variant
from lab.settings import BUILTIN_SCENARIOS, PROJECT_ROOT
from tests.cli import lab_cli

POSTMORTEMS = PROJECT_ROOT / "tests" / "fixtures" / "postmortems"
SEED = BUILTIN_SCENARIOS / "db-network-misconfig.yaml"
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}



def test_the_first_scenarios_own_postmortem_gives_its_seven_timeline_lines() -> None:
    """`2:00 PM` ... `4:30 PM` become 14:00 ... 16:30, at their offsets from the first line."""
    found = timeline_entries((POSTMORTEMS / "march-2023-fictitious.txt").read_text())
    assert [(e.clock, e.minutes) for e in found] == [
        ("14:00", 0), ("14:05", 5), ("14:20", 20), ("14:35", 35), ("15:15", 75), ("15:30", 90), ("16:30", 150)]
    assert found[2].text.startswith("An attempt to reboot the database server")


def test_a_postmortem_with_dated_headings_crosses_midnight() -> None:
    """GitHub's shape: `### 2018 October 21 22:52 UTC` headings, each over its paragraph; 00:05 is the next day."""
    found = timeline_entries((POSTMORTEMS / "github-2018-10-21.md").read_text())
    assert [(e.clock, e.minutes) for e in found] == [
        ("22:52", 0), ("22:54", 2), ("23:07", 15), ("23:13", 21), ("23:19", 27), ("00:05", 73), ("00:41", 109)]
    assert found[1].text.startswith("Our internal monitoring systems began generating alerts")


def test_a_postmortem_with_bulleted_times_and_a_summary() -> None:
    """Cloudflare's shape: `- 21:12: text` lines; the title from the heading, the summary from its label."""
    text = (POSTMORTEMS / "cloudflare-2020-07-17.md").read_text()
    found = timeline_entries(text)
    assert [(e.clock, e.minutes) for e in found] == [
        ("20:25", 0), ("21:12", 47), ("21:39", 74), ("21:47", 82), ("22:10", 105)]
    assert found[1].text == "Configuration change on the Atlanta router: all backbone traffic starts flowing to Atlanta"
    assert title_of(text) == "Cloudflare outage on July 17, 2020"
    assert summary_of(text).startswith("for 27 minutes, Internet properties")


@pytest.mark.parametrize("name", ["march-2023-fictitious.txt", "github-2018-10-21.md", "cloudflare-2020-07-17.md"])
def test_a_skeleton_is_a_valid_scenario_with_its_lines_as_notes(name: str) -> None:
    """The skeleton parses as a scenario: each timestamped line a note at its clock, no fault yet."""
    text = (POSTMORTEMS / name).read_text()
    scenario = parse(yaml.safe_dump(skeleton("x", text, name)), source=name)
    assert scenario.faults == ()
    assert [step.action for step in scenario.timeline] == ["note"] * len(timeline_entries(text))
    assert scenario.timeline[0].clock == scenario.time.incident_start


STATUS_PAGE = """# Elevated API errors

14:50 UTC - Resolved - This incident has been resolved.
14:45 UTC - Monitoring - A fix has been implemented.
14:40 UTC - Update - We are still working on it.
14:35 UTC - Update - We are still working on it.
14:30 UTC - Update - We are still working on it.
14:25 UTC - Update - We are still working on it.
14:20 UTC - Identified - The issue has been identified.
14:10 UTC - Investigating - We are investigating.
14:00 UTC - Investigating - Reports of errors.
"""


def test_updates_listed_newest_first_are_read_oldest_first() -> None:
    """A status page's updates, newest first, are the incident's 50 minutes in order (read top down, each earlier
    time the next day, they spanned eight days); times that cross midnight in order stay in order."""
    found = timeline_entries(STATUS_PAGE)
    assert [(e.clock, e.minutes) for e in found] == [
        ("14:00", 0), ("14:10", 10), ("14:20", 20), ("14:25", 25), ("14:30", 30), ("14:35", 35), ("14:40", 40),
        ("14:45", 45), ("14:50", 50)]
    assert found[0].text == "Investigating - Reports of errors." and found[-1].text.startswith("Resolved")
    crossing = timeline_entries("23:50 - paged\n00:10 - fixed\n")
    assert [(e.clock, e.minutes, e.text) for e in crossing] == [("23:50", 0, "paged"), ("00:10", 20, "fixed")]
    long_day = timeline_entries("08:00 - failover began\n21:30 - Fully resolved\n")  # two lines: as written
    assert [(e.clock, e.minutes) for e in long_day] == [("08:00", 0), ("21:30", 810)]
    late_night = timeline_entries("23:40 - paged\n23:50 - found\n00:10 - fixed\n")
    assert [(e.clock, e.minutes) for e in late_night] == [("23:40", 0), ("23:50", 10), ("00:10", 30)]


def test_a_time_over_nothing_but_separators_is_no_entry() -> None:
    """`14:05 -` over a line of dashes has no text to show: it is left out rather than made an empty note."""
    found = timeline_entries("# T\n\n14:05 -\n- -\n14:10 - Restarted the database\n")
    assert [(e.clock, e.minutes, e.text) for e in found] == [("14:10", 0, "Restarted the database")]


def test_lab_new_writes_nothing_that_validation_would_refuse(tmp_path: Path) -> None:
    """A postmortem whose timeline runs longer than a scenario may (here 8 days of updates, in order) is one line
    with the problem, exit 2, and no file: a rerun is not told it "exists already"."""
    days = tmp_path / "days.md"
    days.write_text("# A long one\n\n" + "".join(f"{clock} - update {i}\n"
                                                   for i, clock in enumerate(["10:00", "09:00"] * 8)))
    out = tmp_path / "days.yaml"
    for _ in range(2):
        made = lab_cli("new", "days", "--from-postmortem", str(days), "--out", str(out))
        assert made.returncode == 2 and len(made.stderr.strip().splitlines()) == 1, made.stderr
        assert made.stderr.strip() == (f"lab: error: {days}: the scenario made from it would not be valid, so {out} "
                                       "was not written: timeline[15].at: must be at most 10080, got 10140")
        assert not out.exists()


def test_lab_new_writes_the_skeleton_and_validate_says_the_fault_is_missing(tmp_path: Path) -> None:
    """The command a scenario author types; `lab validate` accepts the file and warns that it has no fault. The cause
    class is left for the author to choose (a postmortem's words do not say it reliably), and asked for."""
    made = lab_cli("new", "march", "--from-postmortem", str(POSTMORTEMS / "march-2023-fictitious.txt"), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert "7 timeline entries from 14:00" in made.stdout and "its cause class" in made.stdout
    assert "cause" not in yaml.safe_load((tmp_path / "march.yaml").read_text()), "a class is not guessed"
    checked = lab_cli("validate", str(tmp_path / "march.yaml"))
    assert checked.returncode == 0
    assert "faults: none yet: add the incident's fault" in checked.stderr
    again = lab_cli("new", "march", "--from-postmortem", str(POSTMORTEMS / "march-2023-fictitious.txt"), cwd=tmp_path)
    assert again.returncode == 2 and "exists already" in again.stderr


def test_lab_new_refuses_a_text_without_a_timeline(tmp_path: Path) -> None:
    """A document with no timestamped line is one line, exit 2, nothing written."""
    prose = tmp_path / "prose.md"
    prose.write_text("# An essay\n\nNothing happened at any particular time.\n")
    made = lab_cli("new", "essay", "--from-postmortem", str(prose), cwd=tmp_path)
    assert made.returncode == 2 and "no timestamped line found" in made.stderr
    assert not (tmp_path / "essay.yaml").exists()


@pytest.mark.parametrize("name", ["../evil", "march\n", "March 2023"])
def test_lab_new_takes_a_scenario_name_only(tmp_path: Path, name: str) -> None:
    """NAME becomes the scenario's name, which names run directories: a path, a newline or a capital is one line,
    exit 2, and nothing is written."""
    out = tmp_path / "march.yaml"
    made = lab_cli("new", name, "--from-postmortem", str(POSTMORTEMS / "march-2023-fictitious.txt"), "--out", str(out))
    assert made.returncode == 2 and len(made.stderr.strip().splitlines()) == 1, made.stderr
    assert "NAME must be lowercase letters, digits and dashes" in made.stderr
    assert not out.exists()


def test_a_teams_own_scenario_shadows_the_builtin_one_and_both_are_listed(tmp_path: Path) -> None:
    """LAB_SCENARIOS_DIR comes first: a name there wins; a broken file is listed with its problem, not hidden."""
    own = yaml.safe_load(SEED.read_text())
    own["title"] = "Our own version"
    (tmp_path / "db-network-misconfig.yaml").write_text(yaml.safe_dump(own))
    (tmp_path / "broken.yaml").write_text("title: [\n")
    found = {entry.name: entry for entry in entries((tmp_path, BUILTIN_SCENARIOS))}
    own_entry = found["db-network-misconfig"]
    assert own_entry.scenario is not None and own_entry.scenario.title == "Our own version"
    assert found["broken"].scenario is None and "not valid YAML" in found["broken"].problem
    listed = lab_cli("scenarios", env={"LAB_SCENARIOS_DIR": str(tmp_path), "COLUMNS": "200"})
    assert listed.returncode == 0 and "Our own version" in listed.stdout and "broken" in listed.stdout


def test_a_random_draw_repeats_with_its_seed_and_honours_the_difficulty(tmp_path: Path) -> None:
    """`lab drill --random --seed N` draws the same scenario again; `--difficulty` narrows the pool."""
    for difficulty, name in (("easy", "first"), ("hard", "second"), ("hard", "third")):
        document = yaml.safe_load(SEED.read_text())
        document.update(name=name, difficulty=difficulty)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(document))
    draws = {pick_at_random((tmp_path,), None, seed).name for seed in range(20)}
    assert draws == {"first", "second", "third"}
    assert pick_at_random((tmp_path,), None, 7).name == pick_at_random((tmp_path,), None, 7).name
    assert {pick_at_random((tmp_path,), "hard", seed).name for seed in range(10)} == {"second", "third"}
    with pytest.raises(InvalidInput, match="no scenario with a fault of difficulty medium"):
        pick_at_random((tmp_path,), "medium", 1)


def test_a_random_draw_honours_the_cause_class_with_the_difficulty(tmp_path: Path) -> None:
    """`--cause` narrows the pool to one class, with `--difficulty` to both; a scenario with no class is drawn only
    when no class is asked; a pool left empty is one line naming what was asked and where."""
    for name, difficulty, cause in (("first", "easy", "network"), ("second", "hard", "network"),
                                    ("third", "hard", "dns"), ("fourth", "hard", None)):
        document = yaml.safe_load(SEED.read_text())
        document.update(name=name, difficulty=difficulty, cause=cause)
        (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(document))
    assert {pick_at_random((tmp_path,), None, seed, "network").name for seed in range(20)} == {"first", "second"}
    assert {pick_at_random((tmp_path,), "hard", seed, "network").name for seed in range(10)} == {"second"}
    assert {pick_at_random((tmp_path,), "hard", seed).name for seed in range(20)} == {"second", "third", "fourth"}
    assert {entry.name for entry in drillable((tmp_path,), None, "dns")} == {"third"}
    with pytest.raises(InvalidInput) as caught:
        pick_at_random((tmp_path,), "easy", 1, "dns")
    assert str(caught.value) == f"no scenario with a fault of difficulty easy and cause dns in {tmp_path}"
    with pytest.raises(InvalidInput) as caught:
        drillable((tmp_path,), None, "load")
    assert str(caught.value) == f"no scenario with a fault of cause load in {tmp_path}"


def test_an_empty_pool_for_the_cause_asked_is_one_line_and_exit_2(tmp_path: Path) -> None:
    """`lab drill --random --cause dns --difficulty easy` with no such scenario in the library: one line, exit 2,
    before any engine is asked; `--cause` without `--random` is refused as `--difficulty` is."""
    empty = lab_cli("drill", "--random", "--cause", "dns", "--difficulty", "easy",
                    env={**NO_DOCKER, "LAB_SCENARIOS_DIR": str(tmp_path), "LAB_RUNS_DIR": str(tmp_path / "runs")})
    assert empty.returncode == 2 and empty.stderr == (
        f"lab: error: no scenario with a fault of difficulty easy and cause dns in {tmp_path}, "
        f"{BUILTIN_SCENARIOS}\n")
    alone = lab_cli("drill", "db-network-misconfig", "--cause", "network", env=NO_DOCKER)
    assert alone.returncode == 2 and alone.stderr == "lab: error: --cause goes with --random\n"


def test_drill_takes_a_scenario_or_random_not_both() -> None:
    """Asking for both, or for neither, is invalid input before anything starts."""
    assert lab_cli("drill", "db-network-misconfig", "--random").returncode == 2
    assert lab_cli("drill").returncode == 2
    assert lab_cli("drill", "db-network-misconfig", "--difficulty", "hard").returncode == 2


def test_a_variant_changes_the_stack_and_replaces_only_the_checks_it_names() -> None:
    """--variant deep-health-check: the LB checks /readyz; impact is judged by the variant's own bounds, the
    checks it turns off are off, and the others stay the scenario's."""
    scenario = load(SEED)
    varied = with_variant(scenario, "deep-health-check")
    assert varied.knobs.lb_health_check == "deep" and scenario.knobs.lb_health_check == "shallow"
    assert varied.knobs.environment()["LAB_KNOB_LB_CHECK_PATH"] == "/readyz"
    impact = varied.checks.section(IMPACT)
    assert impact is not None and impact.max_impacted_s == 6
    assert varied.checks.section(DETECTION) is None and varied.checks.section(RESTART_INEFFECTIVE) is None
    assert varied.checks.section(RECOVERY) == scenario.checks.section(RECOVERY)
    assert varied.variant is not None and varied.variant.measure in scenario.corrective_measures
    assert faster(varied, 3).variant == varied.variant
    with pytest.raises(InvalidInput,
                       match="has no variant 'nope' \\(variants: deep-health-check, prometheus-alert\\)"):
        with_variant(scenario, "nope")


def test_users_affected_counts_the_seconds_with_more_than_a_few_bad_requests() -> None:
    """A second counts when more than 5% of its requests failed or were slower than the recovery rule allows."""
    criteria = RecoveryCriteria(max_latency_s=1.0)

    def second(start: float, bad: int, slow: int = 0) -> list[Request]:
        return [Request(t=start + i / 20, latency_s=2.0 if i < slow else 0.01, ok=i >= bad, replica="app-1",
                        status=200, error=None, endpoint="GET") for i in range(20)]

    requests = second(0, bad=0) + second(1, bad=1) + second(2, bad=2) + second(3, bad=0, slow=3) + second(4, bad=7)
    assert impacted_seconds(requests, [(0.0, 5.0)], criteria) == 3.0  # 2, 3 and 4: 1 bad in 20 is not enough
    assert impacted_seconds(requests, [(0.0, 2.0), (4.0, 5.0)], criteria) == 1.0
