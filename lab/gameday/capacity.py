"""What one drill's stack costs, measured on the machine, and how many fit on the game day's engines.

The measure is a real drill on a real stack: steady traffic at the scenario's rate, the recorder, the app replicas,
the database, the load balancer, the reaper and the armed fault helper. Over MEASURE_S the lab samples
  - each of the run's containers: CPU time and memory less the page cache (the engine's stats);
  - the engine's own work for them, when the engine runs on this machine: dockerd and containerd, the run's
    containerd shims with what they reaped (runc, each health check's exec) and its docker-proxy processes (/proc).
    A health check's own CPU shows both in its container and in its shim: the figure errs high, not low;
  - the drill process itself (traffic, recorder): it runs on this machine whatever the engine (/proc).
It is kept per engine host and traffic rate in `<runs dir>/.stack-cost.json`; `lab gameday --measure` redoes it.

A host takes as many stacks as fit in CPU_SHARE of its cores and MEMORY_SHARE of its memory. The CPU share leaves
room for bursts (a stack restarting, a trainee's commands): a drill on a saturated machine measures the machine,
not the fault.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
from docker.errors import NotFound
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from lab.errors import InvalidInput, LabError, StackError
from lab.gameday.drills import DrillPlan, DrillProcess
from lab.gameday.engines import DockerEngine, EngineHost
from lab.record.events import read_events
from lab.scenario.document import Scenario
from lab.stack import labels

CPU_SHARE = 0.75
MEMORY_SHARE = 0.8
WARMUP_S = 5.0
MEASURE_S = 15.0
COST_FILE = ".stack-cost.json"
Progress = Callable[[str], None]


class TooManyStacks(InvalidInput):
    """More stacks asked for than the engines take: nothing was started."""


@dataclass(frozen=True)
class StackCost:
    host: str
    rate: float
    """The traffic rate it was measured at (requests per second)."""
    stack_cpu: float
    """CPU cores used by the stack's containers."""
    engine_cpu: float
    """CPU cores the engine spent on them (daemons, shims, runc, proxies); 0 for an engine on another machine."""
    stack_memory_mib: float
    lab_cpu: float
    """CPU cores used by the drill process (traffic, recorder), on the machine running the game day."""
    lab_memory_mib: float
    measured_at: str
    measured_s: float

    @property
    def engine_side_cpu(self) -> float:
        return self.stack_cpu + self.engine_cpu

    @property
    def cpu(self) -> float:
        return self.engine_side_cpu + self.lab_cpu

    @property
    def memory_mib(self) -> float:
        return self.stack_memory_mib + self.lab_memory_mib

    def summary(self) -> str:
        return (f"one stack costs {self.cpu:.2f} CPU cores and {self.memory_mib:.0f} MiB (containers "
                f"{self.stack_cpu:.2f} cores, the engine's work for them {self.engine_cpu:.2f}, its drill process "
                f"{self.lab_cpu:.2f} cores and {self.lab_memory_mib:.0f} MiB; measured on {self.host} at "
                f"{self.rate:g} req/s, {self.measured_at})")


# --- how many fit -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EngineSlot:
    """An engine as placement sees it."""

    name: str
    host: EngineHost
    running: int = 0
    """Lab stacks already on it (other drills, `lab up`): they cost the same."""
    max_stacks: int | None = None


@dataclass
class _Budget:
    cpu: float
    memory_mib: float
    placed: dict[str, int] = field(default_factory=dict)


def place(wanted: int, slots: list[EngineSlot], cost: StackCost, local: EngineHost) -> list[int]:
    """Which engine (index into `slots`) each of `wanted` stacks goes to, or TooManyStacks with the figures. A stack
    goes where its host has the most room left; between engines of one host, to the one with fewest stacks."""
    budgets = _budgets(slots, cost, local)
    placements: list[int] = []
    for _ in range(wanted):
        fitting = [i for i, slot in enumerate(slots) if _fits(slot, slots, budgets, cost, local)]
        if not fitting:
            raise TooManyStacks(_refusal(wanted, len(placements), slots, cost, local))
        chosen = max(fitting, key=lambda i: (_room(slots[i], budgets, cost), -_count(budgets, slots[i]), -i))
        _take(slots[chosen], budgets, cost, local)
        placements.append(chosen)
    return placements


def most_stacks(slots: list[EngineSlot], cost: StackCost, local: EngineHost) -> int:
    """How many stacks the engines take on top of what already runs."""
    budgets = _budgets(slots, cost, local)
    count = 0
    while True:
        fitting = [slot for slot in slots if _fits(slot, slots, budgets, cost, local)]
        if not fitting or count >= 1000:
            return count
        _take(fitting[0], budgets, cost, local)
        count += 1


