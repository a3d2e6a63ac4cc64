"""The one condition language of the tenant file: customer tiers and tags now, decision nodes,
``priority_rules`` and opportunity rules later. Pure Python (no AWS), so the same model is evaluated
in a Lambda (``evaluate``), checked by ``scrm validate`` (``check``) and compiled to Step Functions
Choice rules by the workflow compiler. ``docs/rules.md`` is the tenant-facing reference.

A condition is a mapping with exactly one of:

- ``all: [cond, ...]`` (every one holds; an empty list holds), ``any: [cond, ...]`` (at least one;
  an empty list does not), ``not: cond``;
- a comparison ``{path: <dotted path>, <op>: <value>}`` with exactly one operator:
  ``equals``, ``not_equals`` (a text, number or boolean), ``in``, ``not_in`` (a non-empty list of
  those), ``contains`` (the path is a list, e.g. ``customer.tags``), ``gt``, ``gte``, ``lt``,
  ``lte`` (numbers; a decimal string such as ``"5000.00"`` is read as a number), ``exists``
  (true/false), ``matches`` (a pattern where ``*`` stands for any characters, the whole value must
  match; ``\\*`` is a literal star).

A list where a condition is expected means ``all`` of it.

Why these choices:

- **Choice-compatible.** Every construct maps onto an Amazon States Language Choice rule: ``all`` /
  ``any`` / ``not`` → ``And`` / ``Or`` / ``Not``; ``equals`` → ``StringEquals`` / ``NumericEquals``
  / ``BooleanEquals`` (by the value's type); ``in`` → ``Or`` of those; ``gt``... → ``Numeric*``;
  ``exists`` → ``IsPresent``; ``matches`` → ``StringMatches``, which is why ``matches`` is a glob
  with ``*`` and not a regular expression (a Choice cannot run a regex). A Choice fails on a path
  that is absent, so a compiled comparison is guarded by ``IsPresent`` - the same rule as here: **a
  comparison on a missing (or null) path is false**, whatever the operator (``not_equals`` and
  ``not_in`` included); only ``exists: false`` holds for it. ``contains`` on a list has no JSONPath
  Choice operator: compiled rules read lists as their ``<path>_set`` object form (``choice_input``).
  ``choice_rule`` is the compilation; a property test checks it holds exactly when ``evaluate`` does.
- **Typed.** Paths name documented subjects (``SUBJECT_PATHS``, plus ``ticket.fields.<field>``
  typed by the ticket type's field); ``check`` refuses a misspelt path or operator (with a
  did-you-mean) and an operator that does not fit the path's type (``gte`` on a text), so a rule
  that could never hold is an error of the file, not a silent ``false`` at run time.
- **Numbers are decimals.** Money arrives as decimal strings; comparisons are exact ``Decimal``
  arithmetic, never floats.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictStr,
    model_serializer,
    model_validator,
)

__all__ = [
    "COMBINATORS",
    "OPERATORS",
    "SUBJECT_PATHS",
    "Condition",
    "ConditionProblem",
    "Kind",
    "check",
    "choice_input",
    "choice_rule",
    "evaluate",
    "field_kind",
    "lookup",
    "subject_paths",
]

Kind = Literal["text", "number", "bool", "list", "object"]
"""What a path holds: the operators it takes follow from it (``OPERATOR_KINDS``)."""

SUBJECT_PATHS: dict[str, Kind] = {
    "ticket.type": "text",
    "ticket.priority": "text",
    "ticket.channel": "text",
    "ticket.status": "text",
    "ticket.node": "text",
    "customer.tier": "text",
    "customer.tags": "list",
    "customer.lifetime_value": "number",
    "customer.orders": "number",
    "customer.tickets": "number",
    "customer.platforms": "list",
}
"""Every path a condition may name, with its type; plus ``ticket.fields.<field>`` (see
``field_kind``). ``customer.platforms`` lists the platforms the customer is known on
(``shopify``, ``youzan``, ``wecom``, ...)."""
TICKET_FIELDS = "ticket.fields."

COMBINATORS = ("all", "any", "not")
OPERATORS = (
    "equals",
    "not_equals",
    "in",
    "not_in",
    "contains",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "matches",
)
OPERATOR_KINDS: dict[str, tuple[Kind, ...]] = {
    "equals": ("text", "number", "bool"),
    "not_equals": ("text", "number", "bool"),
    "in": ("text", "number"),
    "not_in": ("text", "number"),
    "contains": ("list",),
    "gt": ("number",),
    "gte": ("number",),
    "lt": ("number",),
    "lte": ("number",),
    "exists": ("text", "number", "bool", "list", "object"),
    "matches": ("text",),
}
"""The path types each operator applies to."""

_FIELD_KINDS: dict[str, Kind] = {
    "number": "number",
    "money": "number",
    "multiselect": "list",
    "photos": "list",
    "service_items": "list",
    "parts": "list",
    "geo": "object",
}


def field_kind(field_type: str) -> Kind:
    """The condition type of a ticket field of the tenant file's ``type`` (``money`` → number)."""
    return _FIELD_KINDS.get(field_type, "text")


