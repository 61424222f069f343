"""The report's timeline chart: requests per second by outcome, p95 latency, one lane per app replica, the fault
window shaded, each deploy a band labelled with its release (a marker where it replaced a service, and where a
health gate halted it), and a marker for every action and alert. Rendered to SVG text, inlined in the HTML."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lab.judge.requests import percentile, requests_from
from lab.record.events import Event

OK_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"
HATCHES = ("", "//", "\\\\", "..")
FAULT_COLOUR = "#ffb74d"
MARKER_COLOUR = "#37474f"
ALERT_COLOUR = "#6a1b9a"
DEPLOY_COLOUR = "#00838f"
HALT_COLOUR = "#b71c1c"
UNMARKED = ("traffic started", "end")
WIDTH_IN, HEIGHT_IN = 11.0, 7.2
MARGINS = {"right": 0.99, "top": 0.985, "bottom": 0.07, "hspace": 0.12}
LEFT_MARGIN_IN = 0.8
"""Room for the y labels and tick labels, and for lane names up to LANE_NAME_FITS characters; longer names widen it
by CHARACTER_IN each (9-point sans-serif)."""
LANE_NAME_FITS = 6
CHARACTER_IN = 0.07
LANE_NAME_MAX = 32
"""A lane is labelled with at most this many characters of its replica's name (a team's X-Served-By header can say
anything): longer ones are cut, with an ellipsis."""


def per_second(events: list[Event]) -> dict[str, Any]:
    """Per-second bins (by request start): successes, failures, p95 latency, and each replica's error rate."""
    requests = requests_from(events)
    seconds = math.ceil(max((r.t for r in requests), default=0.0)) + 1
    ok = [0] * seconds
    failed = [0] * seconds
    latencies: dict[int, list[float]] = defaultdict(list)
    lanes: dict[str, dict[int, list[bool]]] = defaultdict(lambda: defaultdict(list))
    for request in requests:
        second = int(request.t)
        (ok if request.ok else failed)[second] += 1
        latencies[second].append(request.latency_s)
        lanes[request.replica or "(lb)"][second].append(request.ok)
    return {
        "seconds": list(range(seconds)),
        "ok": ok,
        "failed": failed,
        "p95": [percentile(latencies[s], 95) if latencies[s] else math.nan for s in range(seconds)],
        "lanes": {replica: {s: 1 - sum(oks) / len(oks) for s, oks in bins.items()}
                  for replica, bins in sorted(lanes.items())},
    }


@dataclass(frozen=True)
class Replacement:
    t: float
    service: str
    serving: bool
    rollback: bool

    @property
    def label(self) -> str:
        if self.rollback:
            return f"{self.service} rolled back" + ("" if self.serving else ", not serving")
        return f"{self.service} {'replaced' if self.serving else 'not serving'}"


@dataclass(frozen=True)
class Halt:
    t: float
    service: str
    not_deployed: tuple[str, ...]

    @property
    def label(self) -> str:
        rest = f" (not deployed: {', '.join(self.not_deployed)})" if self.not_deployed else ""
        return f"halted at {self.service}{rest}"


@dataclass(frozen=True)
class DeploySpan:
    """One deploy as the chart shows it: from deploy.started to deploy.done (or the recording's end, if it was cut
    short before), with what happened in between."""

    release: str
    start: float
    end: float
    done: bool
    replaced: tuple[Replacement, ...] = field(default=())
    halt: Halt | None = None


@dataclass
class _Open:
    """A deploy begun and not yet done, as the events come."""

    release: str
    start: float
    replaced: list[Replacement] = field(default_factory=list)
    halt: Halt | None = None

    def closed(self, end: float, done: bool) -> DeploySpan:
        return DeploySpan(self.release, self.start, end, done, tuple(self.replaced), self.halt)


