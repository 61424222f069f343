"""http-error on a real stack: errors answered by the load balancer itself, its share of the requests, under its
path prefix only. Its users are the LB's, not the replicas' the other families' cases probe; its dead-man switch is
tested with the others (test_fault_families.py)."""

from __future__ import annotations

import http.client
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from lab.stack.engine import Engine
from lab.stack.images import LabImages
from lab.stack.project import Stack
from tests.figures import Figure

from .family_cases import fault_for, wait_all_ready

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def shared_stack(engine: Engine, lab_images: LabImages) -> Iterator[Stack]:
    with engine.stack(images=lab_images) as running:
        yield running


INJECTED = "injected by the load balancer"


def lb_answers(stack: Stack, path: str, count: int) -> Counter[str]:
    """`count` GETs of `path` through the LB, 8 connections kept alive at once: how many were answered with each
    status by the apps ("200", "404", ...), by the LB's injected error ("injected 503"), or closed unanswered."""
    host, port = urllib.parse.urlsplit(stack.endpoints().lb_url).netloc.split(":")

    def worker(requests: int) -> Counter[str]:
        seen: Counter[str] = Counter()
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        for _ in range(requests):
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                body = response.read().decode(errors="replace")
                seen[f"injected {response.status}" if INJECTED in body else str(response.status)] += 1
            except (http.client.RemoteDisconnected, ConnectionResetError):
                seen["closed"] += 1
                connection.close()
                connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.close()
        return seen

    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(worker, [count // 8] * 8), Counter())


def test_http_error_answers_its_share_with_its_status_and_nothing_once_reverted(
        shared_stack: Stack, lab_images: LabImages, figure: Figure) -> None:
    """503 for 30% of every request: of 4,000 through the LB, 30% +- 3% (four standard deviations of the draw
    either way) are the LB's own 503, the rest the apps' 200; once reverted, none of 400."""
    wait_all_ready(shared_stack)
    fault = fault_for(shared_stack, lab_images, {"kind": "http-error", "target": "lb", "share": 0.3,
                                                 "response": 503}, "test-http-error")
    try:
        fault.apply()
        state = fault.verify()
        during = lb_answers(shared_stack, "/healthz", 4000)
    finally:
        outcome = fault.revert()
    assert state.applied and "503:3000:" in state.detail, state.detail
    assert set(during) <= {"injected 503", "200"}, during
    share = during["injected 503"] / sum(during.values())
    assert 0.27 <= share <= 0.33, during
    assert "lb: removed" in outcome and not fault.verify().applied
    after = lb_answers(shared_stack, "/healthz", 400)
    assert after == Counter({"200": 400}), after
    figure(f"[http-error 503 at 30%] {during['injected 503']} of {sum(during.values())} requests answered 503 by "
           f"the LB ({share:.1%}); after the revert {after['200']} of 400 answered 200 by the apps")


def test_http_error_closes_only_the_requests_under_its_path_prefix(shared_stack: Stack,
                                                                   lab_images: LabImages) -> None:
    """`close` on /orders: every order read's connection is closed unanswered, while /healthz is untouched."""
    wait_all_ready(shared_stack)
    fault = fault_for(shared_stack, lab_images, {"kind": "http-error", "target": "lb", "share": 1.0,
                                                 "response": "close", "path_prefix": "/orders"}, "test-http-close")
    try:
        fault.apply()
        orders, health = lb_answers(shared_stack, "/orders/1", 80), lb_answers(shared_stack, "/healthz", 80)
    finally:
        fault.revert()
    assert orders == Counter({"closed": 80}), orders
    assert health == Counter({"200": 80}), health
