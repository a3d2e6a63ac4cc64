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

The scores are defined in ``Decimal`` (distances rounded to metres first), so ties are exact;
they break by technician id. ``rank_exact`` computes exactly that for every candidate. ``rank``
gives the same ranking faster: it filters and scores in floats, with a bound on how far each
float total can be from its ``Decimal`` total; candidates whose float totals are closer than
that bound are put in order by their exact ``Decimal`` totals, and a candidate's ``Decimal``
figures (total, normalized values, the explanation) are computed only when read, so a
dispatch that takes the first candidate computes five of them, not ten thousand.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from typing import Any

from shared.domain.technician import FAIRNESS_WINDOW, TechnicianRecord
from shared.tenant.models import DISPATCH_FACTORS

__all__ = [
    "CRITERIA",
    "FILTERS",
    "Criterion",
    "Job",
    "OnDuty",
    "Policy",
    "Ranking",
    "Scored",
    "haversine_km",
    "rank",
    "rank_exact",
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

OnDuty = Callable[[TechnicianRecord], bool]
"""Whether a technician is on duty at the ranking's instant (by their calendar)."""


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
    candidates: Sequence[Scored]
    """Best first (``rank`` builds each entry when it is first read)."""
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
    on_duty: OnDuty,
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


def rank_exact(
    technicians: Sequence[TechnicianRecord],
    job: Job,
    policy: Policy,
    *,
    at: datetime,
    on_duty: OnDuty,
) -> Ranking:
    """The reference ranking: every candidate scored in ``Decimal`` (what ``rank`` must equal).

    Kept for the property test and the benchmark's comparison; ``rank`` gives the same ranking
    and the same explanation, faster.
    """
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


# --------------------------------------------------------------------------- the fast path

_U = 2.0**-52
"""Twice the unit roundoff of a double: a generous bound on one rounding's relative error."""
_HALF_MARGIN = 1e-6
"""Metres: a distance this close to a half metre is rounded through ``Decimal`` as ``_distance`` does."""
_HOME, _COVERS = -1, -2
"""Distance keys of candidates without coordinates (measured ones have their metres, >= 0)."""


class _Fallback(Exception):
    """Floats cannot separate values that differ in ``Decimal``: rank exactly instead."""


@dataclass
class _Column:
    """One criterion across the candidates: normalized = ``scale`` × value + ``shift`` (floats),
    within ``error`` of the ``Decimal`` normalized value; ``low``/``high`` are the exact range."""

    values: Sequence[float]
    scale: float
    shift: float
    error: float
    low: Decimal
    high: Decimal


def _column(values: Sequence[float], low: Decimal, high: Decimal, *, higher_is_better: bool) -> _Column:
    if low == high:
        return _Column(values, 0.0, 1.0, 0.0, low, high)
    lo, hi = float(low), float(high)
    span = hi - lo
    if not span > 0 or not math.isfinite(span):
        raise _Fallback
    # values, low and high are within one rounding of their Decimal; scaling and shifting add a
    # few more: |error| <= ~6u·(max(|lo|,|hi|)/span + 1); taken as 16u for margin.
    error = 16 * _U * (max(abs(lo), abs(hi)) / span + 1)
    if higher_is_better:  # (v - lo) / span
        return _Column(values, 1 / span, -lo / span, error, low, high)
    return _Column(values, -1 / span, hi / span, error, low, high)  # (hi - v) / span


class _Candidates(Sequence[Scored]):
    """The ranking, best first; each ``Scored`` (in ``Decimal``) is built when it is first read."""

    def __init__(self, order: list[int], exact: Callable[[int], Scored]) -> None:
        self._order = order
        self._exact = exact

    def __len__(self) -> int:
        return len(self._order)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self._exact(i) for i in self._order[index]]
        return self._exact(self._order[index])

    def __iter__(self) -> Any:
        return (self._exact(i) for i in self._order)

    def __repr__(self) -> str:
        return f"<{len(self)} candidates>"


def rank(
    technicians: Sequence[TechnicianRecord],
    job: Job,
    policy: Policy,
    *,
    at: datetime,
    on_duty: OnDuty,
) -> Ranking:
    """Filter, score and order the technicians for ``job`` at instant ``at``.

    The same ranking as ``rank_exact`` (same order, same ``Decimal`` totals and explanation).
    """
    try:
        return _rank_fast(technicians, job, policy, at, on_duty)
    except _Fallback:
        return rank_exact(technicians, job, policy, at=at, on_duty=on_duty)


