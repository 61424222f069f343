"""The cause classes an incident is filed under: what kind of failure it was, so that the library can be listed by
it (`lab scenarios --cause`) and a drill drawn from one class (`lab drill --random --cause`). The names and their
meanings are defined here once: the scenario's field, the commands' choices, their help and the README's table
say the same."""

from __future__ import annotations

import textwrap
from typing import Literal

Cause = Literal["network", "dns", "database", "slowness", "exhaustion", "change", "load"]

CAUSES: dict[str, str] = {
    "network": "the network path breaks or degrades (loss, routes, partitions, resets, bandwidth)",
    "dns": "names resolve wrongly or not at all",
    "database": "the database's limits and access (connection limits, access rules)",
    "slowness": "a slow dependency (latency, a held lock, a stalled database)",
    "exhaustion": "a resource runs out (CPU, memory, disk)",
    "change": "a bad change (deploy, config push, migration) and its rollback",
    "load": "a surge of load or a retry storm",
}
"""Each class and its meaning, in the order the README's table and the help list them."""

CAUSES_DESCRIPTION = ("The incident's cause class, to list the library and draw drills by: "
                      + "; ".join(f"{name}: {meaning}" for name, meaning in CAUSES.items()) + ".")
"""The scenario field's description (what an editor shows from the JSON Schema)."""

NOT_SET = "-"
"""How a scenario without a cause (a team's own may leave it out) is shown."""

CAUSES_HELP = "\b\nCause classes:\n" + "".join(
    textwrap.fill(meaning, 78, initial_indent=f"  {name:<12}", subsequent_indent=" " * 14) + "\n"
    for name, meaning in CAUSES.items())
"""The classes and their meanings as a command's epilog, within 80 columns (`\\b`: click keeps the lines as
written)."""


def shown(cause: str | None) -> str:
    return cause or NOT_SET
