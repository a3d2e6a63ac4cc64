"""The technician as dispatch sees it, and the registry's rules: who has room for one more ticket,
what taking one does to their record (the fairness window), and how the tenant file's technicians
are seeded into the registry.

Pure: the repository (``shared/repositories/technicians.py``) turns these decisions into keys,
conditions and transactions; the dispatch use cases read and decide with them.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, overload

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from shared.tenant.models import Technician

__all__ = [
    "FAIRNESS_WINDOW",
    "PRUNE_AT",
    "Assignment",
    "Roster",
    "Seeding",
    "TechnicianRecord",
    "assignment",
    "coords_of",
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


# --------------------------------------------------------------------------- a roster as read


class Roster(Sequence[TechnicianRecord]):
    """The technicians of one registry read, with the facts ranking needs of each laid out once.

    Ranking 10,000 technicians is dominated by per-technician Python work, and much of it does not
    depend on the ticket: who is active and has room, who covers which region, the skill levels by
    skill, the calendars, the sines and cosines of the coordinates (``coords_of``), the load
    quotients and ratings as floats with their exact values, the assignment instants sorted
    (fairness is then a bisection). The registry builds a ``Roster`` as it reads, so each
    ranking of the read only does the ticket's part (``functions/dispatch/scoring.py``). It is a
    read-only ``Sequence`` of the records (by id, as read): whoever wants records still gets them.

    ``Roster.of_fields`` lays out plain field values (what the registry reads) and builds a
    ``TechnicianRecord`` (pydantic, validated) only for a technician that is read: a dispatch reads
    a handful of its 10,000, so the roster costs one pass over the stored values, not 10,000 models.
    """

    __slots__ = (
        "_build",
        "_fields",
        "_records",
        "active",
        "calendars",
        "coords",
        "covers",
        "ids",
        "levels_of",
        "pair",
        "quotient",
        "rating",
        "rating_exact",
        "rating_float",
        "ratio",
        "ratio_exact",
        "recent",
        "regions",
        "room",
    )

    def __init__(self, records: Sequence[TechnicianRecord]) -> None:
        self._records: list[TechnicianRecord | None] = list(records)
        self._fields: list[dict[str, Any]] = [r.__dict__ for r in records]
        self._build: Callable[[dict[str, Any]], TechnicianRecord] | None = None
        self._lay_out(self._fields)

    @classmethod
    def of_fields(
        cls, fields: list[dict[str, Any]], build: Callable[[dict[str, Any]], TechnicianRecord]
    ) -> Roster:
        """A roster of ``fields``: per technician, the values its ``TechnicianRecord`` would hold
        (``id``, ``status``, ``load``, ``capacity``, ``rating`` as ``Decimal``, ``regions``,
        ``skills``, ``calendar``, ``location``, ``recent`` as aware datetimes, ...); ``build`` makes
        the record of one, when it is read."""
        roster = cls.__new__(cls)
        roster._records = [None] * len(fields)
        roster._fields = fields
        roster._build = build
        roster._lay_out(fields)
        return roster

    def _lay_out(self, fields: list[dict[str, Any]]) -> None:
        self.ids: list[str] = [f["id"] for f in fields]
        self.active: list[bool] = [f["status"] == "active" for f in fields]
        self.room: list[bool] = [f["load"] < f["capacity"] for f in fields]
        self.pair: list[tuple[int, int]] = [(f["load"], f["capacity"]) for f in fields]
        self.ratio: list[float] = [f["load"] / f["capacity"] for f in fields]
        """load / capacity as a float (correctly rounded: ordered as the exact quotients are)"""
        quotients = {pair: Decimal(pair[0]) / Decimal(pair[1]) for pair in set(self.pair)}
        self.quotient: list[Decimal] = [quotients[pair] for pair in self.pair]
        """load / capacity, exact"""
        self.ratio_exact: dict[float, Decimal | None] = _exact_of(quotients.values())
        """float → the one exact quotient with that float (``None``: several)"""
        self.rating: list[Decimal] = [f["rating"] for f in fields]
        floats = {r: float(r) for r in set(self.rating)}  # float(Decimal) goes through text: slow
        self.rating_float: list[float] = [floats[r] for r in self.rating]
        self.rating_exact: dict[float, Decimal | None] = _exact_of(self.rating)
        """float → the one exact rating with that float (``None``: several)"""
        self.regions: list[list[str]] = [f["regions"] for f in fields]
        self.covers: dict[str, list[bool]] = {
            code: [code in r for r in self.regions] for code in {c for r in self.regions for c in r}
        }
        """Region → whether each technician covers it."""
        self.levels_of: dict[str, list[int]] = {
            name: [f["skills"].get(name, 0) for f in fields]
            for name in {k for f in fields for k in f["skills"]}
        }
        """Skill → each technician's level in it (0 without it)."""
        calendar = [f["calendar"] for f in fields]
        self.calendars: dict[str | None, list[bool]] = {
            name: [c == name for c in calendar] for name in set(calendar)
        }
        """Calendar → whether each technician works by it."""
        self.recent: list[list[datetime]] = [sorted(f["recent"]) if f["recent"] else [] for f in fields]
        """Each technician's assignment instants, sorted (appended in order, so usually already)."""
        self.coords: list[tuple[float, float, float, float] | None] = _all_coords(
            [f["location"] for f in fields]
        )
        """Per technician with a usable location, what the haversine needs of it (``coords_of``);
        ``None`` without one."""

    def levels(self, skill: str) -> list[int]:
        """Every technician's level in ``skill`` (0 without it)."""
        found = self.levels_of.get(skill)
        return found if found is not None else [0] * len(self._records)

    def __len__(self) -> int:
        return len(self._records)

    def _record(self, index: int) -> TechnicianRecord:
        record = self._records[index]
        if record is None:
            assert self._build is not None
            record = self._records[index] = self._build(self._fields[index])
        return record

    @overload
    def __getitem__(self, index: int) -> TechnicianRecord: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[TechnicianRecord]: ...
    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._record(i) for i in range(len(self))[index]]
        return self._record(index)

    def __iter__(self) -> Iterator[TechnicianRecord]:
        return (self._record(i) for i in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (Roster, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Roster of {len(self)}>"


def _exact_of(values: Iterable[Decimal]) -> dict[float, Decimal | None]:
    """Each float to the one exact value converting to it, or ``None`` where several do."""
    found: dict[float, Decimal | None] = {}
    for value in set(values):
        key = float(value)
        found[key] = value if key not in found else None
    return found


def _all_coords(locations: list[dict[str, Any] | None]) -> list[tuple[float, float, float, float] | None]:
    """``coords_of`` of each location: in a few list passes when every one is a usable point, else
    one by one."""
    sin, cos, sqrt = math.sin, math.cos, math.sqrt
    try:
        points = [(math.radians(float(p["lat"])), math.radians(float(p["lon"]))) for p in locations]  # type: ignore[index]
        return [
            (
                sin(lat * 0.5),
                cos(lat * 0.5),
                (root := sqrt(max(cos(lat), 0.0))) * sin(lon * 0.5),
                root * cos(lon * 0.5),
            )
            for lat, lon in points
        ]
    except (KeyError, TypeError, ValueError):
        return [coords_of(location) for location in locations]


def coords_of(location: dict[str, Any] | None) -> tuple[float, float, float, float] | None:
    """What the haversine needs of a location, computed once; ``None`` when it has no usable point.

    (sin φ/2, cos φ/2, √cos φ · sin λ/2, √cos φ · cos λ/2) for latitude φ, longitude λ: with them
    haversine(a, b) = (sin φa/2 · cos φb/2 - cos φa/2 · sin φb/2)² + (√cos φa · √cos φb · sin(Δλ/2))²
    takes six products per pair of points and no sine."""
    if not location:
        return None
    try:
        lat, lon = math.radians(float(location["lat"])), math.radians(float(location["lon"]))
    except (KeyError, TypeError, ValueError):
        return None
    root_cos = math.sqrt(max(math.cos(lat), 0.0))
    return (
        math.sin(lat * 0.5),
        math.cos(lat * 0.5),
        root_cos * math.sin(lon * 0.5),
        root_cos * math.cos(lon * 0.5),
    )


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
    ``regions`` are the technician's as read: the registry applies it only while they still are
    (the registry keeps a technician's record in the collection of each region they cover).
    """

    tenant: str
    technician: str
    at: datetime
    recent: tuple[datetime, ...] | None = None
    recent_read: int = 0
    regions: tuple[str, ...] = ()


def assignment(tech: TechnicianRecord, at: datetime) -> Assignment:
    """Taking one more ticket at ``at``; prunes the instants past the fairness window once
    ``PRUNE_AT`` of them piled up, so the record stays small."""
    cutoff = at - FAIRNESS_WINDOW
    regions = tuple(tech.regions)
    if sum(1 for t in tech.recent if t < cutoff) < PRUNE_AT:
        return Assignment(tech.tenant, tech.id, at, regions=regions)
    kept = tuple(t for t in tech.recent if t >= cutoff)
    return Assignment(
        tech.tenant, tech.id, at, recent=(*kept, at), recent_read=len(tech.recent), regions=regions
    )


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
