"""The incident library on real Docker: every scenario but the seed (tested on its own) replayed at a CI speed,
each passing every check that says what its postmortem reports. Each run prints the figures the closing note
sets beside the postmortem's: the error rate during the fault and the share of it during which users were
affected."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.settings import BUILTIN_SCENARIOS
from lab.stack.engine import Engine
from lab.stack.images import LabImages
from tests.cli import lab_cli

from .helpers import checks_of, leftovers, summary_of

pytestmark = pytest.mark.docker

SEED = "db-network-misconfig"
CI_SPEEDS = {
    # At most each scenario's largest speed (`max_speed(Scenario)`), where its fault windows still hold enough
    # requests for its bounds: about 6.5 minutes for the eight on a 2-core machine (each run ~20 s of stack up and
    # down).
    "aws-2025-dynamodb-dns": 1.5,
    "azure-2019-dns-nxdomain": 1.0,
    "cloudflare-2020-backbone-route": 1.5,
    "commercelayer-2023-connection-resets": 1.5,
    "github-2018-partition": 4.0,
    "github-2022-connection-limit": 2.0,
    "slack-2021-packet-loss": 1.0,
    "stripe-2019-frozen-database": 3.0,
}
LIBRARY = sorted(path.stem for path in BUILTIN_SCENARIOS.glob("*.yaml") if path.stem != SEED)


@pytest.mark.parametrize("name", LIBRARY)
def test_a_library_scenario_passes_every_check_at_ci_speed(name: str, tmp_path: Path, engine: Engine,
                                                           lab_images: LabImages,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """`lab run NAME --speed S` exits 0, every check passes, nothing of the run is left behind."""
    assert name in CI_SPEEDS, f"give {name} a CI speed in CI_SPEEDS"
    out = tmp_path / "run"
    result = lab_cli("run", name, "--speed", str(CI_SPEEDS[name]), "--out", str(out))
    summary = summary_of(out)
    failed = [check for check in summary["checks"] if not check["passed"]]
    assert result.returncode == 0 and not failed, f"{failed}\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    assert all(checks_of(summary).values())
    assert leftovers(engine, summary["run_id"]) == []
    with capsys.disabled():
        fault = summary["fault"]["overall"]
        print(f"\n[{name}] speed {CI_SPEEDS[name]:g}: error rate during the fault {fault['error_rate']:.1%} of "
              f"{fault['requests']} requests, median failure {fault['failure_p50_s'] or 0:.2f} s; users affected "
              f"{summary['impacted_s']:.0f} s of the fault window ({summary['impact_share']:.0%})")
