"""`lab init` in a team's repository: a starter scenario for the Compose file found there (its services listed, the
entry point and databases guessed, a fault and a timeline to adapt) and a CI workflow example (GitHub Actions)
that installs the lab, runs the scenario, and keeps junit.xml and report.html."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
from pathlib import Path

import yaml

from lab.errors import InvalidInput
from lab.record.run_dir import uncreatable
from lab.scenario.names import NAME, name_from
from lab.scenario.schema import json_schema
from lab.stack.topology import ComposeTopology, read_topology

COMPOSE_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
ENTRY_HINTS = ("lb", "proxy", "nginx", "haproxy", "gateway", "web", "frontend", "ingress")
DATABASE_HINTS = ("postgres", "pg", "db", "database")
WORKFLOW = """\
# Re-live an outage on every push: outage-lab brings the stack of compose.yaml up, breaks it as the scenario says,
# runs your runbook, and fails the job if users did not recover. Needs a runner with Docker.
name: outage-lab
on: [push, workflow_dispatch]
jobs:
  outage:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - run: pip install outage-lab
      - name: Replay the incident
        run: {run}
        env:{env}
      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: outage-lab-run
          path: |
            outage-lab-run/junit.xml
            outage-lab-run/report.html
            outage-lab-run/postmortem.md