def subject_paths(
    scopes: Iterable[str] = ("ticket", "customer"), ticket_fields: Mapping[str, str] | None = None
) -> dict[str, Kind]:
    """The paths a condition of one place may name: the subjects in ``scopes`` and, with
    ``ticket_fields`` (field name → field type), ``ticket.fields.<name>`` for each."""
    wanted = tuple(f"{scope}." for scope in scopes)
    paths = {path: kind for path, kind in SUBJECT_PATHS.items() if path.startswith(wanted)}
    if ticket_fields is not None and "ticket" in scopes:
        for name, field_type in ticket_fields.items():
            paths[f"{TICKET_FIELDS}{name}"] = field_kind(field_type)
    return paths


# --------------------------------------------------------------------------- the model


def _number(value: Any) -> Any:
    """Numbers as ``Decimal``: YAML ints and floats, and decimal strings; never booleans."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got the boolean {value}")
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError(f"expected a number, got the text {value!r}") from None
        if not parsed.is_finite():
            raise ValueError(f"expected a finite number, got {value!r}")
        return parsed
    return value


def _json_number(value: Decimal) -> int | float:
    """A compared number stays a number in JSON (a string would read back as a text); the float of
    a decimal of up to 15 digits reads back (``str``) to the same decimal."""
    return int(value) if value == value.to_integral_value() else float(value)


Num = Annotated[
    Decimal,
    BeforeValidator(_number),
    PlainSerializer(_json_number, return_type=int | float, when_used="json"),
]
Scalar = StrictStr | StrictBool | Num
"""A compared value: a text, a boolean or a number (strings stay text here; ``check`` reads a
numeric string as a number when the path is a number)."""


class Condition(BaseModel):
    """One condition (see the module docstring). Exactly one of ``all``/``any``/``not``/``path`` is
    set; a comparison has exactly one operator. ``kind`` says which; ``op``/``value`` read a
    comparison. Dumped (``model_dump``) without the unset keys, so the dump reads back equal."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    all_: tuple[Condition, ...] | None = Field(default=None, alias="all")
    any_: tuple[Condition, ...] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")
    path: StrictStr | None = None
    equals: Scalar | None = None
    not_equals: Scalar | None = None
    in_: tuple[Scalar, ...] | None = Field(default=None, alias="in", min_length=1)
    not_in: tuple[Scalar, ...] | None = Field(default=None, min_length=1)
    contains: Scalar | None = None
    gt: Num | None = None
    gte: Num | None = None
    lt: Num | None = None
    lte: Num | None = None
    exists: StrictBool | None = None
    matches: StrictStr | None = None

    @model_validator(mode="before")
    @classmethod
    def _list_means_all(cls, data: Any) -> Any:
        return {"all": data} if isinstance(data, list | tuple) else data

    @model_validator(mode="after")
    def _one_shape(self) -> Condition:
        shapes = [name for name in COMBINATORS if self._get(name) is not None]
        ops = [op for op in OPERATORS if self._get(op) is not None]
        if self.path is not None:
            shapes.append("path")
        if len(shapes) > 1:
            raise ValueError(
                f"a condition is one of all, any, not or a comparison (path + operator); this one has "
                f"{' and '.join(shapes)}: put them under all: [...] or any: [...]"
            )
        if not shapes and not ops:
            raise ValueError(
                "an empty condition; write all: [...], any: [...], not: {...} or "
                f"{{path: <path>, <operator>: <value>}} with one operator of {', '.join(OPERATORS)}"
            )
        if self.path is None and ops:
            raise ValueError(f"operator {ops[0]!r} needs a 'path' (e.g. path: customer.lifetime_value)")
        if self.path is not None and not ops:
            raise ValueError(f"path {self.path!r} has no operator; add one of: {', '.join(OPERATORS)}")
        if len(ops) > 1:
            raise ValueError(
                f"one operator per comparison, this one has {' and '.join(ops)}; "
                "write all: [{path, <op>}, {path, <op>}] to combine them"
            )
        if shapes and shapes[0] != "path" and ops:
            raise ValueError(f"{shapes[0]!r} cannot have the operator {ops[0]!r}; move it into a comparison")
        return self

    def _get(self, key: str) -> Any:
        return getattr(self, _ATTRIBUTE.get(key, key))

    @property
    def kind(self) -> Literal["all", "any", "not", "compare"]:
        if self.all_ is not None:
            return "all"
        if self.any_ is not None:
            return "any"
        if self.not_ is not None:
            return "not"
        return "compare"

    @property
    def op(self) -> str:
        """The operator of a comparison (``""`` for all/any/not)."""
        return next((op for op in OPERATORS if self._get(op) is not None), "")

    @property
    def value(self) -> Any:
        """The operand of a comparison."""
        return self._get(self.op) if self.op else None

    @property
    def children(self) -> tuple[Condition, ...]:
        if self.kind == "not":
            assert self.not_ is not None
            return (self.not_,)
        return self.all_ or self.any_ or ()

    @model_serializer(mode="wrap")
    def _dump(self, handler: Any, info: Any) -> dict[str, Any]:
        dumped = handler(self)
        return {key: value for key, value in dumped.items() if value is not None}


