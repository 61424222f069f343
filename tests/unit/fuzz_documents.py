"""Documents of any shape for the fuzz tests (tests/unit/test_fuzz.py), written as text from a `random.Random`: what
no Python value dumps to (a key given twice, an alias, 3,000 levels of nesting, numbers of 400 or 5,000 digits,
`.inf`, dates that do not exist, tags, unicode of every plane, lone surrogates) beside the scenario format's own
field names and words (from its JSON Schema), so that most documents reach validation rather than stop at the YAML.

Hypothesis draws the Random's seed: it spends some microseconds on each choice it makes, and a document of its own
strategies takes a hundred choices (ten thousand examples would take minutes); a seeded Random makes one in tens of
microseconds, the same one for the same seed (the tests are derandomized, and note the text of a failing one)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

from lab.scenario.schema import json_schema


def schema_words() -> tuple[list[str], list[str]]:
    """The scenario format's field names, and the words its fields take (actions, fault kinds, milestones)."""
    names: set[str] = set()
    words: set[str] = set()
    pending: list[Any] = [json.loads(json_schema())]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            names.update(node.get("properties") or {})
            words.update([str(node["const"])] if "const" in node else [])
            words.update(str(value) for value in node.get("enum") or [] if isinstance(value, str))
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return sorted(names), sorted(words)


FIELD_NAMES, FIELD_WORDS = schema_words()
SERVICES = ["app-1", "app-2", "app-3", "db", "lb", "app2-db-packets-dropped", "nosuch"]
ODD_SCALARS = [
    "9" * 5000, f"0x{'f' * 5000}", "1e999", "-1e999", ".inf", "-.Inf", ".NaN", "-0.0", "0o17", "0b101", "1_000",
    "1:30:00", "+12", "1e-400", "5e-324", "1.7976931348623157e+308", "2021-01-01", "2001-12-14t21:59:43.10-05:00",
    "~", "null", "true", "no", "''", '""', "!!binary aGk=", "!!binary x", "!!float abc", "!!int 0x", "!!str 12",
    "!!set {a, b}", "!!omap [{a: 1}, {a: 2}]", "!!pairs [{a: 1}]", "!!python/name:os.system", "*undefined",
    "!!null x", "!!timestamp 2020-99-99", "!!bool maybe", "!!merge x", "<<", "? complex", "|", ">", "@", "`", "%TAG",
    "---", "...", "!local x", "&anchor", "!!map [1]", "!!seq {a: 1}", "!!str", "!<tag:yaml.org,2002:int> 12",
]
ODD_KEYS = ["", "?", "<<", "-", "a b", "ключ", "🔑", "1", "1.5", "true", "null", "[1]", "{a: 1}", "!!binary aGk="]
CODE_POINTS = [(0x20, 0x7E)] * 4 + [(0x0, 0x1F), (0x80, 0x2FF), (0x590, 0x6FF), (0x300, 0x36F), (0x4E00, 0x4E80),
                                    (0x1F300, 0x1F64F), (0x10FFF0, 0x10FFFF)] * 2 + [(0xD800, 0xDFFF), (0xFFF0, 0xFFFF)]
"""ASCII most, then control characters, Latin, right-to-left scripts, combining marks, CJK, emoji, the last plane;
now and then surrogates and specials (which YAML refuses)."""
YAML_PUNCTUATION = ":-[]{}#&*!|>'\"%@`,? \n\t"


