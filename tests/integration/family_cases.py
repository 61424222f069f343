"""The fault families' cases on the built-in stack and how the tests look at it: each family's fault, what it must
do to the app (which replicas fail or slow down, the error they log), and the probes that see it (the replicas'
own HTTP answers, their log lines, the engine's events)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.faults import build_fault, families
from lab.faults.base import FaultHandle
from lab.faults.target import StackTarget
from lab.stack.builtin import APPS, BUILTIN_TOPOLOGY
from lab.stack.images import LabImages
from lab.stack.project import Stack

from .helpers import NotYet

PROBE_TIMEOUT_S = 6.0
OBSERVE_S = 7.0


@dataclass(frozen=True)
class Probe:
    status: int | None
    latency_s: float
    body: str


@dataclass(frozen=True)
class Case:
    """One family's fault and what it must do to the app: which replicas fail, which stay ready, and the error the
    failing ones log (the exact psycopg text the lab records)."""

    name: str
    spec: dict[str, Any]
    failing: tuple[str, ...]
    app_error: str | None
    healthy: tuple[str, ...] = ()
    provoke: Callable[[Stack], None] | None = None
    """What makes the fault show (e.g. pools reconnecting after a database restart)."""
    verify_detail: str = ""
    extra: Callable[[Stack, LabImages], None] | None = field(default=None)
    path: str = "/readyz"
    """What the replicas are asked (it must touch what the fault breaks)."""
    write: bool = False
    """The replicas are asked to write (`path` is POSTed a new order) rather than read."""
    slow_s: float | None = None
    """The failing replicas' users see slowness rather than errors: their median answer takes at least this long."""


def oom_killed(stack: Stack, replica: str, times: int = 1) -> None:
    """Requests to the replica, 8 at a time, until the kernel's OOM killer has ended it `times` times (under cgroup
    v1 the limit takes at its usage of the moment: its next growth is killed; a restart is killed again once the
    limit has followed it down); the engine's `oom` events say so."""
    since = datetime.now(UTC)

    def killed() -> None:
        kills = engine_events(stack, since, {"event": "oom", "container": stack.container(replica).id})
        if len(kills) >= times:
            return
        url = stack.endpoints().app_urls.get(replica)  # none while it is down: it has no published port then
        if url is not None:
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda _: probe(f"{url}/orders/1", timeout_s=2.0), range(32)))
        raise NotYet(f"{replica} OOM-killed {len(kills)} times of {times}")

    Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.1), retry=retry_if_exception_type(NotYet),
             reraise=True)(killed)


def crash_loops(stack: Stack) -> None:
    """Restarted by its restart policy, app-2 comes back under the lowered limit and is killed again; the limit
    follows it down to the fault's own 16 MiB, which the kernel refused while it held more. (Only then does a
    fresh probe's verify know the limit for the fault's: the lowest the kernel took on the way is known to the
    helper that set it alone.)"""
    oom_killed(stack, "app-2", times=2)

    def at_the_faults_limit() -> None:
        memory = stack.container("app-2").attrs["HostConfig"]["Memory"]
        if memory != 16 * 1024 * 1024:
            raise NotYet(f"app-2's limit is {memory}")

    Retrying(stop=stop_after_delay(30), wait=wait_fixed(0.2), retry=retry_if_exception_type(NotYet),
             reraise=True)(at_the_faults_limit)


def restart_db(stack: Stack) -> None:
    stack.container("db").restart(timeout=5)
    stack.wait_healthy(("db",), timeout_s=60, poll_s=0.2)


def db_answers_tcp_while_frozen(stack: Stack, lab_images: LabImages) -> None:
    """The kernel still completes the TCP handshake on a stopped server's socket: a shallow check stays green."""
    app1 = stack.container("app-1")
    output = stack.client.containers.run(
        lab_images.tools, ["bash", "-c", "timeout 2 bash -c 'exec 3<>/dev/tcp/db/5432' && echo open"], remove=True,
        network_mode=f"container:{app1.id}", cap_drop=["ALL"],
        labels={"outage-lab.managed": "true", "outage-lab.run": stack.run_id, "outage-lab.role": "fault",
                "outage-lab.probe": "true"})
    assert output.decode().strip() == "open"


def reads_go_on(stack: Stack, lab_images: LabImages) -> None:
    """A full disk fails writes only: every replica still reads (an order, or that there is none) and says it is
    ready."""
    urls = stack.endpoints().app_urls
    answers = [probe(f"{urls[name]}{path}") for name in APPS for path in ("/readyz", "/orders/1")]
    assert not any(failed(answer) for answer in answers), answers


