"""Clients that retry (no Docker): the policy's backoff and jitter, its budget, what it retries, its bad inputs, the
open-loop generator sending retries beside the schedule, and the amplification and success figures of a recording."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import statistics
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from lab.clock import MonotonicClock
from lab.judge.amplification import describe
from lab.judge.analysis import analyse
from lab.record.loadgen import OpenLoop, Planned, Sent
from lab.record.retries import BUDGET_SPENT, FINAL, NO_ATTEMPT_LEFT, Budget, Retries
from lab.scenario.retry import RetryBudget, RetrySpec
from tests.cli import lab_cli
from tests.unit.streams import event, step
from tests.unit.test_bad_input import assert_one_line
from tests.unit.test_loadgen import ON_TIME_S, run_until, served
from tests.unit.test_scenario import SEED, problems_of, seed_document


@pytest.fixture
def server() -> Iterator[str]:
    """Answers /fail with a 503 at once (a service failing fast) and /ok with a 200."""

    async def fail(_: web.Request) -> web.Response:
        return web.json_response({"error": "unavailable"}, status=503)

    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    with served(asyncio.new_event_loop(), [web.get("/fail", fail), web.get("/ok", ok)]) as url:
        yield url


def test_the_backoff_grows_by_its_multiplier_up_to_its_cap() -> None:
    """Ceilings 0.1, 0.2, 0.4, then the 0.5 s cap; without jitter the wait is the ceiling."""
    spec = RetrySpec(attempts=6, backoff_s=0.1, multiplier=2.0, max_backoff_s=0.5, jitter="none")
    retries = Retries(spec)
    assert [spec.ceiling_s(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])
    assert [retries.wait_s(n) for n in range(1, 6)] == pytest.approx([0.1, 0.2, 0.4, 0.5, 0.5])


@pytest.mark.parametrize(("jitter", "low", "high"), [("full", 0.0, 1.0), ("equal", 0.5, 1.0)])
def test_jitter_draws_within_its_range_spread_and_repeat_with_the_seed(jitter: str, low: float, high: float) -> None:
    """Full jitter draws in [0, c], equal jitter in [c/2, c] (c the ceiling, 1 s here): 2,000 draws stay in range,
    their mean is the range's middle (+-0.02: over five standard errors), and the same seed draws the same waits."""
    spec = RetrySpec.model_validate({"backoff_s": 1.0, "jitter": jitter})  # the literal, as a YAML file gives it
    draws = [Retries(spec, seed=7).wait_s(1), Retries(spec, seed=7).wait_s(1)]
    assert draws[0] == draws[1]
    retries = Retries(spec, seed=1)
    waits = [retries.wait_s(1) for _ in range(2000)]
    assert all(low <= wait <= high for wait in waits)
    assert statistics.mean(waits) == pytest.approx((low + high) / 2, abs=0.02)
    assert statistics.pstdev(waits) > (high - low) / 4  # spread, not bunched


def test_what_is_retried_is_what_the_policy_names() -> None:
    """A 503 is retried while attempts are left; the last attempt's failure says it had none left; a 200, a 404 and
    a status the policy does not name are final; a timeout and a refused connection are retried only if named."""
    retries = Retries(RetrySpec(attempts=3, retry_on=(503, "connection")))
    assert retries.after(1, 503, None, 0.0).wait_s is not None
    assert retries.after(2, 503, None, 0.0).wait_s is not None
    assert retries.after(3, 503, None, 0.0).refused == NO_ATTEMPT_LEFT
    assert retries.after(1, 200, None, 0.0) == retries.after(1, 404, None, 0.0) == FINAL
    assert retries.after(1, 502, None, 0.0) == FINAL
    assert retries.after(1, None, "ConnectionRefusedError: [Errno 111] Connect call failed", 0.0).wait_s is not None
    assert retries.after(1, None, "TimeoutError: no answer within 10 s", 0.0) == FINAL


def test_the_budget_allows_retries_up_to_its_ratio_of_first_attempts_over_its_window() -> None:
    """Ratio 0.1 over 10 s: after 100 first attempts in 10 s, 10 retries pass and the 11th is refused; once the
    window has moved past those first attempts, none is allowed until new ones come."""
    budget = Budget(RetryBudget(ratio=0.1, window_s=10.0))
    for number in range(100):
        budget.deposit(number / 10)
    assert [budget.withdraw(9.95) for _ in range(11)] == [True] * 10 + [False]
    assert not budget.withdraw(25.0)
    budget.deposit(25.5)
    assert not budget.withdraw(25.6)  # 0.1 of one first attempt: not a whole retry
    for number in range(9):
        budget.deposit(26 + number / 10)
    assert budget.withdraw(27.0)


