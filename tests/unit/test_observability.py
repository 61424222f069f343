"""The built-in stack's observability part as Compose and its configuration read it (no engine): added only when a
stack asks for it, labelled like the rest, and pointed at the ports the stack's services really listen on."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from lab.errors import InvalidInput
from lab.settings import PACKAGE_DIR, Settings
from lab.stack import builtin, labels, observability
from lab.stack.override import host_ports, override
from lab.stack.project import Stack
from lab.stack.spec import Entry, StackSpec
from lab.stack.topology import ComposeTopology

OBSERVE = PACKAGE_DIR / "dockerfiles" / "observe"
EXAMPLE = PACKAGE_DIR.parent / "examples" / "notes" / "compose.yaml"


def topology_of(observe: bool) -> tuple[Stack, ComposeTopology]:
    stack = Stack(client=None, compose_argv=None, settings=Settings.from_env(), observe=observe)
    stack._read_topology()
    assert stack.compose_topology is not None
    return stack, stack.compose_topology


def prometheus_targets() -> dict[str, set[str]]:
    config = yaml.safe_load((OBSERVE / "prometheus.yml").read_text())
    return {job["job_name"]: {target for group in job["static_configs"] for target in group["targets"]}
            for job in config["scrape_configs"]}


def listen_port(service: str) -> str:
    """The port a service of observe.yaml listens on, from its command's --web.listen-address."""
    command = " ".join(yaml.safe_load(observability.COMPOSE_FILE.read_text())["services"][service]["command"])
    found = re.search(r"--web\.listen-address=:(\d+)", command)
    assert found is not None, f"{service} names no --web.listen-address"
    return found[1]


def test_a_stack_has_the_observability_part_only_when_it_asks() -> None:
    """Without `observe` the built-in stack's services are what they were; with it, Prometheus, Alertmanager and the
    database's exporter join them."""
    _, plain = topology_of(observe=False)
    _, observed = topology_of(observe=True)
    assert set(plain.services) == {*builtin.SERVICES, builtin.DISK}
    assert set(observed.services) == {*builtin.SERVICES, builtin.DISK, *observability.SERVICES}


def test_the_observability_services_carry_the_runs_labels_and_publish_on_loopback_only() -> None:
    """The lab's override labels the part's services with the run and its owner like every other (the lab never
    touches a container it did not label); Prometheus and Alertmanager publish their ports on 127.0.0.1 only, the
    exporter none."""
    stack, compose = topology_of(observe=True)
    services: dict[str, Any] = override(stack.spec, compose, stack.run_id, "owner-token", host_ports(stack.spec, 1, 2))[
        "services"]
    for name in observability.SERVICES:
        assert services[name]["labels"] == {**labels.run_labels(stack.run_id, labels.ROLE_STACK),
                                             labels.OWNER: "owner-token"}
    assert compose.services[observability.PROMETHEUS].ports == (observability.PROMETHEUS_PORT,)
    assert compose.services[observability.ALERTMANAGER].ports == (observability.ALERTMANAGER_PORT,)
    assert compose.services[observability.DB_EXPORTER].ports == ()
    published = yaml.safe_load(observability.COMPOSE_FILE.read_text())["services"]
    assert all(port.startswith("127.0.0.1:") for service in published.values() for port in service.get("ports", []))


def test_a_teams_stack_is_refused_the_observability_part() -> None:
    """The part's scrape targets are the built-in stack's names: a team's stack asking for it is refused in one line,
    before Compose reads its file."""
    spec = StackSpec(compose_file=str(EXAMPLE), entry=Entry(service="web", port=80))
    with pytest.raises(InvalidInput, match="built-in stack only"):
        Stack(client=None, compose_argv=None, settings=Settings.from_env(), spec=spec, observe=True)._read_topology()


def test_prometheus_scrapes_each_service_on_the_port_it_listens_on() -> None:
    """Every scrape target is a service of the stack on the port it serves metrics on: the apps' port, HAProxy's
    exporter frontend (haproxy.cfg), the exporter's and Alertmanager's listen addresses (observe.yaml)."""
    haproxy = (PACKAGE_DIR / "dockerfiles" / "lb" / "haproxy.cfg").read_text()
    exporter_port = re.search(r"frontend prometheus\n(?:\s*#.*\n)*\s*bind :(\d+)", haproxy)
    assert exporter_port is not None and "use-service prometheus-exporter" in haproxy
    assert prometheus_targets() == {
        "app": {f"{app}:8000" for app in builtin.APPS},
        "haproxy": {f"{builtin.LB}:{exporter_port[1]}"},
        "postgres": {f"{observability.DB_EXPORTER}:{listen_port(observability.DB_EXPORTER)}"},
        "alertmanager": {f"{observability.ALERTMANAGER}:{listen_port(observability.ALERTMANAGER)}"},
        "prometheus": {f"localhost:{listen_port(observability.PROMETHEUS)}"},
    }


def test_scrape_and_evaluation_intervals_are_the_stated_ones() -> None:
    """Prometheus scrapes and evaluates rules every SCRAPE_INTERVAL_S (1 s), the figure the lab states."""
    config = yaml.safe_load((OBSERVE / "prometheus.yml").read_text())["global"]
    stated = f"{observability.SCRAPE_INTERVAL_S:g}s"
    assert (config["scrape_interval"], config["evaluation_interval"]) == (stated, stated)
