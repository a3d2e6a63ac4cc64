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
from shared.domain.technician import TechnicianRecord

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
