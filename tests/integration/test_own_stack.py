"""A team's own stack, installed like any tool: the wheel installed into a fresh virtualenv outside the checkout
runs the built-in scenario from another directory, then a team's test (the pytest plugin) plays the example notes
stack (PHP behind nginx on PostgreSQL, its own Compose file, images, workload and runbook) and gets the judged
result, with the report named when an assertion fails. And a stack that never becomes healthy is exit 3 with its
last log lines, and nothing left."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker.errors import NotFound

from lab.settings import PROJECT_ROOT
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.override import built_image_tag
from tests.cli import lab_cli

from .helpers import leftovers

# Alone on the engine (make test runs the others two at a time): it installs the lab with pipx (a CPU-heavy set-up)
# and times the installed lab's run.
pytestmark = [pytest.mark.docker, pytest.mark.serial]

SECRETS = {"NOTES_ADMIN_USER": "notes_admin", "NOTES_ADMIN_PASSWORD": "notes-admin-secret",
           "NOTES_APP_PASSWORD": "notes-app-secret"}
TEAM_TESTS = '''
import pytest

@pytest.fixture(scope="module")
def outage(outage_lab):
    return outage_lab.run("notes-db-refused.yaml", speed=2)

def test_the_notes_api_recovers(outage):
    assert outage.passed
    assert outage.check("recovered after the fix").passed
    assert outage.check("the runbook removed the fault").passed

def test_a_wrong_expectation_names_the_report(outage):
    assert not outage.check("no acknowledged write lost").passed
'''


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A virtualenv outside the checkout with the wheel (and only the wheel) of the lab installed."""
    work = tmp_path_factory.mktemp("installed")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"),
                    str(PROJECT_ROOT)], check=True, capture_output=True, timeout=600)
    wheel = next((work / "dist").glob("outage_lab-*.whl"))
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "--quiet", str(wheel), "pytest"], check=True,
                   capture_output=True, timeout=900)
    yield venv / "bin"


def test_the_installed_lab_runs_the_builtin_scenario_from_anywhere(installed: Path, tmp_path: Path,
                                                                   engine: Engine,
                                                                   lab_images: LabImages) -> None:
    """`pip install` of the wheel, then `lab run db-network-misconfig` in an empty directory: exit 0, its recording
    in ./runs, the scenarios and images found inside the installed package."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "LAB_SCENARIOS_DIR")}
    listed = subprocess.run([str(installed / "lab"), "scenarios"], capture_output=True, text=True, cwd=tmp_path,
                            env={**env, "COLUMNS": "200"}, timeout=120, check=False)
    assert listed.returncode == 0 and "db-network-misconfig" in listed.stdout, listed.stderr
    run = subprocess.run([str(installed / "lab"), "run", "db-network-misconfig", "--speed", "7"],
                         capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900, check=False)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert len(list((tmp_path / "runs").iterdir())) == 1
    where = subprocess.run([str(installed / "python"), "-c", "import lab; print(lab.__file__)"], capture_output=True,
                           text=True, cwd=tmp_path, env=env, timeout=60, check=True).stdout
    assert where.startswith(str(installed.parent)), where  # the wheel's copy, not the checkout


def test_a_teams_pytest_plays_its_own_stack_with_the_plugin(installed: Path, tmp_path: Path,
                                                            engine: Engine, lab_images: LabImages) -> None:
    """The example stack's repository, outside the checkout, with a team's test file using `outage_lab`: the
    recovery test passes, the wrong expectation fails and its output names the run's report."""
    # Always the same copy: its services' images are tagged after its path (once per Compose file), so a fresh
    # directory per session would leave three more tags in `docker images` every time the suite runs.
    repo = Path(tempfile.gettempdir()) / "outage-lab-tests" / "notes"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(PROJECT_ROOT / "examples" / "notes", repo)
    (repo / "test_outage.py").write_text(TEAM_TESTS)
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **SECRETS,
           "PATH": f"{installed}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(installed / "pytest"), "-q", "-p", "no:cacheprovider", "--outage-lab-runs",
                           str(tmp_path / "runs"), "test_outage.py"], capture_output=True, text=True, cwd=repo,
                          env=env, timeout=1800, check=False)
    assert done.returncode == 1, done.stdout[-4000:] + done.stderr[-2000:]
    assert "1 failed, 1 passed" in done.stdout, done.stdout[-4000:]
    assert "<check 'no acknowledged write lost': PASS" in done.stdout
    assert "report.html" in done.stdout and "outage-lab recordings" in done.stdout
    run_dir = next((tmp_path / "runs").iterdir())
    assert (run_dir / "report.html").is_file()
    run_id = json.loads((run_dir / "summary.json").read_text())["run_id"]
    assert leftovers(engine, run_id) == []  # no image named after the run either: its builds are tagged once per file


def test_a_stack_that_never_becomes_healthy_is_exit_3_with_its_last_words(tmp_path: Path, engine: Engine,
                                                                          lab_images: LabImages) -> None:
    """A team's service whose health check never passes: one line naming it and what it last logged, exit 3,
    nothing of the run left."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text(
        "ARG BASE_IMAGE\nFROM ${BASE_IMAGE}\nHEALTHCHECK --interval=1s CMD false\n"
        'CMD ["bash", "-c", "echo still warming up the cache; exec sleep 600"]\n')
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    build: {context: ./app, args: {BASE_IMAGE: '${LAB_BASE_IMAGE}'}}\n"
        "    expose: ['8000']\n")
    (tmp_path / "scenario.yaml").write_text(
        "title: never healthy\nstack: {compose_file: compose.yaml, entry: {service: app, port: 8000}, "
        "wait_timeout_s: 8}\ntimeline: [{at: 0, action: note, text: nothing}]\n")
    try:
        result = lab_cli("run", str(tmp_path / "scenario.yaml"), "--out", str(tmp_path / "run"))
        assert result.returncode == 3, result.stderr
        last = result.stderr.strip().splitlines()[-1]
        assert last.startswith("lab: error: stack ") and "not healthy after 8 s: app is running/unhealthy" in last
        assert "still warming up the cache" in last
        run_id = re.search(r"lab: run (\S+): starting the stack", result.stdout)
        assert run_id is not None, result.stdout
        assert leftovers(engine, run_id.group(1)) == []
    finally:
        with contextlib.suppress(NotFound):  # built for this directory only
            engine.client.images.remove(built_image_tag(tmp_path / "compose.yaml", "app"))
