"""A scenario's `alerts:`: the monitoring of the incident, as rules over the users' error rate (evaluated live by
lab.record.alerts)."""

from __future__ import annotations

from pydantic import Field

from lab.document import DocumentModel, Ratio


class AlertRule(DocumentModel):
    name: str = Field(min_length=1)
    error_rate_above: Ratio
    window_s: float = Field(3.0, strict=True, gt=0, le=600)
    min_requests: int = Field(5, strict=True, ge=1)
