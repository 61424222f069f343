"""A scenario's Prometheus rule files in the observability part: checked by the observe image's own `promtool check
rules` before the stack starts, then copied into the stack's Prometheus and loaded. Both go through the engine's
archive API, never a bind mount: the files are on the lab's host, the engine may be another machine's.

Prometheus's configuration (lab/dockerfiles/observe/prometheus.yml) loads `/etc/outage-lab/rules/*.yml`; the files
go there under names of the lab's (their order, their own stem), and a SIGHUP has Prometheus read them again (its
reload API needs a flag that would let anyone reaching the port shut it down)."""

from __future__ import annotations

import io
import json
import re
import tarfile
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
from tenacity import Retrying, retry_if_result, stop_after_delay, wait_fixed

from lab.errors import InvalidInput, StackError
from lab.stack import labels
from lab.stack.observability import PROMETHEUS, Urls

RULES_DIR = "/etc/outage-lab/rules"
CHECK_DIR = "/tmp/rules"
CHECK_TIMEOUT_S = 60.0
LOAD_TIMEOUT_S = 30.0
"""Prometheus reads its rule files again within a second of the signal; the rest is a busy engine's margin."""
_LOCATED = re.compile(r"^(?:yaml: )?(?:line )?(\d+)(?::\d+)?: (.*)$")


@dataclass(frozen=True)
class RuleSource:
    """A rule file of the scenario's: where it is on this host, and the alerts it defines."""

    path: Path
    alerts: tuple[str, ...]


def file_names(sources: Sequence[RuleSource]) -> list[str]:
    """The name each file has in a container: `*.yml` for Prometheus's glob, unique whatever the files' own names."""
    return [f"{i:02d}-{source.path.stem}.yml" for i, source in enumerate(sources)]


def archive(sources: Sequence[RuleSource], folder: str = "") -> bytes:
    """The files as a tar archive for the engine's archive API, readable by the image's prometheus user; under
    `folder` if given (a folder the container does not have yet)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if folder:
            entry = tarfile.TarInfo(folder)
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(entry)
        for name, source in zip(file_names(sources), sources, strict=True):
            data = source.path.read_bytes()
            member = tarfile.TarInfo(f"{folder}/{name}" if folder else name)
            member.size, member.mode = len(data), 0o644
            tar.addfile(member, io.BytesIO(data))
    return buffer.getvalue()


def check(client: docker.DockerClient, image: str, run_id: str, sources: Sequence[RuleSource]) -> None:
    """Raise InvalidInput naming each file and line promtool rejects. The container is the run's (labelled, kept
    off the recording as a probe) and removed once it has answered."""
    names = file_names(sources)
    container = client.containers.create(
        image, ["promtool", "check", "rules", *(f"{CHECK_DIR}/{name}" for name in names)], network_disabled=True,
        labels={**labels.run_labels(run_id, labels.ROLE_FAULT), labels.PROBE: "true"})
    try:
        # Created, not started: the files go in before promtool reads them.
        container.put_archive(str(Path(CHECK_DIR).parent), archive(sources, Path(CHECK_DIR).name))
        container.start()
        code = int(container.wait(timeout=CHECK_TIMEOUT_S)["StatusCode"])
        output = container.logs(stdout=True, stderr=True).decode(errors="replace")
    finally:
        container.remove(force=True, v=True)
    if code != 0:
        shown = {f"{CHECK_DIR}/{name}": str(source.path) for name, source in zip(names, sources, strict=True)}
        raise InvalidInput("; ".join(promtool_problems(output, shown)) or f"promtool check rules: {output.strip()}")


def promtool_problems(output: str, shown: dict[str, str]) -> list[str]:
    """promtool's complaints as "FILE:LINE: what", FILE as the scenario names it. promtool says a rule's problem as
    `PATH: LINE:COL: ...` and a YAML one as `PATH: yaml: ...` with a `line N: ...` per problem on the lines after."""
    problems: list[str] = []
    current: str | None = None
    for raw in output.splitlines():
        line = raw.strip()
        path = next((p for p in shown if line.startswith(f"{p}: ")), None)
        if path is not None:
            current = shown[path]
            rest = line[len(path) + 2:]
            located = _LOCATED.match(rest)
            if located:
                problems.append(f"{current}:{located.group(1)}: {located.group(2)}")
            elif rest not in ("yaml: unmarshal errors:",):
                problems.append(f"{current}: {rest}")
        elif current is not None and (located := _LOCATED.match(line)):
            problems.append(f"{current}:{located.group(1)}: {located.group(2)}")
    return problems


def load(container: Any, run_id: str, urls: Urls, sources: Sequence[RuleSource]) -> None:
    """Copy the files into the stack's Prometheus (its container, label-checked), have it read them, and wait until
    its rules API lists every alert they define: a rule loaded after the fault would miss it."""
    labels.ensure_owned(container.labels, run_id, f"container {container.name}")
    if not container.put_archive(RULES_DIR, archive(sources)):
        raise StackError(f"could not copy the rule files into {PROMETHEUS}'s {RULES_DIR}")
    container.kill(signal="SIGHUP")
    expected = {alert for source in sources for alert in source.alerts}
    loaded: set[str] = set()

    def missing() -> set[str]:
        loaded.clear()
        loaded.update(loaded_alerts(urls.prometheus))
        return expected - loaded

    left: set[str] = Retrying(stop=stop_after_delay(LOAD_TIMEOUT_S), wait=wait_fixed(0.2),
                              retry=retry_if_result(bool), retry_error_callback=lambda _: expected - loaded)(missing)
    if left:
        raise StackError(f"Prometheus did not load the alert(s) {', '.join(sorted(left))} within "
                         f"{LOAD_TIMEOUT_S:g} s of reading its rule files again (it has: "
                         f"{', '.join(sorted(loaded)) or 'none'}; its log says why: `docker logs {container.name}`)")


def loaded_alerts(prometheus: str) -> set[str]:
    """The alerting rules' names Prometheus evaluates now (empty if it does not answer)."""
    try:
        with urllib.request.urlopen(f"{prometheus}/api/v1/rules?type=alert", timeout=2) as response:
            answer = json.loads(response.read())
    except (OSError, ValueError):
        return set()
    return {str(rule.get("name")) for group in answer.get("data", {}).get("groups", [])
            for rule in group.get("rules", [])}
