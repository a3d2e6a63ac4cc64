"""Every problem of a tenant file, each with the path in the file and the fix.

`validate_tenant_data` checks one parsed document in two passes:

1. the pydantic models (`shared.tenant.models`); their errors are turned into
   `Problem`s whose path names list items by their id (`technicians.t-wang.regions`)
   and whose message says what to write instead;
2. the rules between sections (references, reachability, prices per tier, ...).
   They run even when pass 1 failed: each section is re-validated with its broken
   items left out, and names that exist in the file (even in a broken item) still
   count as known, so one mistake is reported once rather than as a cascade.

Paths are dotted: mapping keys as written, list items by their `id`, `code`, `sku`
or `name` when they have one, else by their 0-based index
(`catalog.tier_rules.2.tier`). A problem about a list of plain values (a
technician's regions) points at the list and names the value in its message.
"""

from __future__ import annotations

import copy
import re
from collections import Counter, deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from types import UnionType
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from shared.tenant.models import (
    BUILTIN_ROLES,
    PLATFORMS,
    Calendar,
    Catalog,
    Channel,
    ChannelRule,
    Condition,
    DispatchConfig,
    Node,
    Region,
    ShareRule,
    SlaPolicy,
    StandardWebhooksChannel,
    Surcharge,
    Technician,
    TenantConfig,
    TenantInfo,
    TicketType,
    TierRule,
    User,
    WeComChannel,
    did_you_mean,
)

__all__ = [
    "Problem",
    "Severity",
    "TenantConfigError",
    "data_path",
    "find_duplicate_tenant_ids",
    "validate_secrets",
    "validate_tenant_data",
]

Severity = Literal["error", "warning"]
Loc = Sequence[str | int]

# --------------------------------------------------------------------------- problems


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


def _item_label(item: object, index: int) -> str:
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
            parts.append(_item_label(node[element], element))
            node = node[element]
        elif isinstance(node, Mapping) and element in node:
            parts.append(str(element))
            node = node[element]
        elif isinstance(node, Mapping) and node.get("platform") == element:
            continue  # the union tag pydantic puts in the location
        else:
            parts.append(str(element))
            node = None
    return ".".join(parts)


def _join(*parts: object) -> str:
    return ".".join(str(part) for part in parts)


def _listing(names: Iterable[object], limit: int = 12) -> str:
    ordered = sorted({str(name) for name in names})
    if not ordered:
        return "(none)"
    shown = ", ".join(ordered[:limit])
    return shown if len(ordered) <= limit else f"{shown}, ... ({len(ordered) - limit} more)"


# --------------------------------------------------------------------------- pydantic errors


def _unwrap(annotation: Any) -> Any:
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if origin in (Union, UnionType):
            members = [arg for arg in get_args(annotation) if arg is not type(None)]
            if len(members) == 1:
                annotation = members[0]
                continue
        return annotation


def _is_model(annotation: Any) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _child_annotation(annotation: Any, element: str | int) -> Any:
    annotation = _unwrap(annotation)
    if _is_model(annotation):
        for name, info in annotation.model_fields.items():
            if element in (name, info.alias):
                return info.annotation
        return None
    origin = get_origin(annotation)
    if origin in (list, tuple):
        return get_args(annotation)[0]
    if origin is dict:
        return get_args(annotation)[1] if element != "[key]" else get_args(annotation)[0]
    if origin in (Union, UnionType):  # a discriminated union: the location names the tag
        for member in map(_unwrap, get_args(annotation)):
            tag = member.model_fields.get("platform") if _is_model(member) else None
            if tag is not None and element in get_args(tag.annotation):
                return member
    return None


def _allowed_keys(loc: Loc) -> list[str]:
    """The keys the model at `loc` (a location inside `TenantConfig`) accepts."""
    annotation: Any = TenantConfig
    for element in loc:
        annotation = _child_annotation(annotation, element)
        if annotation is None:
            return []
    annotation = _unwrap(annotation)
    if not _is_model(annotation):
        return []
    return [info.alias or name for name, info in annotation.model_fields.items()]


def _describe(value: object) -> str:
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


_EXPECTED = {
    "string_type": "text",
    "dict_type": "a mapping (key: value)",
    "model_type": "a mapping (key: value)",
    "model_attributes_type": "a mapping (key: value)",
    "list_type": "a list",
    "tuple_type": "a list",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "date_type": 'a date such as "2026-12-31"',
    "date_parsing": 'a date such as "2026-12-31"',
    "date_from_datetime_parsing": 'a date such as "2026-12-31"',
    "date_from_datetime_inexact": 'a date such as "2026-12-31"',
}