def test_a_policy_with_a_budget_says_why_a_retry_was_refused() -> None:
    """With the budget spent, a retryable failure is final and says so ("budget")."""
    retries = Retries(RetrySpec(attempts=5, budget=RetryBudget(ratio=0.5)))
    retries.first_sent(0.0)
    retries.first_sent(0.1)
    assert retries.after(1, 503, None, 0.2).wait_s is not None
    assert retries.after(1, 503, None, 0.3).refused == BUDGET_SPENT


def with_retry(policy: object) -> Callable[[dict[str, Any]], None]:
    def mutate(document: dict[str, Any]) -> None:
        document["traffic"]["retry"] = policy
    return mutate


BAD_POLICIES = [
    ({"attempts": 0}, "traffic.retry.attempts: must be at least 1, got 0"),
    ({"attempts": 11}, "traffic.retry.attempts: must be at most 10, got 11"),
    ({"attempts": 1e9}, "traffic.retry.attempts: must be a whole number"),
    ({"backoff_s": -1}, "traffic.retry.backoff_s: must be at least 0, got -1"),
    ({"backoff_s": 2, "max_backoff_s": 1}, "traffic.retry.max_backoff_s: must be at least backoff_s (2), got 1"),
    ({"multiplier": 0.5}, "traffic.retry.multiplier: must be at least 1"),
    ({"jitter": "decorrelated"}, "traffic.retry.jitter: unknown value 'decorrelated'"),
    ({"retry_on": [503, 200]}, "traffic.retry.retry_on[1]: 200 is neither an HTTP error status (400-599)"),
    ({"retry_on": [503, "refused"]}, "traffic.retry.retry_on[1]: 'refused' is neither an HTTP error status"),
    ({"retry_on": []}, "traffic.retry.retry_on: must list at least 1 item"),
    ({"budget": {"ratio": 0}}, "traffic.retry.budget.ratio: must be greater than 0, got 0"),
    ({"budget": {"ratio": 0.1, "window_s": -5}}, "traffic.retry.budget.window_s: must be greater than 0"),
    ({"attempt": 3}, "traffic.retry.attempt: "),
]


@pytest.mark.parametrize(("policy", "expected"), BAD_POLICIES, ids=[line.split(":")[0] + " " + str(policy)
                                                                    for policy, line in BAD_POLICIES])
def test_a_bad_retry_policy_is_one_problem_naming_its_field(policy: dict[str, Any], expected: str) -> None:
    """Zero attempts, an unbounded count, a negative backoff, a cap below the base, an unknown jitter or outcome:
    one problem each, with the field's path."""
    document = seed_document()
    with_retry(policy)(document)
    problems = problems_of(document)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_bad_retry_policy_stops_lab_run_with_one_line_and_exit_2(tmp_path: Path) -> None:
    """`lab run` with zero attempts: one line naming the file and the field, exit 2, before anything starts."""
    document = seed_document()
    with_retry({"attempts": 0})(document)
    shutil.copy2(SEED.with_name(document["postmortem"]), tmp_path)
    shutil.copytree(SEED.parent / "runbooks", tmp_path / "runbooks")
    path = tmp_path / "retrying.yaml"
    path.write_text(yaml.safe_dump(document))
    assert_one_line(lab_cli("run", str(path)), 2, f"{path}: traffic.retry.attempts: must be at least 1, got 0")


RATE = 50.0
OPERATIONS = 25


# Alone on the machine (make test runs the other unit tests two at a time): it holds the generator to its
# schedule within ON_TIME_S, which another process's CPU can take.
@pytest.mark.serial
def test_the_generator_retries_beside_the_schedule_each_attempt_linked_to_its_first(server: str) -> None:
    """Against a service answering 503 at once, with 3 attempts and 20 ms backoff: each of the 25 operations is
    three requests, the retries keep their first attempt's seq and planned start, each planned at the failure's end
    plus its backoff and sent no earlier; the first attempts stay on the schedule (every 20 ms, on time)."""
    sent: list[Sent] = []
    lock = threading.Lock()
    done = threading.Event()

    def plan(seq: int, planned_t: float) -> Planned:
        return Planned(seq, planned_t, "GET", "/ok" if seq >= OPERATIONS else "/fail")

    def record(outcome: Sent) -> None:
        with lock:
            if outcome.planned.seq < OPERATIONS:
                sent.append(outcome)
            if sum(1 for s in sent if s.planned.attempt == 3) == OPERATIONS:
                done.set()

    retries = Retries(RetrySpec(attempts=3, backoff_s=0.02, multiplier=1.0, jitter="none", retry_on=(503,)))
    generator = OpenLoop(server, RATE, timeout_s=5.0, clock=MonotonicClock(), plan=plan, record=record,
                         retries=retries)
    run_until(generator, done, f"{OPERATIONS} operations retried twice")
    assert generator.retried >= 2 * OPERATIONS
    by_operation: dict[int, list[Sent]] = {}
    for outcome in sent:
        by_operation.setdefault(outcome.planned.seq, []).append(outcome)
    assert sorted(by_operation) == list(range(OPERATIONS))
    for seq, attempts in by_operation.items():
        attempts.sort(key=lambda s: s.planned.attempt)
        assert [s.planned.attempt for s in attempts] == [1, 2, 3]
        first = attempts[0]
        assert 0 <= first.lateness_s <= ON_TIME_S, (seq, first.lateness_s)
        for before, retry in itertools.pairwise(attempts):
            assert retry.planned.first_t == first.planned.planned_t
            assert retry.planned.planned_t == pytest.approx(before.done_t + 0.02)
            assert before.then.wait_s == pytest.approx(0.02) and retry.started_t >= retry.planned.planned_t
        assert attempts[-1].then.refused == NO_ATTEMPT_LEFT and all(s.status == 503 for s in attempts)
    firsts = sorted(by_operation[seq][0].planned.planned_t for seq in by_operation)
    assert all(later - earlier == pytest.approx(1 / RATE) for earlier, later in itertools.pairwise(firsts))


