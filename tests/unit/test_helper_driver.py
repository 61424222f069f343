"""The helper's driver (lab.faults.helper.DRIVER) in bash, with a family whose functions only say what they did:
every command the lab sends is answered, however its line meets the driver's read timeouts."""

from __future__ import annotations

import random
import select
import subprocess
from collections.abc import Iterator

import pytest

from lab.faults.helper import DRIVER, PREFIX

FAMILY = """
apply() { echo "put in place"; }
revert() { echo "taken away"; }
verify() { echo "in place"; }
"""
READ_SLICE_US = 1000
"""The driver's read timeout, shortened from half a second so that lines often arrive as a read times out."""
REQUESTS = 2000
ANSWER_WITHIN_S = 2.0


class Driver:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def next_line(self, within_s: float = ANSWER_WITHIN_S) -> str | None:
        """The driver's next line, or None if it says nothing within the time."""
        assert self.process.stdout is not None
        readable, _, _ = select.select([self.process.stdout], [], [], within_s)
        return self.process.stdout.readline().rstrip("\n") if readable else None


@pytest.fixture
def driver() -> Iterator[Driver]:
    env = {"PATH": "/usr/bin:/bin", "FAULT_SCRIPT": FAMILY, "PREFIX": PREFIX, "ARM_TIMEOUT_S": "600",
           "TTL_S": "600", "READ_SLICE_US": str(READ_SLICE_US)}
    process = subprocess.Popen(["bash", "-c", DRIVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=env, bufsize=1)
    started = Driver(process)
    try:
        assert (started.next_line() or "").startswith(f"{PREFIX} ready ")
        yield started
    finally:
        process.kill()
        process.wait()


def test_every_command_is_answered_even_as_a_read_times_out(driver: Driver) -> None:
    """Verify sent at random moments within the read's slice, thousands of times: each answered by its state.
    (bash 5.2's `read -t` drops the newline of a line arriving as it times out, about once in a few thousand
    reads here: the driver took the command for the start of a longer one and answered nothing.)"""
    rng = random.Random(0)
    unanswered = []
    for attempt in range(REQUESTS):
        select.select([], [], [], rng.uniform(0, READ_SLICE_US / 1e6))  # a moment within the slice
        driver.send("verify")
        answer = driver.next_line()
        if answer != f"{PREFIX} state 0 in place":
            unanswered.append((attempt, answer))
            driver.send("")  # a lost newline given back: the driver is in step again for the next one
            while driver.next_line(within_s=0.2) is not None:
                pass
    assert unanswered == [], f"{len(unanswered)} of {REQUESTS} not answered: {unanswered[:3]}"


def test_a_line_split_across_reads_is_one_command(driver: Driver) -> None:
    """A command written in two parts, the second after several read timeouts, is run once, whole."""
    assert driver.process.stdin is not None
    driver.process.stdin.write("rev")
    driver.process.stdin.flush()
    assert driver.next_line(within_s=5 * READ_SLICE_US / 1e6) is None
    driver.send("ert")
    assert driver.next_line() == f"{PREFIX} reverted taken away"
    driver.send("exit")
    assert driver.next_line() == f"{PREFIX} exited requested"
