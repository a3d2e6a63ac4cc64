"""The fast ranking equals the exact ``Decimal`` ranking, on random rosters and on near ties."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.dispatch import BEIJING, JOB, NOW, POLICY
from functions.dispatch import scoring
from functions.dispatch.scoring import CRITERIA, Job, Policy, Ranking, rank, rank_exact
from shared.domain import technician as technician_module
from shared.domain.technician import Roster, RosterCache, TechnicianRecord

REGIONS = ["CN-BJ", "CN-SH", "CN-CD"]


def same(fast: Ranking, exact: Ranking) -> None:
    assert [s.id for s in fast.candidates] == [s.id for s in exact.candidates]
    assert [s.total for s in fast.candidates] == [s.total for s in exact.candidates]
    for f, e in zip(fast.candidates, exact.candidates, strict=True):
        assert f.parts == e.parts
        assert f.weights == e.weights
    assert fast.filtered == exact.filtered
    assert fast.considered == exact.considered
    assert fast.explanation() == exact.explanation()


technician = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["active", "active", "active", "off"]),
        "regions": st.lists(st.sampled_from(REGIONS), min_size=1, max_size=3, unique=True),
        "level": st.integers(min_value=0, max_value=5),
        "capacity": st.integers(min_value=1, max_value=7),
        "load": st.integers(min_value=0, max_value=7),
        "rating": st.one_of(*(st.decimals(min_value=0, max_value=5, places=places) for places in range(4))),
        "recent": st.lists(st.integers(min_value=1, max_value=24 * 10), max_size=5),
        "where": st.one_of(
            st.none(),
            st.tuples(st.floats(min_value=-0.9, max_value=0.9), st.floats(min_value=-0.9, max_value=0.9)),
            st.sampled_from([(0.0, 0.0), (0.01, 0.01), (0.1, -0.1)]),  # shared spots: exact ties
        ),
        "night": st.booleans(),
    }
)
weight = st.one_of(st.just(Decimal(0)), st.decimals(min_value=0, max_value=1, places=2))


def build(n: int, spec: dict[str, Any]) -> TechnicianRecord:
    where = spec["where"]
    return TechnicianRecord(
        tenant="t",
        id=f"t-{n:03d}",
        name=f"t-{n}",
        status=spec["status"],
        regions=spec["regions"],
        skills={"ac-install": spec["level"]} if spec["level"] else {},
        capacity=spec["capacity"],
        load=spec["load"],
        rating=spec["rating"],
        location=None if where is None else {"lat": BEIJING[0] + where[0], "lon": BEIJING[1] + where[1]},
        recent=[NOW - timedelta(hours=h) for h in spec["recent"]],
        calendar="night" if spec["night"] else None,
    )


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(technician, min_size=0, max_size=40),
    copies=st.integers(min_value=1, max_value=3),
    weights=st.fixed_dictionaries({name: weight for name in CRITERIA}),
    located=st.booleans(),
    region=st.sampled_from([None, "CN-BJ", "CN-SH"]),
    need=st.integers(min_value=0, max_value=3),
    max_km=st.sampled_from([Decimal(5), Decimal(40), Decimal("80.0005"), Decimal(500)]),
    declined=st.sets(st.integers(min_value=0, max_value=40), max_size=3),
)
def test_the_fast_ranking_equals_the_exact_one(
    specs: list[dict[str, Any]],
    copies: int,
    weights: dict[str, Decimal],
    located: bool,
    region: str | None,
    need: int,
    max_km: Decimal,
    declined: set[int],
) -> None:
    # copies of the same technician under other ids: exact ties, decided by id
    roster = [build(n * copies + c, spec) for n, spec in enumerate(specs) for c in range(copies)]
    job = Job(
        region=region,
        location=BEIJING if located else None,
        skills={"ac-install": need} if need else {},
        declined=frozenset(f"t-{n:03d}" for n in declined),
    )
    policy = Policy(weights=weights, max_distance_km=max_km)

    def on_duty(t: TechnicianRecord) -> bool:
        return t.calendar != "night"

    same(
        rank(roster, job, policy, at=NOW, on_duty=on_duty),
        rank_exact(roster, job, policy, at=NOW, on_duty=on_duty),
    )


def roster_of(size: int) -> list[TechnicianRecord]:
    import random

    rnd = random.Random(size)
    return [
        build(
            n,
            {
                "status": "active",
                "regions": ["CN-BJ"],
                "level": rnd.randint(2, 5),
                "capacity": rnd.randint(1, 8),
                "load": 0 if n % 3 else rnd.randint(0, 7),
                "rating": Decimal(rnd.randint(30, 50)) / 10,
                "recent": [rnd.randint(1, 200) for _ in range(rnd.randint(0, 4))],
                "where": (rnd.uniform(-0.5, 0.5), rnd.uniform(-0.5, 0.5)),
                "night": False,
            },
        )
        for n in range(size)
    ]


def test_a_large_roster_ranks_the_same() -> None:
    roster = roster_of(3000)
    job = JOB
    policy = replace(POLICY, max_distance_km=Decimal(50))
    same(
        rank(roster, job, policy, at=NOW, on_duty=lambda _t: True),
        rank_exact(roster, job, policy, at=NOW, on_duty=lambda _t: True),
    )


def test_every_distance_may_take_the_exact_rounding(monkeypatch: pytest.MonkeyPatch) -> None:
    """Distances near a half metre are rounded by ``_distance``: force that path for all."""
    monkeypatch.setattr(scoring, "_HALF_MARGIN", 0.6)
    roster = roster_of(200)
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    policy = Policy(weights={"distance": Decimal(1)}, max_distance_km=Decimal(30))
    same(
        rank(roster, job, policy, at=NOW, on_duty=lambda _t: True),
        rank_exact(roster, job, policy, at=NOW, on_duty=lambda _t: True),
    )


def test_near_ties_are_settled_in_decimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a huge error bound every candidate is one cluster: the exact totals must order them."""
    roster = roster_of(150)
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    policy = Policy(weights={"rating": Decimal("0.3"), "load": Decimal("0.7")}, max_distance_km=Decimal(80))
    monkeypatch.setattr(scoring, "_U", 1.0)
    same(
        rank(roster, job, policy, at=NOW, on_duty=lambda _t: True),
        rank_exact(roster, job, policy, at=NOW, on_duty=lambda _t: True),
    )


