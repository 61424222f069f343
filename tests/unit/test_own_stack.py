"""A team's own stack without Docker: its Compose file read (the Compose binary, no engine), every name a scenario
uses checked against it, the override the lab generates (labels, ownership, ports; the team's file untouched),
declared workloads, the checks before anything starts, `lab init`, and the pytest plugin's contract."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from lab.errors import InvalidInput, ScenarioError
from lab.record.users import Mix, acknowledged_id
from lab.scenario import starter
from lab.scenario.names import NAME
from lab.scenario.reader import load
from lab.scenario.workload import WorkloadSpec
from lab.settings import PROJECT_ROOT
from lab.stack import labels
from lab.stack.builtin import BUILTIN_STACK
from lab.stack.override import built_image_tag, override, override_yaml
from lab.stack.topology import parse_config, read_topology
from tests.cli import lab_cli

EXAMPLE = PROJECT_ROOT / "examples" / "notes"
SCENARIO = EXAMPLE / "notes-db-refused.yaml"
SECRETS = {"NOTES_ADMIN_USER": "notes_admin", "NOTES_ADMIN_PASSWORD": "a-secret", "NOTES_APP_PASSWORD": "b-secret"}
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)



def example_with(tmp_path: Path, edit: Any) -> Path:
    """A copy of the example (its Compose file beside it) with one change to its scenario."""
    copy = tmp_path / "notes"
    shutil.copytree(EXAMPLE, copy)
    document = yaml.safe_load(SCENARIO.read_text())
    edit(document)
    path = copy / "scenario.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_the_example_scenario_is_read_with_the_teams_compose_file(secrets: None) -> None:
    """Service names come from compose.yaml; the Compose file's path is made absolute; the workload is its own."""
    scenario = load(SCENARIO)
    assert scenario.topology.services == ("api", "db", "web")
    assert scenario.stack is not None and Path(scenario.stack.compose_file) == EXAMPLE / "compose.yaml"
    assert not scenario.stack_spec.builtin and BUILTIN_STACK.builtin
    assert [r.name for r in scenario.workload_spec.requests] == ["write a note", "read a note"]


@pytest.mark.parametrize(("edit", "expected"), [
    (lambda d: d["stack"].update(compose_file="missing.yaml"), "stack.compose_file: "),
    (lambda d: d["stack"]["entry"].update(port=81), "stack.entry: port 81 is not one web publishes or exposes"),
    (lambda d: d["stack"]["entry"].update(service="proxy"), "stack.entry.service: unknown service 'proxy'"),
    (lambda d: d["faults"][0].update(target="cache"), "faults[0].target: unknown service 'cache'"),
    (lambda d: d["workload"]["requests"][0].update(path="notes"), "workload.requests[0].path: must start with /"),
    (lambda d: d["workload"]["write_check"].update(query="SELECT 1"),
     "workload.write_check.query: must use %(ids)s"),
    (lambda d: d["workload"]["write_check"].update(database="api"),
     "workload.write_check.database: 'api' is not one of stack.databases"),
    (lambda d: d.update(variants=[{"name": "v", "measure": "m", "knobs": {"lb_health_check": "deep"}}]),
     "variants[0].knobs: knobs change the built-in stack only"),
    (lambda d: d["faults"][0].update(kind="http-error", target="web", share=0.3),
     "faults[0].target: 'web' is not the lab's HAProxy load balancer (balancers: none in this stack: a team's "
     "own cannot be changed by the lab)"),
])
def test_a_scenario_naming_what_the_stack_lacks_is_refused(tmp_path: Path, secrets: None, edit: Any,
                                                            expected: str) -> None:
    """One problem per mistake, with its field path, before anything starts."""
    with pytest.raises(ScenarioError) as caught:
        load(example_with(tmp_path, edit))
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_a_compose_file_that_does_not_parse_is_one_line(tmp_path: Path) -> None:
    """Compose's own complaint, in the lab's one line, exit 2."""
    path = example_with(tmp_path, lambda d: None)
    (path.parent / "compose.yaml").write_text("services: [not, a, mapping]\n")
    result = lab_cli("validate", str(path))
    assert result.returncode == 2 and "is not a valid Compose file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_ports_and_expose_ranges_and_protocols_are_read_as_compose_reads_them(tmp_path: Path, secrets: None) -> \
        None:
    """`expose: ["8000-8010"]` is each port of the range, `53/udp` is port 53, `ports:` ranges likewise (Compose
    gives those one per port): a scenario may call any of them; an entry that is no port is one line, exit 2."""
    path = example_with(tmp_path, lambda d: d["stack"]["entry"].update(port=8005))
    compose = path.parent / "compose.yaml"
    compose.write_text(compose.read_text().replace(
        '- "8080:80"', '- "8080:80"\n      - "9000-9002:7000-7002"\n    expose: ["8000-8010", "53/udp", 5000]'))
    topology = read_topology(compose)
    assert topology.services["web"].ports == (53, 80, 5000, *range(7000, 7003), *range(8000, 8011))
    assert load(path).stack_spec.entry.port == 8005
    compose.write_text(compose.read_text().replace('"53/udp"', '"8010-8000"'))
    result = lab_cli("validate", str(path), env=SECRETS)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith("services.web.expose: '8010-8000' is not a port or a range of ports "
                                          "(e.g. 8000, 8000-8010, 53/udp)"), result.stderr


