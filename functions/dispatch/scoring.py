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

Where the time goes at 10,000 technicians (issue #16: p95 at most 20 ms; aimed at 5 ms so a busy
machine still meets it), and what ``rank`` does about it. The per-technician facts are laid out once
per registry read (``shared.domain.technician.Roster``), those that only a change of a record alters
(points, cells, sets by status, region, skill level, rating) cached per container
(``RosterCache``). ``_rank_bulk`` then ranks: the hard filters are set operations on integers
(``RosterBits``); distances are chords between points on the unit sphere (``point_of``, one
``math.dist`` each, ``_METRES`` × asin(c / 2) = the haversine within nanometres), measured a cell
of the roster at a time (``Cells``: a cell wholly within the limit needs no measuring, the distance
range is in the nearest and farthest cells); the other ranges come from the sets by value or one C
loop; and only the candidates who can still be among the first ``HEAD`` are scored. With a
distance weight, the ``HEAD``-th best total of the nearest ``_SEED`` bounds how far a candidate may
be, given what the other criteria (the skill by level) can add: at 10,000 that scores about 500 of
8,645 candidates. Without one (or without a location on the ticket) candidates go by class (skill
level, home region or not), the class that can add the most first, until no class left can reach
the line. A located ticket with some candidates located and some not takes ``_rank_fast``: the
same chords for every located survivor, scored on unrounded metres (the half metre they may be
from whole metres is in the error bound), the weighted sum one pass, and only the first ``HEAD``
positions ordered (``heapq.nlargest`` and the bound pick who can be among them), the rest only when
read.
"""

from __future__ import annotations

import heapq
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from itertools import compress, repeat
from math import asin, dist
from operator import add, eq, mul, sub
from typing import Any, cast

from shared.domain.technician import FAIRNESS_WINDOW, Roster, TechnicianRecord, bits_of, flags_of, point_of
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
_METRES = 2 * EARTH_RADIUS_KM * 1000.0
"""The Earth's diameter in metres: a great-circle distance is ``_METRES`` × asin(chord / 2)."""
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
        return _rank_bulk(roster, job, policy, at, on_duty) or _rank_fast(roster, job, policy, at, on_duty)
    except _Fallback:
        return rank_exact(roster, job, policy, at=at, on_duty=on_duty)


# --------------------------------------------------------------------------- the bulk path

_SEED = 256
"""How many of the nearest candidates are scored first, for a first guess at the HEAD-th best total
(``scrm bench dispatch`` at 10,000: 268, then 219 more within reach; a seed of 64: 73 then 618)."""
_SCAN = 64
"""How many candidates the fairness range looks at before it reads everyone's instead."""
_EPS = 1e-12
"""Chord units: more than the rounding of a cell's bounds (``math.dist`` is within an ulp or two)."""
_SLACK_M = 1e-3
"""Metres added where a distance in metres is turned into a chord to compare chords (the turn is
exact within nanometres)."""


def _chord(metres: float) -> float:
    """The chord of a great-circle distance (the inverse of ``_METRES`` × asin(c / 2)); 3.0, beyond
    every chord, for a distance past a quarter of the way round."""
    angle = metres / _METRES
    return 2.0 * math.sin(angle) if angle < 1.5 else 3.0


def _bits_range(values: list[tuple[Any, int]], alive: int) -> tuple[Any, Any]:
    """The smallest and largest of ``values`` (ascending, each with who has it) that anyone in
    ``alive`` has."""
    low = next(value for value, who in values if who & alive)
    high = next(value for value, who in reversed(values) if who & alive)
    return low, high


