"""A postmortem becomes a scenario skeleton (`lab new NAME --from-postmortem FILE`): its timestamped lines become
notes at their offsets from the first one, its title and summary are taken from the document, and the fault is
left for the author (validation says so).

Timestamped lines are found in the shapes postmortems use: `14:20 - text`, `- 14:20: text`, `**14:20** text`,
`2:20 PM: text`, `[22:54 UTC] text`, a heading line with a date and time followed by its paragraph, and a row of a
Markdown table whose first cells hold the time. A time counts only near the start of its line (prose that mentions
"from 2:00 PM to 4:30 PM" is not a timeline entry); a time earlier than the one before it is the next day. Times
that mostly run backwards (a status page lists its newest update first; three lines at least) are read from the
last line up when that reading spans less time (nine updates newest first, read top down, spanned eight days).

The skeleton is validated before it is written: a file that `lab validate` refuses would be left behind, and a
rerun would find it in the way.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from lab import user_paths
from lab.errors import InvalidInput, ScenarioError
from lab.scenario.reader import parse

TIME = re.compile(r"(?<![\d:])(\d{1,2}):(\d{2})(?::\d{2})?(?!\d)(?:\s*([AaPp])\.?\s?[Mm]\b\.?)?")
TIME_WITHIN = 40
"""A line's time must start within its first characters to make it a timeline entry."""
TRAILING_SEPARATORS = re.compile(r"^[\s*:\-–—|\])]*(?:(?:UTC|GMT|[A-Z]{2,4}T)\b)?[\s*:\-–—|\])]*")  # noqa: RUF001 - en dashes separate times in postmortems
SUMMARY_LABEL = re.compile(r"^[#*\s]*(summary|overview|what happened|incident summary)\b[\s:#*]*", re.IGNORECASE)


@dataclass(frozen=True)
class Entry:
    clock: str
    """24-hour clock, HH:MM."""
    minutes: int
    """Minutes since the first entry."""
    text: str


def entries(text: str) -> list[Entry]:
    lines = text.splitlines()
    found: list[tuple[int, str]] = []
    for number, line in enumerate(lines):
        match = TIME.search(line)
        if match is None or match.start() > TIME_WITHIN:
            continue
        hours, minutes, half = int(match.group(1)), int(match.group(2)), (match.group(3) or "").lower()
        if hours > 23 or minutes > 59 or (half and not 1 <= hours <= 12):
            continue
        if half:
            hours = hours % 12 + (12 if half == "p" else 0)
        said = _clean(TRAILING_SEPARATORS.sub("", line[match.end():], count=1).strip().strip("*").strip())
        if not said:  # a heading with the time alone: its text is the next non-empty line (none if only separators)
            said = next((_clean(following) for following in lines[number + 1:] if following.strip()), "")
        if said:
            found.append((hours * 60 + minutes, said))
    clocks = [clock for clock, _ in found]
    descending = sum(later < earlier for earlier, later in itertools.pairwise(clocks))
    # Newest first (a status page): most times fall from one line to the next, and read from the last line up they
    # span less time. Two lines say too little: 08:00 then 21:30 is a long day, not a night read backwards.
    if len(found) >= 3 and descending * 2 > len(clocks) - 1 and _elapsed(clocks[::-1])[-1] < _elapsed(clocks)[-1]:
        found.reverse()
    elapsed = _elapsed([clock for clock, _ in found])
    return [Entry(f"{clock // 60:02d}:{clock % 60:02d}", minutes, said)
            for (clock, said), minutes in zip(found, elapsed, strict=True)]


def _elapsed(clocks: list[int]) -> list[int]:
    """Minutes since the first of `clocks` (minutes of the day, in reading order): a time earlier than the one
    before it is the next day."""
    result: list[int] = []
    day = 0
    for clock in clocks:
        if result and clock + day - clocks[0] < result[-1]:
            day += 24 * 60
        result.append(clock + day - clocks[0])
    return result


def title_of(text: str) -> str:
    """The document's top heading (`# Title`), else its first line that is not a section heading."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    top = next((line[2:] for line in lines if line.startswith("# ")), None)
    first = top or next((line for line in lines if not line.startswith("#")), lines[0] if lines else "")
    return _clean(first)[:120] or "Untitled incident"


def summary_of(text: str) -> str:
    """The paragraph under a "Summary" label or heading, else the first paragraph that is not the title."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    for paragraph in paragraphs:
        if SUMMARY_LABEL.match(paragraph):
            return _clean(SUMMARY_LABEL.sub("", paragraph, count=1))[:1200]
    return _clean(paragraphs[1] if len(paragraphs) > 1 else (paragraphs[0] if paragraphs else ""))[:1200]


def skeleton(name: str, text: str, source: str) -> dict[str, object]:
    found = entries(text)
    if not found:
        raise InvalidInput(f"{source}: no timestamped line found (shapes: '14:20 - ...', '- 14:20: ...', "
                           "'**14:20** ...', '2:20 PM: ...')")
    return {
        "name": name,
        "title": title_of(text),
        "source": source,
        "summary": summary_of(text),
        "difficulty": "medium",
        "time": {"incident_start": found[0].clock, "seconds_per_incident_minute": 1.0, "steady_state_s": 15,
                 "tail_s": 15},
        "faults": [],
        "timeline": [{"at": entry.minutes, "clock": _clock_after(found[0].clock, entry.minutes), "action": "note",
                      "text": entry.text} for entry in found],
        "alerts": [{"name": "error-rate-high", "error_rate_above": 0.05, "window_s": 5, "min_requests": 10}],
        "checks": {"steady_state": {"max_error_rate": 0.01}},
    }


def write_skeleton(name: str, postmortem: Path, out: Path) -> Path:
    try:
        text = postmortem.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read postmortem {postmortem}: {getattr(exc, 'strerror', None) or exc}") from exc
    if user_paths.exists(out):
        raise InvalidInput(f"{out} exists already: name another file with --out")
    document = skeleton(name, text, str(postmortem))
    header = ("# yaml-language-server: $schema=scenario.schema.json\n"
              f"# Made by `lab new {name} --from-postmortem {postmortem.name}`. To do: the fault (`lab faults` lists\n"
              "# the families) with its apply step, the runbook steps that fixed it, and the checks that prove what\n"
              "# the postmortem says users saw.\n")
    content = header + yaml.safe_dump(document, sort_keys=False, width=120, allow_unicode=True)
    try:
        parse(content, source=str(out), default_name=name, base_dir=out.resolve().parent)
    except ScenarioError as exc:
        raise InvalidInput(f"{postmortem}: the scenario made from it would not be valid, so {out} was not written: "
                           + "; ".join(exc.problems)) from exc
    try:
        out.write_text(content)
    except OSError as exc:
        raise InvalidInput(f"cannot write {out}: {exc.strerror or exc}") from exc
    return out


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", "").replace("|", " ")).strip(" -:")


def _clock_after(start: str, minutes: int) -> str:
    hours, mins = (int(part) for part in start.split(":"))
    total = (hours * 60 + mins + minutes) % (24 * 60)
    return f"{total // 60:02d}:{total % 60:02d}"
