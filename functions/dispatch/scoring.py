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

Where the time goes at 10,000 technicians (issue #16: p95 at most 20 ms), and what ``rank`` does
about it: the per-technician facts that do not depend on the ticket are laid out once per registry
read (``shared.domain.technician.Roster``), so no pydantic attribute, datetime or dict is touched
per candidate; the filters are one list pass each; the distance is the haversine from precomputed
sines and cosines, scored on unrounded metres (the half metre they may be from whole metres is in
the error bound; whole metres are computed only for the range and for candidates read); the
weighted sum is one pass; and only the first ``HEAD`` positions are ordered (``heapq.nlargest``
and the bound pick who can be among them), the rest only when read.
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import compress, repeat
from typing import Any, cast

from shared.domain.technician import FAIRNESS_WINDOW, Roster, TechnicianRecord, coords_of
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
"""Whether a technician is on duty at the ranking's instant: their calendar's answer, so ``rank``
asks it once per calendar (of any technician with that calendar); ``rank_exact`` asks everyone."""


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
    """The ranking, best first; each ``Scored`` (in ``Decimal``) is built when it is first read.

    Only the first ``len(head)`` positions are put in order up front (a dispatch reads the first
    candidate and the explanation's top five); reading past them orders everyone (``complete``).
    """

    def __init__(
        self, count: int, head: list[int], complete: Callable[[], list[int]], exact: Callable[[int], Scored]
    ) -> None:
        self._count = count
        self._order = head
        self._complete: Callable[[], list[int]] | None = complete if len(head) < count else None
        self._exact = exact

    def _positions(self, needed: int) -> list[int]:
        if needed > len(self._order) and self._complete is not None:
            self._order, self._complete = self._complete(), None
        return self._order

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            _start, stop, step = index.indices(self._count)
            return [self._exact(i) for i in self._positions(stop if step > 0 else self._count)[index]]
        position = index + self._count if index < 0 else index
        return self._exact(self._positions(position + 1)[index])

    def __iter__(self) -> Any:
        return (self._exact(i) for i in self._positions(self._count))

    def __repr__(self) -> str:
        return f"<{len(self)} candidates>"


HEAD = 2 * TOP
"""Positions ordered up front: the explanation's five and as many more for candidates taken meanwhile."""


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
    ``technicians`` is best a ``Roster`` as the registry reads it (its per-technician facts are
    laid out once); any other sequence of records is laid out here first. ``on_duty`` is asked
    once per calendar (it answers by the technician's calendar, as ``service.duty_check`` does).
    """
    roster = technicians if isinstance(technicians, Roster) else Roster(technicians)
    try:
        return _rank_fast(roster, job, policy, at, on_duty)
    except _Fallback:
        return rank_exact(roster, job, policy, at=at, on_duty=on_duty)


def _eligible(roster: Roster, job: Job, on_duty: OnDuty, filtered: dict[str, int]) -> list[int]:
    """The positions in ``roster`` that pass every hard filter but distance, in roster order; each
    filter's removals counted in ``filtered`` (the first failing filter, as ``_filter`` counts)."""

    def removed(reason: str, before: int, after: int) -> None:
        if before > after:
            filtered[reason] = before - after

    n = len(roster)
    active = roster.active
    if job.declined:
        declined = job.declined
        survivors = [i for i, tech_id in enumerate(roster.ids) if tech_id not in declined]
        removed("declined", n, len(survivors))
        before = len(survivors)
        survivors = [i for i in survivors if active[i]]
    else:
        before = n
        survivors = list(compress(range(n), active))
    removed("off", before, len(survivors))
    region = job.region
    if region is not None:
        covers, before = roster.covers.get(region), len(survivors)
        survivors = [i for i in survivors if covers[i]] if covers is not None else []
        removed("region", before, len(survivors))
    if job.skills:
        before = len(survivors)
        for name, level in job.skills.items():
            levels = roster.levels(name)
            survivors = [i for i in survivors if levels[i] >= level]
        removed("skills", before, len(survivors))
    # on duty is a calendar's answer: asked once per calendar, of one of its technicians
    before = len(survivors)
    for works_by in roster.calendars.values():
        if survivors and not on_duty(roster[works_by.index(True)]):
            survivors = [i for i in survivors if not works_by[i]]
    removed("off_duty", before, len(survivors))
    room, before = roster.room, len(survivors)
    survivors = [i for i in survivors if room[i]]
    removed("capacity", before, len(survivors))
    return survivors


def _exact_extreme(
    floats: list[float],
    extreme: Callable[[list[Any]], Any],
    kept: list[int],
    exact_of_float: Mapping[float, Any],
    exact: Sequence[Any],
) -> Any:
    """The exact smallest (``min``) or largest (``max``) value of the candidates, from their floats:
    it is among those whose float is the extreme float; looked up when only one exact value of the
    roster has that float, else found among them."""
    value = extreme(floats)
    found = exact_of_float.get(value)
    if found is not None:
        return found
    return extreme([exact[kept[j]] for j, f in enumerate(floats) if f == value])


def _sums(base: float, terms: list[tuple[float, Sequence[float]]], count: int) -> list[float]:
    """``base + s1·v1 + s2·v2 + …`` per candidate, left to right (the order the error bound
    assumes), in one pass whatever the number of terms."""
    if not terms:
        return [base] * count
    padded = terms + [(0.0, repeat(0.0))] * (5 - len(terms))  # + 0.0 leaves a sum unchanged
    (a, p), (b, q), (c, r), (d, s), (e, t) = padded
    return [
        base + a * v + b * w + c * x + d * y + e * z for v, w, x, y, z in zip(p, q, r, s, t, strict=False)
    ]


class _Metres(Sequence[int]):
    """Whole metres of each candidate's unrounded distance, rounded when first read (exactly as
    ``_distance`` rounds, for one within a hair of a half metre)."""

    def __init__(self, distances: list[float], exact: Callable[[int], int]) -> None:
        self._distances = distances
        self._exact = exact
        self._known: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self._distances)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self[j] for j in range(len(self))[index]]
        found = self._known.get(index)
        if found is None:
            m = self._distances[index]
            k = int(m + 0.5)  # m >= 0: int() is floor
            found = k if -0.5 + _HALF_MARGIN < m - k < 0.5 - _HALF_MARGIN else self._exact(index)
            self._known[index] = found
        return found