def test_missing_credentials_stop_the_run_before_anything_starts(tmp_path: Path) -> None:
    """The write check needs an administrator of db: without its variables, `lab run` is exit 2 in one line
    (the Compose file's own variables set, so that validation itself passes)."""
    env = {"NOTES_ADMIN_PASSWORD": "x", "NOTES_APP_PASSWORD": "y"}
    result = lab_cli("run", str(SCENARIO), "--out", str(tmp_path / "never"), env=env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == ("lab: error: stack.databases: db: set NOTES_ADMIN_USER in the environment "
                                     "(an administrator's credentials, never printed)")
    assert not (tmp_path / "never").exists()


def test_the_override_labels_everything_and_owns_the_ports(secrets: None) -> None:
    """Every service, network and volume gets the run's labels; the entry and database ports go to the lab's
    picked ports (replacing the team's); the team's other published ports are dropped."""
    compose = parse_config(EXAMPLE / "compose.yaml", {
        "services": {"web": {"ports": [{"target": 80, "published": "8080"}]}, "api": {"expose": ["9000"]},
                     "db": {"expose": ["5432"], "healthcheck": {"test": ["CMD", "true"]}}},
        "networks": {"default": {}}, "volumes": {"notes-data": {}, "shared": {"external": True}}})
    spec = load(SCENARIO).stack_spec
    document = override(spec, compose, "r1", "host:1:2", {"web": 40001, "db": 40002})
    for service in ("web", "api", "db"):
        assert document["services"][service]["labels"][labels.RUN] == "r1"
        assert document["services"][service]["labels"][labels.OWNER] == "host:1:2"
    assert document["services"]["web"]["ports"] == ["127.0.0.1:40001:80"]
    assert document["services"]["db"]["ports"] == ["127.0.0.1:40002:5432"]
    assert document["volumes"] == {"notes-data": {"labels": document["networks"]["default"]["labels"]}}
    text = override_yaml(document)
    assert "ports: !override" in text and "ports: !reset []" in text


def test_a_built_service_gets_one_tag_for_every_run_of_its_file(secrets: None) -> None:
    """Compose would tag a built image after the run's project (a new image per run, never removed): the override
    names one tag per file and service, the same for two runs; a service naming its own image keeps it."""
    compose = parse_config(EXAMPLE / "compose.yaml", {
        "services": {"web": {"build": {"context": "web"}}, "api": {"build": {"context": "api"}, "image": "team/api"},
                     "db": {"image": "postgres"}}})
    spec = load(SCENARIO).stack_spec
    first = override(spec, compose, "r1", "host:1:2", {"web": 40001, "db": 40002})
    second = override(spec, compose, "r2", "host:1:3", {"web": 40003, "db": 40004})
    tag = first["services"]["web"]["image"]
    assert tag == second["services"]["web"]["image"]
    assert re.fullmatch(r"outage-lab/own-notes-[0-9a-f]{8}-web:latest", tag), tag
    assert "image" not in first["services"]["api"] and "image" not in first["services"]["db"]
    assert built_image_tag(EXAMPLE / "compose.yaml", "web") != built_image_tag(Path("/elsewhere/notes/c.yaml"), "web")


def test_a_workload_waits_for_an_acknowledged_write_before_reading_one() -> None:
    """Reads of {acknowledged} come only once a write was acknowledged; the mix follows the shares and the seed."""
    spec = WorkloadSpec.model_validate(yaml.safe_load(SCENARIO.read_text())["workload"])
    mix = Mix(spec, seed=3)
    first = [mix.plan(seq, 0.0, []) for seq in range(20)]
    assert {p.endpoint for p in first} == {"write a note"} and first[4].body == b'{"body": "note 4"}'
    later = [mix.plan(seq, 0.0, [41, 42]) for seq in range(2000)]
    reads = [p for p in later if p.endpoint == "read a note"]
    assert 0.55 < len(reads) / len(later) < 0.65 and {p.path for p in reads} == {"/notes/41", "/notes/42"}

    def sequence() -> list[str]:
        mix = Mix(spec, seed=3)
        return [mix.plan(seq, 0.0, [7, 8, 9]).path for seq in range(30)]

    assert sequence() == sequence()
    write = spec.requests[0]
    assert acknowledged_id(write, 201, b'{"note_id": 17}') == 17
    assert acknowledged_id(write, 503, b'{"error": "x"}') is None


def test_lab_init_writes_a_starter_that_validates_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """In a repository with a Compose file: a scenario naming its services, a CI workflow, the schema."""
    repo = tmp_path / "notes-repo"
    shutil.copytree(EXAMPLE, repo)
    made = lab_cli("init", cwd=repo, env=SECRETS)
    assert made.returncode == 0, made.stderr
    scenario = repo / "outage-lab" / "notes-repo-outage.yaml"
    workflow = (repo / ".github" / "workflows" / "outage-lab.yml").read_text()
    assert "lab run outage-lab/notes-repo-outage.yaml" in workflow and "upload-artifact" in workflow
    assert (repo / "outage-lab" / "scenario.schema.json").is_file()
    checked = lab_cli("validate", str(scenario), env=SECRETS)
    assert checked.returncode == 0, checked.stderr
    document = yaml.safe_load(scenario.read_text())
    assert document["stack"]["entry"] == {"service": "web", "port": 80}
    assert document["stack"]["databases"][0]["service"] == "db" and document["faults"][0]["target"] == "api"
    again = lab_cli("init", cwd=repo, env=SECRETS)
    assert again.returncode == 2 and "exists already" in again.stderr


def test_lab_init_without_a_compose_file_is_one_line(tmp_path: Path) -> None:
    """Nothing to start from: exit 2, the file names it looked for."""
    result = lab_cli("init", cwd=tmp_path)
    assert result.returncode == 2 and "no Compose file in" in result.stderr and "compose.yaml" in result.stderr


ONE_WEB_SERVICE = 'services:\n  web:\n    image: team/web\n    expose: ["8000-8010"]\n'


@pytest.mark.parametrize(("compose", "expected"), [
    ("services: {}\n", "compose.yaml has no services: lab init needs the stack's services"),
    ("networks: {front: {}}\n", "compose.yaml has no services: lab init needs the stack's services"),
    ("services:\n  db:\n    image: postgres\n",
     "compose.yaml: no service publishes or exposes a port (db): the lab needs an entry point with a port"),
])
def test_lab_init_on_a_stack_without_an_entry_point_is_one_line(tmp_path: Path, compose: str, expected: str) -> None:
    """No services, or none with a port for synthetic users to call: one line saying what the stack lacks, exit 2,
    nothing written (a starter that `lab validate` refuses at once would be no start)."""
    (tmp_path / "compose.yaml").write_text(compose)
    result = lab_cli("init", "--dir", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert expected in result.stderr
    assert sorted(path.name for path in tmp_path.iterdir()) == ["compose.yaml"]


@pytest.mark.parametrize(("obstacle", "expected"), [
    (".github", "outage-lab.yml: {}/.github is not a directory"),
    (".github/workflows", "outage-lab.yml: {}/.github/workflows is not a directory"),
    ("outage-lab", "scenario.schema.json: {}/outage-lab is not a directory"),
    ("outage-lab/scenario.schema.json/", "scenario.schema.json: it is a directory"),
])
def test_lab_init_checks_every_file_before_writing_any(tmp_path: Path, obstacle: str, expected: str) -> None:
    """A file where a directory must go (or the reverse) is one line, exit 2, before anything is written: the
    scenario written before the workflow failed left a rerun saying it "exists already"."""
    (tmp_path / "compose.yaml").write_text(ONE_WEB_SERVICE)
    (tmp_path / obstacle).parent.mkdir(parents=True, exist_ok=True)
    if obstacle.endswith("/"):
        (tmp_path / obstacle).mkdir()
    else:
        (tmp_path / obstacle).write_text("")
    result = lab_cli("init", "--dir", str(tmp_path))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.strip().endswith(expected.format(tmp_path)), result.stderr
    assert [path.name for path in tmp_path.rglob("*") if path.is_file() and path.name != obstacle.split("/")[-1]] \
        == ["compose.yaml"]
    blocker = tmp_path / obstacle.split("/")[0]
    if blocker.is_dir():
        shutil.rmtree(blocker)
    else:
        blocker.unlink()
    assert lab_cli("init", "--dir", str(tmp_path)).returncode == 0


def test_lab_init_that_cannot_write_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An OS error the checks cannot foresee (a full disk, a quota; here a refused write) is one line naming the file,
    and the files written before it are removed: a rerun starts afresh."""
    (tmp_path / "compose.yaml").write_text(ONE_WEB_SERVICE)
    write_text = Path.write_text

    def refuse_the_workflow(path: Path, text: str) -> int:
        if path.name == "outage-lab.yml":
            raise PermissionError(13, "Permission denied", str(path))
        return write_text(path, text)

    monkeypatch.setattr(Path, "write_text", refuse_the_workflow)
    with pytest.raises(InvalidInput) as refused:
        starter.init(tmp_path)
    workflow = tmp_path / ".github" / "workflows" / "outage-lab.yml"
    assert str(refused.value) == f"cannot write {workflow}: Permission denied"
    assert not list((tmp_path / "outage-lab").iterdir())
    monkeypatch.setattr(Path, "write_text", write_text)
    assert starter.init(tmp_path)[1] == workflow


def test_lab_init_names_its_scenario_safely_and_quotes_the_workflows_command(tmp_path: Path) -> None:
    """A folder named `My Repo's #1` gives a scenario name (my-repo-s-1-outage), and the workflow's `run:` is one
    shell command that YAML reads back whole; the starter validates."""
    repo = tmp_path / "My Repo's #1"
    repo.mkdir()
    (repo / "compose.yaml").write_text(ONE_WEB_SERVICE)
    assert lab_cli("init", "--dir", str(repo)).returncode == 0
    scenario = repo / "outage-lab" / "my-repo-s-1-outage.yaml"
    workflow = yaml.safe_load((repo / ".github" / "workflows" / "outage-lab.yml").read_text())
    run = workflow["jobs"]["outage"]["steps"][3]["run"]
    assert shlex.split(run) == ["lab", "run", "outage-lab/my-repo-s-1-outage.yaml", "--speed", "max", "--out",
                                "outage-lab-run"]
    checked = lab_cli("validate", str(scenario))
    assert checked.returncode == 0 and checked.stdout.startswith("ok: my-repo-s-1-outage: "), checked.stderr
    assert yaml.safe_load(scenario.read_text())["stack"]["entry"] == {"service": "web", "port": 8000}
    long_name = starter.scenario_name(tmp_path / ("Ünïcode_" * 20))
    assert NAME.fullmatch(long_name) and long_name.startswith("n-code-n-code-") and long_name.endswith("-outage")
    assert starter.scenario_name(Path("/")) == "stack-outage"
    for value in ("lab run a.yaml", "lab run 'x: y' #1", "it's"):
        assert yaml.safe_load(f"run: {starter.yaml_scalar(value)}") == {"run": value}


def test_the_pytest_plugin_offers_its_fixture_and_reports_a_run_that_could_not_be_judged(
    pytester: pytest.Pytester
) -> None:
    """Installed, the plugin gives every test session `outage_lab`; a scenario that is not valid raises
    LabRunError with the lab's one line (no Docker needed to see that)."""
    pytester.makepyfile(test_team="""
        import pytest
        from lab.pytest_plugin import LabRunError

        def test_bad_scenario(outage_lab, tmp_path):
            bad = tmp_path / "bad.yaml"
            bad.write_text("title: [\\n")
            with pytest.raises(LabRunError, match="exited 2: lab: error: .*not valid YAML"):
                outage_lab.run(bad, speed=10)
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    listed = pytester.runpytest_subprocess("--fixtures")
    assert "outage_lab" in listed.stdout.str() and "Plays outage-lab scenarios" in listed.stdout.str()
