"""A process that holds one fault applied on an existing stack until it is killed: the subject of the dead-man
switch tests (run as `python -m tests.integration.fault_holder`; its parameters come in the environment).

    HOLD_RUN_ID        the stack's run id
    HOLD_DB_PASSWORD   the stack's database password (the database families need it)
    HOLD_TOOLS_IMAGE   the tools image
    HOLD_SPEC          the fault, as JSON in scenario terms (id, kind, target and the family's parameters)

It prints "applied" once the fault is in place, then waits to be killed.
"""

from __future__ import annotations

import json
import os
import sys
import time

from lab.faults import build_fault, families
from lab.faults.target import StackTarget
from lab.settings import Settings
from lab.stack.builtin import BUILTIN_TOPOLOGY
from lab.stack.compose import compose_command
from lab.stack.docker_api import connect
from lab.stack.project import Stack


def main() -> None:
    document = json.loads(os.environ["HOLD_SPEC"])
    spec = families()[document["kind"]].spec.model_validate(document, context={"topology": BUILTIN_TOPOLOGY})
    stack = Stack(connect(), compose_command(), Settings.from_env(),
                  run_id=os.environ["HOLD_RUN_ID"], db_password=os.environ["HOLD_DB_PASSWORD"])
    fault = build_fault(spec, StackTarget(stack, os.environ["HOLD_TOOLS_IMAGE"]), ttl_s=600)
    fault.apply()
    print("applied", flush=True)
    while True:
        time.sleep(60)


if __name__ == "__main__":
    main()
    sys.exit(0)