def _rank_bulk(roster: Roster, job: Job, policy: Policy, at: datetime, on_duty: OnDuty) -> Ranking | None:
    """``rank``, touching only the candidates that can matter: what ``_rank_fast`` computes.

    The hard filters are set operations on ``roster.bits``. Distances are chords between points
    (``point_of``), measured a cell at a time (``Cells``): a cell wholly within the limit needs no
    measuring to pass the distance filter, the nearest and farthest candidates (the distance range)
    are in the cells nearest and farthest, and the ranges of skill, load, rating and fairness come
    from the roster's sets by value. Then only the candidates who can still be among the best
    ``HEAD`` are scored: the ``HEAD``-th best total of those scored first is a floor for the
    ``HEAD``-th best of all, and a candidate's other criteria add at most their weights (its skill
    exactly its level's term), so one farther than the reach that leaves, or in a class that cannot
    reach it, cannot be above the line ``_rank_fast`` draws. Without a location on the ticket the
    region match (home 1, covering 0.5) is the distance criterion. ``None`` where this does not
    apply (a located ticket and a survivor without coordinates, the antipodes): ``_rank_fast``.
    """
    weights = tuple(policy.weight(name) for name in CRITERIA)
    located = job.location is not None
    here = point_of({"lat": job.location[0], "lon": job.location[1]}) if job.location is not None else None
    if located and here is None:
        return None
    bits = roster.bits
    n = bits.size
    filtered: dict[str, int] = {}
    alive = _eligible_bits(roster, job, on_duty, filtered)
    count = alive.bit_count()
    if located and alive & ~bits.located:
        return None  # some with coordinates, some without: _rank_fast scores both kinds
    if not count:
        return Ranking(candidates=[], filtered=filtered, considered=n, policy=policy)

    margin = _HALF_MARGIN
    if located:
        # Each cell's bounds: every member's chord to the ticket is within [low, high].
        assert here is not None
        cells, points = bits.cells, roster.points
        to_centre = list(map(dist, cells.centres, repeat(here)))
        lows, highs = list(map(sub, to_centre, cells.radii)), list(map(add, to_centre, cells.radii))
        if max(highs) > 1.99:
            return None  # near the antipodes asin is ill-conditioned: _rank_fast
        live = bytearray(flags_of(alive, n))
        chord_of: dict[int, float] = {}

        def live_in(g: int) -> list[int]:
            return [i for i in cells.members[g] if live[i]]

        def measure(members: list[int]) -> list[int]:
            fresh = [i for i in members if i not in chord_of]
            chord_of.update(zip(fresh, map(dist, map(points.__getitem__, fresh), repeat(here)), strict=True))  # type: ignore[arg-type]
            return members

        known: dict[int, int] = {}

        def whole(i: int) -> int:
            """Whole metres of candidate ``i``, rounded exactly as ``_distance`` rounds."""
            found = known.get(i)
            if found is None:
                m = _METRES * asin(0.5 * chord_of[measure([i])[0]])
                found = int(m + 0.5)  # m >= 0: int() is floor
                if not -0.5 + margin < m - found < 0.5 - margin:
                    exact_km = _distance(job, roster[i])
                    assert exact_km is not None
                    found = int(exact_km.scaleb(3))
                known[i] = found
            return found

        # The distance filter: only the cells the limit crosses are measured.
        limit = math.floor(policy.max_distance_km * 1000)  # k > max ⟺ k > floor(max), k whole metres
        edge_low, edge_high = limit + 0.5 - margin, limit + 0.5 + margin
        surely_in, surely_out = _chord(edge_low - _SLACK_M), _chord(edge_high + _SLACK_M)
        far: list[int] = []
        for g, (low, high) in enumerate(zip(lows, highs, strict=True)):
            if high + _EPS <= surely_in or not (members := live_in(g)):
                continue
            if low - _EPS > surely_out:
                far += members
                continue
            far += [
                i
                for i in measure(members)
                if (c := chord_of[i]) > surely_in
                and (c > surely_out or (_METRES * asin(0.5 * c) >= edge_low and whole(i) > limit))
            ]
        if far:
            filtered["distance"] = len(far)
            for i in far:
                live[i] = 0
            alive, count = bits_of(live), count - len(far)
            if not count:
                return Ranking(candidates=[], filtered=filtered, considered=n, policy=policy)
        flags = bytes(live)
        by_low = sorted(range(len(lows)), key=lows.__getitem__)
        by_high = sorted(range(len(highs)), key=highs.__getitem__, reverse=True)

        # The exact ranges over the candidates; first distance: the nearest and the farthest cells.
        nearest, farthest = math.inf, -math.inf
        for g in by_low:
            if lows[g] - _EPS > nearest:
                break
            if members := live_in(g):
                nearest = min(nearest, min(map(chord_of.__getitem__, measure(members))))
        for g in by_high:
            if highs[g] + _EPS < farthest:
                break
            if members := live_in(g):
                farthest = max(farthest, max(map(chord_of.__getitem__, measure(members))))

        def extreme_whole(chord: float, extreme: Callable[..., int]) -> int:
            m = _METRES * asin(0.5 * chord)
            k = int(m + 0.5)
            if -0.5 + margin < m - k < 0.5 - margin:
                return k  # the extreme distance rounds to it, and so does everyone within a hair of it
            near = 4 * margin / _METRES + 1e-15
            band: list[int] = []
            for g, (low, high) in enumerate(zip(lows, highs, strict=True)):
                if low - _EPS <= chord + near and high + _EPS >= chord - near:
                    band += [i for i in measure(live_in(g)) if abs(chord_of[i] - chord) <= near]
            return extreme(map(whole, band))

        low_m, high_m = extreme_whole(nearest, min), extreme_whole(farthest, max)
    else:  # the region match instead of a distance: home 1, covering 0.5
        live = bytearray(flags_of(alive, n))
        flags = bytes(live)
        home, region = roster.home, job.region

        def whole(i: int) -> int:
            return _HOME if region is not None and home[i] == region else _COVERS

        def measure(members: list[int]) -> list[int]:
            return members

    skills = list(job.skills)
    single = roster.levels(skills[0]) if len(skills) == 1 else None
    several = [roster.levels(name) for name in skills] if len(skills) > 1 else []

    def skill_of(i: int) -> int:
        if single is not None:
            return single[i]
        return sum(column[i] for column in several)

    if not skills:
        low_s = high_s = 0
    elif single is not None and (by_level := bits.levels.get(skills[0])) is not None:
        low_s, high_s = _bits_range(sorted(by_level.items()), alive)
    else:
        gathered = [list(compress(column, flags)) for column in several or [cast(list[int], single)]]
        sums = gathered[0] if len(gathered) == 1 else list(map(_sum_of, zip(*gathered, strict=True)))
        low_s, high_s = min(sums), max(sums)

    kept: list[int] | None = None

    def candidates() -> list[int]:
        nonlocal kept
        if kept is None:
            kept = list(compress(range(n), flags))
        return kept

    ratios = list(compress(roster.ratio, flags))  # load changes with every assignment: no sets
    low_q, high_q = (
        _extreme(ratios, extreme, candidates, roster.ratio_exact, roster.quotient) for extreme in (min, max)
    )
    if bits.ratings is not None:
        low_r, high_r = _bits_range(bits.ratings, alive)
    else:
        ratings = list(compress(roster.rating_float, flags))
        low_r, high_r = (
            _extreme(ratings, extreme, candidates, roster.rating_exact, roster.rating)
            for extreme in (min, max)
        )

    since = at - FAIRNESS_WINDOW
    instants = roster.instants

    def fairness_of(i: int) -> int:
        return _since(instants[i], since)

    low_f = 0 if alive & bits.unassigned else None
    high_f = _most_recent(roster.counts, flags, fairness_of)
    if low_f is None or high_f is None:
        fairness_values = _within(compress(instants, flags), since)
        low_f, high_f = min(fairness_values), max(fairness_values)

    columns: dict[str, _Column] = {
        "skill": _column((), Decimal(low_s), Decimal(high_s), higher_is_better=True),
        "load": _column((), low_q, high_q, higher_is_better=False),
        "rating": _column((), low_r, high_r, higher_is_better=True),
        "fairness": _column((), Decimal(low_f), Decimal(high_f), higher_is_better=False),
    }
    if located:
        # scored on the unrounded metres: each within half a metre (and the margin) of its whole metres
        by_metres = _column((), Decimal(low_m), Decimal(high_m), higher_is_better=False)
        columns["distance"] = _Column(
            (),
            by_metres.scale,
            by_metres.shift,
            by_metres.error + (0.5 + margin) * abs(by_metres.scale),
            Decimal(low_m).scaleb(-3),
            Decimal(high_m).scaleb(-3),
        )
    else:
        columns["distance"] = _Column((), 1.0, 0.0, 0.0, _ONE, _ONE)  # the value is the normalized one

    # total = Σ weight × (scale × value + shift), summed in CRITERIA order (as _rank_fast sums)
    ratio, rating_float = roster.ratio, roster.rating_float

    def values(name: str, members: list[int]) -> Sequence[float]:
        """The criterion's values of ``members`` (measured), as the float total reads them."""
        if name == "distance" and not located:
            return [1.0 if k == _HOME else 0.5 for k in map(whole, members)]
        if name == "distance":  # unrounded metres (chords are at most 1.99: asin is defined)
            chords = map(chord_of.__getitem__, members)
            return list(map(mul, repeat(_METRES), map(asin, map(mul, repeat(0.5), chords))))
        if name == "skill":
            return (
                list(map(single.__getitem__, members)) if single is not None else list(map(skill_of, members))
            )
        if name == "load":
            return list(map(ratio.__getitem__, members))
        if name == "rating":
            return list(map(rating_float.__getitem__, members))
        return _within(map(instants.__getitem__, members), since)

    base, bound, others = 0.0, 0.0, 0.0
    scaled: list[tuple[float, str]] = []
    for name, weight in zip(CRITERIA, weights, strict=True):
        if weight:
            w, column = float(weight), columns[name]
            base += w * column.shift
            if column.scale:
                scaled.append((w * column.scale, name))
            bound += abs(w) * (column.error + 8 * _U) + 8 * _U * abs(w * column.shift)
            if name != "distance":
                others += max(w, 0.0) + abs(w) * column.error  # a normalized value is at most 1
    bound = 2 * bound + 1e-300
    totals: dict[int, float] = {}

    def score(members: list[int]) -> None:
        """The float totals of ``members`` (measured; those not scored yet)."""
        fresh = [i for i in members if i not in totals]
        terms = [(a, values(name, fresh)) for a, name in scaled]
        totals.update(zip(fresh, _sums(base, terms, len(fresh)), strict=True))

    def everyone() -> list[int]:
        return measure(candidates())

    w_d, c_d = float(weights[0]), columns["distance"]
    w_s, c_s = float(weights[1]), columns["skill"]
    by_skill = single is not None and w_s and c_s.scale and skills[0] in bits.levels
    if count > _SEED and located and w_d > 0 and c_d.scale:
        # The HEAD-th best total of the nearest is at most the HEAD-th best of all: a candidate
        # whose distance term plus what the other criteria can add falls short of it by more than
        # twice the bound is never above the line below, so only the cells within reach are
        # measured and scored. What the others can add is at most ``others``; with one required
        # skill, the skill's own term is known by level, so each level has its own reach.
        seed: list[int] = []
        for g in by_low:
            seed += measure(live_in(g))
            if len(seed) >= _SEED:
                break
        score(seed)
        guess = heapq.nlargest(HEAD, map(totals.__getitem__, seed))[-1]

        def within(cap: float) -> float:
            """The chord within which a candidate whose other criteria add at most ``cap`` may reach
            the line."""
            reach = (guess - 2 * bound - cap - w_d * c_d.shift) / (w_d * c_d.scale)  # metres
            return _chord(reach + _SLACK_M)

        levels: Sequence[int]
        if single is not None and w_s and c_s.scale:
            levels, rest = single, others - (max(w_s, 0.0) + abs(w_s) * c_s.error)
            reach_of = {
                level: within(rest + w_s * (c_s.scale * level + c_s.shift) + abs(w_s) * c_s.error)
                for level in range(low_s, high_s + 1)
            }
        else:
            levels, reach_of = [0] * n, {0: within(others)}
        farthest_reach = max(reach_of.values())
        reached: list[int] = []
        for g in by_low:
            low = lows[g] - _EPS
            if low > farthest_reach:
                break
            near = measure([i for i in live_in(g) if reach_of[levels[i]] >= low])
            reached += [i for i in near if chord_of[i] <= reach_of[levels[i]]]
        score(reached)
    elif count > _SEED:
        # Nothing to measure reach by: the candidates in classes by skill level (and, without a
        # location, home region or not), the class that can add the most first, each class's
        # members scored together, until no class left can reach the line.
        rest = others - (max(w_s, 0.0) + abs(w_s) * c_s.error if by_skill else 0.0)
        level_sets = sorted(bits.levels[skills[0]].items()) if by_skill else [(0, alive)]
        if not located and w_d and job.region is not None:
            homes = bits_of(map(eq, roster.home, repeat(job.region)))
            by_home = [(w_d, homes), (0.5 * w_d, ~homes)]
        else:
            by_home = [(max(w_d, 0.0) + abs(w_d) * c_d.error, -1)]  # a normalized value is at most 1
        classes = sorted(
            (
                (
                    rest
                    + part
                    + (w_s * (c_s.scale * level + c_s.shift) + abs(w_s) * c_s.error if by_skill else 0.0),
                    who,
                )
                for level, of_level in level_sets
                for part, of_home in by_home
                if (who := alive & of_level & of_home)
            ),
            key=lambda c: c[0],
            reverse=True,
        )
        for cap, who in classes:
            if len(totals) >= HEAD and cap < heapq.nlargest(HEAD, totals.values())[-1] - 2 * bound:
                break
            score(list(compress(range(n), flags_of(who, n))))  # distance is not scored here: no chords
    else:
        score(everyone())

    ids, pairs, all_ratings = roster.ids, roster.pair, roster.rating
    built: dict[int, Scored] = {}

    def exact(i: int) -> Scored:
        if i not in built:
            built[i] = _scored(
                roster[i],
                whole(i),
                skill_of(i),
                roster.quotient[i],
                all_ratings[i],
                fairness_of(i),
                columns,
                weights,
            )
        return built[i]

    inputs_of: tuple[Callable[[int], Any], ...] = (
        whole,
        skill_of,
        pairs.__getitem__,
        all_ratings.__getitem__,
        fairness_of,
    )
    weighted = [f for f, w in zip(inputs_of, weights, strict=True) if w]

    def inputs(i: int) -> tuple[Any, ...]:
        return tuple(f(i) for f in weighted)

    def ordered(members: list[int]) -> list[int]:
        return _ordered(members, totals.__getitem__, bound, exact, ids.__getitem__, inputs)

    def complete() -> list[int]:
        members = everyone()
        score(members)
        return ordered(members)

    if count <= 4 * HEAD:
        head = complete()
    else:
        # as _rank_fast: the first HEAD positions are among those within the bound of the HEAD-th
        # best float total (nobody left unscored is above that line, see above)
        line = heapq.nlargest(HEAD, totals.values())[-1] - bound
        head = ordered([i for i, t in totals.items() if t >= line])[:HEAD]
    return Ranking(
        candidates=_Candidates(count, head, complete, exact),
        filtered=filtered,
        considered=n,
        policy=policy,
    )