def test_only_the_shown_candidates_are_computed_in_decimal(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    real = scoring.Scored

    def counted(*args: Any) -> scoring.Scored:
        made = real(*args)
        built.append(made.id)
        return made

    monkeypatch.setattr(scoring, "Scored", counted)
    roster = roster_of(2000)
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    policy = Policy(weights={"distance": Decimal(1)}, max_distance_km=Decimal(80))
    ranking = rank(roster, job, policy, at=NOW, on_duty=lambda _t: True)
    explanation = ranking.explanation()
    assert explanation["eligible"] > 1000
    assert len(built) <= 10
    assert built[:5] == [c["technician"] for c in explanation["top"]]


# --------------------------------------------------------------------------- the registry's Roster


def reference(
    technicians: list[TechnicianRecord], job: Job, policy: Policy, on_duty: Any
) -> tuple[list[tuple[str, Decimal]], dict[str, int]]:
    """The ranking written out plainly from the rules in ``scoring``'s docstring: first failing
    filter counted, every criterion min-max normalized in ``Decimal``, ties by id."""
    filtered: dict[str, int] = {}
    kept: list[tuple[TechnicianRecord, Decimal | None]] = []
    for t in technicians:
        distance = None
        if job.location is not None and t.location:
            km = scoring.haversine_km(job.location, (t.location["lat"], t.location["lon"]))
            distance = Decimal(repr(km)).quantize(Decimal("0.001"))
        reason = next(
            (
                name
                for name, failed in (
                    ("declined", t.id in job.declined),
                    ("off", t.status != "active"),
                    ("region", job.region is not None and job.region not in t.regions),
                    ("skills", any(t.skills.get(s, 0) < lv for s, lv in job.skills.items())),
                    ("off_duty", not on_duty(t)),
                    ("capacity", t.load >= t.capacity),
                    ("distance", distance is not None and distance > policy.max_distance_km),
                )
                if failed
            ),
            None,
        )
        if reason:
            filtered[reason] = filtered.get(reason, 0) + 1
        else:
            kept.append((t, distance))

    def norm(values: list[Decimal], higher: bool) -> list[Decimal]:
        if not values:
            return []
        lo, hi = min(values), max(values)
        if lo == hi:
            return [Decimal(1)] * len(values)
        return [((v - lo) if higher else (hi - v)) / (hi - lo) for v in values]

    since = NOW - timedelta(days=7)
    measured = norm([d for _, d in kept if d is not None], higher=False)
    at_distance = iter(measured)
    distance_n = [
        next(at_distance)
        if d is not None
        else (Decimal(1) if t.regions[:1] == [job.region] else Decimal("0.5"))
        for t, d in kept
    ]
    columns = {
        "distance": distance_n,
        "skill": norm([Decimal(sum(t.skills.get(s, 0) for s in job.skills)) for t, _ in kept], higher=True),
        "load": norm([Decimal(t.load) / Decimal(t.capacity) for t, _ in kept], higher=False),
        "rating": norm([t.rating for t, _ in kept], higher=True),
        "fairness": norm([Decimal(sum(1 for a in t.recent if a >= since)) for t, _ in kept], higher=False),
    }
    totals = [
        sum((policy.weight(c) * columns[c][n] for c in CRITERIA if policy.weight(c)), Decimal(0))
        for n in range(len(kept))
    ]
    order = sorted(range(len(kept)), key=lambda n: (-totals[n], kept[n][0].id))
    return [(kept[n][0].id, totals[n]) for n in order], filtered


located = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["active", "active", "active", "active", "off"]),
        "regions": st.lists(st.sampled_from(REGIONS), min_size=1, max_size=3, unique=True),
        "install": st.integers(min_value=0, max_value=5),
        "repair": st.integers(min_value=0, max_value=5),
        "capacity": st.integers(min_value=1, max_value=7),
        "load": st.integers(min_value=0, max_value=7),
        "rating": st.one_of(*(st.decimals(min_value=0, max_value=5, places=p) for p in range(3))),
        "recent": st.lists(st.integers(min_value=1, max_value=24 * 10), max_size=4),
        # on a 1e-4 degree grid (about 11 m): many equal distances, and many near whole metres
        "where": st.tuples(st.integers(-5000, 5000), st.integers(-5000, 5000)),
        "calendar": st.sampled_from([None, None, "day", "night"]),
    }
)