_ATTRIBUTE = {"all": "all_", "any": "any_", "not": "not_", "in": "in_"}


# --------------------------------------------------------------------------- evaluation


class _Missing:
    __slots__ = ()


MISSING: Any = _Missing()


def lookup(subject: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path of ``subject`` (``MISSING`` when absent or null)."""
    node: Any = subject
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return MISSING
        node = node[part]
    return MISSING if node is None else node


def _as_number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value if value.is_finite() else None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            parsed = Decimal(value.strip())
        except InvalidOperation:
            return None
        return parsed if parsed.is_finite() else None
    return None


def _same(actual: Any, expected: Any) -> bool:
    """``actual == expected`` by the expected value's type: numbers by value (a decimal string
    counts as its number), texts and booleans exactly."""
    if isinstance(expected, bool):
        return isinstance(actual, bool) and actual == expected
    if isinstance(expected, Decimal):
        number = _as_number(actual)
        return number is not None and number == expected
    return isinstance(actual, str) and actual == expected


@lru_cache(maxsize=512)
def glob_pattern(pattern: str) -> re.Pattern[str]:
    """The regular expression of a ``matches`` pattern (Step Functions ``StringMatches``: ``*`` is any
    characters, ``\\*`` a star, ``\\\\`` a backslash; the whole value must match)."""
    parts: list[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern) and pattern[index + 1] in "*\\":
            parts.append(re.escape(pattern[index + 1]))
            index += 2
            continue
        parts.append(".*" if char == "*" else re.escape(char))
        index += 1
    return re.compile("".join(parts), re.DOTALL)


def _compare(cond: Condition, actual: Any) -> bool:
    op, expected = cond.op, cond.value
    if op == "exists":
        return (actual is not MISSING) == expected
    if actual is MISSING:
        return False
    if op == "equals":
        return _same(actual, expected)
    if op == "not_equals":
        return not _same(actual, expected)
    if op == "in":
        return any(_same(actual, item) for item in expected)
    if op == "not_in":
        return not any(_same(actual, item) for item in expected)
    if op == "contains":
        return isinstance(actual, list | tuple) and any(_same(item, expected) for item in actual)
    if op == "matches":
        return isinstance(actual, str) and glob_pattern(expected).fullmatch(actual) is not None
    number = _as_number(actual)
    if number is None:
        return False
    if op == "gt":
        return number > expected
    if op == "gte":
        return number >= expected
    if op == "lt":
        return number < expected
    return number <= expected  # lte


def evaluate(cond: Condition, subject: Mapping[str, Any]) -> bool:
    """Whether ``cond`` holds for ``subject`` (``{"ticket": {...}, "customer": {...}}``)."""
    if cond.kind == "all":
        return all(evaluate(child, subject) for child in cond.children)
    if cond.kind == "any":
        return any(evaluate(child, subject) for child in cond.children)
    if cond.kind == "not":
        return not evaluate(cond.children[0], subject)
    assert cond.path is not None
    return _compare(cond, lookup(subject, cond.path))


def _json_value(value: Any) -> Any:
    """A subject's value as JSON: decimals as numbers, tuples as lists, mappings copied."""
    if isinstance(value, Decimal):
        return _json_number(value) if value.is_finite() else str(value)
    if isinstance(value, list | tuple):
        return [_json_value(item) for item in value]
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    return value