def _sum_of(levels: tuple[int, ...]) -> int:
    return sum(levels)


def _extreme(
    floats: list[float],
    extreme: Callable[[list[Any]], Any],
    candidates: Callable[[], list[int]],
    exact_of_float: Mapping[float, Any],
    exact: Sequence[Any],
) -> Any:
    """``_exact_extreme``, listing the candidates' positions only when a float has several exact values."""
    found = exact_of_float.get(extreme(floats))
    return (
        found if found is not None else _exact_extreme(floats, extreme, candidates(), exact_of_float, exact)
    )


def _since(instants: list[datetime], since: datetime) -> int:
    """How many of ``instants`` (in any order) are at or after ``since``."""
    return sum(map(since.__le__, instants))


def _within(each: Iterable[list[datetime]], since: datetime) -> list[int]:
    """``_since`` of each list of instants, in C loops only (no Python call per technician)."""
    return list(map(sum, map(map, repeat(since.__le__), each)))


def _most_recent(counts: list[int], flags: bytes, fairness_of: Callable[[int], int]) -> int | None:
    """The largest fairness (assignments within the window) among the candidates (``flags``) when a
    candidate with the most instants has all of them within the window (nobody can have more);
    ``None`` when the first ``_SCAN`` such candidates do not (everyone's fairness is read then)."""
    top = max(compress(counts, flags))
    start, looks = 0, 0
    while top and looks < _SCAN:
        try:
            i = counts.index(top, start)
        except ValueError:
            return None
        start = i + 1
        if flags[i]:
            if fairness_of(i) == top:
                return top
            looks += 1
    return 0 if not top else None


