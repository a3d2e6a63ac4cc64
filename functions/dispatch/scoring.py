"""Who may take a ticket, and who should: hard filters, then a weighted, explainable score.

Pure logic (no I/O): technicians, the ticket's needs and the tenant's dispatch policy come in,
a ranking comes out.

Hard filters, in this order (a technician is counted under the first one that fails):
``declined`` (declined this ticket), ``off`` (status), ``region`` (does not cover the ticket's
region), ``skills`` (a required skill below the node's minimum level), ``off_duty`` (their
calendar is closed now), ``capacity`` (load ≥ capacity), ``distance`` (farther than
``max_distance_km``, only when both sides have coordinates).

Score = Σ weight × normalized criterion, each criterion normalized to [0, 1] across the
remaining candidates (min-max; 1 for everyone when all are equal):

- ``distance``: great-circle km, closer is better; without coordinates on either side it is
  the region match instead: 1 when the ticket's region is the technician's first (home)
  region, 0.5 when it is another region they cover;
- ``skill``: sum of the technician's levels in the node's required skills, higher is better;
- ``load``: load / capacity, lower is better;
- ``rating``: higher is better;
- ``fairness``: assignments in the last 7 days, fewer is better.

Arithmetic is ``Decimal`` (distances rounded to metres first), so ties are exact; they break
by technician id.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from shared.repositories.technicians import FAIRNESS_WINDOW, TechnicianRecord
from shared.tenant.models import DISPATCH_FACTORS

__all__ = [
    "CRITERIA",
    "FILTERS",
    "Criterion",
    "Job",
    "Policy",
    "Ranking",
    "Scored",
    "haversine_km",
    "rank",
]

CRITERIA: tuple[str, ...] = DISPATCH_FACTORS  # distance, skill, load, rating, fairness
FILTERS: tuple[str, ...] = ("declined", "off", "region", "skills", "off_duty", "capacity", "distance")
EARTH_RADIUS_KM = 6371.0088
TOP = 5

_ONE = Decimal(1)
_ZERO = Decimal(0)
_HALF = Decimal("0.5")
_METRE = Decimal("0.001")
_SHOW = Decimal("0.0001")


@dataclass(frozen=True)
class Job:
    """What the ticket needs from a technician."""

    region: str | None = None
    location: tuple[float, float] | None = None
    """(lat, lon)"""
    skills: Mapping[str, int] = field(default_factory=dict)
    declined: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Policy:
    weights: Mapping[str, Decimal]
    max_distance_km: Decimal

    def weight(self, criterion: str) -> Decimal:
        return Decimal(self.weights.get(criterion, _ZERO))


@dataclass(frozen=True)
class Criterion:
    raw: Any
    normalized: Decimal
    weight: Decimal

    @property
    def contribution(self) -> Decimal:
        return self.weight * self.normalized

    def explain(self) -> dict[str, Any]:
        return {
            "raw": self.raw,
            "normalized": _show(self.normalized),
            "weight": f"{self.weight:f}",
            "contribution": _show(self.contribution),
        }


@dataclass(frozen=True)
class Scored:
    technician: TechnicianRecord
    total: Decimal
    parts: tuple[tuple[Any, Decimal], ...]
    """(raw, normalized) per criterion, in the order of ``CRITERIA``."""
    weights: tuple[Decimal, ...]

    @property
    def id(self) -> str:
        return self.technician.id

    @property
    def criteria(self) -> dict[str, Criterion]:
        return {
            name: Criterion(raw=_wire(raw), normalized=normalized, weight=weight)
            for name, (raw, normalized), weight in zip(CRITERIA, self.parts, self.weights, strict=True)
        }

    def explain(self, position: int) -> dict[str, Any]:
        criteria = self.criteria
        return {
            "rank": position,
            "technician": self.id,
            "total": _show(self.total),
            "criteria": {name: criteria[name].explain() for name in CRITERIA},
        }


@dataclass
class Ranking:
    candidates: list[Scored]
    """Best first."""
    filtered: dict[str, int]
    """Filter reason → how many technicians it removed (first failing filter counts)."""
    considered: int
    policy: Policy

    def explanation(self, top: int = TOP) -> dict[str, Any]:
        shown = self.candidates[:top]
        return {
            "considered": self.considered,
            "eligible": len(self.candidates),
            "weights": {name: f"{self.policy.weight(name):f}" for name in CRITERIA},
            "max_distance_km": f"{self.policy.max_distance_km:f}",
            "top": [s.explain(i + 1) for i, s in enumerate(shown)],
            "not_shown": len(self.candidates) - len(shown),
            "filtered": {reason: self.filtered[reason] for reason in FILTERS if self.filtered.get(reason)},
        }


def _show(value: Decimal) -> str:
    return f"{value.quantize(_SHOW):f}"


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    lat1, lon1, lat2, lon2 = map(math.radians, (a[0], a[1], b[0], b[1]))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def _point(location: Mapping[str, Any] | None) -> tuple[float, float] | None:
    if not location:
        return None
    try:
        return float(location["lat"]), float(location["lon"])
    except (KeyError, TypeError, ValueError):
        return None


def _distance(job: Job, tech: TechnicianRecord) -> Decimal | None:
    here = _point(tech.location)
    if job.location is None or here is None:
        return None
    return Decimal(repr(haversine_km(job.location, here))).quantize(_METRE)


def _filter(
    job: Job,
    tech: TechnicianRecord,
    policy: Policy,
    on_duty: Callable[[TechnicianRecord], bool],
) -> tuple[str | None, Decimal | None]:
    """The first filter the technician fails (or ``None``), and their distance if known."""
    if tech.id in job.declined:
        return "declined", None
    if tech.status != "active":
        return "off", None
    if job.region is not None and job.region not in tech.regions:
        return "region", None
    if any(tech.skills.get(skill, 0) < level for skill, level in job.skills.items()):
        return "skills", None
    if not on_duty(tech):
        return "off_duty", None
    if tech.load >= tech.capacity:
        return "capacity", None
    distance = _distance(job, tech)
    if distance is not None and distance > policy.max_distance_km:
        return "distance", distance
    return None, distance


def _normalize(values: Sequence[Decimal], *, higher_is_better: bool) -> list[Decimal]:
    if not values:
        return []
    low, high = min(values), max(values)
    if low == high:
        return [_ONE] * len(values)
    span = high - low
    if higher_is_better:
        return [(v - low) / span for v in values]
    return [(high - v) / span for v in values]


def rank(
    technicians: Sequence[TechnicianRecord],
    job: Job,
    policy: Policy,
    *,
    at: datetime,
    on_duty: Callable[[TechnicianRecord], bool],
) -> Ranking:
    """Filter, score and order the technicians for ``job`` at instant ``at``."""
    filtered: Counter[str] = Counter()
    kept: list[tuple[TechnicianRecord, Decimal | None]] = []
    for tech in technicians:
        reason, distance = _filter(job, tech, policy, on_duty)
        if reason is None:
            kept.append((tech, distance))
        else:
            filtered[reason] += 1

    since = at - FAIRNESS_WINDOW
    raw: dict[str, list[Any]] = {
        "skill": [sum(t.skills.get(s, 0) for s in job.skills) for t, _ in kept],
        "load": [Decimal(t.load) / Decimal(t.capacity) for t, _ in kept],
        "rating": [t.rating for t, _ in kept],
        "fairness": [t.assignments_since(since) for t, _ in kept],
    }
    normalized: dict[str, list[Decimal]] = {
        "skill": _normalize([Decimal(v) for v in raw["skill"]], higher_is_better=True),
        "load": _normalize(raw["load"], higher_is_better=False),
        "rating": _normalize(raw["rating"], higher_is_better=True),
        "fairness": _normalize([Decimal(v) for v in raw["fairness"]], higher_is_better=False),
    }
    # Distance: min-max over those with coordinates; region match for the others.
    measured = [d for _, d in kept if d is not None]
    by_distance = iter(_normalize(measured, higher_is_better=False))
    raw["distance"], normalized["distance"] = [], []
    for tech, distance in kept:
        if distance is not None:
            raw["distance"].append(f"{distance:f} km")
            normalized["distance"].append(next(by_distance))
        else:
            home = bool(tech.regions) and tech.regions[0] == job.region
            raw["distance"].append("home region" if home else "covers region")
            normalized["distance"].append(_ONE if home else _HALF)

    weights = tuple(policy.weight(name) for name in CRITERIA)
    columns = [list(zip(raw[name], normalized[name], strict=True)) for name in CRITERIA]
    scored: list[Scored] = []
    for i, (tech, _) in enumerate(kept):
        parts = tuple(column[i] for column in columns)
        total = _ZERO
        for (_raw, value), weight in zip(parts, weights, strict=True):
            if weight:
                total += weight * value
        scored.append(Scored(tech, total, parts, weights))
    scored.sort(key=lambda s: (-s.total, s.id))
    return Ranking(candidates=scored, filtered=dict(filtered), considered=len(technicians), policy=policy)


def _wire(value: Any) -> Any:
    if isinstance(value, Decimal):
        return _show(value) if value.as_tuple().exponent < -4 else f"{value:f}"  # type: ignore[operator]
    return value