def _budgets(slots: list[EngineSlot], cost: StackCost, local: EngineHost) -> dict[str, _Budget]:
    hosts = {slot.host.name: slot.host for slot in slots} | {local.name: local}
    budgets = {name: _Budget(host.cpus * CPU_SHARE, host.memory_mib * MEMORY_SHARE) for name, host in hosts.items()}
    for slot in slots:
        for _ in range(slot.running):
            _take(slot, budgets, cost, local, placed=False)
    return budgets


def _take(slot: EngineSlot, budgets: dict[str, _Budget], cost: StackCost, local: EngineHost,
          placed: bool = True) -> None:
    budgets[slot.host.name].cpu -= cost.engine_side_cpu
    budgets[slot.host.name].memory_mib -= cost.stack_memory_mib
    budgets[local.name].cpu -= cost.lab_cpu
    budgets[local.name].memory_mib -= cost.lab_memory_mib
    if placed:
        budgets[slot.host.name].placed[slot.name] = budgets[slot.host.name].placed.get(slot.name, 0) + 1


def _count(budgets: dict[str, _Budget], slot: EngineSlot) -> int:
    return budgets[slot.host.name].placed.get(slot.name, 0)


def _fits(slot: EngineSlot, slots: list[EngineSlot], budgets: dict[str, _Budget], cost: StackCost,
          local: EngineHost) -> bool:
    if slot.max_stacks is not None and _count(budgets, slot) + slot.running >= slot.max_stacks:
        return False
    here, there = budgets[local.name], budgets[slot.host.name]
    same = slot.host.name == local.name
    need_cpu = cost.engine_side_cpu + (cost.lab_cpu if same else 0.0)
    need_memory = cost.stack_memory_mib + (cost.lab_memory_mib if same else 0.0)
    return (there.cpu >= need_cpu and there.memory_mib >= need_memory
            and here.cpu >= (0.0 if same else cost.lab_cpu) and here.memory_mib >= (0.0 if same else
                                                                                      cost.lab_memory_mib))


def _room(slot: EngineSlot, budgets: dict[str, _Budget], cost: StackCost) -> float:
    budget = budgets[slot.host.name]
    return min(budget.cpu / max(cost.engine_side_cpu, 1e-6), budget.memory_mib / max(cost.stack_memory_mib, 1e-6))


def _refusal(wanted: int, fitted: int, slots: list[EngineSlot], cost: StackCost, local: EngineHost) -> str:
    hosts = {slot.host.name: slot.host for slot in slots}
    offer = "; ".join(f"{host.name}: {CPU_SHARE:.0%} of {host.cpus} cores, {MEMORY_SHARE:.0%} of "
                      f"{host.memory_mib / 1024:.1f} GiB" for host in hosts.values())
    running = sum(slot.running for slot in slots)
    already = f", {running} lab stack(s) already running" if running else ""
    engines = "this machine takes" if len(slots) == 1 and slots[0].host.name == local.name else "the engines take"
    return (f"{wanted} trainees need {wanted} stacks but {engines} {fitted}{already}: {cost.summary()}; "
            f"budget {offer}. Fewer trainees, or more engines in the engines file")


# --- measuring ---------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Sample:
    at: float
    stack_cpu_ns: dict[str, int]
    stack_memory: int
    engine_cpu_ticks: int
    lab_cpu_ticks: int
    lab_rss: int


def load_cost(runs_dir: Path, host: str, rate: float) -> StackCost | None:
    try:
        known = json.loads((runs_dir / COST_FILE).read_text())
        return StackCost(**known[_key(host, rate)])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def save_cost(runs_dir: Path, cost: StackCost) -> None:
    path = runs_dir / COST_FILE
    try:
        known = json.loads(path.read_text())
    except (OSError, ValueError):
        known = {}
    known[_key(cost.host, cost.rate)] = asdict(cost)
    path.write_text(json.dumps(known, indent=2) + "\n")


def _key(host: str, rate: float) -> str:
    return f"{host} @ {rate:g} req/s"