def _rank_fast(
    technicians: Sequence[TechnicianRecord], job: Job, policy: Policy, at: datetime, on_duty: OnDuty
) -> Ranking:
    filtered: dict[str, int] = {}
    declined = job.declined
    region = job.region
    needs = tuple(job.skills.items())
    since = at - FAIRNESS_WINDOW
    here = job.location
    lat1 = lon1 = cos1 = 0.0
    if here is not None:
        lat1, lon1 = math.radians(here[0]), math.radians(here[1])
        cos1 = math.cos(lat1)
    limit = math.floor(policy.max_distance_km * 1000)  # metres, exact: k > max ⟺ k > floor(max)
    sin, cos, sqrt, asin = math.sin, math.cos, math.sqrt, math.asin
    to_radians = math.pi / 180.0  # what math.radians multiplies by
    metre_diameter = 2 * EARTH_RADIUS_KM * 1000.0

    kept: list[TechnicianRecord] = []
    metres: list[int] = []  # distance key: metres, or _HOME / _COVERS without coordinates
    skill: list[int] = []
    fairness: list[int] = []
    need_name, need_level = needs[0] if len(needs) == 1 else (None, 0)
    many = len(needs) > 1
    level_of = 0  # the technician's level in the one required skill
    for tech in technicians:
        f = tech.__dict__  # the model's fields: reading them here is about twice as fast
        if f["id"] in declined:
            reason = "declined"
        elif f["status"] != "active":
            reason = "off"
        elif region is not None and region not in f["regions"]:
            reason = "region"
        elif (need_name is not None and (level_of := f["skills"].get(need_name, 0)) < need_level) or (
            many and any(f["skills"].get(name, 0) < level for name, level in needs)
        ):
            reason = "skills"
        elif not on_duty(tech):
            reason = "off_duty"
        elif f["load"] >= f["capacity"]:
            reason = "capacity"
        else:
            k = -3
            loc = f["location"]
            if here is not None and loc:
                try:
                    lat2, lon2 = float(loc["lat"]) * to_radians, float(loc["lon"]) * to_radians
                except (KeyError, TypeError, ValueError):
                    pass
                else:
                    # haversine_km (within a few ulps of it)
                    a = sin((lat2 - lat1) * 0.5)
                    b = sin((lon2 - lon1) * 0.5)
                    root = sqrt(a * a + cos1 * cos(lat2) * b * b)
                    m = metre_diameter * asin(root if root < 1.0 else 1.0)
                    k = int(m + 0.5)  # m >= 0: int() is floor
                    if not -0.5 + _HALF_MARGIN < m - k < 0.5 - _HALF_MARGIN:
                        # within a hair of a half metre: round exactly as _distance does
                        exact_km = _distance(job, tech)
                        k = int(exact_km.scaleb(3)) if exact_km is not None else -3
                    if k > limit:
                        filtered["distance"] = filtered.get("distance", 0) + 1
                        continue
            if k == -3:
                regions = f["regions"]
                k = _HOME if regions and regions[0] == region else _COVERS
            kept.append(tech)
            metres.append(k)
            skill.append(sum(f["skills"].get(name, 0) for name, _level in needs) if many else level_of)
            recent = f["recent"]
            fairness.append(sum(map(since.__le__, recent)) if recent else 0)
            continue
        filtered[reason] = filtered.get(reason, 0) + 1

    count = len(kept)
    if not count:
        return Ranking(candidates=[], filtered=filtered, considered=len(technicians), policy=policy)

    # Exact per-candidate raws where floats might not be: load (a Decimal quotient) and rating.
    fields = [t.__dict__ for t in kept]
    pairs = list(map(itemgetter("load", "capacity"), fields))
    quotients = {pair: Decimal(pair[0]) / Decimal(pair[1]) for pair in set(pairs)}
    load_floats = {pair: pair[0] / pair[1] for pair in quotients}
    ratings = list(map(itemgetter("rating"), fields))

    measured = [k for k in metres if k >= 0]
    columns: dict[str, _Column] = {
        "skill": _column(skill, Decimal(min(skill)), Decimal(max(skill)), higher_is_better=True),
        "load": _column(
            list(map(load_floats.__getitem__, pairs)),
            min(quotients.values()),
            max(quotients.values()),
            higher_is_better=False,
        ),
        "rating": _column(
            list(map({r: float(r) for r in set(ratings)}.__getitem__, ratings)),
            min(ratings),
            max(ratings),
            higher_is_better=True,
        ),
        "fairness": _column(fairness, Decimal(min(fairness)), Decimal(max(fairness)), higher_is_better=False),
    }
    if measured:
        # in whole metres (ints, exact); the Decimal range is in km, as ``_distance`` gives it
        low_km, high_km = Decimal(min(measured)).scaleb(-3), Decimal(max(measured)).scaleb(-3)
        by_distance = _column(
            measured, Decimal(min(measured)), Decimal(max(measured)), higher_is_better=False
        )
        if len(measured) == count:
            columns["distance"] = _Column(
                metres, by_distance.scale, by_distance.shift, by_distance.error, low_km, high_km
            )
        else:  # some without coordinates: their region match is the normalized value itself
            distance = [
                by_distance.scale * k + by_distance.shift if k >= 0 else (1.0 if k == _HOME else 0.5)
                for k in metres
            ]
            columns["distance"] = _Column(distance, 1.0, 0.0, by_distance.error, low_km, high_km)
    else:
        columns["distance"] = _Column([1.0 if k == _HOME else 0.5 for k in metres], 1.0, 0.0, 0.0, _ONE, _ONE)

    # total = Σ weight × (scale × value + shift): one pass per weighted criterion that varies
    weights = tuple(policy.weight(name) for name in CRITERIA)
    base = 0.0
    bound = 0.0
    terms: list[tuple[float, Sequence[float]]] = []
    for name, weight in zip(CRITERIA, weights, strict=True):
        if weight:
            w = float(weight)
            column = columns[name]
            base += w * column.shift
            if column.scale:
                terms.append((w * column.scale, column.values))
            bound += abs(w) * (column.error + 8 * _U) + 8 * _U * abs(w * column.shift)
    totals: list[float]
    if not terms:
        totals = [base] * count
    else:
        scale, values = terms[0]
        totals = [base + scale * v for v in values]
        for scale, values in terms[1:]:
            totals = [t + scale * v for t, v in zip(totals, values, strict=True)]
    bound = 2 * bound + 1e-300

    ids = list(map(itemgetter("id"), fields))
    order = sorted(range(count), key=ids.__getitem__)
    order.sort(key=totals.__getitem__, reverse=True)  # stable: equal floats stay by id

    built: dict[int, Scored] = {}

    def exact(i: int) -> Scored:
        if i in built:
            return built[i]
        k = metres[i]
        parts: list[tuple[Any, Decimal]] = []
        if k >= 0:
            q = Decimal(k).scaleb(-3)
            c = columns["distance"]
            parts.append((f"{q:f} km", _ONE if c.low == c.high else (c.high - q) / (c.high - c.low)))
        else:
            parts.append(("home region", _ONE) if k == _HOME else ("covers region", _HALF))
        c = columns["skill"]
        parts.append((skill[i], _ONE if c.low == c.high else (Decimal(skill[i]) - c.low) / (c.high - c.low)))
        c, quotient = columns["load"], quotients[pairs[i]]
        parts.append((quotient, _ONE if c.low == c.high else (c.high - quotient) / (c.high - c.low)))
        c = columns["rating"]
        parts.append((ratings[i], _ONE if c.low == c.high else (ratings[i] - c.low) / (c.high - c.low)))
        c = columns["fairness"]
        parts.append(
            (fairness[i], _ONE if c.low == c.high else (c.high - Decimal(fairness[i])) / (c.high - c.low))
        )
        total = _ZERO
        for (_raw, value), weight in zip(parts, weights, strict=True):
            if weight:
                total += weight * value
        scored = Scored(kept[i], total, tuple(parts), weights)
        built[i] = scored
        return scored

    # The inputs a total depends on (criteria with a weight): equal inputs, equal totals.
    columns_in: tuple[Sequence[Any], ...] = (metres, skill, pairs, ratings, fairness)
    weighted = [column for column, w in zip(columns_in, weights, strict=True) if w]

    def inputs(i: int) -> tuple[Any, ...]:
        return tuple(column[i] for column in weighted)

    # Where neighbours' float totals are closer than the bound, their Decimal totals decide.
    start = 0
    while start < count:
        end = start + 1
        while end < count and totals[order[end - 1]] - totals[order[end]] <= bound:
            end += 1
        if end - start > 1:
            _settle(order, start, end, exact, ids, inputs)
        start = end
    return Ranking(
        candidates=_Candidates(order, exact), filtered=filtered, considered=len(technicians), policy=policy
    )


def _settle(
    order: list[int],
    start: int,
    end: int,
    exact: Callable[[int], Scored],
    ids: list[str],
    inputs: Callable[[int], tuple[Any, ...]],
) -> None:
    """Order ``order[start:end]`` by exact total, then id; equal inputs share one exact total."""
    cluster = order[start:end]
    keys = {i: inputs(i) for i in cluster}
    if len(set(keys.values())) == 1:
        return  # identical inputs: equal totals, already by id
    totals: dict[Any, Decimal] = {}
    for i in cluster:
        if keys[i] not in totals:
            totals[keys[i]] = exact(i).total
    order[start:end] = sorted(cluster, key=lambda i: (-totals[keys[i]], ids[i]))
