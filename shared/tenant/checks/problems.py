"""The problem-reporting primitives every checker shares.

`Problem` (file, dotted path, message, severity), `TenantConfigError`, and the helpers
that build a problem's path and message: `data_path` and `item_label` name list items
by their id, `join` builds dotted paths, `listing` shows known names, `describe` says
what a value is; `as_list` / `as_dict` read the raw document without trusting its shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "Loc",
    "Problem",
    "Severity",
    "TenantConfigError",
    "as_dict",
    "as_list",
    "data_path",
    "describe",
    "item_label",
    "join",
    "listing",
]

Severity = Literal["error", "warning"]
Loc = Sequence[str | int]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file: where (`file`, dotted `path`) and what to do (`message`)."""

    file: str
    path: str
    message: str
    severity: Severity = "error"

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{where}: {'warning: ' if self.severity == 'warning' else ''}{self.message}"


class TenantConfigError(ValueError):
    """A tenant file (or several) cannot be used; `problems` lists every reason."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        errors = [p for p in self.problems if p.is_error] or self.problems
        lines = "\n".join(f"  {p}" for p in errors)
        super().__init__(f"{len(errors)} problem(s) in tenant configuration:\n{lines}")


# --------------------------------------------------------------------------- paths

_ITEM_KEYS = ("id", "code", "sku", "name")


def item_label(item: object, index: int) -> str:
    """How a path names a list item: its `id`, `code`, `sku` or `name`, else its 0-based index."""
    if isinstance(item, Mapping):
        for key in _ITEM_KEYS:
            value = item.get(key)
            if isinstance(value, str) and value:
                return value
    return str(index)


def data_path(data: object, loc: Loc) -> str:
    """The dotted path of a pydantic `loc` inside `data`, naming list items by their id.

    `("technicians", 1, "regions")` → `"technicians.t-li.regions"`. The tags pydantic
    adds for discriminated unions (`channels.0.shopify...`) and dict keys (`[key]`)
    are left out.
    """
    parts: list[str] = []
    node: object = data
    for element in loc:
        if element == "[key]":
            continue
        if isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node):
            parts.append(item_label(node[element], element))
            node = node[element]
        elif isinstance(node, Mapping) and element in node:
            parts.append(str(element))
            node = node[element]
        elif isinstance(node, Mapping) and node.get("platform") == element:
            continue  # the union tag pydantic puts in the location
        elif isinstance(node, list) and element == "all":
            continue  # a condition written as a list means `all` of it (shared/rules/conditions.py)
        else:
            parts.append(str(element))
            node = None
    return ".".join(parts)


def join(*parts: object) -> str:
    return ".".join(str(part) for part in parts)


# --------------------------------------------------------------------------- messages


def listing(names: Iterable[object], limit: int = 12) -> str:
    ordered = sorted({str(name) for name in names})
    if not ordered:
        return "(none)"
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown}, ... ({len(ordered) - limit} more)"


def describe(value: object) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {value} (YAML reads yes, no, on, off, true, false as booleans)"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}" if len(value) < 60 else f"the text {value[:57]!r}..."
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"


# --------------------------------------------------------------------------- the raw document


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
