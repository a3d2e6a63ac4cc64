"""Form validation: ticket fields at creation, node forms when an action leaves a node.

Every problem is reported at once, one ``{"field", "message"}`` entry per field.
Values follow the wire format in the README ("Field values on the wire").

Bounds, so no value can break a later step (settlement, storage, a person's screen). A field's own
``min``/``max`` wins; without them:

- text values: at most ``TEXT_MAX`` characters; every string must be valid Unicode (no lone
  surrogates, which cannot be stored as UTF-8);
- ``number``: a finite JSON number within ±``NUMBER_LIMIT`` (``NaN``, ``Infinity``, ``1e999`` and
  integers beyond it are refused); ``money``: a decimal string of at most 13 integer digits;
- lists (photos, multiselect, service items, parts): at most ``LIST_MAX`` entries;
- quantities: a positive JSON number or decimal string, at most ``QUANTITY_DECIMALS`` decimal places
  and at most the field's ``max_quantity`` (default ``QUANTITY_MAX``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from shared.errors import ValidationFailed

if TYPE_CHECKING:
    from shared.tenant.models import FieldDef, TenantConfig, TicketType

_PHONE = re.compile(r"^\+?[0-9][0-9 \-]{4,19}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MONEY = re.compile(r"^-?\d{1,13}(\.\d{1,2})?$")
TEXT_MAX = 2000
NUMBER_LIMIT = Decimal(10) ** 15
LIST_MAX = 200
QUANTITY_MAX = Decimal(10000)
QUANTITY_DECIMALS = 4

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


def _finite_number(value: Any) -> Decimal | None:
    """The value as a finite Decimal, or None (not a number, NaN, ±Infinity)."""
    if not _is_number(value):
        return None
    try:
        number = Decimal(str(value)) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _quantity_problem(value: Any, ceiling: Decimal) -> str | None:
    """Why ``value`` is not a quantity (a JSON number or a decimal string), or None."""
    if isinstance(value, str):
        try:
            q: Decimal | None = Decimal(value.strip()) if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value) else None
        except InvalidOperation:
            q = None
    else:
        q = _finite_number(value)
    if q is None or q <= 0:
        return 'must be a positive number or decimal string, e.g. 2 or "1.5"'
    if q > ceiling:
        return f"must be at most {ceiling}"
    exponent = q.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > QUANTITY_DECIMALS:
        return f"has more than {QUANTITY_DECIMALS} decimal places"
    return None


def _lines(value: Any, key: str, known: frozenset[str], what: str, ceiling: Decimal) -> str | None:
    if not isinstance(value, list):
        return f"must be a list of {{'{key}': ..., 'quantity': ...}}"
    for n, line in enumerate(value):
        if not isinstance(line, dict) or not isinstance(line.get(key), str):
            return f"line {n + 1} must be an object with a string '{key}'"
        if known and line[key] not in known:
            return f"line {n + 1}: unknown {what} '{line[key][:64]}'"
        problem = _quantity_problem(line.get("quantity", 1), ceiling)
        if problem:
            return f"line {n + 1}: quantity {problem}"
        extra = sorted(set(line) - {key, "quantity"})
        if extra:
            return f"line {n + 1}: unknown key {extra[0]!r}; a line has '{key}' and 'quantity'"
    return None


def _not_unicode(value: Any, depth: int = 0) -> str | None:
    """Where a string of ``value`` cannot be stored as UTF-8 (a lone surrogate), or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return (
                f"contains a character that is not valid Unicode (a lone surrogate) at position {exc.start}"
            )
        return None
    if depth > 8:
        return "is nested too deeply"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _not_unicode(key, depth + 1) or _not_unicode(item, depth + 1)
            if found:
                return found
    if isinstance(value, list):
        for item in value:
            found = _not_unicode(item, depth + 1)
            if found:
                return found
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
        number = _finite_number(value)
        if number is None:
            return "must be a finite number (NaN and Infinity are not numbers)"
        if spec.min is None and spec.max is None and abs(number) > NUMBER_LIMIT:
            return f"must be within ±{NUMBER_LIMIT:.0e}"
        return None
    if t == "money":
        if not isinstance(value, str) or not _MONEY.match(value):
            return 'must be a decimal string such as "12.30" (at most 13 digits before the point)'
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
        if not isinstance(value, dict):
            return 'must be a location: {"lat": number, "lon": number}'
        missing = [k for k in ("lat", "lon") if not _is_number(value.get(k))]
        if missing:
            return f"needs both lat and lon as numbers; {' and '.join(missing)} is missing or not a number"
        if not (-90 <= value["lat"] <= 90 and -180 <= value["lon"] <= 180):
            return "lat must be within ±90 and lon within ±180"
        return None
    if t == "photos":
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            return "must be a list of photo keys or URLs"
        return None
    if t == "service_items":
        return _lines(value, "code", ctx.service_items, "service item", _ceiling(spec))
    if t == "parts":
        return _lines(value, "sku", ctx.parts, "part", _ceiling(spec))
    return f"unsupported field type '{t}'"