def choice_input(subject: Mapping[str, Any], paths: Mapping[str, Kind]) -> dict[str, Any]:
    """What a compiled Choice reads (``choice_rule``): the ``paths`` of ``subject`` and nothing else
    (null is left out, as missing), number paths as JSON numbers (money strings converted), and for
    each list path also ``<path>_set``, an object with each text item as a key."""
    result: dict[str, Any] = {}
    for path, kind in paths.items():
        value = lookup(subject, path)
        if value is MISSING:
            continue
        *parents, leaf = path.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
        number = _as_number(value) if kind == "number" else None
        node[leaf] = _json_number(number) if number is not None else _json_value(value)
        if kind == "list" and isinstance(value, list | tuple):
            node[f"{leaf}_set"] = {item: True for item in value if isinstance(item, str)}
    return result


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TYPE_TEST = {str: "IsString", bool: "IsBoolean", Decimal: "IsNumeric"}
_EQUALS = {str: "StringEquals", bool: "BooleanEquals", Decimal: "NumericEquals"}
_NUMERIC = {
    "gt": "NumericGreaterThan",
    "gte": "NumericGreaterThanEquals",
    "lt": "NumericLessThan",
    "lte": "NumericLessThanEquals",
}


def _variable(prefix: str, path: str, item: str | None = None) -> str:
    variable = prefix + "".join(f".{part}" for part in path.split("."))
    if item is None:
        return variable
    variable += "_set"
    return f"{variable}.{item}" if _IDENTIFIER.fullmatch(item) else f"{variable}['{item}']"


def _asl_value(value: Any) -> Any:
    return _json_number(value) if isinstance(value, Decimal) else value


def _equals(variable: str, value: Any) -> dict[str, Any]:
    """Holds when the variable has ``value``'s type and equals it (a Choice refuses a comparison of
    another type, so the type is tested first)."""
    kind = type(value)
    return {
        "And": [
            {"Variable": variable, _TYPE_TEST[kind]: True},
            {"Variable": variable, _EQUALS[kind]: _asl_value(value)},
        ]
    }


def choice_rule(cond: Condition, prefix: str = "$") -> dict[str, Any]:
    """``cond`` as an Amazon States Language Choice rule (JSONPath) over ``choice_input`` placed at
    ``prefix``: it holds exactly when ``evaluate`` does. Every comparison is guarded by
    ``IsPresent`` (a Choice fails on a missing path; here a missing path is false)."""
    present: dict[str, Any] = {"Variable": prefix, "IsPresent": True}
    if cond.kind == "all":
        rules = [choice_rule(child, prefix) for child in cond.children]
        return {"And": rules} if len(rules) > 1 else rules[0] if rules else present
    if cond.kind == "any":
        rules = [choice_rule(child, prefix) for child in cond.children]
        return {"Or": rules} if len(rules) > 1 else rules[0] if rules else {"Not": present}
    if cond.kind == "not":
        return {"Not": choice_rule(cond.children[0], prefix)}
    assert cond.path is not None
    variable = _variable(prefix, cond.path)
    op, value = cond.op, cond.value
    if op == "exists":
        return {"Variable": variable, "IsPresent": bool(value)}
    if op == "contains":
        if not isinstance(value, str):
            return {"Not": present}  # the set holds text items only; evaluate finds no other either
        return {"Variable": _variable(prefix, cond.path, value), "IsPresent": True}
    guard = {"Variable": variable, "IsPresent": True}
    if op in ("equals", "not_equals"):
        test = _equals(variable, value)
    elif op in ("in", "not_in"):
        tests = [_equals(variable, item) for item in value]
        test = {"Or": tests} if len(tests) > 1 else tests[0]
    elif op == "matches":
        test = {
            "And": [{"Variable": variable, "IsString": True}, {"Variable": variable, "StringMatches": value}]
        }
    else:
        test = {
            "And": [
                {"Variable": variable, "IsNumeric": True},
                {"Variable": variable, _NUMERIC[op]: _asl_value(value)},
            ]
        }
    if op in ("not_equals", "not_in"):
        test = {"Not": test}
    return {"And": [guard, test]}


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class ConditionProblem:
    """One mistake in a condition: ``path`` is its dotted location (under the ``at`` given to
    ``check``), ``message`` says what to write instead."""

    path: str
    message: str


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _join(*parts: object) -> str:
    return ".".join(str(part) for part in parts if part != "")