def _error_message(error: ErrorDetails) -> str:
    kind, loc, value = error["type"], error["loc"], error.get("input")
    ctx: dict[str, Any] = dict(error.get("ctx") or {})
    if kind == "missing":
        return f"required key {loc[-1]!r} is missing; add it"
    if kind == "extra_forbidden":
        key = str(loc[-1])
        allowed = _allowed_keys(loc[:-1])
        if not allowed:
            return f"unknown key {key!r}; remove it"
        return f"unknown key {key!r}{did_you_mean(key, allowed)}; allowed keys here: {', '.join(allowed)}"
    if kind in ("value_error", "assertion_error"):
        return re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    if kind == "literal_error":
        options = re.findall(r"'([^']*)'", str(ctx.get("expected", "")))
        hint = did_you_mean(str(value), options)
        return f"{_describe(value)} is not allowed{hint}; use one of: {', '.join(options)}"
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        return f"unknown platform {tag!r}{did_you_mean(tag, PLATFORMS)}; use one of: {', '.join(PLATFORMS)}"
    if kind == "union_tag_not_found":
        return f"required key 'platform' is missing; use one of: {', '.join(PLATFORMS)}"
    if kind == "string_type" and isinstance(value, bool | int | float):
        return f"expected text, but YAML read {_describe(value)}; put the value in quotes"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, got {_describe(value)}"
    if kind == "string_too_short":
        return "must not be empty; fill it in"
    if kind == "too_short":
        return f"needs at least {ctx.get('min_length', 1)} item(s); add some"
    message = re.sub(r"^Input should be", "must be", error["msg"])
    return f"{message} (got {_describe(value)})"


def _validation_problems(exc: ValidationError, raw: object, file: str) -> list[Problem]:
    return [
        Problem(file, data_path(raw, error["loc"]), _error_message(error))
        for error in exc.errors(include_url=False)
    ]


# --------------------------------------------------------------------------- salvage

T = TypeVar("T")


@dataclass
class _Sections:
    """The parts of a file that validate, for the checks between sections (`None`: unusable)."""

    tenant: TenantInfo | None = None
    regions: list[Region] = field(default_factory=list)
    calendars: dict[str, Calendar] = field(default_factory=dict)
    users: list[User] = field(default_factory=list)
    technicians: list[Technician] = field(default_factory=list)
    catalog: Catalog | None = None
    sla_policies: dict[str, SlaPolicy] = field(default_factory=dict)
    dispatch: DispatchConfig | None = None
    ticket_types: dict[str, TicketType] = field(default_factory=dict)
    channels: list[Channel] = field(default_factory=list)

    @classmethod
    def of(cls, cfg: TenantConfig) -> _Sections:
        return cls(**{name: getattr(cfg, name) for name in TenantConfig.model_fields})


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _section_adapter(name: str) -> TypeAdapter[Any]:
    if name not in _ADAPTERS:
        annotation: Any = TenantConfig.model_fields[name].annotation
        _ADAPTERS[name] = TypeAdapter(annotation)
    return _ADAPTERS[name]


def _prune(box: list[Any], errors: list[ErrorDetails]) -> bool:
    """Remove, for each error, the deepest part of `box[0]` its location still reaches."""
    targets: dict[tuple[int, str | int], tuple[Any, str | int]] = {}
    for error in errors:
        parent: Any = None
        key: str | int | None = None
        node: Any = box
        for element in (0, *error["loc"]):
            in_list = isinstance(node, list) and isinstance(element, int) and 0 <= element < len(node)
            if in_list or (isinstance(node, dict) and element in node):
                parent, key, node = node, element, node[element]
            elif isinstance(node, dict) and node.get("platform") == element:
                continue
            else:
                break
        if parent is None or parent is box or key is None:
            return False  # the section itself is broken
        targets[(id(parent), key)] = (parent, key)
    dict_targets = [(p, k) for p, k in targets.values() if isinstance(p, dict)]
    list_targets = [(p, k) for p, k in targets.values() if isinstance(p, list)]
    for parent, key in dict_targets:
        parent.pop(key, None)
    for parent, key in sorted(list_targets, key=lambda target: target[1], reverse=True):
        assert isinstance(key, int)
        if key < len(parent):
            del parent[key]
    return bool(targets)


def _salvage(adapter: TypeAdapter[Any], value: object) -> Any:
    """Validate `value`, leaving out whatever fails; `None` if nothing usable is left."""
    box = [copy.deepcopy(value)]
    for _ in range(1000):
        try:
            return adapter.validate_python(box[0])
        except ValidationError as exc:
            if not _prune(box, exc.errors(include_url=False)):
                return None
    return None


def _salvage_sections(raw: Mapping[str, Any]) -> _Sections:
    sections = _Sections()
    for name, info in TenantConfig.model_fields.items():
        key = info.alias or name
        if key in raw:
            value = _salvage(_section_adapter(name), raw[key])
            if value is not None:
                setattr(sections, name, value)
    return sections


