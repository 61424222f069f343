"""The built-in stack's knobs: the settings real corrective measures change (the load balancer's health check,
the app's connect and pool timeouts, pool size, TCP user timeout and keepalives, connection lifetime). A scenario
sets them for its incident, a variant changes some of them to prove a corrective measure, and the stack passes
them to Compose as environment."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.document import DocumentModel


class StackKnobs(DocumentModel):
    lb_health_check: Literal["shallow", "deep"] = Field(
        "shallow", description="shallow: HAProxy checks /healthz (no database); deep: /readyz, which runs a query, "
                               "so a replica that cannot reach the database leaves rotation.")
    app_connect_timeout_s: int = Field(2, strict=True, ge=1, le=60, description="libpq connect_timeout.")
    app_pool_timeout_s: float = Field(3.0, strict=True, gt=0, le=60,
                                      description="How long a request waits for a pooled connection.")
    app_pool_min: int = Field(2, strict=True, ge=0, le=50, description="Connections each replica keeps open.")
    app_pool_max: int = Field(8, strict=True, ge=1, le=100, description="Most connections per replica.")
    app_pool_max_lifetime_s: float = Field(
        3600.0, strict=True, ge=10, le=86400,
        description="A pooled connection is replaced after this long (new connections resolve the name again).")
    app_tcp_user_timeout_ms: int = Field(2000, strict=True, ge=0, le=600_000,
                                         description="How long unacknowledged data may wait (0: the kernel's).")
    app_keepalives: bool = Field(True, description="TCP keepalives on database connections (1 s idle, 1 s apart).")

    def environment(self) -> dict[str, str]:
        """What stack.yaml reads (LAB_KNOB_*)."""
        return {
            "LAB_KNOB_LB_CHECK_PATH": "/readyz" if self.lb_health_check == "deep" else "/healthz",
            "LAB_KNOB_CONNECT_TIMEOUT": str(self.app_connect_timeout_s),
            "LAB_KNOB_POOL_TIMEOUT": f"{self.app_pool_timeout_s:g}",
            "LAB_KNOB_POOL_MIN": str(self.app_pool_min),
            "LAB_KNOB_POOL_MAX": str(max(self.app_pool_max, self.app_pool_min)),
            "LAB_KNOB_POOL_MAX_LIFETIME": f"{self.app_pool_max_lifetime_s:g}",
            "LAB_KNOB_TCP_USER_TIMEOUT": str(self.app_tcp_user_timeout_ms),
            "LAB_KNOB_KEEPALIVES": "1" if self.app_keepalives else "0",
        }


class KnobChanges(DocumentModel):
    """A variant's changes to the knobs: only the fields it names change."""

    lb_health_check: Literal["shallow", "deep"] | None = None
    app_connect_timeout_s: int | None = Field(None, strict=True, ge=1, le=60)
    app_pool_timeout_s: float | None = Field(None, strict=True, gt=0, le=60)
    app_pool_min: int | None = Field(None, strict=True, ge=0, le=50)
    app_pool_max: int | None = Field(None, strict=True, ge=1, le=100)
    app_pool_max_lifetime_s: float | None = Field(None, strict=True, ge=10, le=86400)
    app_tcp_user_timeout_ms: int | None = Field(None, strict=True, ge=0, le=600_000)
    app_keepalives: bool | None = None

    def applied_to(self, knobs: StackKnobs) -> StackKnobs:
        return knobs.model_copy(update=self.model_dump(exclude_none=True))