@settings(max_examples=200, deadline=None)
@given(
    specs=st.lists(located, min_size=0, max_size=60),
    weights=st.fixed_dictionaries({name: weight for name in CRITERIA}),
    region=st.sampled_from([None, "CN-BJ", "CN-SH"]),
    skills=st.sampled_from([{}, {"ac-install": 2}, {"ac-install": 1, "ac-repair": 2}]),
    max_km=st.sampled_from([Decimal(10), Decimal("33.3"), Decimal(80)]),
    declined=st.sets(st.integers(min_value=0, max_value=60), max_size=4),
)
def test_the_roster_ranks_exactly_like_the_plain_reference(
    specs: list[dict[str, Any]],
    weights: dict[str, Decimal],
    region: str | None,
    skills: dict[str, int],
    max_km: Decimal,
    declined: set[int],
) -> None:
    """The fast path on a registry ``Roster`` (every candidate located: the unrounded-metres path)
    against a plain reference: same ids in the same order, same Decimal totals, same filter counts,
    the head read first and everyone read after."""
    technicians = [
        TechnicianRecord(
            tenant="t",
            id=f"t-{n:03d}",
            name=f"t-{n}",
            status=spec["status"],
            regions=spec["regions"],
            skills={k: v for k, v in (("ac-install", spec["install"]), ("ac-repair", spec["repair"])) if v},
            capacity=spec["capacity"],
            load=spec["load"],
            rating=spec["rating"],
            location={"lat": BEIJING[0] + spec["where"][0] / 1e4, "lon": BEIJING[1] + spec["where"][1] / 1e4},
            recent=[NOW - timedelta(hours=h) for h in spec["recent"]],
            calendar=spec["calendar"],
        )
        for n, spec in enumerate(specs)
    ]
    job = Job(
        region=region,
        location=BEIJING,
        skills=skills,
        declined=frozenset(f"t-{n:03d}" for n in declined),
    )
    policy = Policy(weights=weights, max_distance_km=max_km)

    def on_duty(t: TechnicianRecord) -> bool:
        return t.calendar != "night"

    expected, filtered = reference(technicians, job, policy, on_duty)
    ranking = rank(Roster(technicians), job, policy, at=NOW, on_duty=on_duty)
    head = [(s.id, s.total) for s in ranking.candidates[: scoring.HEAD]]
    assert head == expected[: scoring.HEAD]
    assert [(s.id, s.total) for s in ranking.candidates] == expected
    assert len(ranking.candidates) == len(expected)
    assert ranking.filtered == filtered
    assert (
        ranking.explanation() == rank_exact(technicians, job, policy, at=NOW, on_duty=on_duty).explanation()
    )