def _describe_kind(kind: Kind) -> str:
    return {
        "text": "a text",
        "number": "a number",
        "bool": "true/false",
        "list": "a list",
        "object": "an object",
    }[kind]


def _value_fits(value: Any, kind: Kind) -> bool:
    if kind == "number":
        return isinstance(value, Decimal)  # a quoted "5000" is a text: it would never equal a number
    if kind == "bool":
        return isinstance(value, bool)
    return isinstance(value, str)


def check(
    cond: Condition, paths: Mapping[str, Kind], *, at: str = "", raw: Any = None
) -> list[ConditionProblem]:
    """Every path of ``cond`` that ``paths`` does not know (with a did-you-mean), and every operator
    or value that does not fit its path's type. ``at`` prefixes the locations; ``raw`` (the condition
    as written) lets a top-level list be located as written (``when.0.path``, not ``when.all.0``)."""
    problems: list[ConditionProblem] = []
    _check(cond, paths, at, raw, problems)
    return problems


def _check(
    cond: Condition, paths: Mapping[str, Kind], at: str, raw: Any, out: list[ConditionProblem]
) -> None:
    if cond.kind in ("all", "any"):
        written_as_list = isinstance(raw, list | tuple)
        items = raw if written_as_list else (raw.get(cond.kind) if isinstance(raw, Mapping) else None)
        base = at if written_as_list else _join(at, cond.kind)
        for index, child in enumerate(cond.children):
            child_raw = items[index] if isinstance(items, list | tuple) and index < len(items) else None
            _check(child, paths, _join(base, index), child_raw, out)
        return
    if cond.kind == "not":
        _check(
            cond.children[0],
            paths,
            _join(at, "not"),
            raw.get("not") if isinstance(raw, Mapping) else None,
            out,
        )
        return
    assert cond.path is not None
    kind = paths.get(cond.path)
    if kind is None:
        scopes = sorted({path.split(".")[0] for path in paths})
        hint = _did_you_mean(cond.path, paths)
        if not hint and cond.path.split(".")[0] not in scopes:
            hint = f" (only {', '.join(s + '.*' for s in scopes)} paths can be used here)"
        out.append(
            ConditionProblem(
                _join(at, "path"),
                f"unknown path {cond.path!r}{hint}; known paths here: {', '.join(paths) or '(none)'}",
            )
        )
        return
    op = cond.op
    if kind not in OPERATOR_KINDS[op]:
        fitting = [o for o, kinds in OPERATOR_KINDS.items() if kind in kinds]
        out.append(
            ConditionProblem(
                _join(at, op),
                f"{op!r} does not apply to {cond.path!r}, which is {_describe_kind(kind)}; "
                f"use one of: {', '.join(fitting)}",
            )
        )
        return
    values = cond.value if op in ("in", "not_in") else (cond.value,)
    expected = "text" if kind == "list" else kind
    if op in ("exists", "matches") or op in ("gt", "gte", "lt", "lte"):
        return  # their values are typed by the model already
    for value in values:
        if not _value_fits(value, expected):
            out.append(
                ConditionProblem(
                    _join(at, op),
                    f"{cond.path!r} is {_describe_kind(kind)}, so {op!r} compares with "
                    f"{_describe_kind(expected) if kind != 'list' else 'a text (one item of the list)'}, "
                    f"not {value!r}",
                )
            )
            return
