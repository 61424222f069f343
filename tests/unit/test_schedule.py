"""The generator's schedule when the rate changes (a `load` step): every request planned exactly once, in order,
at the rate in force, a ramp's requests as many as the area under it, and a change that neither bursts nor skips."""

from __future__ import annotations

import pytest

from lab.record.schedule import Schedule


def handed_out(schedule: Schedule, first: int, until: float, step_s: float = 0.0007) -> list[int]:
    """Every sequence number `due` hands out, woken every `step_s` from the schedule's start to `until`."""
    handed: list[int] = []
    next_seq, now = first, schedule.start_t
    while now <= until:
        batch = schedule.due(next_seq, now)
        assert all(schedule.planned_t(seq) <= now + 1e-9 for seq in batch)
        handed += batch
        next_seq = batch.stop if len(batch) else next_seq
        now += step_s
    return handed


@pytest.mark.parametrize(("rate", "target", "ramp_s"), [(20.0, 200.0, 2.0), (200.0, 20.0, 2.0), (50.0, 50.0, 1.0),
                                                        (10.0, 400.0, 0.0)])
def test_a_ramp_plans_as_many_requests_as_the_area_under_it_in_order(rate: float, target: float,
                                                                     ramp_s: float) -> None:
    """From 20 to 200 req/s over 2 s: (20 + 200) / 2 * 2 = 220 requests along the ramp, then 200 per second; each
    handed out once, in order, and none before its planned start; planned starts only grow."""
    schedule = Schedule(10.0, 5, rate, target, ramp_s)
    handed = handed_out(schedule, 5, 10.0 + ramp_s + 1.0)
    along = (rate + target) / 2 * ramp_s
    assert handed == list(range(5, 5 + len(handed)))
    assert len(handed) == pytest.approx(along + target + 1, abs=1)
    starts = [schedule.planned_t(seq) for seq in handed]
    assert starts == sorted(starts) and starts[0] == 10.0


def test_the_rate_along_a_ramp_is_what_the_gaps_between_requests_say() -> None:
    """Halfway along a ramp from 100 to 300 req/s the gap between two requests is 1/200 s."""
    schedule = Schedule(0.0, 0, 100.0, 300.0, 4.0)
    middle = next(seq for seq in range(2000) if schedule.planned_t(seq) >= 2.0)
    gap = schedule.planned_t(middle + 1) - schedule.planned_t(middle)
    assert gap == pytest.approx(1 / 200, rel=0.01)
    assert schedule.rate_at(2.0) == pytest.approx(200.0)


def test_a_change_starts_at_the_next_planned_request_without_a_burst_or_a_gap() -> None:
    """At 20 req/s with requests 0-3 sent (the next is planned at 0.2 s), a change to 100 req/s at once starts at
    0.2 s with request 4; the one after follows 1/100 s later."""
    before = Schedule.steady(0.0, 0, 20.0)
    after = before.changed(4, 100.0, 0.0)
    assert after.start_t == pytest.approx(0.2) and after.first_seq == 4
    assert after.planned_t(5) - after.planned_t(4) == pytest.approx(0.01)
    assert list(after.due(4, 0.19)) == []
    ramped = before.changed(4, 100.0, 1.0)
    assert ramped.rate_at(ramped.start_t) == 20.0 and ramped.rate_at(ramped.start_t + 1.0) == 100.0


def test_a_schedule_refuses_a_rate_that_is_not_positive() -> None:
    with pytest.raises(ValueError, match="must be positive"):
        Schedule(0.0, 0, 20.0, 0.0, 1.0)
