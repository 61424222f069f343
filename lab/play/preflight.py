"""What `lab run` and `lab drill` check before anything starts, so that a mistake is one line and exit 2 rather than
a run that fails half-way: every runbook script exists and is executable, and the credentials the run will need
(an administrator of each database a write check or a database fault acts on) are in the environment.

`lab validate` checks the scripts too: they are files of the scenario, and a scenario that validates should not be
refused by the run. The credentials are not: they belong to the environment a run happens in (a CI secret), not to
the scenario."""

from __future__ import annotations

import os

from lab.errors import InvalidInput
from lab.play.steps.runbook import RunbookStep
from lab.scenario.document import Scenario


def preflight(scenario: Scenario) -> None:
    check_scripts(scenario)
    check_credentials(scenario)


def check_scripts(scenario: Scenario) -> None:
    found = script_problems(scenario)
    if found:
        raise InvalidInput("; ".join(found))


def script_problems(scenario: Scenario) -> list[str]:
    """Every runbook script that the run could not execute, with its field path."""
    found: list[str] = []
    for step in scenario.timeline:
        if isinstance(step, RunbookStep) and step.script is not None:
            path = step.script_path(scenario.base_dir)
            if path.is_dir():
                found.append(f"timeline[{step.index}].script: {path} is a directory, not a script")
            elif not path.is_file():
                found.append(f"timeline[{step.index}].script: {path} does not exist")
            elif not os.access(path, os.X_OK):
                found.append(f"timeline[{step.index}].script: {path} is not executable (chmod +x it)")
    return found


def check_credentials(scenario: Scenario) -> None:
    """A team's stack names environment variables for its databases' credentials: those the run needs are set."""
    if scenario.stack is None:
        return  # the built-in stack's password is the lab's own, random per run
    check = scenario.workload_spec.write_check
    needed = {check.database} if check else set()
    needed |= {fault.target for fault in scenario.faults if fault.target in scenario.topology.databases}
    for database in scenario.stack.databases:
        if database.service not in needed:
            continue
        names = (database.user_env, database.password_env)
        if not all(names):
            raise InvalidInput(f"stack.databases: {database.service}: name the environment variables of an "
                               "administrator's credentials (user_env, password_env)")
        missing = [name for name in names if name and name not in os.environ]
        if missing:
            raise InvalidInput(f"stack.databases: {database.service}: set {' and '.join(missing)} in the "
                               "environment (an administrator's credentials, never printed)")