def _eligible_bits(roster: Roster, job: Job, on_duty: OnDuty, filtered: dict[str, int]) -> int:
    """The positions in ``roster`` that pass every hard filter but distance, as a set (bit i:
    position i); each filter's removals counted in ``filtered`` (the first failing filter, as
    ``_filter`` counts), by set operations on ``roster.bits``."""
    bits = roster.bits
    n = bits.size
    alive, count = (1 << n) - 1, n

    def keep(reason: str, who: int) -> None:
        nonlocal alive, count
        alive &= who
        left = alive.bit_count()
        if left < count:
            filtered[reason] = count - left
        count = left

    if job.declined:
        ids, gone = roster.ids, 0
        for tech_id in job.declined:
            start = 0
            while True:
                try:
                    start = ids.index(tech_id, start) + 1
                except ValueError:
                    break
                gone |= 1 << (start - 1)
        keep("declined", ~gone)
    keep("off", bits.active)
    if job.region is not None:
        keep("region", bits.covers.get(job.region, 0))
    if job.skills:
        who = alive
        for name, level in job.skills.items():
            who &= bits.at_least(name, level)
        keep("skills", who)
    who = alive
    for first, works_by in bits.calendars.values():  # asked once per calendar, as _filter asks
        if who and not on_duty(roster[first]):
            who &= ~works_by
    keep("off_duty", who)
    keep("capacity", bits.room)
    return alive


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
    here = point_of({"lat": job.location[0], "lon": job.location[1]})
    assert here is not None
    all_points = roster.points
    located = [all_points[i] for i in survivors]
    if None in located:
        return None
    try:
        # diameter·asin(c/2) of the chord c between the points: the haversine (haversine_km within
        # nanometres; ``point_of``)
        distances = [_METRES * asin(0.5 * c) for c in map(dist, located, repeat(here))]  # type: ignore[arg-type]
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
        if len(kept) < len(survivors):
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
    here = point_of({"lat": job.location[0], "lon": job.location[1]})
    assert here is not None
    limit = math.floor(policy.max_distance_km * 1000)  # k > max ⟺ k > floor(max), k whole metres
    low, high = -0.5 + _HALF_MARGIN, 0.5 - _HALF_MARGIN
    all_points = roster.points
    # whole metres of diameter·asin(c/2), c the chord between the points (the haversine:
    # ``point_of``); -1 without coordinates, -9 where it is within a hair of a half metre
    metres: list[int] = []
    for p in (all_points[i] for i in survivors):
        if p is None:
            metres.append(-1)
            continue
        m = _METRES * asin(min(0.5 * dist(p, here), 1.0))
        k = int(m + 0.5)  # m >= 0: int() is floor
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
    survivors = list(
        compress(range(len(roster)), flags_of(_eligible_bits(roster, job, on_duty, filtered), len(roster)))
    )
    region = job.region
    regions = roster.regions

    def home_or_covers(i: int) -> int:
        r = regions[i]
        return _HOME if r and r[0] == region else _COVERS  # as ``roster.home``

    # Distance in whole metres (haversine_km from precomputed sines and cosines: within a few
    # ulps of it; within a hair of a half metre it is rounded exactly as ``_distance`` does).
    kept: list[int]
    metres: Sequence[int]
    distances: list[float] | None = None  # every candidate located: metres as floats, not rounded
    here = job.location
    if here is None:
        # home (the ticket's region is their first) or covers, in C loops: 10,000 calls cost more
        homes = map(eq, map(roster.home.__getitem__, survivors), repeat(region)) if region is not None else ()
        kept, metres = survivors, [_HOME if home else _COVERS for home in homes] or [_COVERS] * len(survivors)
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
    fairness = _within(map(roster.instants.__getitem__, kept), since)

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
        i = kept[j]
        scored = _scored(
            roster[i], metres[j], skill[j], roster.quotient[i], all_ratings[i], fairness[j], columns, weights
        )
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
        return _ordered(members, totals.__getitem__, bound, exact, id_of, inputs)

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