def test_a_big_roster_reads_its_head_without_ordering_everyone() -> None:
    """Past ``HEAD`` the whole order is computed on demand, and it agrees with the head."""
    roster = Roster(roster_of(1500))
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    ranking = rank(roster, job, POLICY, at=NOW, on_duty=lambda _t: True)
    candidates = ranking.candidates
    head = [s.id for s in candidates[: scoring.HEAD]]
    assert candidates._complete is not None  # type: ignore[attr-defined]  # not ordered yet
    assert [s.id for s in candidates][: scoring.HEAD] == head
    exact = [s.id for s in rank_exact(list(roster), job, POLICY, at=NOW, on_duty=lambda _t: True).candidates]
    assert [s.id for s in candidates] == exact
    for part in (slice(None, 5), slice(-3, None), slice(None, None, -1), slice(8, 12), slice(3, 2)):
        fresh = rank(roster, job, POLICY, at=NOW, on_duty=lambda _t: True).candidates
        assert [s.id for s in fresh[part]] == exact[part], part
    assert rank(roster, job, POLICY, at=NOW, on_duty=lambda _t: True).candidates[-1].id == exact[-1]


@pytest.mark.parametrize("margin", [scoring._HALF_MARGIN, 0.6])
def test_distances_within_one_metre_tie_by_id_as_whole_metres_do(
    monkeypatch: pytest.MonkeyPatch, margin: float
) -> None:
    """Technicians 0.1 m apart along a meridian, scored by distance alone: the unrounded metres
    order them one way, whole metres tie them (then the id decides); and the distance limit falls
    inside a metre. With the margin widened every rounding goes through ``_distance``."""
    monkeypatch.setattr(scoring, "_HALF_MARGIN", margin)
    technicians = [
        TechnicianRecord(
            tenant="t",
            id=f"t-{(n * 7919) % 400:03d}",  # ids in no relation to the distance
            name="x",
            regions=["CN-BJ"],
            capacity=3,
            location={"lat": BEIJING[0] + 0.009 + n * 1e-6, "lon": BEIJING[1]},
        )
        for n in range(400)
    ]
    job = Job(region="CN-BJ", location=BEIJING)
    for limit in (Decimal(1), Decimal("1.0125"), Decimal(5)):
        policy = Policy(weights={"distance": Decimal(1)}, max_distance_km=limit)
        expected, filtered = reference(technicians, job, policy, lambda _t: True)
        ranking = rank(Roster(technicians), job, policy, at=NOW, on_duty=lambda _t: True)
        assert [(s.id, s.total) for s in ranking.candidates[: scoring.HEAD]] == expected[: scoring.HEAD]
        assert [(s.id, s.total) for s in ranking.candidates] == expected
        assert ranking.filtered == filtered