def _whole_extreme(distances: list[float], metres: Sequence[int], extreme: Callable[..., Any]) -> int:
    """The smallest (``min``) or largest (``max``) whole metres of the candidates: those of the
    extreme unrounded distance (rounding keeps the order), unless that one is within a hair of a
    half metre, where its neighbours within the hair are rounded too."""
    value = extreme(distances)
    j = distances.index(value)
    k = metres[j]
    if -0.5 + _HALF_MARGIN < value - k < 0.5 - _HALF_MARGIN:
        return k
    near = 2 * _HALF_MARGIN
    return int(extreme(metres[i] for i, m in enumerate(distances) if abs(m - value) <= near))


def _measure_located(
    roster: Roster, job: Job, survivors: list[int], policy: Policy, filtered: dict[str, int]
) -> tuple[list[int], _Metres, list[float]] | None:
    """When every one of ``survivors`` has coordinates: those within ``max_distance_km`` (the others
    counted as ``distance``), their whole metres (rounded on reading) and their unrounded metres;
    ``None`` otherwise (``_measure`` then)."""
    assert job.location is not None
    here = coords_of({"lat": job.location[0], "lon": job.location[1]})
    assert here is not None
    s1, c1, t1, d1 = here
    all_coords = roster.coords
    located = [all_coords[i] for i in survivors]
    if None in located:
        return None
    sqrt, asin = math.sqrt, math.asin
    diameter = 2 * EARTH_RADIUS_KM * 1000.0
    try:
        # diameter·asin(√(a² + b²)), the haversine (haversine_km within a few ulps), with
        # a = sin((φ2 - φ1)/2) and b = √(cos φ1·cos φ2)·sin((λ2 - λ1)/2) from ``coords_of``
        distances = [
            diameter * asin(sqrt((a := s2 * c1 - c2 * s1) * a + (b := t2 * d1 - d2 * t1) * b))
            for s2, c2, t2, d2 in cast(list[tuple[float, float, float, float]], located)
        ]
    except ValueError:  # asin beyond 1 by a rounding (antipodes)
        return None

    def exact(j: int) -> int:
        # ``kept`` as it is when asked: the survivors while filtering, the kept ones after
        exact_km = _distance(job, roster[kept[j]])  # rounded exactly as _distance does
        assert exact_km is not None
        return int(exact_km.scaleb(3))

    kept = survivors
    limit = math.floor(policy.max_distance_km * 1000)  # k > max ⟺ k > floor(max), k whole metres
    edge_low, edge_high = limit + 0.5 - _HALF_MARGIN, limit + 0.5 + _HALF_MARGIN
    if distances and max(distances) > edge_low:
        everyone = _Metres(distances, exact)
        keep = [
            j for j, m in enumerate(distances) if m < edge_low or (m <= edge_high and everyone[j] <= limit)
        ]
        kept = [survivors[j] for j in keep]
        filtered["distance"] = len(survivors) - len(kept)
        distances = [distances[j] for j in keep]
    return kept, _Metres(distances, exact), distances