def _parsed_items(items: object, model: type[T]) -> Iterator[tuple[str, T]]:
    """`(label, item)` for each item of a raw list that validates as `model` alone."""
    adapter: TypeAdapter[T] = TypeAdapter(model)
    for index, item in enumerate(items if isinstance(items, list) else []):
        try:
            yield _item_label(item, index), adapter.validate_python(item)
        except ValidationError:
            continue


# --------------------------------------------------------------------------- names in the file


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _section(raw: Mapping[str, Any], key: str, kind: type, *, required: bool = False) -> Any:
    """A raw section; empty when absent and optional; `None` when it cannot be read."""
    if key not in raw:
        return None if required else kind()
    return raw[key] if isinstance(raw[key], kind) else None


def _ids(items: list[Any] | None, key: str) -> set[str] | None:
    if items is None:
        return None
    return {item[key] for item in items if isinstance(item, dict) and isinstance(item.get(key), str)}


def _skills(technicians: list[Any] | None) -> dict[str, int] | None:
    if technicians is None:
        return None
    best: dict[str, int] = {}
    for technician in technicians:
        for skill, level in _dict(_dict(technician).get("skills")).items():
            usable = level if isinstance(level, int) and not isinstance(level, bool) else 0
            best[str(skill)] = max(usable, best.get(str(skill), 0))
    return best


@dataclass
class _Known:
    """Names the file defines, read from the raw document so that broken items still count.

    `None` means the section cannot be read; references into it are then not
    checked, since the section's own problem is reported already.
    """

    regions: set[str] | None
    region_classes: set[str] | None
    calendars: set[str] | None
    users: set[str] | None
    roles: set[str] | None
    held_roles: set[str]
    departments: set[str] | None
    technicians: set[str] | None
    skills: dict[str, int] | None
    tiers: set[str] | None
    ticket_types: dict[str, set[str]] | None
    """Ticket type → its node names."""
    fields: dict[str, set[str]]
    """Ticket type → its field names (types whose fields cannot be read are left out)."""
    sla_policies: set[str] | None
    channels: set[str] | None

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> _Known:
        regions = _section(raw, "regions", list, required=True)
        users = _section(raw, "users", list)
        technicians = _section(raw, "technicians", list)
        catalog = _section(raw, "catalog", dict, required=True)
        tiers = _dict(catalog).get("tiers")
        types = _section(raw, "ticket_types", dict, required=True)
        calendars = _section(raw, "calendars", dict)
        policies = _section(raw, "sla_policies", dict)
        held = {
            role for user in users or [] for role in _list(_dict(user).get("roles")) if isinstance(role, str)
        }
        return cls(
            regions=_ids(regions, "code"),
            region_classes=_ids(regions, "class"),
            calendars=set(map(str, calendars)) if calendars is not None else None,
            users=_ids(users, "id"),
            roles=set(BUILTIN_ROLES) | held if users is not None else None,
            held_roles=held,
            departments=_ids(users, "department"),
            technicians=_ids(technicians, "id"),
            skills=_skills(technicians),
            tiers={tier for tier in tiers if isinstance(tier, str)} if isinstance(tiers, list) else None,
            ticket_types=(
                {str(name): set(map(str, _dict(_dict(spec).get("nodes")))) for name, spec in types.items()}
                if types is not None
                else None
            ),
            fields={
                str(name): {str(_dict(f).get("name")) for f in _dict(spec).get("fields", [])}
                for name, spec in _dict(types).items()
                if isinstance(_dict(spec).get("fields", []), list)
            },
            sla_policies=set(map(str, policies)) if policies is not None else None,
            channels=_ids(_section(raw, "channels", list), "id"),
        )


# --------------------------------------------------------------------------- the checks


