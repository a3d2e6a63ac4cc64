"""Form validation: ticket fields at creation, node forms when an action leaves a node.

Every problem is reported at once, one ``{"field", "message"}`` entry per field.
Values follow the contract's wire format (CONTRACT.md, "Field values on the wire").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.tenant.models import FieldDef

_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MONEY = re.compile(r"^-?\d+(\.\d{1,2})?$")

Problem = dict[str, str]


class FormContext:
    """What a form needs to know about the tenant: known regions and technicians, catalog codes."""

    def __init__(
        self,
        regions: Iterable[str] = (),
        technicians: Iterable[str] = (),
        service_items: Iterable[str] = (),
        parts: Iterable[str] = (),
    ) -> None:
        self.regions = frozenset(regions)
        self.technicians = frozenset(technicians)
        self.service_items = frozenset(service_items)
        self.parts = frozenset(parts)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def _quantity(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    try:
        q = Decimal(str(value)) if isinstance(value, int | str | Decimal) else None
    except InvalidOperation:
        return None
    return q if q is not None and q.is_finite() and q > 0 else None


def _lines(value: Any, key: str, known: frozenset[str], what: str) -> str | None:
    if not isinstance(value, list):
        return f"must be a list of {{'{key}': ..., 'quantity': ...}}"
    for n, line in enumerate(value):
        if not isinstance(line, dict) or not isinstance(line.get(key), str):
            return f"line {n + 1} must be an object with a string '{key}'"
        if known and line[key] not in known:
            return f"line {n + 1}: unknown {what} '{line[key]}'"
        if _quantity(line.get("quantity", 1)) is None:
            return f"line {n + 1}: quantity must be a positive number or decimal string"
    return None


def _check_type(spec: FieldDef, value: Any, ctx: FormContext) -> str | None:
    t = spec.type
    if t in ("text", "select", "region", "technician", "phone", "email"):
        if not isinstance(value, str):
            return "must be a string"
        if t == "phone" and not _PHONE.match(value):
            return "must be a phone number such as +8613800000001"
        if t == "email" and not _EMAIL.match(value):
            return "must be an email address"
        if t == "region" and ctx.regions and value not in ctx.regions:
            return f"unknown region '{value}'; known: {', '.join(sorted(ctx.regions))}"
        if t == "technician" and ctx.technicians and value not in ctx.technicians:
            return f"unknown technician '{value}'"
        if t == "select" and spec.options and value not in spec.options:
            return f"must be one of {', '.join(spec.options)}"
        return None
    if t == "number":
        return None if _is_number(value) else "must be a number"
    if t == "money":
        if not isinstance(value, str) or not _MONEY.match(value):
            return 'must be a decimal string such as "12.30"'
        return None
    if t == "multiselect":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return "must be a list of strings"
        bad = [v for v in value if spec.options and v not in spec.options]
        return f"unknown options {bad}; allowed: {', '.join(spec.options or [])}" if bad else None
    if t == "date":
        return _parse(value, date.fromisoformat, "must be a date such as 2026-11-23")
    if t == "datetime":
        err = _parse(value, datetime.fromisoformat, "must be an ISO 8601 date-time with offset")
        if err is None and datetime.fromisoformat(value).tzinfo is None:
            return "must carry a UTC offset, e.g. 2026-11-23T09:00:00+08:00"
        return err
    if t == "geo":
        if (
            not isinstance(value, dict)
            or not _is_number(value.get("lat"))
            or not _is_number(value.get("lon"))
        ):
            return 'must be {"lat": number, "lon": number}'
        if not (-90 <= value["lat"] <= 90 and -180 <= value["lon"] <= 180):
            return "lat must be within ±90 and lon within ±180"
        return None
    if t == "photos":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return "must be a list of photo keys or URLs"
        return None
    if t == "service_items":
        return _lines(value, "code", ctx.service_items, "service item")
    if t == "parts":
        return _lines(value, "sku", ctx.parts, "part")
    return f"unsupported field type '{t}'"


def _parse(value: Any, parser: Callable[[str], Any], message: str) -> str | None:
    if not isinstance(value, str):
        return message
    try:
        parser(value)
    except ValueError:
        return message
    return None


def _check_bounds(spec: FieldDef, value: Any) -> str | None:
    if spec.min is None and spec.max is None:
        return None
    size: Decimal
    if isinstance(value, list):
        size, what = Decimal(len(value)), "entries"
    elif isinstance(value, str) and spec.type in ("text", "phone", "email"):
        size, what = Decimal(len(value)), "characters"
    elif _is_number(value) or spec.type == "money":
        size, what = Decimal(str(value)), ""
    else:
        return None
    if spec.min is not None and size < Decimal(str(spec.min)):
        return f"needs at least {spec.min} {what}".rstrip() if what else f"must be at least {spec.min}"
    if spec.max is not None and size > Decimal(str(spec.max)):
        return f"allows at most {spec.max} {what}".rstrip() if what else f"must be at most {spec.max}"
    return None


def validate_form(
    specs: Iterable[FieldDef],
    values: Mapping[str, Any],
    ctx: FormContext,
    *,
    allow_unknown: bool = False,
) -> tuple[dict[str, Any], list[Problem]]:
    """Check ``values`` against ``specs``; return the accepted values (defaults filled) and problems."""
    specs = list(specs)
    known = {s.name for s in specs}
    accepted: dict[str, Any] = {}
    problems: list[Problem] = []
    for spec in specs:
        value = values.get(spec.name)
        if value is None or value == "" or value == []:
            if spec.default is not None:
                accepted[spec.name] = spec.default
            elif spec.required:
                problems.append({"field": spec.name, "message": "is required"})
            continue
        error = _check_type(spec, value, ctx) or _check_bounds(spec, value)
        if error:
            problems.append({"field": spec.name, "message": error})
        else:
            accepted[spec.name] = value
    if not allow_unknown:
        for name in values:
            if name not in known:
                problems.append(
                    {
                        "field": name,
                        "message": f"is not a field of this form; known: {', '.join(sorted(known))}",
                    }
                )
    return accepted, problems