CASES = [
    Case("packet-drop", {"kind": "packet-drop", "target": "app-2", "destination": "db", "port": 5432},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error="timeout", verify_detail="silent"),
    Case("reject", {"kind": "reject", "target": "app-2", "destination": "db", "port": 5432},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error="Connection refused", verify_detail="REJECT"),
    Case("blackhole-route", {"kind": "blackhole-route", "target": "app-2", "destination": "db",
                             "route_type": "unreachable"},
         failing=("app-2",), healthy=("app-1",), app_error="No route to host", verify_detail="unreachable"),
    Case("partition", {"kind": "partition", "target": "db", "apart_from": ["app-1", "app-3"]},
         failing=("app-1", "app-3"), healthy=("app-2",), app_error="timeout"),
    Case("dns-misdirect", {"kind": "dns-misdirect", "target": "app-2", "name": "db"},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error="Name or service not known",
         provoke=restart_db, verify_detail="NXDOMAIN"),
    Case("freeze", {"kind": "freeze", "target": "db"}, failing=("app-1",), app_error=None,
         verify_detail="processes stopped", extra=db_answers_tcp_while_frozen),
    Case("db-connection-limit", {"kind": "db-connection-limit", "target": "db", "role": "orders_app", "limit": 0},
         failing=("app-1", "app-2", "app-3"), app_error='too many connections for role "orders_app"',
         verify_detail="connection limit of orders_app is 0"),
    Case("db-access-rule", {"kind": "db-access-rule", "target": "db", "client": "app-2"},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error="pg_hba.conf rejects connection",
         verify_detail="reject"),
    Case("cpu-limit", {"kind": "cpu-limit", "target": "app-2", "cpus": 0.01},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error=None, slow_s=0.05,
         verify_detail="quota 1000 of 100000 us"),
    Case("memory-limit", {"kind": "memory-limit", "target": "app-2", "limit_mib": 16},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error=None, verify_detail="memory limit of app-2",
         provoke=crash_loops),
    Case("latency", {"kind": "latency", "target": "app-2", "destination": "db", "port": 5432, "delay_ms": 300},
         failing=("app-2",), healthy=("app-1", "app-3"), app_error=None, slow_s=0.25,
         verify_detail="-j NFQUEUE --queue-num"),
    Case("db-lock", {"kind": "db-lock", "target": "db", "table": "orders"},
         failing=("app-1", "app-3"), app_error="canceling statement due to statement timeout", path="/orders/1",
         verify_detail="1 lock(s) on public.orders held by"),
    Case("disk-full", {"kind": "disk-full", "target": "db"}, failing=APPS, path="/orders", write=True,
         app_error="No space left on device", verify_detail="holds", extra=reads_go_on),
]


def fault_for(stack: Stack, lab_images: LabImages, document: dict[str, Any], fault_id: str) -> FaultHandle:
    spec = families()[document["kind"]].spec.model_validate({"id": fault_id, **document},
                                                             context={"topology": BUILTIN_TOPOLOGY})
    return build_fault(spec, StackTarget(stack, lab_images.tools), ttl_s=600)


ORDER = json.dumps({"item": "probe", "quantity": 1}).encode()


def probe(url: str, timeout_s: float = PROBE_TIMEOUT_S, write: bool = False) -> Probe:
    """GET `url`, or POST it a new order if `write`."""
    started = time.monotonic()
    request = urllib.request.Request(url, data=ORDER if write else None, method="POST" if write else "GET")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            return Probe(response.status, time.monotonic() - started, response.read().decode(errors="replace"))
    except urllib.error.HTTPError as exc:
        return Probe(exc.code, time.monotonic() - started, exc.read().decode(errors="replace"))
    except OSError as exc:
        return Probe(None, time.monotonic() - started, f"{type(exc).__name__}: {exc}")


def observe(stack: Stack, replicas: tuple[str, ...], seconds: float, path: str = "/readyz", write: bool = False) -> \
        dict[str, list[Probe]]:
    """Ask each replica `path` (/readyz touches the database; POSTed if `write`) again and again for `seconds`."""
    seen: dict[str, list[Probe]] = {name: [] for name in replicas}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        urls = stack.endpoints().app_urls  # again each round: a replica that restarted has another host port
        for name in replicas:
            url = urls.get(name)
            seen[name].append(probe(f"{url}{path}", write=write) if url else
                              Probe(None, 0.0, "not running (no published port)"))
    return seen


def failed(answer: Probe) -> bool:
    """No answer, or the server's error (a 404 for an order that does not exist is an answer)."""
    return answer.status is None or answer.status >= 500


def median_s(answers: list[Probe]) -> float:
    return sorted(answer.latency_s for answer in answers)[len(answers) // 2]


def db_errors(stack: Stack, replica: str, since: datetime) -> list[str]:
    """The database errors a replica logged since `since` (its JSON lines, as the recorder reads them)."""
    lines = stack.container(replica).logs(since=since, stdout=True, stderr=False).decode(errors="replace")
    found = []
    for line in lines.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("event") == "db_error":
                found.append(f"{entry['error_class']}: {entry['message']}")
    return found


def engine_events(stack: Stack, since: datetime, filters: dict[str, str]) -> list[dict[str, Any]]:
    """The engine's container events since `since` (to now) that match `filters`."""
    until = datetime.now(UTC) + timedelta(seconds=1)
    stream = stack.client.events(since=since - timedelta(seconds=1), until=until, decode=True,
                                 filters={"type": "container", **filters})
    return [event for event in stream if event.get("timeNano", 0) >= since.timestamp() * 1e9]


def wait_all_ready(stack: Stack, timeout_s: float = 90) -> None:
    """Every replica of the built-in stack ready: one that is down has no published port, and is waited for (a
    crash loop's restart may be 25 s away)."""
    wait_ready(stack, APPS, timeout_s)


def wait_ready(stack: Stack, replicas: tuple[str, ...], timeout_s: float = 45) -> None:
    def ready() -> None:
        urls = stack.endpoints().app_urls  # again each time: a restarted replica has another host port
        statuses = {name: probe(f"{urls[name]}/readyz").status if name in urls else "down" for name in replicas}
        if any(status != 200 for status in statuses.values()):
            raise NotYet(str(statuses))

    Retrying(stop=stop_after_delay(timeout_s), wait=wait_fixed(0.5), retry=retry_if_exception_type(NotYet),
             reraise=True)(ready)
