"""junit.xml: one test case per check, for a CI's test report."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from lab.judge.checks.base import CheckResult


def write_junit(run_dir: Path, scenario_name: str, checks: list[CheckResult], partial_reason: str | None) -> Path:
    """`partial_reason`: why the recording is partial, None if it is complete."""
    suite = ET.Element("testsuite", name=f"outage-lab.{scenario_name}", tests=str(len(checks)),
                       failures=str(sum(not c.passed for c in checks)))
    for check in checks:
        case = ET.SubElement(suite, "testcase", classname=f"outage-lab.{scenario_name}", name=check.name)
        if not check.passed:
            ET.SubElement(case, "failure", message=check.detail).text = check.detail
        else:
            ET.SubElement(case, "system-out").text = check.detail
    if partial_reason is not None:
        ET.SubElement(suite, "system-err").text = f"recording partial: {partial_reason}"
    path = run_dir / "junit.xml"
    ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    return path
