"""The technician as dispatch sees it, and the registry's rules: who has room for one more ticket,
what taking one does to their record (the fairness window), and how the tenant file's technicians
are seeded into the registry.

Pure: the repository (``shared/repositories/technicians.py``) turns these decisions into keys,
conditions and transactions; the dispatch use cases read and decide with them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from shared.tenant.models import Technician

__all__ = [
    "FAIRNESS_WINDOW",
    "PRUNE_AT",
    "Assignment",
    "Seeding",
    "TechnicianRecord",
    "assignment",
    "has_room",
    "roster_digest",
    "seeding",
]

FAIRNESS_WINDOW = timedelta(days=7)
"""How far back assignments count for fairness (and for ``assignments_7d`` of the API)."""
PRUNE_AT = 8
"""Drop the assignment instants older than the window once this many have piled up."""

Status = Literal["active", "off"]


class TechnicianRecord(BaseModel):
    """A technician as dispatch sees it: the tenant file's entry plus what changed since."""

    tenant: str
    id: str
    name: str
    status: Status = "active"
    skills: dict[str, int] = Field(default_factory=dict)
    regions: list[str] = Field(default_factory=list)
    capacity: int
    load: int = 0
    location: dict[str, float] | None = None
    """``{"lat": .., "lon": ..}``"""
    rating: Decimal = Decimal(0)
    calendar: str | None = None
    partner_type: str = "direct"
    supervisor: str | None = None
    phone: str | None = None
    recent: list[datetime] = Field(default_factory=list)
    """Assignment instants (UTC); may hold some older than the fairness window."""
    updated_at: datetime | None = None
    updated_by: str | None = None

    def assignments_since(self, since: datetime) -> int:
        return sum(1 for at in self.recent if at >= since)


# --------------------------------------------------------------------------- taking a ticket


def has_room(tech: TechnicianRecord) -> bool:
    """The capacity guard: only an active technician below capacity takes one more ticket."""
    return tech.status == "active" and tech.load < tech.capacity


@dataclass(frozen=True)
class Assignment:
    """One more ticket for a technician, decided on their record as read.

    The registry applies it only while the technician ``has_room`` (checked where it is stored, so
    concurrent assignments never exceed capacity), raises their load by one and adds ``at`` to their
    recent assignments: appended, or, when ``recent`` is given, stored as that list (older instants
    pruned) only if the stored list still has ``recent_read`` entries (nobody assigned meanwhile).
    """

    tenant: str
    technician: str
    at: datetime
    recent: tuple[datetime, ...] | None = None
    recent_read: int = 0


def assignment(tech: TechnicianRecord, at: datetime) -> Assignment:
    """Taking one more ticket at ``at``; prunes the instants past the fairness window once
    ``PRUNE_AT`` of them piled up, so the record stays small."""
    cutoff = at - FAIRNESS_WINDOW
    if sum(1 for t in tech.recent if t < cutoff) < PRUNE_AT:
        return Assignment(tech.tenant, tech.id, at)
    kept = tuple(t for t in tech.recent if t >= cutoff)
    return Assignment(tech.tenant, tech.id, at, recent=(*kept, at), recent_read=len(tech.recent))


# --------------------------------------------------------------------------- seeding


def roster_digest(technicians: Sequence[Technician]) -> str:
    """Names a tenant file's technicians section: the same section, the same digest."""
    text = json.dumps([t.model_dump(mode="json") for t in technicians], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Seeding:
    """Copying the tenant file's technicians into the registry, once per ``digest``.

    Each of ``records`` is added only where the registry has no record of that technician: a record
    changed since (``PUT /technicians/{id}``, its load, its assignments) is never seeded over.
    """

    tenant: str
    digest: str
    records: tuple[TechnicianRecord, ...]


def seeding(tenant: str, technicians: Sequence[Technician]) -> Seeding:
    """The registry's first record of each technician: active, no load, no assignments yet."""
    records = tuple(
        TechnicianRecord(
            tenant=tenant,
            id=tech.id,
            name=tech.name,
            skills=dict(tech.skills),
            regions=list(tech.regions),
            capacity=tech.capacity,
            location=tech.location.model_dump() if tech.location else None,
            rating=tech.rating,
            calendar=tech.calendar,
            partner_type=tech.partner_type,
            supervisor=tech.supervisor,
            phone=tech.phone,
        )
        for tech in technicians
    )
    return Seeding(tenant, roster_digest(technicians), records)