class Writer:
    """YAML text of any shape, drawn from `rng`."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def chance(self, probability: float) -> bool:
        return self.rng.random() < probability

    def text(self, longest: int = 20) -> str:
        """Any characters, of any plane (a lone surrogate included)."""
        low, high = self.rng.choice(CODE_POINTS)
        return "".join(chr(self.rng.randint(low, high)) if self.chance(0.7) else self.rng.choice(YAML_PUNCTUATION)
                       for _ in range(self.rng.randrange(longest + 1)))

    def number(self) -> str:
        kind = self.rng.randrange(5)
        if kind == 0:
            return str(self.rng.randint(-10, 200))
        if kind == 1:  # around a double's range, and around Python's 4,300 digits made into text
            digits = self.rng.choice([19, 20, 308, 309, 400, 4300, 4301])
            return self.rng.choice(["", "-"]) + "".join(self.rng.choices("0123456789", k=digits)).lstrip("0") + "1"
        if kind == 2:
            return repr(self.rng.uniform(-1e6, 1e6))
        if kind == 3:
            return repr(self.rng.choice([1e308, 1e-308, 5e-324, -0.0, 0.1, 1e16, 2.0**53 + 1]))
        return str(self.rng.randint(-(2**70), 2**70))

    def scalar(self) -> str:
        """A scalar of any kind: mostly the format's words and numbers, so that most documents reach validation;
        now and then one YAML refuses (a tag, an undefined alias) or one deeper than any document should be."""
        roll = self.rng.random()
        if roll < 0.25:
            return self.rng.choice(FIELD_WORDS + SERVICES)
        if roll < 0.5:
            return self.number()
        if roll < 0.65:
            return json.dumps(self.text(), ensure_ascii=self.chance(0.2))  # JSON's escapes of an emoji: not YAML's
        if roll < 0.75:
            return "".join(self.rng.choices("abcz019-_. ", k=self.rng.randrange(1, 12))).strip() or "x"
        if roll < 0.83:
            return self.rng.choice(["true", "false", "null", "~", "yes", "off", "on", "y", "n"])
        if roll < 0.88:
            return f"{self.rng.randint(0, 3000)}-{self.rng.randint(0, 14):02d}-{self.rng.randint(0, 33):02d}"
        if roll < 0.98:
            return self.rng.choice(ODD_SCALARS)
        depth = self.rng.randrange(3000)
        return "[" * depth + "]" * depth if self.chance(0.6) else "{a: " * (depth // 3) + "1" + "}" * (depth // 3)

    def key(self) -> str:
        if self.chance(0.85):
            return self.rng.choice(FIELD_NAMES)
        odd = self.rng.choice(ODD_KEYS)
        return json.dumps(odd, ensure_ascii=False) if self.chance(0.5) else odd

    def value(self, depth: int = 0) -> str:
        """A scalar, or a flow list or mapping of values (four levels at most, beside the deep scalars)."""
        if depth >= 4 or self.chance(0.5):
            return self.scalar()
        if self.chance(0.4):
            return "[" + ", ".join(self.value(depth + 1) for _ in range(self.rng.randrange(5))) + "]"
        return self.mapping({}, depth + 1)

    def mapping(self, fields: dict[str, Callable[[], str]], depth: int = 0) -> str:
        """A flow mapping, mostly of `fields` (each value from its own maker) when given; a key may come twice, a
        value may be an anchor's and another its alias."""
        pairs = []
        for _ in range(self.rng.randrange(7)):
            if fields and self.chance(0.75):
                key = self.rng.choice(sorted(fields))
                pairs.append(f"{key}: {fields[key]()}")
            else:
                pairs.append(f"{self.key()}: {self.value(depth)}")
        if pairs and self.chance(0.1):
            at = self.rng.randrange(len(pairs))
            key, value = pairs[at].split(": ", 1)
            pairs[at] = f"{key}: &shared {value}"
            pairs.append(f"{self.key()}: *shared")
        return "{" + ", ".join(pairs) + "}"

    def raw(self, longest: int = 200) -> str:
        """Text that is mostly not YAML at all."""
        return "".join(self.rng.choice(YAML_PUNCTUATION) if self.chance(0.4) else self.rng.choice("abc019 ")
                       for _ in range(self.rng.randrange(longest)))

    def json_value(self, depth: int = 0) -> Any:
        """Any JSON value (NaN and the infinities included, as Python's json writes them)."""
        kind = self.rng.randrange(8 if depth < 4 else 6)
        if kind == 0:
            return None
        if kind == 1:
            return self.chance(0.5)
        if kind == 2:
            return self.rng.choice([self.rng.randint(-(10**400), 10**400), self.rng.randint(-5, 5), 2**63])
        if kind == 3:
            return self.rng.choice([float("nan"), float("inf"), -1e308, 0.5, -1.0, 2.0])
        if kind in (4, 5):
            return self.text(12)
        if kind == 6:
            return [self.json_value(depth + 1) for _ in range(self.rng.randrange(4))]
        return {self.text(8): self.json_value(depth + 1) for _ in range(self.rng.randrange(4))}