def test_a_roster_of_stored_values_ranks_alike_and_builds_only_the_records_read() -> None:
    """``Roster.of_fields`` (what the registry hands over) ranks as a roster of records does, and
    builds a pydantic record only for a technician that is read (the explanation's few)."""
    people = roster_of(800)
    built: list[str] = []

    def build(fields: dict[str, Any]) -> TechnicianRecord:
        built.append(fields["id"])
        return TechnicianRecord(**fields)

    stored = Roster.of_fields([dict(p.__dict__) for p in people], build)
    assert len(stored) == 800 and not built
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    fast = rank(stored, job, POLICY, at=NOW, on_duty=lambda _t: True)
    explanation = fast.explanation()
    assert 0 < len(built) <= scoring.HEAD
    assert explanation == rank(people, job, POLICY, at=NOW, on_duty=lambda _t: True).explanation()
    assert stored[3] == people[3] and stored == people  # records on demand, equal to the originals


# --------------------------------------------------------------------------- the bulk path


@settings(max_examples=300, deadline=None)
@given(
    specs=st.lists(located, min_size=0, max_size=80),
    copies=st.integers(min_value=1, max_value=2),
    weights=st.fixed_dictionaries({name: weight for name in CRITERIA}),
    located=st.sampled_from([True, True, False]),
    region=st.sampled_from([None, "CN-BJ", "CN-SH"]),
    skills=st.sampled_from([{}, {"ac-install": 2}, {"ac-install": 1, "ac-repair": 2}, {"welding": 1}]),
    max_km=st.sampled_from([Decimal(10), Decimal("33.3"), Decimal(80)]),
    declined=st.sets(st.integers(min_value=0, max_value=80), max_size=4),
    seed=st.integers(min_value=1, max_value=40),
    cell=st.sampled_from([1, 4, 48]),
    scan=st.sampled_from([0, 1, 64]),
    set_limit=st.sampled_from([1, 255]),
)
def test_the_bulk_path_ranks_exactly_like_the_plain_reference(
    specs: list[dict[str, Any]],
    copies: int,
    weights: dict[str, Decimal],
    located: bool,
    region: str | None,
    skills: dict[str, int],
    max_km: Decimal,
    declined: set[int],
    seed: int,
    cell: int,
    scan: int,
    set_limit: int,
) -> None:
    """The bulk path (sets, cells, pruning by reach or by class) on small rosters, with a small seed
    and small cells so the pruning and the cell bounds decide, and with the quick fairness range and
    the sets by value turned off at times; tickets with and without a location, distance weighted
    or not: the same order, totals and counts as the plain reference."""
    technicians = [
        TechnicianRecord(
            tenant="t",
            id=f"t-{n * copies + c:03d}",
            name=f"t-{n}",
            status=spec["status"],
            regions=spec["regions"],
            skills={k: v for k, v in (("ac-install", spec["install"]), ("ac-repair", spec["repair"])) if v},
            capacity=spec["capacity"],
            load=spec["load"],
            rating=spec["rating"],
            location={"lat": BEIJING[0] + spec["where"][0] / 1e4, "lon": BEIJING[1] + spec["where"][1] / 1e4},
            recent=[NOW - timedelta(hours=h) for h in spec["recent"]],
            calendar=spec["calendar"],
        )
        for n, spec in enumerate(specs)
        for c in range(copies)  # copies under other ids: exact ties, decided by id
    ]
    job = Job(
        region=region,
        location=BEIJING if located else None,
        skills=skills,
        declined=frozenset(f"t-{n:03d}" for n in declined),
    )
    policy = Policy(weights=weights, max_distance_km=max_km)

    def on_duty(t: TechnicianRecord) -> bool:
        return t.calendar != "night"

    expected, filtered = reference(technicians, job, policy, on_duty)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scoring, "_SEED", seed)
        patch.setattr(scoring, "_SCAN", scan)
        patch.setattr(technician_module, "CELL_SIZE", cell)
        patch.setattr(technician_module, "SET_LIMIT", set_limit)
        roster = Roster(technicians)
        ranking = scoring._rank_bulk(roster, job, policy, NOW, on_duty)
    assert ranking is not None  # every candidate located, or the ticket is not: the bulk path ranks
    head = [(s.id, s.total) for s in ranking.candidates[: scoring.HEAD]]
    assert head == expected[: scoring.HEAD]
    assert [(s.id, s.total) for s in ranking.candidates] == expected
    assert ranking.filtered == filtered
    assert (
        ranking.explanation() == rank_exact(technicians, job, policy, at=NOW, on_duty=on_duty).explanation()
    )


