"""What every section checker works on: the file, its raw document, the sections that validate
(`Sections`), the names the file defines (`Known`), and the problems found so far (`Context`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from shared.tenant.checks.problems import Problem, as_dict, as_list, listing
from shared.tenant.checks.salvage import Sections
from shared.tenant.models import BUILTIN_ROLES, did_you_mean

__all__ = ["Context", "Known"]


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
        for skill, level in as_dict(as_dict(technician).get("skills")).items():
            usable = level if isinstance(level, int) and not isinstance(level, bool) else 0
            best[str(skill)] = max(usable, best.get(str(skill), 0))
    return best


@dataclass
class Known:
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
    def of(cls, raw: Mapping[str, Any]) -> Known:
        regions = _section(raw, "regions", list, required=True)
        users = _section(raw, "users", list)
        technicians = _section(raw, "technicians", list)
        catalog = _section(raw, "catalog", dict, required=True)
        tiers = as_dict(catalog).get("tiers")
        types = _section(raw, "ticket_types", dict, required=True)
        calendars = _section(raw, "calendars", dict)
        policies = _section(raw, "sla_policies", dict)
        held = {
            role
            for user in users or []
            for role in as_list(as_dict(user).get("roles"))
            if isinstance(role, str)
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
                {
                    str(name): set(map(str, as_dict(as_dict(spec).get("nodes"))))
                    for name, spec in types.items()
                }
                if types is not None
                else None
            ),
            fields={
                str(name): {str(as_dict(f).get("name")) for f in as_dict(spec).get("fields", [])}
                for name, spec in as_dict(types).items()
                if isinstance(as_dict(spec).get("fields", []), list)
            },
            sla_policies=set(map(str, policies)) if policies is not None else None,
            channels=_ids(_section(raw, "channels", list), "id"),
        )


class Context:
    """One file under check: what the section checkers read, and where they report."""

    def __init__(self, file: str, raw: Mapping[str, Any], sections: Sections) -> None:
        self.file = file
        self.raw = raw
        self.sections = sections
        self.known = Known.of(raw)
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
            path, f"unknown {what} {name!r}{did_you_mean(name, names)}; known: {listing(names)}; {fix}"
        )
        return False