def _measure(
    roster: Roster,
    job: Job,
    survivors: list[int],
    policy: Policy,
    filtered: dict[str, int],
    home_or_covers: Callable[[int], int],
) -> tuple[list[int], list[int]]:
    """Those of ``survivors`` within ``max_distance_km`` (the others counted as ``distance``), and
    each one's distance key: whole metres, or ``_HOME``/``_COVERS`` without coordinates."""
    assert job.location is not None
    here = coords_of({"lat": job.location[0], "lon": job.location[1]})
    assert here is not None
    s1, c1, t1, d1 = here
    limit = math.floor(policy.max_distance_km * 1000)  # k > max ⟺ k > floor(max), k whole metres
    sqrt, asin = math.sqrt, math.asin
    diameter = 2 * EARTH_RADIUS_KM * 1000.0
    low, high = -0.5 + _HALF_MARGIN, 0.5 - _HALF_MARGIN
    all_coords = roster.coords
    located = [all_coords[i] for i in survivors]
    metres: list[int]
    try:
        if None in located:
            raise ValueError  # some without coordinates: the general path below
        # whole metres of diameter·asin(√(a² + b²)), the haversine (haversine_km within a few
        # ulps), with a = sin((φ2 - φ1)/2) and b = √(cos φ1·cos φ2)·sin((λ2 - λ1)/2) from
        # ``_coords``; -9 where it is within a hair of a half metre (m >= 0: int() is floor)
        metres = [
            k
            if low
            < (m := diameter * asin(sqrt((a := s2 * c1 - c2 * s1) * a + (b := t2 * d1 - d2 * t1) * b)))
            - (k := int(m + 0.5))
            < high
            else -9
            for s2, c2, t2, d2 in cast(list[tuple[float, float, float, float]], located)
        ]
    except ValueError:  # asin beyond 1 by a rounding (antipodes), or some not located
        metres = []
        for c in located:
            if c is None:
                metres.append(-1)
                continue
            s2, c2, t2, d2 = c
            a, b = s2 * c1 - c2 * s1, t2 * d1 - d2 * t1
            root = sqrt(a * a + b * b)
            m = diameter * asin(root if root < 1.0 else 1.0)
            k = int(m + 0.5)
            metres.append(k if low < m - k < high else -9)
    if -9 in metres or -1 in metres:
        for j, k in enumerate(metres):
            if k == -1:
                metres[j] = home_or_covers(survivors[j])
            elif k == -9:
                exact_km = _distance(job, roster[survivors[j]])  # rounded exactly as _distance does
                assert exact_km is not None
                metres[j] = int(exact_km.scaleb(3))
    if max(metres, default=0) <= limit:
        return survivors, metres
    kept = [i for i, k in zip(survivors, metres, strict=True) if k <= limit]
    filtered["distance"] = len(survivors) - len(kept)
    return kept, [k for k in metres if k <= limit]


