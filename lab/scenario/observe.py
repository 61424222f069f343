"""A scenario's `observe:`: the stack's observability part (Prometheus, Alertmanager) for the run, and the team's
own Prometheus alerting rules it loads. Naming rule files turns the part on; the `detection` check may then name
one of their alerts."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from lab.document import DocumentModel


class ObserveSpec(DocumentModel):
    rules: tuple[str, ...] = Field(min_length=1, description=(
        "Prometheus rule files (Prometheus's own format, checked with its `promtool check rules`), relative to the "
        "scenario's directory and inside it, as runbook scripts are."))

    def rule_paths(self, base_dir: Path) -> tuple[Path, ...]:
        return tuple(base_dir / rule for rule in self.rules)