def _ceiling(spec: FieldDef) -> Decimal:
    given = getattr(spec, "max_quantity", None)
    return Decimal(str(given)) if given is not None else QUANTITY_MAX


def _default_bounds(spec: FieldDef, value: Any) -> str | None:
    """The limits that hold when the field sets none of its own (see the module doc)."""
    if spec.max is not None:
        return None
    if isinstance(value, str) and len(value) > TEXT_MAX:
        return f"allows at most {TEXT_MAX} characters (got {len(value)})"
    if isinstance(value, list) and len(value) > LIST_MAX:
        return f"allows at most {LIST_MAX} entries (got {len(value)})"
    if isinstance(value, list) and any(isinstance(v, str) and len(v) > TEXT_MAX for v in value):
        return f"each entry allows at most {TEXT_MAX} characters"
    return None


def _normalized(spec: FieldDef, value: Any) -> Any:
    """Quantities given as JSON numbers are kept as exact decimal strings (``1.5`` -> ``"1.5"``), so
    settlement prices exactly what the person typed."""
    if spec.type not in ("service_items", "parts"):
        return value
    lines = []
    for line in value:
        quantity = line.get("quantity", 1)
        if isinstance(quantity, float):
            line = {**line, "quantity": str(Decimal(str(quantity)).normalize())}
        elif isinstance(quantity, str):
            line = {**line, "quantity": quantity.strip()}
        lines.append(line)
    return lines


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
        error = (
            _not_unicode(value)
            or _default_bounds(spec, value)
            or _check_type(spec, value, ctx)
            or _check_bounds(spec, value)
        )
        if error:
            problems.append({"field": spec.name, "message": error})
        else:
            accepted[spec.name] = _normalized(spec, value)
    if not allow_unknown:
        for name in values:
            if name not in known:
                shown = name[:64] if _not_unicode(name) is None else repr(name[:64])
                problems.append(
                    {
                        "field": shown,
                        "message": f"is not a field of this form; known: {', '.join(known) or 'none'}",
                    }
                )
    return accepted, problems


def form_context(cfg: TenantConfig) -> FormContext:
    """The tenant's known codes that typed fields are checked against."""
    return FormContext(
        regions=(r.code for r in cfg.regions),
        technicians=(t.id for t in cfg.technicians),
        service_items=(i.code for i in cfg.catalog.service_items),
        parts=(p.sku for p in cfg.catalog.parts),
    )


def ticket_type_of(cfg: TenantConfig, type_id: str) -> TicketType:
    try:
        return cfg.ticket_types[type_id]
    except KeyError:
        known = ", ".join(cfg.ticket_types)
        raise ValidationFailed(
            f"unknown ticket type '{type_id}'",
            [{"field": "type", "message": f"unknown ticket type '{type_id}'; known: {known}"}],
        ) from None