def test_rank_takes_the_bulk_path_unless_only_some_candidates_have_coordinates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    taken: list[str] = []
    real = scoring._rank_fast

    def fast(*args: Any) -> Ranking:
        taken.append("fast")
        return real(*args)

    monkeypatch.setattr(scoring, "_rank_fast", fast)
    people = roster_of(600)
    on = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    unweighted = Policy(weights={"rating": Decimal(1)}, max_distance_km=Decimal(80))
    for job, policy in ((on, POLICY), (replace(on, location=None), POLICY), (on, unweighted)):
        same(
            rank(people, job, policy, at=NOW, on_duty=lambda _t: True),
            rank_exact(people, job, policy, at=NOW, on_duty=lambda _t: True),
        )
    assert taken == []
    # a located ticket and a candidate without coordinates (scored by region match): floats
    unlocated = [*people[:-1], people[-1].model_copy(update={"location": None})]
    same(
        rank(unlocated, on, POLICY, at=NOW, on_duty=lambda _t: True),
        rank_exact(unlocated, on, POLICY, at=NOW, on_duty=lambda _t: True),
    )
    assert taken == ["fast"]


def test_a_large_roster_scores_only_the_candidates_within_reach(monkeypatch: pytest.MonkeyPatch) -> None:
    """At 5,000 candidates the bulk path computes float totals for a fraction of them, and the head
    it orders is the exact one."""
    scored: list[int] = []
    real = scoring._sums

    def counted(base: float, terms: Any, count: int) -> list[float]:
        scored.append(count)
        return real(base, terms, count)

    monkeypatch.setattr(scoring, "_sums", counted)
    people = roster_of(5000)
    ranking = rank(people, JOB, POLICY, at=NOW, on_duty=lambda _t: True)
    explanation = ranking.explanation()
    assert explanation["eligible"] > 4000
    assert sum(scored) < explanation["eligible"] / 3
    assert explanation == rank_exact(people, JOB, POLICY, at=NOW, on_duty=lambda _t: True).explanation()


# --------------------------------------------------------------------------- the registry's cache


def test_the_cache_reuses_static_facts_until_a_record_changes() -> None:
    """A second read with the same ``(id, updated_at)`` reuses the static facts; a changed record
    (a new ``updated_at``) or another key lays them out again, and the ranking follows the change."""
    people = roster_of(300)
    stored = [dict(p.__dict__) for p in people]
    cache = RosterCache()
    first = Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key=("t", "CN-BJ"))
    again = Roster.of_fields(
        [dict(f) for f in stored], TechnicianRecord.model_validate, cache=cache, key=("t", "CN-BJ")
    )
    assert again.points is first.points and again.bits.cells is first.bits.cells
    elsewhere = Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key=("t", "CN-SH"))
    assert elsewhere.points is not first.points

    job = Job(region="CN-BJ", location=BEIJING)
    policy = Policy(weights={"distance": Decimal(1)}, max_distance_km=Decimal(80))
    winner = rank(again, job, policy, at=NOW, on_duty=lambda _t: True).candidates[0].id
    # the last technician moves onto the ticket's spot (PUT stamps updated_at)
    moved = [dict(f) for f in stored]
    moved[-1] |= {"location": {"lat": BEIJING[0], "lon": BEIJING[1]}, "updated_at": NOW}
    after = Roster.of_fields(moved, TechnicianRecord.model_validate, cache=cache, key=("t", "CN-BJ"))
    assert after.points is not first.points
    ranked = rank(after, job, policy, at=NOW, on_duty=lambda _t: True)
    assert ranked.candidates[0].id == moved[-1]["id"] != winner
    same(ranked, rank_exact(list(after), job, policy, at=NOW, on_duty=lambda _t: True))