def deploy_spans(events: list[Event]) -> list[DeploySpan]:
    """Each deploy of the recording, in order. Deploys are played one at a time (a step, or a trainee's command
    answered before the next), so each event belongs to the last one started."""
    spans: list[DeploySpan] = []
    current: _Open | None = None
    for event in sorted((e for e in events if str(e.get("kind", "")).startswith("deploy.")), key=lambda e: e["t"]):
        kind = event["kind"]
        if kind == "deploy.started":
            if current is not None:  # its deploy.done never came: the next one began, so it had ended by then
                spans.append(current.closed(event["t"], done=False))
            current = _Open(event["release"], event["t"])
        elif current is None:
            continue  # a recording whose deploy.started is missing: nothing to anchor the rest to
        elif kind == "deploy.replaced":
            current.replaced.append(Replacement(event["t"], event["service"], bool(event["serving"]),
                                                bool(event.get("rollback", False))))
        elif kind == "deploy.halted":
            current.halt = Halt(event["t"], event["service"], tuple(event.get("not_deployed", ())))
        elif kind == "deploy.done":
            spans.append(current.closed(event["t"], done=True))
            current = None
    if current is not None:
        spans.append(current.closed(max(event["t"] for event in events), done=False))
    return spans


def timeline_svg(events: list[Event], summary: dict[str, Any]) -> str:
    bins = per_second(events)
    seconds = bins["seconds"]
    # Imported here: matplotlib takes a second to import, and only the commands that draw a chart should wait for it.
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({"svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif"}):
        # Fixed margins: a constrained layout measures every label first, while the user waits for the report.
        figure = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
        figure.subplots_adjust(left=_left_margin([_lane_label(replica) for replica in bins["lanes"]]), **MARGINS)
        rate_axis, latency_axis, lane_axis = figure.subplots(3, 1, sharex=True,
                                                             gridspec_kw={"height_ratios": [3, 2, 2]})
        # One stepped area per outcome, failures stacked on successes: a bar per second would be an artist per
        # second to lay out and draw.
        edges = [*seconds, len(seconds)]
        total = [ok + failed for ok, failed in zip(bins["ok"], bins["failed"], strict=True)]
        rate_axis.stairs(bins["ok"], edges, fill=True, color=OK_COLOUR, label="succeeded")
        rate_axis.stairs(total, edges, baseline=bins["ok"], fill=True, color=FAILED_COLOUR, label="failed")
        rate_axis.set_ylabel("requests / s")
        latency_axis.plot([s + 0.5 for s in seconds], bins["p95"], color="#1565c0", linewidth=1.2)
        latency_axis.set_ylabel("p95 latency (s)")
        latency_axis.set_ylim(bottom=0)
        replicas = list(bins["lanes"])
        for lane, replica in enumerate(replicas):
            spans = sorted(bins["lanes"][replica].items())
            lane_axis.broken_barh([(second, 1) for second, _ in spans], (lane - 0.4, 0.8),
                                  facecolors=[_error_colour(rate) for _, rate in spans])
        lane_axis.set_yticks(range(len(replicas)), [_lane_label(replica) for replica in replicas])
        lane_axis.set_ylim(-0.6, len(replicas) - 0.4)
        lane_axis.invert_yaxis()
        lane_axis.set_xlabel("seconds since the run started (lab time)")
        lane_axis.set_title("error rate per replica (green: none, red: all requests failed)", loc="left", fontsize=8)
        _shade_fault(summary, (rate_axis, latency_axis, lane_axis))
        _mark_deploys(deploy_spans(events), (rate_axis, latency_axis, lane_axis))
        _mark_milestones(summary, (rate_axis, latency_axis, lane_axis))
        rate_axis.legend(loc="upper right", fontsize=8)
        rate_axis.set_xlim(0, max(seconds[-1] + 1 if seconds else 1, 1))
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg")
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]  # drop the XML prologue: the SVG is inlined in HTML


