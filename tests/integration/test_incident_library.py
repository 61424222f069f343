"""The incident library on real Docker: every scenario, and every corrective measure's variant, replayed at the
largest speed it allows (what a team raising the speed to shorten its CI would pick), each passing every check
that says what its postmortem reports. Each run says the figures the README sets beside the postmortem's: the
error rate during the fault (the whole window, and the part its impact is judged on) and the seconds during which
users were affected. The runs are the session's library plays (library_plays), which other tests judge too."""

from __future__ import annotations

import pytest

from lab.scenario.document import Scenario
from lab.scenario.library import plays
from lab.settings import BUILTIN_SCENARIOS
from lab.stack.engine import Engine
from tests.figures import Figure

from .helpers import checks_of, leftovers, summary_of
from .library_plays import LibraryPlays

# Alone on the machine (make test runs the others two at a time): each run plays at the largest speed the lab
# allows, where its generator's punctuality is checked, and its stack's behaviour is judged: a run beside it would
# take the CPU of both (two at a time, a retry storm's amplification fell below its bound).
pytestmark = [pytest.mark.docker, pytest.mark.serial]


PLAYS = plays((BUILTIN_SCENARIOS,))


@pytest.mark.parametrize(("scenario", "variant"), PLAYS,
                         ids=[f"{scenario.name}-{variant or 'as-written'}" for scenario, variant in PLAYS])
def test_a_library_scenario_passes_every_check_at_its_largest_speed(
        scenario: Scenario, variant: str | None, library: LibraryPlays, engine: Engine, figure: Figure) -> None:
    """`lab run NAME [--variant V] --speed LARGEST` exits 0, every check passes, nothing of the run is left."""
    played = library.play(scenario.name, variant)
    summary = summary_of(played.run_dir)
    failed = [check for check in summary["checks"] if not check["passed"]]
    # The failing checks first and alone: a CI log keeps only the end of a long message.
    assert played.returncode == 0 and not failed, \
        "; ".join(f"FAIL {check['name']}: {check['detail']}" for check in failed) + f"\n{played.stderr[-1500:]}"
    assert all(checks_of(summary).values())
    assert leftovers(engine, summary["run_id"]) == []
    fault, judged = summary["fault"]["overall"], summary["settled"]["impact"]["overall"]
    phases = {(w["start"], w["end"]): w["settled"]["overall"] for w in summary["faults"]}
    phased = "; phases judged: " + ", ".join(f"{p['error_rate']:.1%}" for p in phases.values()) \
        if len(phases) > 1 else ""
    figure(f"[{played.label}] speed {played.speed:g}: error rate during the fault "
           f"{fault['error_rate']:.1%} of {fault['requests']} requests ({judged['error_rate']:.1%} of the "
           f"{judged['requests']} judged{phased}), median failure {fault['failure_p50_s'] or 0:.2f} s; users "
           f"affected {summary['impacted_s']:.0f} s of the fault window ({summary['impact_share']:.0%}); start "
           f"lateness p99 {summary['lateness']['p99_s'] * 1000:.1f} ms")