def _scored(
    record: TechnicianRecord,
    metres: int,
    skill: int,
    quotient: Decimal,
    rating: Decimal,
    fairness: int,
    columns: Mapping[str, _Column],
    weights: tuple[Decimal, ...],
) -> Scored:
    """One candidate's ``Decimal`` figures, as ``rank_exact`` computes them, from its inputs and the
    exact ranges (``low``/``high``) of the columns; ``metres`` is whole metres or ``_HOME``/``_COVERS``."""
    parts: list[tuple[Any, Decimal]] = []
    if metres >= 0:
        q = Decimal(metres).scaleb(-3)
        c = columns["distance"]
        parts.append((f"{q:f} km", _ONE if c.low == c.high else (c.high - q) / (c.high - c.low)))
    else:
        parts.append(("home region", _ONE) if metres == _HOME else ("covers region", _HALF))
    c = columns["skill"]
    parts.append((skill, _ONE if c.low == c.high else (Decimal(skill) - c.low) / (c.high - c.low)))
    c = columns["load"]
    parts.append((quotient, _ONE if c.low == c.high else (c.high - quotient) / (c.high - c.low)))
    c = columns["rating"]
    parts.append((rating, _ONE if c.low == c.high else (rating - c.low) / (c.high - c.low)))
    c = columns["fairness"]
    parts.append((fairness, _ONE if c.low == c.high else (c.high - Decimal(fairness)) / (c.high - c.low)))
    total = _ZERO
    for (_raw, value), weight in zip(parts, weights, strict=True):
        if weight:
            total += weight * value
    return Scored(record, total, tuple(parts), weights)


def _ordered(
    members: list[int],
    total: Callable[[int], float],
    bound: float,
    exact: Callable[[int], Scored],
    id_of: Callable[[int], str],
    inputs: Callable[[int], tuple[Any, ...]],
) -> list[int]:
    """``members`` best first: by float total, then id; where neighbours' float totals are closer
    than the bound, their Decimal totals decide."""
    order = sorted(members, key=id_of)
    order.sort(key=total, reverse=True)  # stable: equal floats stay by id
    start, size = 0, len(order)
    while start < size:
        end = start + 1
        while end < size and total(order[end - 1]) - total(order[end]) <= bound:
            end += 1
        if end - start > 1:
            _settle(order, start, end, exact, id_of, inputs)
        start = end
    return order


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
