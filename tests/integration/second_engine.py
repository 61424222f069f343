"""A second Docker engine on this machine, so that a test can spread stacks over two engines with no second host.

Its own dockerd with its own data root, exec root, socket and pidfile (it starts its own containerd under them);
`--iptables=false --ip-masq=false` so that it leaves the first engine's rules alone; a bridge of its own (never
`--bridge=none`, which deletes the first engine's docker0) and an address pool apart from the first engine's
(172.17-31/16 and 192.168/16 are Docker's default pools). Published ports still reach its containers through its
docker-proxy. Traffic between its containers crosses the host's FORWARD chain, whose policy the first engine set
to DROP and whose ACCEPT rules name only the first engine's bridges: one marked rule in DOCKER-USER (the chain Docker
leaves to its users) accepts traffic within the second engine's pool, and goes with it. Everything it creates is
removed afterwards: its containers, networks and volumes, the daemon, its bridges, mounts and directories, that
rule; the first engine is checked to be as it was.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
from tenacity import Retrying, retry_if_exception_type, stop_after_delay, wait_fixed

from .helpers import NotYet

BRIDGE = "olab-engine2"
BRIDGE_ADDRESS = "172.16.255.1/24"
POOL = ipaddress.IPv4Network("172.16.0.0/17")
FORWARD_RULE = ("DOCKER-USER", "-s", str(POOL), "-d", str(POOL), "-m", "comment", "--comment", "outage-lab engine2",
                "-j", "ACCEPT")


def unavailable() -> str | None:
    """Why this machine cannot run a second engine, or None."""
    if os.geteuid() != 0:
        return "a second dockerd needs root"
    missing = [tool for tool in ("dockerd", "containerd", "ip") if shutil.which(tool) is None]
    return f"missing {', '.join(missing)}" if missing else None


def _links() -> dict[str, list[str]]:
    """Network links of this machine: name -> its IPv4 networks."""
    shown = json.loads(subprocess.run(["ip", "-j", "addr"], capture_output=True, text=True, check=True).stdout)
    return {link["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in link.get("addr_info", [])
                             if a.get("family") == "inet"] for link in shown}


def _iptables(*args: str) -> bool:
    """Whether the host's iptables (the first engine's) took the command; False where there is no DOCKER-USER chain
    (a first engine without iptables leaves FORWARD alone)."""
    return subprocess.run(["iptables", "-w", *args], capture_output=True, text=True).returncode == 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True, text=True, check=True)


@contextlib.contextmanager
def second_engine() -> Iterator[str]:
    """Start the engine; yield its DOCKER_HOST; remove everything it made."""
    links_before = _links()
    if "docker0" not in links_before:
        raise RuntimeError("the first engine has no docker0 bridge: refusing to start a second engine next to it")
    if BRIDGE in links_before:
        raise RuntimeError(f"{BRIDGE} exists already (a previous test's leftover?): remove it with `ip link del`")
    root = Path(tempfile.mkdtemp(prefix="outage-lab-engine2-", dir="/var/tmp"))
    exec_root = Path(tempfile.mkdtemp(prefix="olab-e2-", dir="/run"))  # short: socket paths are at most 107 bytes
    socket_path, pidfile = exec_root / "docker.sock", root / "dockerd.pid"
    (root / "daemon.json").write_text("{}")  # not the first engine's /etc/docker/daemon.json
    daemon: subprocess.Popen[bytes] | None = None
    forwarding = False
    try:
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        with (root / "dockerd.log").open("wb") as log:
            daemon = subprocess.Popen(
                ["dockerd", "--data-root", str(root / "data"), "--exec-root", str(exec_root),
                 "-H", f"unix://{socket_path}", "--pidfile", str(pidfile), "--config-file", str(root / "daemon.json"),
                 "--iptables=false", "--ip-masq=false", "-b", BRIDGE,
                 "--default-address-pool", f"base={POOL},size=24"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        host = f"unix://{socket_path}"
        _wait_for(host, daemon, root / "dockerd.log")
        forwarding = _iptables("-I", *FORWARD_RULE)
        yield host
    finally:
        if forwarding:
            _iptables("-D", *FORWARD_RULE)
        if daemon is not None:
            _empty(f"unix://{socket_path}")
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=60)
            except subprocess.TimeoutExpired:
                daemon.kill()
                daemon.wait()
        _remove_links(links_before)
        _unmount_under(root, exec_root)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(exec_root, ignore_errors=True)
    if "docker0" not in _links():
        raise RuntimeError("the first engine's docker0 is gone after the second engine stopped")


def _wait_for(host: str, daemon: subprocess.Popen[bytes], log: Path) -> None:
    def answers() -> None:
        if daemon.poll() is not None:
            raise RuntimeError(f"the second dockerd exited: {log.read_text()[-800:]}")
        try:
            docker.DockerClient(base_url=host, timeout=5).ping()
        except docker.errors.DockerException as exc:
            raise NotYet(str(exc)) from exc

    Retrying(stop=stop_after_delay(60), wait=wait_fixed(0.3), retry=retry_if_exception_type(NotYet),
             reraise=True)(answers)


def _empty(host: str) -> None:
    """Everything on the second engine is the test's: remove its containers, networks and volumes."""
    with contextlib.suppress(docker.errors.DockerException):
        client = docker.DockerClient(base_url=host, timeout=60)
        for container in client.containers.list(all=True):
            with contextlib.suppress(docker.errors.DockerException):
                container.remove(force=True, v=True)
        client.networks.prune()
        client.volumes.prune()


def _remove_links(before: dict[str, list[str]]) -> None:
    """The test's bridge, and any bridge of the second engine's networks that outlived it (found by its address in
    the second engine's pool); nothing that was there before."""
    for name, networks in _links().items():
        ours = name == BRIDGE or any(isinstance(network := ipaddress.ip_interface(n).network, ipaddress.IPv4Network)
                                     and network.subnet_of(POOL) for n in networks)
        if name not in before and ours:
            with contextlib.suppress(subprocess.CalledProcessError):
                _ip("link", "del", name)


def _unmount_under(*roots: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if any(m.startswith(str(root)) for root in roots)), reverse=True):
        subprocess.run(["umount", "-l", mount], capture_output=True, check=False)