def test_loads_and_assignments_are_laid_out_on_every_read() -> None:
    """Load and assignment instants change without a stamp (every assignment): never cached."""
    people = roster_of(200)
    stored = [dict(p.__dict__) for p in people]
    cache = RosterCache()
    Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key="k")
    busy = [dict(f) | {"load": f["capacity"]} for f in stored]
    busy[7] = dict(stored[7]) | {"load": 0, "recent": []}
    roster = Roster.of_fields(busy, TechnicianRecord.model_validate, cache=cache, key="k")
    ranking = rank(roster, Job(region="CN-BJ", location=BEIJING), POLICY, at=NOW, on_duty=lambda _t: True)
    assert [s.id for s in ranking.candidates] == [stored[7]["id"]]
    assert ranking.filtered == {"capacity": 199}


def test_the_cache_keeps_a_bounded_number_of_rosters() -> None:
    stored = [dict(p.__dict__) for p in roster_of(20)]
    cache = RosterCache(size=2)
    first = Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key="a")
    Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key="b")
    Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key="c")
    assert (
        Roster.of_fields(stored, TechnicianRecord.model_validate, cache=cache, key="a").points
        is not first.points
    )


def test_a_far_candidate_best_by_the_other_criteria_still_wins() -> None:
    """Pruning by reach must leave room for everything the other criteria can add: the farthest
    technician, the only one rated 5, beats 1,999 nearer ones rated 3 when rating weighs more."""
    people = [
        TechnicianRecord(
            tenant="t",
            id=f"t-{n:04d}",
            name="x",
            regions=["CN-BJ"],
            capacity=3,
            rating=Decimal(3),
            location={"lat": BEIJING[0] + 0.0001 * (n % 50), "lon": BEIJING[1] + 0.0001 * (n // 50)},
        )
        for n in range(1999)
    ]
    far = people[0].model_copy(
        update={"id": "t-far", "rating": Decimal(5), "location": {"lat": BEIJING[0] + 0.5, "lon": BEIJING[1]}}
    )
    job = Job(region="CN-BJ", location=BEIJING)
    policy = Policy(
        weights={"distance": Decimal("0.4"), "rating": Decimal("0.6")}, max_distance_km=Decimal(80)
    )
    ranking = rank([*people, far], job, policy, at=NOW, on_duty=lambda _t: True)
    assert ranking.candidates[0].id == "t-far"
    assert (
        ranking.explanation()
        == rank_exact([*people, far], job, policy, at=NOW, on_duty=lambda _t: True).explanation()
    )


def test_near_ties_on_the_bulk_path_are_settled_in_decimal(monkeypatch: pytest.MonkeyPatch) -> None:
    """With a huge error bound every candidate is in reach and in one cluster: the exact totals order them."""
    people = roster_of(700)
    monkeypatch.setattr(scoring, "_U", 1.0)
    monkeypatch.setattr(scoring, "_SEED", 50)
    same(
        rank(people, JOB, POLICY, at=NOW, on_duty=lambda _t: True),
        rank_exact(people, JOB, POLICY, at=NOW, on_duty=lambda _t: True),
    )


def test_a_far_candidate_best_by_skill_and_rating_is_within_its_levels_reach() -> None:
    """The reach of a skill level counts that level's own term: 300 technicians close to the ticket
    at skill 5 and rating 3 set a high first guess; one at 24 km with skill 5 and rating 5 wins."""

    def tech(tech_id: str, lat: float, level: int, rating: int) -> TechnicianRecord:
        return TechnicianRecord(
            tenant="t",
            id=tech_id,
            name="x",
            regions=["CN-BJ"],
            capacity=3,
            skills={"ac-install": level},
            rating=Decimal(rating),
            location={"lat": BEIJING[0] + lat, "lon": BEIJING[1]},
        )

    people = [tech(f"t-{n:03d}", 0.00001 * n, 1 if n % 50 == 0 else 5, 3) for n in range(300)]
    people += [tech("t-far", 24 / 111.2, 5, 5), tech("t-edge", 79 / 111.2, 1, 3)]
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 1})
    policy = Policy(
        weights={"distance": Decimal("0.5"), "skill": Decimal("0.3"), "rating": Decimal("0.2")},
        max_distance_km=Decimal(80),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scoring, "_SEED", 200)
        patch.setattr(technician_module, "CELL_SIZE", 4)  # cells of a few km: t-far is not in the seed
        ranking = rank(people, job, policy, at=NOW, on_duty=lambda _t: True)
        assert ranking.candidates[0].id == "t-far"
    assert (
        ranking.explanation()
        == rank_exact(people, job, policy, at=NOW, on_duty=lambda _t: True).explanation()
    )


