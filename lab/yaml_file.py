"""The one way the lab reads a YAML document a user wrote (a scenario, a runbook file, a game day's engines file): as a
linter would, a key given twice in one mapping is refused naming both lines ("traffic.rate: duplicate key (lines 12
and 14)") instead of the second silently winning; an alias inside its own anchor, or aliases that would expand the
document beyond any scenario's size, are refused before anything walks it; and whatever the YAML library or Python
cannot make of a value (a date that does not exist, a number of 5,000 digits, 1,000 levels of nesting) is a problem
in words, never an exception of theirs. Written over PyYAML's nodes because PyYAML lets a second key win and has no
bound on aliases; a second YAML library for duplicate keys alone would still need the rest."""

from __future__ import annotations

from collections import deque
from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MERGE_TAG = "tag:yaml.org,2002:merge"
LONGEST_INT_BITS = 10_000
"""Whole numbers longer than this (some 3,000 digits) are checked to be writable as text: YAML's hexadecimal `0xfff...`
can make one beyond Python's 4,300 digits, where a decimal one already fails to be read."""
MAX_EXPANDED_NODES = 200_000
"""The most values a document may hold once its aliases are expanded: the largest scenario holds a few thousand;
ten aliases of ten aliases of ... (a "billion laughs") would hold up validation for hours."""


class YamlProblem(ValueError):
    """A document that could not be read as YAML, each problem in one phrase (its line when known); the reader adds
    the file's name."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The safe loader (libyaml's when installed: ten times faster) whose values' own failures (a date that does not
    exist: ValueError; `!!bool maybe`: KeyError) say where they are, as the loader's own errors do."""

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            made = super().construct_object(node, deep)
            if isinstance(made, int) and made.bit_length() > LONGEST_INT_BITS:
                str(made)  # beyond the digits Python writes as text, every message showing it would fail
            return made
        except (ValueError, OverflowError, LookupError, TypeError) as exc:  # not YAMLErrors: said as one, at the node
            given = str(node.value) if isinstance(node, ScalarNode) else "this"
            given = repr(given if len(given) <= 40 else f"{given[:20]}...{given[-10:]}")
            why = "" if isinstance(exc, LookupError) else f": {str(exc).split(';')[0]}"
            raise ConstructorError(None, None, f"{given} is not a valid {node.tag.rsplit(':', 1)[-1]}{why}",
                                   node.start_mark) from exc


def load_yaml(text: str, what: str) -> Any:
    """The document `text` holds (None if empty); YamlProblem otherwise. `what` names the document in the problem
    of one too deep ("nested too deeply to be a scenario")."""
    try:
        loader = _Loader(text)
    except UnicodeEncodeError as exc:  # libyaml reads UTF-8: a lone surrogate cannot be one
        raise YamlProblem([f"not valid YAML: {exc.reason} at character {exc.start}"]) from exc
    except yaml.YAMLError as exc:  # the pure-Python loader checks the characters first
        raise YamlProblem([_problem(exc, what)]) from exc
    try:
        root = loader.get_single_node()
        if root is None:
            return None
        check_nodes(root)
        return loader.construct_document(root)
    except yaml.YAMLError as exc:
        raise YamlProblem([_problem(exc, what)]) from exc
    except RecursionError as exc:  # the pure-Python loader's limit, without libyaml
        raise YamlProblem([f"nested too deeply to be {what}"]) from exc
    finally:
        loader.dispose()


def check_nodes(root: Node) -> None:
    """Every mapping's keys once each; no alias inside its own anchor; a size that can be walked."""
    problems, aliased = duplicate_keys(root)
    if problems:
        raise YamlProblem(problems)
    if aliased and expanded_size(root) > MAX_EXPANDED_NODES:  # without an alias, no larger than its text
        raise YamlProblem([f"holds more than {MAX_EXPANDED_NODES} values once its aliases are expanded"])


def duplicate_keys(root: Node) -> tuple[list[str], bool]:
    """A problem per key given twice in a mapping, naming its path and both lines, in the order of the lines; and
    whether the document uses an alias (a node reached twice)."""
    found: list[tuple[int, str]] = []
    visited: set[int] = set()
    aliased = False
    queue: deque[tuple[Node, str]] = deque([(root, "")])
    while queue:
        node, path = queue.popleft()
        if id(node) in visited:  # an alias: its anchor's keys are checked once, where it is written
            aliased = True
            continue
        visited.add(id(node))
        if isinstance(node, SequenceNode):
            queue.extend((item, f"{path}[{index}]") for index, item in enumerate(node.value))
        elif isinstance(node, MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if key.tag == MERGE_TAG:  # `<<: *defaults`: the keys it merges may be given again, to override
                    queue.append((value, path))
                    continue
                name = str(key.value) if isinstance(key, ScalarNode) else "?"
                inner = f"{path}.{name}" if path else name
                if isinstance(key, ScalarNode):
                    line, identity = _line(key), (key.tag, key.value)
                    if identity in first:
                        earlier = first[identity]
                        lines = f"lines {earlier} and {line}" if earlier != line else f"twice on line {line}"
                        found.append((line, f"{inner}: duplicate key ({lines})"))
                    else:
                        first[identity] = line
                queue.append((value, inner))
    return [problem for _, problem in sorted(found)], aliased


def expanded_size(root: Node) -> int:
    """How many values the document holds with its aliases expanded (each anchor's as often as it is used);
    YamlProblem if an alias is inside its own anchor (a document without end)."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if children_done:
            open_nodes.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(child)] for child in children), MAX_EXPANDED_NODES + 1)
            continue
        if id(node) in open_nodes:
            raise YamlProblem([f"an alias inside its own anchor{_at(node)}: a document without end"])
        open_nodes.add(id(node))
        stack.append((node, True))
        for child in children:
            if id(child) in open_nodes:
                raise YamlProblem([f"an alias inside its own anchor{_at(node)}: a document without end"])
            if id(child) not in sizes:
                stack.append((child, False))
    return sizes[id(root)]


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _line(node: Node) -> int:
    return node.start_mark.line + 1 if node.start_mark is not None else 0


def _at(node: Node) -> str:
    return f" at line {_line(node)}" if node.start_mark is not None else ""


def _problem(exc: yaml.YAMLError, what: str) -> str:
    if "maximum nesting depth" in str(exc):  # libyaml's limit: 1000 levels
        return f"nested too deeply to be {what}"
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"not valid YAML{where}: {getattr(exc, 'problem', None) or str(exc).splitlines()[0]}"