def retrying_recording() -> list[dict[str, Any]]:
    """10 operations a second for 30 s, a fault from 10 to 20 s (its steps at +1 ms) failing every attempt started
    in it at once; each failure retried after 0.6 s, three attempts at most."""
    fault_start, fault_end = 10.001, 20.001
    events = [event("run.started", 0.0, run_id="r1", scenario="retrying", rate=10.0)]
    for seq in range(300):
        first_t = round(seq / 10 + 0.05, 4)
        for attempt in (1, 2, 3):
            t = round(first_t + 0.6 * (attempt - 1), 4)
            failed = fault_start <= t < fault_end
            then: dict[str, Any] = {}
            if failed:
                then = {"retry_in_s": 0.6} if attempt < 3 else {"not_retried": NO_ATTEMPT_LEFT}
            late = 0.5 if attempt > 1 else 0.001  # retries late, the schedule kept: lateness is the schedule's
            events.append(event("request", t, seq=seq, endpoint="GET /", status=503 if failed else 200,
                                ok=not failed, latency_s=0.01, replica=None, error="HTTP 503" if failed else None,
                                started_t=round(t + late, 4), attempt=attempt,
                                first_t=first_t if attempt > 1 else None, **then))
            if not failed:
                break
    events.append(step(0, fault_start - 0.001, "apply", "14:00", fault="f"))
    events.append(step(1, fault_end - 0.001, "revert", "14:10", fault="f", milestone="mitigation"))
    events.append(event("run.ended", 30.1, partial=False, reason="completed", requests_sent=494,
                        requests_recorded=494))
    return events


def test_amplification_and_final_success_are_measured_from_the_recording() -> None:
    """Before the fault, 100 operations are 100 attempts (1.0); in it, 100 operations' first attempts and the
    retries planned in it are 282 attempts (2.82: every operation tries three times, but the retries of the last
    second fall after the fault); overall 494 attempts for 300 operations. 212 operations finally succeed (70.7%),
    200 at their first attempt; of those begun during the fault, the 12 whose retry fell after it; 88 ran out of
    attempts. Lateness counts the 300 first attempts, on time, not the late retries."""
    analysis = analyse(retrying_recording())
    figures = analysis.amplification
    assert (figures.operations, figures.attempts, figures.amplification) == (300, 494, 1.647)
    assert figures.before_fault == {"operations": 100, "attempts": 100, "amplification": 1.0}
    assert figures.during_faults == {"operations": 100, "attempts": 282, "amplification": 2.82}
    assert (figures.succeeded, figures.success_share, figures.first_try_share) == (212, 0.7067, 0.6667)
    assert figures.during_faults_success_share == 0.12
    assert figures.not_retried == {NO_ATTEMPT_LEFT: 88}
    assert analysis.lateness.requests == 300 and analysis.lateness.late == 0
    assert analysis.fault is not None and analysis.fault.overall.requests == 282  # error rates count attempts
    line = describe(analysis.to_dict()["amplification"])
    assert line is not None and "300 operations, 494 attempts" in line and "2.82x during the faults" in line
    assert "70.7% of operations finally succeeded (66.7% at their first attempt, 12.0% of those begun" in line


def test_without_retries_operations_are_requests_and_nothing_is_said_of_retries() -> None:
    """A recording without attempt numbers (before retries, or no policy): every request is its own operation,
    amplification 1.0, and the reports say nothing of retries."""
    events = [e for e in retrying_recording() if e.get("attempt", 1) == 1]
    for entry in events:
        entry.pop("attempt", None)
        entry.pop("seq", None)  # recordings older than seq numbers: every operation still its own
    figures = analyse(events).amplification
    assert (figures.operations, figures.attempts, figures.amplification) == (300, 300, 1.0)
    assert describe(analyse(events).to_dict()["amplification"]) is None