@pytest.mark.parametrize("region", [None, "CN-BJ"])
def test_without_coordinates_home_and_covering_score_as_the_exact_ranking(region: str | None) -> None:
    """The region match (home 1, covers 0.5) for technicians with one, several or no regions."""
    people = [
        TechnicianRecord(
            tenant="t",
            id=f"t-{n:02d}",
            name="x",
            regions=[["CN-BJ"], ["CN-SH", "CN-BJ"], []][n % 3]
            if region is None
            else [["CN-BJ"], ["CN-SH", "CN-BJ"]][n % 2],
            capacity=3,
            rating=Decimal(n % 5),
        )
        for n in range(30)
    ]
    job = Job(region=region, location=None)
    policy = Policy(
        weights={"distance": Decimal("0.6"), "rating": Decimal("0.4")}, max_distance_km=Decimal(80)
    )
    same(
        rank(people, job, policy, at=NOW, on_duty=lambda _t: True),
        rank_exact(people, job, policy, at=NOW, on_duty=lambda _t: True),
    )


@pytest.mark.parametrize(("winner_home", "others_rating"), [(False, "4.4"), (True, "4.75")])
def test_without_a_location_a_class_that_can_still_win_is_scored(
    winner_home: bool, others_rating: str
) -> None:
    """By class (skill level, home region or not) the class that can add the most goes first; a
    lower class whose best member still beats the first class's is scored: here one technician at
    skill 4 rated 5 beats 60 at skill 5 rated a little lower."""

    def tech(tech_id: str, level: int, rating: str, home: bool) -> TechnicianRecord:
        return TechnicianRecord(
            tenant="t",
            id=tech_id,
            name="x",
            regions=["CN-BJ"] if home else ["CN-SH", "CN-BJ"],
            capacity=3,
            skills={"ac-install": level},
            rating=Decimal(rating),
        )

    people = [tech(f"t-{n:03d}", 5, others_rating, True) for n in range(60)]
    people += [tech("t-low", 1, "3", False), tech("t-win", 4, "5", winner_home)]
    job = Job(region="CN-BJ", location=None, skills={"ac-install": 1})
    policy = Policy(
        weights={"distance": Decimal("0.2"), "skill": Decimal("0.2"), "rating": Decimal("0.6")},
        max_distance_km=Decimal(80),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(scoring, "_SEED", 20)
        ranking = rank(people, job, policy, at=NOW, on_duty=lambda _t: True)
        assert ranking.candidates[0].id == "t-win"
    assert (
        ranking.explanation()
        == rank_exact(people, job, policy, at=NOW, on_duty=lambda _t: True).explanation()
    )
