"""When each request of an open-loop generator is planned to start: a rate, or a ramp from one rate to another
over some seconds, then that rate. The scenario's `load` steps change it while the generator runs; each change
begins a new Schedule at the next request's planned start, so a change neither bursts nor skips.

Planned starts are the inverse of the count of requests planned so far: at a steady rate r the k-th request of a
schedule starts k / r after its first; along a ramp the count grows as r0 t + (r1 - r0) t^2 / (2 T), whose inverse
is a quadratic's root."""

from __future__ import annotations

import math
from dataclasses import dataclass

EPSILON = 1e-9
"""Slack against floating-point error at a planned start's very moment (it is due then, not a nanosecond after)."""


@dataclass(frozen=True)
class Schedule:
    start_t: float
    """When its first request is planned (on the generator's clock)."""
    first_seq: int
    """The sequence number of its first request."""
    rate: float
    """Requests per second at its start."""
    target: float
    """Requests per second once its ramp is over (`rate` for a steady schedule)."""
    ramp_s: float = 0.0

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.target <= 0 or self.ramp_s < 0:
            raise ValueError(f"rates must be positive and a ramp's length at least 0: {self}")

    @classmethod
    def steady(cls, start_t: float, first_seq: int, rate: float) -> Schedule:
        return cls(start_t, first_seq, rate, rate)

    def _ramping(self) -> bool:
        return self.ramp_s > 0 and self.target != self.rate

    def _count(self, elapsed_s: float) -> float:
        """Requests planned in its first `elapsed_s` seconds, as a real number (the k-th at count k)."""
        if not self._ramping():
            return elapsed_s * self.target
        along = min(elapsed_s, self.ramp_s)
        count = self.rate * along + (self.target - self.rate) * along * along / (2 * self.ramp_s)
        return count + max(0.0, elapsed_s - self.ramp_s) * self.target

    def rate_at(self, t: float) -> float:
        if not self._ramping():
            return self.target
        share = min(1.0, max(0.0, (t - self.start_t) / self.ramp_s))
        return self.rate + (self.target - self.rate) * share

    def planned_t(self, seq: int) -> float:
        """When request `seq` (at least `first_seq`) is planned to start."""
        k = seq - self.first_seq
        if not self._ramping():
            return self.start_t + k / self.target
        ramp_count = self._count(self.ramp_s)
        if k >= ramp_count:
            return self.start_t + self.ramp_s + (k - ramp_count) / self.target
        slope = (self.target - self.rate) / (2 * self.ramp_s)  # count = slope t^2 + rate t
        # The root that grows with k, in the form that stays exact when the slope is tiny.
        return self.start_t + 2 * k / (self.rate + math.sqrt(self.rate * self.rate + 4 * slope * k))

    def due(self, next_seq: int, now: float) -> range:
        """The sequence numbers from `next_seq` on whose planned start has come by `now`."""
        if now + EPSILON < self.start_t:
            return range(next_seq, next_seq)
        last = self.first_seq + math.floor(self._count(now - self.start_t) + EPSILON)
        return range(next_seq, max(next_seq, last + 1))

    def changed(self, next_seq: int, target: float, ramp_s: float) -> Schedule:
        """The schedule after a change to `target` (over `ramp_s`): from request `next_seq`'s planned start on."""
        start_t = self.planned_t(next_seq)
        return Schedule(start_t, next_seq, self.rate_at(start_t), target, ramp_s)