def _rank_fast(roster: Roster, job: Job, policy: Policy, at: datetime, on_duty: OnDuty) -> Ranking:
    filtered: dict[str, int] = {}
    survivors = _eligible(roster, job, on_duty, filtered)
    region = job.region
    regions = roster.regions

    def home_or_covers(i: int) -> int:
        r = regions[i]
        return _HOME if r and r[0] == region else _COVERS

    # Distance in whole metres (haversine_km from precomputed sines and cosines: within a few
    # ulps of it; within a hair of a half metre it is rounded exactly as ``_distance`` does).
    kept: list[int]
    metres: Sequence[int]
    distances: list[float] | None = None  # every candidate located: metres as floats, not rounded
    here = job.location
    if here is None:
        kept, metres = survivors, [home_or_covers(i) for i in survivors]
    else:
        measured_fast = _measure_located(roster, job, survivors, policy, filtered)
        if measured_fast is not None:
            kept, metres, distances = measured_fast
        else:
            kept, metres = _measure(roster, job, survivors, policy, filtered, home_or_covers)

    count = len(kept)
    if not count:
        return Ranking(candidates=[], filtered=filtered, considered=len(roster), policy=policy)

    if len(job.skills) == 1:
        levels = roster.levels(next(iter(job.skills)))
        skill = [levels[i] for i in kept]
    elif job.skills:
        columns_of = [roster.levels(name) for name in job.skills]
        skill = [sum(column[i] for column in columns_of) for i in kept]
    else:
        skill = [0] * count
    since = at - FAIRNESS_WINDOW
    recent = roster.recent
    fairness = [len(r) - bisect_left(r, since) if (r := recent[i]) else 0 for i in kept]

    # Load (a Decimal quotient) and rating are scored in floats; their exact range is found from
    # the floats' (conversion to float keeps the order), through the roster's float → exact maps.
    all_pairs, all_ratings = roster.pair, roster.rating
    load_values = [roster.ratio[i] for i in kept]
    rating_values = [roster.rating_float[i] for i in kept]
    low_q, high_q = (
        _exact_extreme(load_values, extreme, kept, roster.ratio_exact, roster.quotient)
        for extreme in (min, max)
    )
    low_r, high_r = (
        _exact_extreme(rating_values, extreme, kept, roster.rating_exact, all_ratings)
        for extreme in (min, max)
    )
    columns: dict[str, _Column] = {
        "skill": _column(skill, Decimal(min(skill)), Decimal(max(skill)), higher_is_better=True),
        "load": _column(load_values, low_q, high_q, higher_is_better=False),
        "rating": _column(rating_values, low_r, high_r, higher_is_better=True),
        "fairness": _column(fairness, Decimal(min(fairness)), Decimal(max(fairness)), higher_is_better=False),
    }
    if distances is not None:
        # Scored on the unrounded metres: each within half a metre of its whole metres, which the
        # column's error covers; whole metres are computed for the range and for the candidates
        # whose exact figures are read.
        low_m = _whole_extreme(distances, metres, min)
        high_m = _whole_extreme(distances, metres, max)
        column = _column(distances, Decimal(low_m), Decimal(high_m), higher_is_better=False)
        columns["distance"] = _Column(
            distances,
            column.scale,
            column.shift,
            column.error + (0.5 + _HALF_MARGIN) * abs(column.scale),
            Decimal(low_m).scaleb(-3),
            Decimal(high_m).scaleb(-3),
        )
    elif measured := [k for k in metres if k >= 0]:
        # in whole metres (ints, exact); the Decimal range is in km, as ``_distance`` gives it
        low_m, high_m = min(measured), max(measured)
        low_km, high_km = Decimal(low_m).scaleb(-3), Decimal(high_m).scaleb(-3)
        by_distance = _column(measured, Decimal(low_m), Decimal(high_m), higher_is_better=False)
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

    # total = Σ weight × (scale × value + shift), summed in CRITERIA order (one pass)
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
    totals = _sums(base, terms, count)
    bound = 2 * bound + 1e-300

    all_ids = roster.ids

    def id_of(j: int) -> str:
        return all_ids[kept[j]]

    built: dict[int, Scored] = {}

    def exact(j: int) -> Scored:
        if j in built:
            return built[j]
        k = metres[j]
        parts: list[tuple[Any, Decimal]] = []
        if k >= 0:
            q = Decimal(k).scaleb(-3)
            c = columns["distance"]
            parts.append((f"{q:f} km", _ONE if c.low == c.high else (c.high - q) / (c.high - c.low)))
        else:
            parts.append(("home region", _ONE) if k == _HOME else ("covers region", _HALF))
        c = columns["skill"]
        parts.append((skill[j], _ONE if c.low == c.high else (Decimal(skill[j]) - c.low) / (c.high - c.low)))
        c, quotient = columns["load"], roster.quotient[kept[j]]
        parts.append((quotient, _ONE if c.low == c.high else (c.high - quotient) / (c.high - c.low)))
        c, rating = columns["rating"], all_ratings[kept[j]]
        parts.append((rating, _ONE if c.low == c.high else (rating - c.low) / (c.high - c.low)))
        c = columns["fairness"]
        parts.append(
            (fairness[j], _ONE if c.low == c.high else (c.high - Decimal(fairness[j])) / (c.high - c.low))
        )
        total = _ZERO
        for (_raw, value), weight in zip(parts, weights, strict=True):
            if weight:
                total += weight * value
        scored = Scored(roster[kept[j]], total, tuple(parts), weights)
        built[j] = scored
        return scored

    # The inputs a total depends on (criteria with a weight): equal inputs, equal totals.
    columns_in: tuple[tuple[Sequence[Any], bool], ...] = (
        (metres, False),
        (skill, False),
        (all_pairs, True),  # by roster position
        (all_ratings, True),
        (fairness, False),
    )
    weighted = [column for column, w in zip(columns_in, weights, strict=True) if w]

    def inputs(j: int) -> tuple[Any, ...]:
        return tuple(column[kept[j]] if by_roster else column[j] for column, by_roster in weighted)

    def ordered(members: list[int]) -> list[int]:
        """``members`` best first: by float total, then id; where neighbours' float totals are
        closer than the bound, their Decimal totals decide."""
        order = sorted(members, key=id_of)
        order.sort(key=totals.__getitem__, reverse=True)  # stable: equal floats stay by id
        start, size = 0, len(order)
        while start < size:
            end = start + 1
            while end < size and totals[order[end - 1]] - totals[order[end]] <= bound:
                end += 1
            if end - start > 1:
                _settle(order, start, end, exact, id_of, inputs)
            start = end
        return order

    def everyone() -> list[int]:
        return ordered(list(range(count)))

    if count <= 4 * HEAD:
        head = everyone()
    else:
        # The first HEAD positions without sorting everyone: no candidate whose float total is
        # more than the bound below the HEAD-th best float total can be among the best HEAD (at
        # least HEAD candidates are certainly better), so ordering those above that line, exactly
        # as ``ordered`` orders everyone, puts the first HEAD positions right.
        line = heapq.nlargest(HEAD, totals)[-1] - bound
        head = ordered([j for j, t in enumerate(totals) if t >= line])[:HEAD]
    return Ranking(
        candidates=_Candidates(count, head, everyone, exact),
        filtered=filtered,
        considered=len(roster),
        policy=policy,
    )


def _settle(
    order: list[int],
    start: int,
    end: int,
    exact: Callable[[int], Scored],
    id_of: Callable[[int], str],
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
    order[start:end] = sorted(cluster, key=lambda i: (-totals[keys[i]], id_of(i)))