def warm_up() -> None:
    """Import matplotlib and draw a tiny figure (which loads its fonts): about a second of work that a run does
    while its stack starts instead of after the incident, when the user waits for the report."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context({"svg.fonttype": "none", "font.size": 9, "font.family": "sans-serif"}):
        figure = Figure(figsize=(1, 1))
        figure.subplots().set_title("warm-up")
        figure.savefig(io.StringIO(), format="svg")


def _left_margin(lanes: list[str]) -> float:
    """The left margin as a fraction of the figure's width, room made for the longest lane name."""
    longest = max((len(lane) for lane in lanes), default=0)
    return (LEFT_MARGIN_IN + CHARACTER_IN * max(0, longest - LANE_NAME_FITS)) / WIDTH_IN


def _lane_label(replica: str) -> str:
    return replica if len(replica) <= LANE_NAME_MAX else replica[:LANE_NAME_MAX - 1] + "…"


def _error_colour(rate: float) -> tuple[float, float, float]:
    """Green for no errors through amber to red for all failed."""
    return (min(1.0, 0.18 + 1.6 * rate), max(0.1, 0.49 - 0.4 * rate), 0.2)


def _shade_fault(summary: dict[str, Any], axes: tuple[Any, ...]) -> None:
    """One shaded band per fault window (overlapping faults darken where they overlap)."""
    windows = summary.get("faults") or []
    for number, window in enumerate(windows):
        for axis in axes:
            axis.axvspan(window["start"], window["end"], color=FAULT_COLOUR, alpha=0.18, zorder=0,
                         hatch=HATCHES[number % len(HATCHES)],
                         label=f"fault {window['fault']}" if axis is axes[0] else None)


def _mark_deploys(spans: list[DeploySpan], axes: tuple[Any, ...]) -> None:
    """Each deploy a band labelled with its release, a dotted marker where it replaced a service and a solid one
    where its health gate halted it. Labels sit at the foot of the top chart: the milestones' are at its head."""
    top = axes[0]

    def label(t: float, text: str, colour: str) -> None:
        top.annotate(text, xy=(t, 0.0), xycoords=("data", "axes fraction"), rotation=90, va="bottom", ha="left",
                     fontsize=7, color=colour, xytext=(2, 2), textcoords="offset points",
                     bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1})

    for span in spans:
        # A deploy that takes no visible time (a recording cut short at its start) still gets a sliver.
        end = max(span.end, span.start + 0.2)
        name = f"deploy {span.release}" + ("" if span.done else " (unfinished)")
        for axis in axes:
            axis.axvspan(span.start, end, color=DEPLOY_COLOUR, alpha=0.12, zorder=0,
                         label=name if axis is top else None)
            for replacement in span.replaced:
                axis.axvline(replacement.t, color=DEPLOY_COLOUR, linewidth=0.8, linestyle=":", alpha=0.9)
            if span.halt is not None:
                axis.axvline(span.halt.t, color=HALT_COLOUR, linewidth=1.2, alpha=0.9)
        label(span.start, name, DEPLOY_COLOUR)
        for replacement in span.replaced:
            if span.halt is not None and replacement.service == span.halt.service and not replacement.rollback \
                    and not replacement.serving:
                continue  # the halt's own label names it, at the same moment
            label(replacement.t, replacement.label, DEPLOY_COLOUR if replacement.serving else HALT_COLOUR)
        if span.halt is not None:
            label(span.halt.t, span.halt.label, HALT_COLOUR)


def _mark_milestones(summary: dict[str, Any], axes: tuple[Any, ...]) -> None:
    top = axes[0]
    for milestone in summary.get("milestones", []):
        if milestone["name"] in UNMARKED:
            continue
        colour = ALERT_COLOUR if "alert" in milestone["name"] else MARKER_COLOUR
        for axis in axes:
            axis.axvline(milestone["t"], color=colour, linewidth=0.8, linestyle="--", alpha=0.8)
        label = milestone["name"] + (f" {milestone['clock']}" if milestone.get("clock") else "")
        top.annotate(label, xy=(milestone["t"], 1.0), xycoords=("data", "axes fraction"), rotation=90,
                     va="top", ha="right", fontsize=7, color=colour, xytext=(-2, -2), textcoords="offset points",
                     bbox={"facecolor": "white", "alpha": 0.85, "edgecolor": "none", "pad": 1})