class _Checker:
    """The rules between sections. Each `_check_*` method covers one section."""

    def __init__(self, file: str, raw: Mapping[str, Any], sections: _Sections) -> None:
        self.file = file
        self.raw = raw
        self.s = sections
        self.known = _Known.of(raw)
        self.problems: list[Problem] = []

    def error(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message))

    def warn(self, path: str, message: str) -> None:
        self.problems.append(Problem(self.file, path, message, "warning"))

    def ref(self, path: str, what: str, name: str, known: Iterable[str] | None, fix: str) -> bool:
        """Whether `name` is one of `known`; if not, reports it with the known names and `fix`.

        `known=None` (a section that cannot be read) cannot tell, so it counts as known.
        """
        if known is None:
            return True
        names = list(known)
        if name in names:
            return True
        self.error(
            path, f"unknown {what} {name!r}{did_you_mean(name, names)}; known: {_listing(names)}; {fix}"
        )
        return False

    def run(self) -> list[Problem]:
        self._check_sizes()
        self._check_duplicates()
        self._check_calendars()
        self._check_people()
        self._check_catalog()
        self._check_sla_policies()
        self._check_dispatch()
        for name, ticket_type in self.s.ticket_types.items():
            self._check_ticket_type(name, ticket_type)
        self._check_channels()
        return self.problems

    # -- sizes and duplicates -------------------------------------------------

    def _check_sizes(self) -> None:
        if self.raw.get("regions") == []:
            self.error("regions", "no regions; add at least one region (code, name, class)")
        if self.raw.get("ticket_types") == {}:
            self.error("ticket_types", "no ticket types; add at least one")

    def _duplicates(self, path: str, items: object, key: str, what: str) -> None:
        values = [_dict(item).get(key) for item in _list(items)]
        counts = Counter(value for value in values if isinstance(value, str))
        for value, count in counts.items():
            if count > 1:
                places = ", ".join(str(i + 1) for i, v in enumerate(values) if v == value)
                self.error(
                    _join(path, value),
                    f"{what} {value!r} is used {count} times (entries {places}); give each its own {key}",
                )

    def _check_duplicates(self) -> None:
        raw, catalog = self.raw, _dict(self.raw.get("catalog"))
        self._duplicates("regions", raw.get("regions"), "code", "region code")
        self._duplicates("users", raw.get("users"), "id", "user id")
        self._duplicates("technicians", raw.get("technicians"), "id", "technician id")
        self._duplicates("channels", raw.get("channels"), "id", "channel id")
        self._duplicates("catalog.service_items", catalog.get("service_items"), "code", "service item code")
        self._duplicates("catalog.parts", catalog.get("parts"), "sku", "part sku")
        self._duplicates("catalog.surcharges", catalog.get("surcharges"), "code", "surcharge code")
        tiers = Counter(tier for tier in _list(catalog.get("tiers")) if isinstance(tier, str))
        for tier, count in tiers.items():
            if count > 1:
                self.error("catalog.tiers", f"tier {tier!r} is listed {count} times; list each tier once")
        for name, policy in _dict(raw.get("sla_policies")).items():
            levels_path = _join("sla_policies", name, "levels")
            self._duplicates(levels_path, _dict(policy).get("levels"), "name", "level name")
        for type_name, spec in _dict(raw.get("ticket_types")).items():
            fields_path = _join("ticket_types", type_name, "fields")
            self._duplicates(fields_path, _dict(spec).get("fields"), "name", "field name")
            for node_name, node in _dict(_dict(spec).get("nodes")).items():
                form_path = _join("ticket_types", type_name, "nodes", node_name, "form")
                self._duplicates(form_path, _dict(node).get("form"), "name", "field name")
        for both in sorted((self.known.users or set()) & (self.known.technicians or set())):
            self.error(
                _join("technicians", both),
                f"{both!r} is both a user id and a technician id; a login (JWT sub) must name one "
                "person, so rename one of them",
            )

    # -- calendars and people -------------------------------------------------

    def _check_calendars(self) -> None:
        for name, calendar in self.s.calendars.items():
            path = _join("calendars", name)
            if calendar.holidays is not None:
                problem = _holiday_problem(calendar.holidays)
                if problem:
                    self.error(_join(path, "holidays"), problem)
            clash = sorted(set(calendar.days_off) & set(calendar.workdays))
            if clash:
                days = ", ".join(day.isoformat() for day in clash)
                self.error(
                    _join(path, "workdays"),
                    f"{days} is both a day off and a workday; keep it in only one of the lists",
                )

    def _check_people(self) -> None:
        known = self.known
        for user in self.s.users:
            for role in user.roles:
                hint = did_you_mean(role, BUILTIN_ROLES)
                if role not in BUILTIN_ROLES and hint:
                    self.warn(
                        _join("users", user.id, "roles"),
                        f"role {role!r} is not a built-in role{hint} (built-in: {_listing(BUILTIN_ROLES)})",
                    )
        for tech in self.s.technicians:
            path = _join("technicians", tech.id)
            for region in tech.regions:
                self.ref(
                    _join(path, "regions"),
                    "region",
                    region,
                    known.regions,
                    "add it under regions or use one of those codes",
                )
            if tech.calendar is not None:
                self.ref(
                    _join(path, "calendar"),
                    "calendar",
                    tech.calendar,
                    known.calendars,
                    "add it under calendars or fix the name",
                )
            if tech.supervisor is not None:
                self.ref(
                    _join(path, "supervisor"),
                    "user",
                    tech.supervisor,
                    known.users,
                    "the supervisor must be a user id from users",
                )

    # -- catalog ----------------------------------------------------------------

    def _check_condition(self, path: str, when: Condition) -> None:
        known = self.known
        references: list[tuple[str, str, Iterable[str] | None]] = [
            ("region", "region", known.regions),
            ("region_class", "region class", known.region_classes),
            ("ticket_type", "ticket type", known.ticket_types),
            ("channel", "channel", known.channels),
        ]
        for key, what, names in references:
            value = getattr(when, key)
            if value is not None:
                self.ref(
                    _join(path, "when", key), what, value, names, "use one of those or drop the condition"
                )
        if when.priority is not None:
            self.ref(
                _join(path, "when", "priority"),
                "priority",
                when.priority,
                self._priorities() or None,
                "use an option of a ticket type's priority field",
            )

    def _priorities(self) -> set[str]:
        found: set[str] = set()
        for ticket_type in self.s.ticket_types.values():
            priority = ticket_type.field("priority")
            if priority is not None and priority.options:
                found.update(priority.options)
        return found

    def _check_prices(self, path: str, given: set[str], tiers: set[str]) -> None:
        for tier in sorted(given - tiers):
            self.error(
                _join(path, tier),
                f"tier {tier!r}{did_you_mean(tier, tiers)} is not in catalog.tiers ({_listing(tiers)}); "
                "add it there or remove this price",
            )
        for tier in sorted(tiers - given):
            self.error(
                path,
                f'no price for tier {tier!r}; add one, such as {tier}: "0.00" '
                "(each item needs a price for every tier in catalog.tiers)",
            )

    def _check_catalog(self) -> None:
        raw_catalog = _dict(self.raw.get("catalog"))
        tiers = self.known.tiers
        for section in ("service_items", "parts"):
            for index, item in enumerate(_list(raw_catalog.get(section))):
                price = _dict(item).get("price")
                if tiers is not None and isinstance(price, dict):
                    path = _join("catalog", section, _item_label(item, index), "price")
                    self._check_prices(path, set(map(str, price)), tiers)
        rules = list(_parsed_items(raw_catalog.get("tier_rules"), TierRule))
        for label, rule in rules:
            path = _join("catalog.tier_rules", label)
            self.ref(_join(path, "tier"), "tier", rule.tier, tiers, "use a tier from catalog.tiers")
            self._check_condition(path, rule.when)
        all_parsed = len(rules) == len(_list(raw_catalog.get("tier_rules")))
        if tiers and len(tiers) > 1 and all_parsed and not any(rule.when.is_catch_all() for _, rule in rules):
            self.warn(
                "catalog.tier_rules",
                "no rule matches every ticket, so some tickets may get no tier; "
                "end the list with {when: {}, tier: <tier>}",
            )
        for label, surcharge in _parsed_items(raw_catalog.get("surcharges"), Surcharge):
            self._check_condition(_join("catalog.surcharges", label), surcharge.when)
        for label, share in _parsed_items(raw_catalog.get("installer_share"), ShareRule):
            self._check_condition(_join("catalog.installer_share", label), share.when)

    # -- SLA and dispatch -------------------------------------------------------

    def _check_sla_policies(self) -> None:
        known = self.known
        for name, policy in self.s.sla_policies.items():
            path = _join("sla_policies", name)
            self.ref(
                _join(path, "calendar"),
                "calendar",
                policy.calendar,
                known.calendars,
                "add it under calendars or fix the name",
            )
            self._check_sla_levels(path, policy)
            if known.ticket_types is None:
                continue
            users = sorted(
                type_name
                for type_name, spec in _dict(self.raw.get("ticket_types")).items()
                if _dict(spec).get("sla") == name
            )
            if not users:
                self.warn(
                    path, f"no ticket type uses this policy; set sla: {name} on a ticket type or remove it"
                )
            scope = users or sorted(known.ticket_types)
            nodes: set[str] = set()
            for type_name in scope:
                nodes |= known.ticket_types.get(type_name, set())
            if not nodes:
                continue
            where = (
                f"{', '.join(scope)}, the ticket type(s) using this policy" if users else "any ticket type"
            )
            named = [(_join(path, "targets", node), node) for node in policy.targets]
            named += [(_join(path, "pause_on_nodes"), node) for node in policy.pause_on_nodes]
            for node_path, node in named:
                if node not in nodes:
                    self.error(
                        node_path,
                        f"node {node!r} is not in {where}{did_you_mean(node, nodes)}; "
                        f"known nodes: {_listing(nodes)}",
                    )
            self._check_sla_priorities(path, policy, users)
            self._check_day_budgets(path, policy)

    def _check_day_budgets(self, path: str, policy: SlaPolicy) -> None:
        """`"2d"` is 48 business hours, which a person rarely means: say so, and how to write days."""
        for node, budgets in policy.targets.items():
            for priority, text in budgets.items():
                if "d" in text and not text.endswith("bd"):
                    days = text.split("d", 1)[0]
                    self.warn(
                        _join(path, "targets", node, priority),
                        f"{text!r} is {int(days) * 24} hours of business time (days of 24 open hours); "
                        f'for {days} business day(s) write "{days}bd"',
                    )

    def _check_sla_priorities(self, path: str, policy: SlaPolicy, users: list[str]) -> None:
        for type_name in users:
            ticket_type = self.s.ticket_types.get(type_name)
            field_def = ticket_type.field("priority") if ticket_type else None
            if field_def is None or not field_def.options:
                continue
            for node, budgets in policy.targets.items():
                for priority in budgets:
                    if priority not in field_def.options:
                        self.error(
                            _join(path, "targets", node, priority),
                            f"priority {priority!r} is not an option of the priority field of "
                            f"{type_name} ({', '.join(field_def.options)})"
                            f"{did_you_mean(priority, field_def.options)}; use one of those",
                        )

    def _check_sla_levels(self, path: str, policy: SlaPolicy) -> None:
        for level in policy.levels:
            level_path = _join(path, "levels", level.name, "notify")
            for recipient in level.notify:
                kind, _, name = recipient.partition(":")
                if kind == "role":
                    self.ref(
                        level_path, "role", name, self.known.roles, "give the role to a user or fix the name"
                    )
                if kind == "user":
                    self.ref(level_path, "user", name, self.known.users, "use a user id from users")
        shares = [level.at for level in policy.levels]
        if shares != sorted(set(shares)):
            self.warn(
                _join(path, "levels"), "levels are not in rising order of 'at'; list them from first to last"
            )

    def _check_dispatch(self) -> None:
        dispatch = self.s.dispatch
        if dispatch is None:
            return
        total = sum(dispatch.weights.values(), Decimal(0))
        if total != 1:
            self.warn(
                "dispatch.weights",
                f"the weights add up to {total}, not 1; adjust them so they add up to 1 "
                "(scores then stay between 0 and 1)",
            )
        has_dispatch = any(
            node.kind == "dispatch" for spec in self.s.ticket_types.values() for node in spec.nodes.values()
        )
        if has_dispatch and self.known.technicians == set():
            self.warn("technicians", "dispatch nodes exist but there are no technicians; add some")

    # -- ticket types -----------------------------------------------------------

    def _check_ticket_type(self, name: str, spec: TicketType) -> None:
        path = _join("ticket_types", name)
        node_names = (self.known.ticket_types or {}).get(name, set(spec.nodes))
        self.ref(_join(path, "start"), "node", spec.start, node_names, "start at one of the nodes below")
        if spec.sla is not None:
            self.ref(
                _join(path, "sla"),
                "SLA policy",
                spec.sla,
                self.known.sla_policies,
                "add it under sla_policies or fix the name",
            )
        for node_name, node in spec.nodes.items():
            node_path = _join(path, "nodes", node_name)
            self._check_edges(node_path, node_name, node, node_names)
            self._check_assignee(node_path, node, spec)
            self._check_node_refs(node_path, node)
            if node.kind == "dispatch" and not node.on_no_candidate:
                self.warn(
                    node_path,
                    "no on_no_candidate: when no technician fits, the ticket fails; "
                    "route it to a manual dispatch node instead",
                )
        self._check_graph(path, spec, node_names)

    def _check_edges(self, path: str, name: str, node: Node, node_names: set[str]) -> None:
        for label, target in node.targets().items():
            where = _join(path, "actions", label) if label in node.actions else _join(path, label)
            what = f"action {label!r}" if label in node.actions else f"{label!r}"
            if target not in node_names:
                self.error(
                    where,
                    f"{what} goes to node {target!r}, which does not exist"
                    f"{did_you_mean(target, node_names)}; known nodes: {_listing(node_names)}",
                )
            elif target == name and node.kind != "human":
                self.error(where, f"{what} goes back to this {node.kind} node, which would loop forever")

    def _check_assignee(self, path: str, node: Node, spec: TicketType) -> None:
        assignee, known = node.assignee, self.known
        if assignee is None:
            return
        path = _join(path, "assignee")
        if assignee.role is not None:
            fix = "give the role to a user under users or fix the name"
            found = self.ref(_join(path, "role"), "role", assignee.role, known.roles, fix)
            unheld = assignee.role not in known.held_roles | {"admin", "technician"}
            if found and known.users is not None and unheld:
                self.warn(
                    _join(path, "role"),
                    f"no user has role {assignee.role!r}, so only admins can work this node; "
                    "give the role to a user",
                )
        if assignee.user is not None:
            self.ref(_join(path, "user"), "user", assignee.user, known.users, "use a user id from users")
        if assignee.department is not None:
            self.ref(
                _join(path, "department"),
                "department",
                assignee.department,
                known.departments,
                "set department: on the users of that department",
            )
        if assignee.technician is None:
            return
        if not assignee.is_dispatched_technician:
            self.ref(
                _join(path, "technician"),
                "technician",
                assignee.technician,
                known.technicians,
                "use 'assigned' (the dispatched technician) or a technician id",
            )
        elif not _sets_technician(spec):
            self.error(
                _join(path, "technician"),
                "'assigned' means the dispatched technician, but this ticket type has no dispatch "
                "node and no technician field; add a dispatch node (or a form field of type "
                "technician) before this node",
            )

    def _check_node_refs(self, path: str, node: Node) -> None:
        known = self.known
        if node.ticket_type is not None:
            self.ref(
                _join(path, "ticket_type"),
                "ticket type",
                node.ticket_type,
                known.ticket_types,
                "use a ticket type defined under ticket_types",
            )
        if known.skills is None:
            return
        for skill, level in node.skills.items():
            if skill not in known.skills:
                self.error(
                    _join(path, "skills", skill),
                    f"no technician has skill {skill!r}{did_you_mean(skill, known.skills)}; "
                    "add it to a technician's skills or fix the name "
                    f"(skills held: {_listing(known.skills)})",
                )
            elif known.skills[skill] < level:
                self.warn(
                    _join(path, "skills", skill),
                    f"no technician has skill {skill!r} at level {level} or more (best: "
                    f"{known.skills[skill]}), so this node never finds a candidate; lower the level",
                )

    def _check_graph(self, path: str, spec: TicketType, node_names: set[str]) -> None:
        edges = {name: set(node.targets().values()) & node_names for name, node in spec.nodes.items()}
        opaque = node_names - set(spec.nodes)  # nodes that did not validate: their edges are unknown
        ends = {name for name, node in spec.nodes.items() if node.kind == "end"}
        if not ends and not opaque:
            self.error(_join(path, "nodes"), "no end node; add a node with kind: end and lead to it")
            return
        if spec.start in node_names:
            reached = _reach({spec.start}, edges)
            if not reached & opaque:
                for name in sorted(node_names - reached):
                    self.error(
                        _join(path, "nodes", name),
                        f"node {name!r} cannot be reached from the start node {spec.start!r}; "
                        "lead an action or next to it, or remove it",
                    )
        backwards: dict[str, set[str]] = {name: set() for name in node_names}
        for name, targets in edges.items():
            for target in targets:
                backwards[target].add(name)
        finishing = _reach(ends | opaque, backwards)
        for name in sorted(set(spec.nodes) - finishing):
            self.error(
                _join(path, "nodes", name),
                f"node {name!r} has no way to an end node; add an action or next that leads "
                f"(through other nodes) to one of: {_listing(ends)}",
            )

    # -- channels -----------------------------------------------------------------

    def _check_channels(self) -> None:
        # From the raw list, so that a channel with a broken secret still has its rules checked.
        for index, channel in enumerate(_list(self.raw.get("channels"))):
            channel = _dict(channel)
            path = _join("channels", _item_label(channel, index))
            if channel.get("platform") == "webform" and isinstance(channel.get("ticket_type"), str):
                self._check_type_ref(_join(path, "ticket_type"), channel["ticket_type"])
            for label, rule in _parsed_items(channel.get("rules"), ChannelRule):
                self._check_rule(_join(path, "rules", label), rule)

    def _check_type_ref(self, path: str, name: str) -> bool:
        fix = "use a ticket type defined under ticket_types"
        return self.ref(path, "ticket type", name, self.known.ticket_types, fix)

    def _check_rule(self, path: str, rule: ChannelRule) -> None:
        if not self._check_type_ref(_join(path, "ticket_type"), rule.ticket_type):
            return
        names = self.known.fields.get(rule.ticket_type)
        if names is not None:
            for name in rule.fields:
                if name not in names:
                    self.error(
                        _join(path, "fields", name),
                        f"ticket type {rule.ticket_type!r} has no field {name!r}{did_you_mean(name, names)}; "
                        f"its fields: {_listing(names)}",
                    )
        spec = self.s.ticket_types.get(rule.ticket_type)
        if spec is None:
            return
        missing = [
            f.name for f in spec.fields if f.required and f.default is None and f.name not in rule.fields
        ]
        if missing:
            self.warn(
                _join(path, "fields"),
                f"required field(s) {', '.join(missing)} of {rule.ticket_type!r} are not filled by this "
                "rule, so its deliveries cannot become tickets; map them to JMESPath expressions",
            )


