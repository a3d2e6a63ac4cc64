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
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import chain, compress, repeat
from math import dist
from operator import contains, eq, itemgetter, lt, mul, not_, truediv
from threading import Lock
from typing import TYPE_CHECKING, Any, Literal, cast, overload

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    from shared.tenant.models import Technician

__all__ = [
    "FAIRNESS_WINDOW",
    "PRUNE_AT",
    "Assignment",
    "Roster",
    "RosterBits",
    "RosterCache",
    "Seeding",
    "TechnicianRecord",
    "assignment",
    "has_room",
    "point_of",
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
    skill, the calendars, the coordinates as points on the unit sphere and in cells (``point_of``,
    ``Cells``), the load quotients and ratings as floats with their exact values, how many
    assignment instants each has, and the same facts as sets of positions (``RosterBits``), so a
    ranking filters 10,000 technicians in a few integer operations. The registry builds a
    ``Roster`` as it reads, so each ranking of the read only does the ticket's part
    (``functions/dispatch/scoring.py``). It is a read-only ``Sequence`` of the records (by id, as
    read): whoever wants records still gets them.

    ``Roster.of_fields`` lays out plain field values (what the registry reads) and builds a
    ``TechnicianRecord`` (pydantic, validated) only for a technician that is read: a dispatch reads
    a handful of its 10,000, so the roster costs a few C loops over the stored values, not 10,000
    models; with the registry's ``RosterCache`` the static part of it is reused between reads.
    """

    __slots__ = (
        "_build",
        "_fields",
        "_records",
        "active",
        "bits",
        "calendars",
        "counts",
        "covers",
        "home",
        "ids",
        "instants",
        "levels_of",
        "pair",
        "points",
        "quotient",
        "rating",
        "rating_exact",
        "rating_float",
        "ratio",
        "ratio_exact",
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
        cls,
        fields: list[dict[str, Any]],
        build: Callable[[dict[str, Any]], TechnicianRecord],
        *,
        cache: RosterCache | None = None,
        key: Hashable = None,
    ) -> Roster:
        """A roster of ``fields``: per technician, the values its ``TechnicianRecord`` would hold
        (``id``, ``status``, ``load``, ``capacity``, ``rating`` as ``Decimal``, ``regions``,
        ``skills``, ``calendar``, ``location``, ``recent`` as aware datetimes, ``updated_at``, ...);
        ``build`` makes the record of one, when it is read. With a ``cache`` (the registry's, per
        container) the facts that only a change of a record alters are reused from the last read
        under ``key`` while every technician's ``(id, updated_at)`` is as it was then."""
        roster = cls.__new__(cls)
        roster._records = [None] * len(fields)
        roster._fields = fields
        roster._build = build
        roster._lay_out(fields, None if cache is None else cache.static(key, fields))
        return roster

    def _lay_out(self, fields: list[dict[str, Any]], static: _Static | None = None) -> None:
        """The facts ranking reads: the static ones (``_Static``, given when cached) and those every
        assignment changes (load, assignment instants), laid out here in a few C loops."""
        static = static or _Static.of(fields)
        self.ids: list[str] = static.ids
        self.active: list[bool] = static.active
        self.rating: list[Decimal] = static.rating
        self.rating_float: list[float] = static.rating_float
        self.rating_exact: dict[float, Decimal | None] = static.rating_exact
        """float → the one exact rating with that float (``None``: several)"""
        self.regions: list[list[str]] = static.regions
        self.home: list[str | None] = static.home
        """Each technician's first (home) region, ``None`` without one."""
        self.covers: dict[str, list[bool]] = static.covers
        """Region → whether each technician covers it."""
        self.levels_of: dict[str, list[int]] = static.levels_of
        """Skill → each technician's level in it (0 without it)."""
        self.calendars: dict[str | None, list[bool]] = static.calendars
        """Calendar → whether each technician works by it."""
        self.points: list[tuple[float, float, float] | None] = static.points
        """Per technician with a usable location, its point on the unit sphere (``point_of``);
        ``None`` without one."""
        loads, capacities = _column(fields, "load"), _column(fields, "capacity")
        self.room: list[bool] = list(map(lt, loads, capacities))
        self.pair: list[tuple[int, int]] = list(zip(loads, capacities, strict=True))
        self.ratio: list[float] = list(map(truediv, loads, capacities))
        """load / capacity as a float (correctly rounded: ordered as the exact quotients are)"""
        quotients = {pair: Decimal(pair[0]) / Decimal(pair[1]) for pair in set(self.pair)}
        self.quotient: list[Decimal] = list(map(quotients.__getitem__, self.pair))
        """load / capacity, exact"""
        self.ratio_exact: dict[float, Decimal | None] = _exact_of(quotients.values())
        """float → the one exact quotient with that float (``None``: several)"""
        self.instants: list[list[datetime]] = _column(fields, "recent")
        """Each technician's assignment instants as read (a ranking counts those in the window of
        the few it scores; sorting 10,000 lists per read would cost more)."""
        self.counts: list[int] = list(map(len, self.instants))
        """How many assignment instants each technician has (fairness counts those in the window)."""
        self.bits = RosterBits(
            size=len(fields),
            room=bits_of(self.room),
            unassigned=bits_of(map(not_, self.instants)),
            **static.bits,
        )

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


def _all_points(locations: list[dict[str, Any] | None]) -> list[tuple[float, float, float] | None]:
    """``point_of`` of each location: a few C loops when every one is a usable point, else one by
    one (the same arithmetic, so the same points)."""
    try:
        lats = list(map(math.radians, map(float, map(itemgetter("lat"), locations))))  # type: ignore[arg-type]
        lons = list(map(math.radians, map(float, map(itemgetter("lon"), locations))))  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return [point_of(location) for location in locations]
    cos_lat = list(map(math.cos, lats))
    return list(
        zip(
            map(mul, cos_lat, map(math.cos, lons)),
            map(mul, cos_lat, map(math.sin, lons)),
            map(math.sin, lats),
            strict=True,
        )
    )


def point_of(location: Mapping[str, Any] | None) -> tuple[float, float, float] | None:
    """The location as a point on the unit sphere, ``None`` when it has no usable point.

    (cos φ · cos λ, cos φ · sin λ, sin φ) for latitude φ, longitude λ: the straight-line distance
    between two such points (``math.dist``, one C call) is the chord c, and the great-circle
    distance is 2R · asin(c / 2), the haversine's value (within nanometres on Earth), so a ranking
    needs no sine per technician and can compare chords where it only needs the order."""
    if not location:
        return None
    try:
        lat, lon = math.radians(float(location["lat"])), math.radians(float(location["lon"]))
    except (KeyError, TypeError, ValueError):
        return None
    c = math.cos(lat)
    return (c * math.cos(lon), c * math.sin(lon), math.sin(lat))


_DIGITS = bytes.maketrans(b"\x00\x01", b"01")


def bits_of(flags: Iterable[int]) -> int:
    """The set of positions whose flag is true, as an integer (bit i: position i)."""
    return int(b"0" + bytes(flags)[::-1].translate(_DIGITS), 2)


def flags_of(bits: int, size: int) -> bytes:
    """The inverse of ``bits_of``: one byte per position, 1 where the bit is set."""
    return format(bits, "b").zfill(size)[::-1][:size].encode().translate(_FLAGS)


_FLAGS = bytes.maketrans(b"01", b"\x00\x01")


def _bits_by(values: Sequence[Any]) -> dict[Any, int] | None:
    """Each distinct value to the set of positions holding it (``None`` beyond ``SET_LIMIT`` distinct
    values, where a set per value would cost more than it saves)."""
    codes = {value: code for code, value in enumerate(dict.fromkeys(values))}
    if len(codes) > SET_LIMIT:
        return None
    data = bytes(map(codes.__getitem__, values))[::-1]
    found: dict[Any, int] = {}
    for value, code in codes.items():
        table = bytearray(b"0" * 256)
        table[code] = ord("1")
        found[value] = int(b"0" + data.translate(table), 2)
    return found


SET_LIMIT = 255
"""Most distinct values a fact is kept as sets of positions for (one byte per position codes them)."""
CELL_SIZE = 48
"""About how many technicians a cell holds (the grid's side is chosen from the spread)."""


@dataclass(frozen=True)
class Cells:
    """The located technicians in cells of a grid over their points (``point_of``): per cell a centre,
    a radius that every member's point is within, and the members' positions.

    The straight-line (chord) distance is a metric, so a member of a cell is between
    ``dist(centre, q) - radius`` and ``dist(centre, q) + radius`` from any point ``q``: a ranking
    measures a cell once to know that all its members are within the distance limit, or that none
    of them is near enough to matter, and measures the members only of the cells it must."""

    centres: list[tuple[float, float, float]]
    radii: list[float]
    members: list[list[int]]

    @classmethod
    def of(cls, points: Sequence[tuple[float, float, float] | None]) -> Cells:
        located = list(compress(range(len(points)), points))  # a point is a non-empty tuple
        if not located:
            return cls([], [], [])
        at = cast(list[tuple[float, float, float]], list(compress(points, points)))
        xs, ys, zs = (list(map(itemgetter(axis), at)) for axis in range(3))
        extent = max(max(xs) - min(xs), max(ys) - min(ys), max(zs) - min(zs))
        side = extent / math.sqrt(max(1, len(located) // CELL_SIZE)) if extent > 0 else 1.0
        scale = 1.0 / side
        keys = zip(
            map(math.floor, map(mul, xs, repeat(scale))),
            map(math.floor, map(mul, ys, repeat(scale))),
            map(math.floor, map(mul, zs, repeat(scale))),
            strict=True,
        )
        groups: defaultdict[tuple[int, int, int], list[int]] = defaultdict(list)
        for i, key in zip(located, keys, strict=True):
            groups[key].append(i)
        centres = [((x + 0.5) * side, (y + 0.5) * side, (z + 0.5) * side) for x, y, z in groups]
        radii = [
            max(map(dist, map(points.__getitem__, members), repeat(centre)))  # type: ignore[arg-type]
            for centre, members in zip(centres, groups.values(), strict=True)
        ]
        return cls(centres, radii, list(groups.values()))


def _column(fields: list[dict[str, Any]], name: str) -> list[Any]:
    return list(map(itemgetter(name), fields))


@dataclass(frozen=True)
class _Static:
    """The facts of a roster that change only when a technician's record is changed (``PUT`` of the
    registry, which stamps ``updated_at``) or when technicians join or leave it: who is active,
    regions, skills, ratings, calendars, points and cells, and their sets (``RosterBits``)."""

    ids: list[str]
    active: list[bool]
    rating: list[Decimal]
    rating_float: list[float]
    rating_exact: dict[float, Decimal | None]
    regions: list[list[str]]
    home: list[str | None]
    covers: dict[str, list[bool]]
    levels_of: dict[str, list[int]]
    calendars: dict[str | None, list[bool]]
    points: list[tuple[float, float, float] | None]
    bits: dict[str, Any]
    """The static fields of ``RosterBits``."""

    @classmethod
    def of(cls, fields: list[dict[str, Any]]) -> _Static:
        # one C loop per fact (map, zip, itemgetter): a Python loop per technician costs more here
        # than everything a ranking then does
        rating = _column(fields, "rating")
        floats = {r: float(r) for r in set(rating)}  # float(Decimal) goes through text: slow
        regions = _column(fields, "regions")
        covers = {
            code: list(map(contains, regions, repeat(code))) for code in set(chain.from_iterable(regions))
        }
        skills = _column(fields, "skills")
        levels_of = {
            name: list(map(dict.get, skills, repeat(name), repeat(0)))
            for name in set(chain.from_iterable(skills))
        }
        calendar = _column(fields, "calendar")
        calendars = {name: list(map(eq, calendar, repeat(name))) for name in set(calendar)}
        active = list(map(eq, _column(fields, "status"), repeat("active")))
        points = _all_points(_column(fields, "location"))
        by_rating = _bits_by(rating)
        bits = {
            "active": bits_of(active),
            "located": bits_of(map(bool, points)),
            "covers": {code: bits_of(flags) for code, flags in covers.items()},
            "levels": {name: _levels(column) for name, column in levels_of.items()},
            "calendars": {name: (flags.index(True), bits_of(flags)) for name, flags in calendars.items()},
            "ratings": None if by_rating is None else sorted(by_rating.items()),
            "cells": Cells.of(points),
        }
        return cls(
            ids=_column(fields, "id"),
            active=active,
            rating=rating,
            rating_float=list(map(floats.__getitem__, rating)),
            rating_exact=_exact_of(floats),
            regions=regions,
            home=[r[0] if r else None for r in regions],
            covers=covers,
            levels_of=levels_of,
            calendars=calendars,
            points=points,
            bits=bits,
        )


def _levels(column: list[int]) -> dict[int, int]:
    by_level = _bits_by(column)
    if by_level is None:
        return {level: bits_of(map(eq, column, repeat(level))) for level in set(column)}
    return by_level


class RosterCache:
    """The static facts (``_Static``) of the rosters a container read last, one per key (a tenant's
    region), reused while every technician's ``(id, updated_at)`` is what it was: a warm dispatch
    then lays out only loads and assignment instants. The registry stamps a new ``updated_at`` on
    every change of a record (``PUT /technicians/{id}``) and seeding never writes over a record, so
    an unchanged stamp means unchanged static facts. Keeps at most ``size`` keys (least recent out):
    a region of 10,000 technicians holds a few MB."""

    def __init__(self, size: int = 8) -> None:
        self._size = size
        self._entries: dict[Hashable, tuple[tuple[list[str], list[Any]], _Static]] = {}
        self._lock = Lock()  # the local twin runs functions on threads

    def static(self, key: Hashable, fields: list[dict[str, Any]]) -> _Static:
        stamps = (_column(fields, "id"), _column(fields, "updated_at"))
        with self._lock:
            found = self._entries.pop(key, None)
        static = found[1] if found is not None and found[0] == stamps else _Static.of(fields)
        with self._lock:
            self._entries[key] = (stamps, static)  # the most recent last
            while len(self._entries) > self._size:
                del self._entries[next(iter(self._entries))]
        return static


@dataclass(frozen=True)
class RosterBits:
    """A roster's facts as sets of positions, each an integer (bit i: the i-th technician).

    The hard filters are then a few ``&`` and ``bit_count`` over 10,000 bits, and the range of a
    criterion over the candidates is found by walking its distinct values (a handful) and asking
    which one any candidate has, instead of reading every candidate.
    """

    size: int
    active: int
    room: int
    located: int
    """Who has a usable location (``point_of``)."""
    unassigned: int
    """Who has no assignment instant at all (fairness 0 whatever the instant)."""
    covers: dict[str, int]
    levels: dict[str, dict[int, int]]
    """Skill → level → who has exactly that level (0: not the skill); absent skill: everyone 0."""
    calendars: dict[str | None, tuple[int, int]]
    """Calendar → (the first position working by it, who works by it)."""
    ratings: list[tuple[Decimal, int]] | None
    """Rating → who has it, ascending (``None``: too many distinct values)."""
    cells: Cells
    """The located technicians by where they are."""

    def at_least(self, skill: str, level: int) -> int:
        """Who has ``skill`` at ``level`` or above."""
        by_level = self.levels.get(skill)
        if by_level is None:
            return (1 << self.size) - 1 if level <= 0 else 0
        found = 0
        for value, bits in by_level.items():
            if value >= level:
                found |= bits
        return found


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
