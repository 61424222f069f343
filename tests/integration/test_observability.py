"""The stack's observability part on a real engine: Prometheus scrapes every target it is given, and sees the
requests users send through the LB in the apps' own counters."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest

from lab.stack import observability
from lab.stack.builtin import APPS
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack

from .helpers import NotYet, wait_until

pytestmark = pytest.mark.docker

TARGETS = {("app", f"{app}:8000") for app in APPS} | {
    ("haproxy", "lb:8405"), ("postgres", "db-exporter:9187"), ("alertmanager", "alertmanager:9093"),
    ("prometheus", "localhost:9090")}
"""Every target the observability part's Prometheus scrapes: (job, instance)."""
ORDERS_SENT = 30


@pytest.fixture
def observed(engine: Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images, observe=True) as running:
        yield running


def query(prometheus: str, promql: str) -> list[tuple[dict[str, str], float]]:
    """An instant query through Prometheus's HTTP API: each series' labels and value."""
    url = f"{prometheus}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        answer = json.loads(response.read())
    assert answer["status"] == "success", answer
    return [(series["metric"], float(series["value"][1])) for series in answer["data"]["result"]]


def post_order(lb_url: str, number: int) -> int:
    body = json.dumps({"item": f"observed-{number}", "quantity": 1}).encode()
    request = urllib.request.Request(f"{lb_url}/orders", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_prometheus_scrapes_every_target_and_counts_requests_through_the_lb(observed: Stack) -> None:
    """Every target answers Prometheus (`up == 1`: the three apps, HAProxy's exporter, the database's exporter,
    Alertmanager, Prometheus itself), the exporter is logged in to the database (`pg_up == 1`), and 30 orders sent
    through the LB move the apps' request counter by 30, over more than one replica."""
    urls = observability.urls(observed.containers())
    assert urls is not None
    seen: dict[tuple[str, str], float] = {}

    def every_target_up() -> bool | None:
        seen.clear()
        seen.update({(labels["job"], labels["instance"]): value for labels, value in query(urls.prometheus, "up")})
        return True if set(seen) == TARGETS and all(value == 1 for value in seen.values()) else None

    try:  # Prometheus sends its first scrapes some 5 s after it starts (its target discovery's tick)
        wait_until(every_target_up, "every target up", timeout_s=60)
    except NotYet:
        pytest.fail(f"not every target is up after 60 s: Prometheus sees {sorted(seen.items())}, expected "
                    f"{sorted(TARGETS)}, each up == 1")
    assert [value for _, value in query(urls.prometheus, 'pg_up{job="postgres"}')] == [1.0]

    counted = 'orders_http_requests_total{job="app", route="/orders", method="POST", status="201"}'

    def per_replica() -> dict[str, float]:
        return {labels["replica"]: value for labels, value in query(urls.prometheus, counted)}

    def moved() -> dict[str, float] | None:
        now = per_replica()
        return now if sum(now.values()) - sum(before.values()) >= ORDERS_SENT else None

    before = per_replica()
    assert all(post_order(observed.endpoints().lb_url, number) == 201 for number in range(ORDERS_SENT))
    after = wait_until(moved, "the apps' counter to move by 30", timeout_s=30)
    assert sum(after.values()) - sum(before.values()) == ORDERS_SENT
    assert sum(1 for replica in after if after[replica] > before.get(replica, 0)) > 1  # the LB spread them