def _reach(start: set[str], edges: Mapping[str, set[str]]) -> set[str]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for target in edges.get(queue.popleft(), set()):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _sets_technician(spec: TicketType) -> bool:
    """Whether anything in the ticket type picks a technician (a dispatch node or a technician field)."""
    fields = [*spec.fields, *(f for node in spec.nodes.values() for f in node.form)]
    return any(node.kind == "dispatch" for node in spec.nodes.values()) or any(
        f.type == "technician" for f in fields
    )


def _holiday_problem(code: str) -> str | None:
    import holidays  # imported here: only validation needs the holiday tables

    supported: dict[str, list[str]] = holidays.list_supported_countries()
    country, _, subdivision = code.partition("-")
    if country not in supported:
        return (
            f"unknown holiday country {code!r}{did_you_mean(country, supported)}; use an ISO 3166 "
            "country code such as CN, DE or US, optionally with a subdivision such as DE-BE"
        )
    if subdivision and subdivision not in supported[country]:
        return (
            f"unknown subdivision {subdivision!r} of {country}{did_you_mean(subdivision, supported[country])}"
            f"; known: {_listing(supported[country], limit=20)}"
        )
    return None


# --------------------------------------------------------------------------- entry points


def validate_tenant_data(data: object, *, file: str = "<data>") -> tuple[TenantConfig | None, list[Problem]]:
    """Check one parsed tenant document: the config (`None` if any error) and every problem found.

    Warnings do not stop the config from being returned.
    """
    if not isinstance(data, Mapping):
        keys = ", ".join(info.alias or name for name, info in TenantConfig.model_fields.items())
        return None, [
            Problem(file, "", f"expected a mapping with the sections {keys}; got {_describe(data)}")
        ]
    problems: list[Problem] = []
    config: TenantConfig | None = None
    try:
        config = TenantConfig.model_validate(data)
        sections = _Sections.of(config)
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, data, file))
        sections = _salvage_sections(data)
    problems.extend(_Checker(file, data, sections).run())
    problems = list(dict.fromkeys(problems))
    if any(problem.is_error for problem in problems):
        config = None
    return config, problems