def measure(engine: DockerEngine, client: docker.DockerClient, host: EngineHost, scenario: Scenario,
            scenario_path: Path, work_dir: Path, progress: Progress, script_dirs: tuple[Path, ...] = ()) -> StackCost:
    """Run one quiet drill (its fault far off) on `engine` and sample what it costs."""
    progress(f"measuring what one stack costs on {host.name} (about {WARMUP_S + MEASURE_S + 15:.0f} s)")
    plan = DrillPlan(0, "measure", scenario, scenario_path, 0, engine, work_dir, inject_after_s=86_400,
                     max_duration_s=86_400, script_dirs=script_dirs)
    process = DrillProcess(plan, os.environ)
    process.start()
    try:
        run_id = _wait_for_recording(process)
        time.sleep(WARMUP_S)
        local = host.name == this_machine().name
        first = _sample(client, run_id, process.pid or 0, local)
        time.sleep(MEASURE_S)
        last = _sample(client, run_id, process.pid or 0, local)
    finally:
        process.end()
        if process.wait(120) is None:
            process.kill()
    span = last.at - first.at
    shared = set(first.stack_cpu_ns) & set(last.stack_cpu_ns)
    stack_cpu = sum(last.stack_cpu_ns[c] - first.stack_cpu_ns[c] for c in shared) / 1e9 / span
    ticks = os.sysconf("SC_CLK_TCK")
    lab_cpu = (last.lab_cpu_ticks - first.lab_cpu_ticks) / ticks / span
    engine_cpu = (last.engine_cpu_ticks - first.engine_cpu_ticks) / ticks / span
    return StackCost(host=host.name, rate=scenario.traffic.rate, stack_cpu=round(stack_cpu, 3),
                     engine_cpu=round(max(engine_cpu, 0.0), 3),
                     stack_memory_mib=round(max(first.stack_memory, last.stack_memory) / 2**20, 1),
                     lab_cpu=round(lab_cpu, 3), lab_memory_mib=round(max(first.lab_rss, last.lab_rss) / 2**20, 1),
                     measured_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"), measured_s=round(span, 1))


class _NotRecording(Exception):
    pass


def _wait_for_recording(process: DrillProcess) -> str:
    events_path = process.plan.run_dir / "events.jsonl"

    def started() -> str:
        if not process.running:
            raise StackError(f"the measuring drill ended early: {process.last_output_line() or 'no output'}")
        if events_path.exists():
            found = next((e for e in read_events(events_path) if e["kind"] == "run.started"), None)
            if found is not None:
                return str(found["run_id"])
        raise _NotRecording()

    return str(Retrying(stop=stop_after_delay(600), wait=wait_fixed(0.5), retry=retry_if_exception_type(_NotRecording),
                        reraise=True)(started))


def _sample(client: docker.DockerClient, run_id: str, pid: int, local: bool) -> _Sample:
    cpu: dict[str, int] = {}
    memory = 0
    containers = client.api.containers(filters=labels.run_filter(run_id))
    for container in containers:
        try:
            stats: dict[str, Any] = client.api.stats(container["Id"], stream=False, one_shot=True)
        except NotFound:
            continue  # a probe that has finished meanwhile
        cpu[container["Id"]] = int(stats["cpu_stats"]["cpu_usage"]["total_usage"])
        used = stats.get("memory_stats", {})
        page_cache = used.get("stats", {}).get("inactive_file", used.get("stats", {}).get("total_inactive_file", 0))
        memory += max(0, int(used.get("usage", 0)) - int(page_cache))
    engine = _engine_ticks(containers) if local else 0
    try:
        lab_cpu, lab_rss = _cpu_ticks(pid, children=False), _rss(pid)
    except OSError as exc:
        raise LabError(f"the measuring drill (pid {pid}) is gone: {exc}") from exc
    return _Sample(time.monotonic(), cpu, memory, engine, lab_cpu, lab_rss)


def _engine_ticks(containers: list[dict[str, Any]]) -> int:
    """CPU ticks of the engine's processes on this machine that work for these containers: the daemons (all of
    their work: the drill runs alone on them while it is measured), and the shims and proxies that are the run's."""
    ids = {str(c["Id"]) for c in containers}
    ports = {f"-host-port {p['PublicPort']} " for c in containers for p in c.get("Ports") or [] if p.get("PublicPort")}
    total = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
            if comm not in ("dockerd", "containerd", "containerd-shim", "docker-proxy"):
                continue
            argv = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace") + " "
            if comm == "containerd-shim" and not any(f"-id {i} " in argv for i in ids):
                continue
            if comm == "docker-proxy" and not any(port in argv for port in ports):
                continue
            total += _cpu_ticks(int(proc.name), children=comm == "containerd-shim")
        except OSError:
            continue  # gone meanwhile
    return total


def _cpu_ticks(pid: int, children: bool) -> int:
    """CPU clock ticks a process used (with those of the children it reaped), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(value) for value in fields[11:15 if children else 13])


def _rss(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return next((int(line.split()[1]) * 1024 for line in status.splitlines() if line.startswith("VmRSS:")), 0)


def this_machine() -> EngineHost:
    """The machine the game day (and so every drill process) runs on."""
    meminfo = Path("/proc/meminfo").read_text()
    total_kib = next((int(line.split()[1]) for line in meminfo.splitlines() if line.startswith("MemTotal:")), 0)
    return EngineHost(socket.gethostname(), os.cpu_count() or 1, total_kib / 1024)

