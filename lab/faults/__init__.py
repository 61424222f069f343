"""Fault families. Each applies, verifies and reverts itself, and carries a time-to-live enforced on the
Docker side so that no fault outlives its run, even if the runner is killed with SIGKILL."""

from __future__ import annotations

from lab.faults.base import Fault, FaultContext, FaultState
from lab.faults.packet_drop import PacketDrop
from lab.scenario import FaultSpec

FAULT_FAMILIES: dict[str, type[PacketDrop]] = {"packet-drop": PacketDrop}


def build_fault(spec: FaultSpec, context: FaultContext, ttl_s: float) -> Fault:
    return FAULT_FAMILIES[spec.kind](spec, context, ttl_s)


__all__ = ["FAULT_FAMILIES", "Fault", "FaultContext", "FaultState", "build_fault"]