def find_duplicate_tenant_ids(documents: Sequence[tuple[str, object]]) -> list[Problem]:
    """A problem for each file that reuses a tenant id of an earlier file in `(file, data)` order."""
    first: dict[str, str] = {}
    problems = []
    for file, data in documents:
        tenant_id = _dict(_dict(data).get("tenant")).get("id")
        if not isinstance(tenant_id, str):
            continue
        if tenant_id in first:
            problems.append(
                Problem(
                    file,
                    "tenant.id",
                    f"tenant id {tenant_id!r} is already the id of {first[tenant_id]}; "
                    "give each tenant its own id",
                )
            )
        else:
            first[tenant_id] = file
    return problems


def validate_secrets(
    data: object, *, file: str, config: TenantConfig | None = None, tenant_file: str | None = None
) -> list[Problem]:
    """Check a secrets file (secret reference → value) and, given the tenant, that it covers its channels.

    Missing or unused values are warnings: the local twin still runs, but a channel
    without its secret refuses every delivery.
    """
    if not isinstance(data, Mapping):
        return [Problem(file, "", f"expected a mapping of secret reference to value, got {_describe(data)}")]
    problems = []
    for key, value in data.items():
        if not isinstance(key, str) or not key.startswith("/"):
            problems.append(
                Problem(file, str(key), "a secret reference is an SSM name starting with '/', e.g. /scrm/t/x")
            )
        elif not isinstance(value, str) or not value:
            problems.append(Problem(file, key, f"expected the secret as text, got {_describe(value)}"))
    if config is None:
        return problems
    refs = config.secret_refs()
    for ref, channel_id in refs.items():
        if ref not in data:
            problems.append(
                Problem(
                    file,
                    ref,
                    f"no value for the secret of channel {channel_id!r} ({tenant_file}); the local twin "
                    "will refuse its deliveries with 401; add a value",
                    "warning",
                )
            )
    for key in data:
        if isinstance(key, str) and key.startswith("/") and key not in refs:
            problems.append(
                Problem(file, key, f"no channel of {tenant_file} uses this secret; remove it", "warning")
            )
    problems.extend(_secret_format_problems(data, config, file))
    return problems


def _secret_format_problems(data: Mapping[Any, Any], config: TenantConfig, file: str) -> list[Problem]:
    problems = []
    for channel in config.channels:
        if isinstance(channel, StandardWebhooksChannel):
            value = data.get(channel.secret.ssm)
            if isinstance(value, str) and not re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", value):
                problems.append(
                    Problem(
                        file,
                        channel.secret.ssm,
                        "a Standard Webhooks secret is 'whsec_' followed by base64; "
                        "copy it as the sender shows it",
                        "warning",
                    )
                )
        if isinstance(channel, WeComChannel):
            value = data.get(channel.aes_key.ssm)
            if isinstance(value, str) and len(value) != 43:
                problems.append(
                    Problem(
                        file,
                        channel.aes_key.ssm,
                        f"a WeCom EncodingAESKey has 43 characters, this one has {len(value)}; copy it again",
                        "warning",
                    )
                )
    return problems