"""


def find_compose_file(directory: Path) -> Path:
    for name in COMPOSE_NAMES:
        if (directory / name).is_file():
            return directory / name
    raise InvalidInput(f"no Compose file in {directory} ({', '.join(COMPOSE_NAMES)})")


def guess(names: list[str], hints: tuple[str, ...]) -> str | None:
    return next((name for hint in hints for name in names if hint in name.lower()), None)


NAME_ROOM = 60 - len("-outage")
"""A scenario name holds at most 60 characters (`NAME`)."""


def scenario_name(directory: Path) -> str:
    """The starter's name, from the repository's folder and made a scenario name (`NAME`): it names the
    scenario file and the runs' directories, and goes into the workflow's shell line."""
    name = f"{name_from(directory.resolve().name, default='stack')[:NAME_ROOM].rstrip('-')}-outage"
    assert NAME.fullmatch(name), name  # every character replaced above is one a name may not hold
    return name


def starter_scenario(compose: ComposeTopology, compose_ref: str, name: str) -> dict[str, object]:
    """A scenario to adapt that validates as it is: synthetic users need a service with a port to call, so a stack
    without one is refused here, saying so, rather than given a starter that `lab validate` refuses."""
    services = list(compose.services)
    with_ports = [s for s in services if compose.services[s].ports]
    if not services:
        raise InvalidInput(f"{compose.file} has no services: lab init needs the stack's services, one of them with a "
                           "port for synthetic users to call")
    if not with_ports:
        raise InvalidInput(f"{compose.file}: no service publishes or exposes a port ({', '.join(services)}): the lab "
                           "needs an entry point with a port for synthetic users to call; add `ports:` or `expose:` "
                           "to that service")
    entry = guess(with_ports, ENTRY_HINTS) or with_ports[0]
    database = guess([s for s in services if s != entry], DATABASE_HINTS)
    app = next((s for s in services if s not in (entry, database)), entry)
    entry_port = compose.services[entry].ports[0]
    stack: dict[str, object] = {"compose_file": compose_ref, "entry": {"service": entry, "port": entry_port}}
    if database:
        stack["databases"] = [{"service": database, "dbname": "postgres", "user_env": "OUTAGE_LAB_DB_USER",
                               "password_env": "OUTAGE_LAB_DB_PASSWORD"}]
    stack["app_logs"] = {"services": [app], "error_pattern": "(?i)(error|exception|refused|timeout)"}
    fault: dict[str, object] = ({"id": "app-db-dropped", "kind": "packet-drop", "target": app,
                                 "destination": database, "description": "what broke, in the incident's words"}
                                if database and app != database else
                                {"id": "entry-frozen", "kind": "freeze", "target": app,
                                 "description": "what broke, in the incident's words"})
    return {
        "name": name,
        "title": "What users saw, in a line",
        "source": "the postmortem's address, or your incident tracker's",
        "difficulty": "medium",
        "summary": f"Services of {Path(compose_ref).name}: {', '.join(services)}. Say what happened here.",
        "differences": "Where this replay differs from the real incident.",
        "stack": stack,
        "workload": {"requests": [{"name": "GET /", "method": "GET", "path": "/", "expect": [200]}]},
        "time": {"incident_start": "09:00", "seconds_per_incident_minute": 1.0, "steady_state_s": 10, "tail_s": 10},
        "faults": [fault],
        "timeline": [
            {"at": 0, "action": "apply", "fault": fault["id"], "text": "The fault lands"},
            {"at": 5, "action": "note", "milestone": "investigating", "text": "Paged"},
            {"at": 10, "action": "runbook", "milestone": "identified", "netns": app,
             "command": ["iptables", "-S", "OUTPUT"], "text": "Your runbook's first look (edit it)"},
            {"at": 15, "action": "revert", "fault": fault["id"], "milestone": "mitigation",
             "text": "Replace with your runbook's fix (action: runbook, with service/netns/script)"},
        ],
        "alerts": [{"name": "error-rate-high", "error_rate_above": 0.05, "window_s": 3, "min_requests": 10}],
        "checks": {"steady_state": {"max_error_rate": 0.01}, "impact": {"min_error_rate": 0.05},
                   "recovery": {"within_s": 10}},
    }


def init(directory: Path) -> list[Path]:
    """Write outage-lab/<name>.yaml (with the schema beside it) and .github/workflows/outage-lab.yml; refuse to
    overwrite either. Every file is checked before any is written: a scenario written before the workflow failed
    was one a rerun then refused to overwrite."""
    compose_file = find_compose_file(directory)
    compose = read_topology(compose_file)
    name = scenario_name(directory)
    scenario_path = directory / "outage-lab" / f"{name}.yaml"
    workflow_path = directory / ".github" / "workflows" / "outage-lab.yml"
    for path in (scenario_path, workflow_path):
        if path.exists():
            raise InvalidInput(f"{path} exists already: lab init writes new files only")
    document = starter_scenario(compose, f"../{compose_file.name}", name)
    header = ("# yaml-language-server: $schema=scenario.schema.json\n"
              f"# A starter made by `lab init` for {compose_file.name}: adapt the fault, the timeline (your "
              "incident's,\n# your runbook's steps) and the checks, then `lab validate` it and `lab run` it. Your "
              "editor checks it\n# against scenario.schema.json (`lab schema` rewrites it); `lab faults` lists the "
              "fault families.\n")
    stack = document["stack"]
    databases = stack.get("databases", []) if isinstance(stack, dict) else []
    env = "".join(f"\n          {var}: ${{{{ secrets.{var} }}}}" for var in
                  (("OUTAGE_LAB_DB_USER", "OUTAGE_LAB_DB_PASSWORD") if databases else ())) or " {}"
    run = shlex.join(["lab", "run", str(scenario_path.relative_to(directory)), "--speed", "max", "--out",
                      "outage-lab-run"])
    files = {scenario_path.parent / "scenario.schema.json": json_schema(),
             scenario_path: header + yaml.safe_dump(document, sort_keys=False, width=118),
             workflow_path: WORKFLOW.format(run=yaml_scalar(run), env=env)}
    for path in files:
        check_writable(path)
    write_all(files)
    return [scenario_path, workflow_path]


def yaml_scalar(text: str) -> str:
    """`text` as a YAML value on one line: plain if YAML reads it back as the same string, else double-quoted (JSON's
    quoting is YAML's): a `: ` or ` #` in a plain value would cut it short."""
    try:
        plain = "\n" not in text and yaml.safe_load(text) == text
    except yaml.YAMLError:
        plain = False
    return text if plain else json.dumps(text)


def check_writable(path: Path) -> None:
    """Say in one line why `path` cannot be written (a file where a directory must go, a directory where the file
    goes, no write permission), writing nothing."""
    if path.is_dir():
        raise InvalidInput(f"cannot write {path}: it is a directory")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InvalidInput(f"cannot write {path}: it is not writable")
        return
    problem = uncreatable(path)  # it does not exist: what its nearest ancestor allows
    if problem is not None:
        raise InvalidInput(f"cannot write {path}: {problem}")


def write_all(files: dict[Path, str]) -> None:
    """Write every file, or (an OS error the checks could not foresee, such as a full disk) remove the new ones
    written so far and say why in one line: a rerun must not find a half-done init."""
    new = [path for path in files if not path.exists()]
    try:
        for path, text in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    except OSError as exc:
        for path in new:
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {exc.filename or 'a file of lab init'}: {exc.strerror or exc}") from exc
