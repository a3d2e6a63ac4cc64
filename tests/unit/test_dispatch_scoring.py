"""Dispatch scoring: hard filters, normalized weighted scores, ties, the explanation."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.dispatch import BEIJING, NOW, POLICY
from functions.dispatch.scoring import Job, Policy, haversine_km, rank
from shared.domain.technician import TechnicianRecord
from tests import factories
from tests.fakes import FakeMarkers, FakeSender, FakeTickets

SHANGHAI = {"lat": 31.2304, "lon": 121.4737}
DEFAULT = POLICY  # the benchmark's policy: acme-home's weights, 80 km
INSTALL = Job(region="CN-BJ", skills={"ac-install": 2})


def tech(technician_id: str, **overrides: Any) -> TechnicianRecord:
    """A technician who passes every filter of ``INSTALL`` unless told otherwise."""
    data: dict[str, Any] = {
        "tenant": "acme-home",
        "id": technician_id,
        "name": technician_id,
        "regions": ["CN-BJ"],
        "skills": {"ac-install": 2},
        "capacity": 5,
        "load": 0,
        "rating": Decimal("4.5"),
        **overrides,
    }
    return TechnicianRecord(**data)


def assigned(count: int) -> list[datetime]:
    return [NOW - timedelta(hours=n + 1) for n in range(count)]


def always(_tech: TechnicianRecord) -> bool:
    return True


def ids(ranking: Any) -> list[str]:
    return [s.id for s in ranking.candidates]


def test_each_hard_filter_removes_and_is_counted_under_its_reason() -> None:
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2}, declined=frozenset({"t-declined"}))
    roster = [
        tech("t-ok", location={"lat": 39.95, "lon": 116.30}),
        tech("t-declined"),
        tech("t-off", status="off"),
        tech("t-region", regions=["CN-SH"]),
        tech("t-skills", skills={"ac-install": 1, "ac-repair": 5}),
        tech("t-night", calendar="night"),
        tech("t-full", load=5, capacity=5),
        tech("t-far", location=SHANGHAI),
        tech("t-nocoords"),  # no coordinates: the distance filter does not apply
    ]

    ranking = rank(roster, job, DEFAULT, at=NOW, on_duty=lambda t: t.calendar != "night")

    assert sorted(ids(ranking)) == ["t-nocoords", "t-ok"]
    assert ranking.filtered == {
        "declined": 1,
        "off": 1,
        "region": 1,
        "skills": 1,
        "off_duty": 1,
        "capacity": 1,
        "distance": 1,
    }
    assert ranking.considered == 9


def test_the_first_failing_filter_is_the_one_counted() -> None:
    ranking = rank(
        [tech("t-1", status="off", regions=["CN-SH"], load=5)], INSTALL, DEFAULT, at=NOW, on_duty=always
    )
    assert ranking.filtered == {"off": 1}


def test_scores_match_the_hand_computed_figures() -> None:
    # Given three candidates and a ticket without coordinates (distance = region match)
    roster = [
        tech("t-a", skills={"ac-install": 3}, load=0, capacity=5, rating=Decimal("4.8")),
        tech(
            "t-b",
            regions=["CN-SH", "CN-BJ"],
            load=1,
            capacity=2,
            rating=Decimal("4.0"),
            recent=assigned(2),
        ),
        tech("t-c", load=1, capacity=4, rating=Decimal("4.4"), recent=assigned(1)),
    ]

    ranking = rank(roster, INSTALL, DEFAULT, at=NOW, on_duty=always)

    # Then, normalized per criterion:
    #   distance 1 / 0.5 / 1 (home, covers, home); skill sums 3,2,2 -> 1/0/0;
    #   load 0, 0.5, 0.25 -> 1/0/0.5; rating 4.8, 4.0, 4.4 -> 1/0/0.5; fairness 0,2,1 -> 1/0/0.5
    # totals: a = 0.35+0.25+0.20+0.10+0.10 = 1.00; c = 0.35+0+0.10+0.05+0.05 = 0.55; b = 0.175
    assert ids(ranking) == ["t-a", "t-c", "t-b"]
    assert [s.total for s in ranking.candidates] == [Decimal("1.00"), Decimal("0.55"), Decimal("0.175")]
    c = ranking.candidates[1].criteria
    assert {name: c[name].normalized for name in c} == {
        "distance": Decimal(1),
        "skill": Decimal(0),
        "load": Decimal("0.5"),
        "rating": Decimal("0.5"),
        "fairness": Decimal("0.5"),
    }
    assert c["load"].raw == "0.25"
    assert c["fairness"].raw == 1
    assert ranking.candidates[2].criteria["distance"].raw == "covers region"


def test_distance_is_great_circle_and_closer_is_better() -> None:
    assert abs(haversine_km(BEIJING, (31.2304, 121.4737)) - 1067.3) < 1.0
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    roster = [
        tech("t-here", location={"lat": BEIJING[0], "lon": BEIJING[1]}),
        tech("t-near", location={"lat": 39.95, "lon": 116.30}),
        tech("t-mid", location={"lat": 40.0, "lon": 116.0}),
    ]
    ranking = rank(roster, job, DEFAULT, at=NOW, on_duty=always)
    assert ids(ranking) == ["t-here", "t-near", "t-mid"]
    here, near, mid = (s.criteria["distance"] for s in ranking.candidates)
    assert here.raw == "0.000 km" and here.normalized == 1
    assert mid.normalized == 0
    near_km = Decimal(near.raw.removesuffix(" km"))
    mid_km = Decimal(mid.raw.removesuffix(" km"))
    assert near.normalized == (mid_km - near_km) / mid_km


def test_a_weight_change_flips_a_close_case() -> None:
    # Given: t-near is closer, t-star is rated higher; all else equal
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    roster = [
        tech("t-near", location={"lat": 39.91, "lon": 116.41}, rating=Decimal("4.0")),
        tech("t-star", location={"lat": 39.99, "lon": 116.41}, rating=Decimal("4.9")),
    ]
    distance_first = rank(roster, job, DEFAULT, at=NOW, on_duty=always)
    assert ids(distance_first) == ["t-near", "t-star"]  # 0.35+0.65 vs 0.10+0.65

    rating_first = Policy(
        weights={**DEFAULT.weights, "distance": Decimal("0.10"), "rating": Decimal("0.35")},
        max_distance_km=Decimal(80),
    )
    assert ids(rank(roster, job, rating_first, at=NOW, on_duty=always)) == ["t-star", "t-near"]


def test_ties_break_by_id_and_missing_weights_count_zero() -> None:
    roster = [tech("t-b"), tech("t-c"), tech("t-a")]
    ranking = rank(
        roster,
        INSTALL,
        Policy(weights={"rating": Decimal("1")}, max_distance_km=Decimal(80)),
        at=NOW,
        on_duty=always,
    )
    assert ids(ranking) == ["t-a", "t-b", "t-c"]
    assert {s.total for s in ranking.candidates} == {Decimal(1)}
    assert ranking.candidates[0].criteria["distance"].weight == 0


def test_assignments_older_than_seven_days_do_not_count_for_fairness() -> None:
    old = [NOW - timedelta(days=8), NOW - timedelta(days=9)]
    roster = [tech("t-busy", recent=assigned(1)), tech("t-old", recent=old)]
    ranking = rank(roster, INSTALL, DEFAULT, at=NOW, on_duty=always)
    assert ids(ranking) == ["t-old", "t-busy"]
    assert ranking.candidates[0].criteria["fairness"].raw == 0


def test_the_explanation_shows_the_top_five_and_counts_the_rest() -> None:
    roster = [tech(f"t-{n}", rating=Decimal(n) / 2) for n in range(1, 8)] + [
        tech("t-off", status="off"),
        tech("t-sh", regions=["CN-SH"]),
        tech("t-sh2", regions=["CN-SH"]),
    ]
    explanation = rank(roster, INSTALL, DEFAULT, at=NOW, on_duty=always).explanation()

    assert explanation["considered"] == 10
    assert explanation["eligible"] == 7
    assert explanation["not_shown"] == 2
    assert explanation["filtered"] == {"off": 1, "region": 2}
    assert explanation["weights"] == {
        "distance": "0.35",
        "skill": "0.25",
        "load": "0.20",
        "rating": "0.10",
        "fairness": "0.10",
    }
    top = explanation["top"]
    assert [c["technician"] for c in top] == ["t-7", "t-6", "t-5", "t-4", "t-3"]
    assert [c["rank"] for c in top] == [1, 2, 3, 4, 5]
    first = top[0]
    assert first["total"] == "1.0000"
    assert first["criteria"]["rating"] == {
        "raw": "3.5",
        "normalized": "1.0000",
        "weight": "0.10",
        "contribution": "0.1000",
    }
    for shown in top:
        parts = sum(Decimal(c["contribution"]) for c in shown["criteria"].values())
        assert abs(parts - Decimal(shown["total"])) <= Decimal("0.0005")


# --------------------------------------------------------------------------- property


others = st.lists(
    st.fixed_dictionaries(
        {
            "dlat": st.floats(min_value=0.01, max_value=0.5),
            "dlon": st.floats(min_value=-0.5, max_value=0.5),
            "level": st.integers(min_value=2, max_value=5),
            "load": st.integers(min_value=1, max_value=4),
            "rating": st.decimals(min_value=0, max_value="4.8", places=1),
            "recent": st.integers(min_value=1, max_value=6),
        }
    ),
    min_size=1,
    max_size=8,
)
weights = st.fixed_dictionaries(
    {name: st.decimals(min_value=0, max_value=1, places=2) for name in DEFAULT.weights}
).filter(lambda w: any(v > 0 for v in w.values()))


@settings(max_examples=150, deadline=None)
@given(others=others, weights=weights)
def test_a_candidate_that_dominates_every_criterion_always_wins(
    others: list[dict[str, Any]], weights: dict[str, Decimal]
) -> None:
    roster = [
        tech(
            f"t-{n}",
            location={"lat": BEIJING[0] + o["dlat"], "lon": BEIJING[1] + o["dlon"]},
            skills={"ac-install": o["level"]},
            load=o["load"],
            capacity=5,
            rating=o["rating"],
            recent=assigned(o["recent"]),
        )
        for n, o in enumerate(others)
    ]
    best = tech(
        "t-zzz",  # last by id, so it cannot win a tie
        location={"lat": BEIJING[0], "lon": BEIJING[1]},
        skills={"ac-install": 6},
        load=0,
        rating=Decimal("4.9"),
    )
    job = Job(region="CN-BJ", location=BEIJING, skills={"ac-install": 2})
    ranking = rank(
        [*roster, best], job, Policy(weights=weights, max_distance_km=Decimal(80)), at=NOW, on_duty=always
    )
    assert ranking.candidates[0].id == "t-zzz"
    assert ranking.candidates[0].total > ranking.candidates[1].total


# --------------------------------------------------------------------------- no-candidate notices
# (kept here with the other dispatch unit tests; ``shared.notices`` with fakes)


def _notice_setup(**users: Any) -> tuple[Any, Any]:
    from shared.tenant.loader import load_tenant_file
    from tests.factories import EXAMPLES

    cfg = load_tenant_file(str(EXAMPLES / "acme-home.yaml"))
    if users:
        cfg = cfg.model_copy(update=users)
    ticket = factories.ticket(
        "TK-9", at=NOW, ticket_type="install", node="manual_dispatch", fields={"region": "CN-BJ"}
    )
    return cfg, ticket


def _notifier(sender: FakeSender, markers: FakeMarkers, email: bool = True) -> Any:
    from shared.notices import Notifier
    from shared.repositories.reminders import marker_key

    return Notifier(sender=sender, markers=markers, marker_key=marker_key, email_enabled=email)


def test_no_candidate_notifies_each_dispatcher_once_per_visit() -> None:
    from shared.notices import notify_no_candidate

    cfg, ticket = _notice_setup()
    sender, markers = FakeSender(), FakeMarkers()
    notifier = _notifier(sender, markers)

    first = notify_no_candidate(notifier, cfg, ticket, "dispatching", 1, {"capacity": 2})
    # u-zhao is the only dispatcher of acme-home: one SMS, one email, one WeCom message (wecom_app)
    assert [(c, to) for c, to, _ in sender.sent] == [
        ("sms", "+8613800000012"),
        ("email", "zhao@acme.example"),
        ("wecom", "ZhaoGang"),
    ]
    assert "TK-9" in sender.sent[0][2] and "capacity 2" in sender.sent[0][2]
    assert sender.sent[2][2] == sender.sent[0][2]
    assert len(first.sent) == 3 and not first.failed

    # the same visit again (a retried task): nothing more is sent
    again = notify_no_candidate(notifier, cfg, ticket, "dispatching", 1, {"capacity": 2})
    assert len(sender.sent) == 3
    assert {s["why"] for s in again.skipped} == {"already sent"}

    # a new visit of the node (after a decline): the dispatchers hear again
    notify_no_candidate(notifier, cfg, ticket, "dispatching", 2, {})
    assert len(sender.sent) == 6


def test_no_candidate_skips_quietly_without_addresses_or_sender() -> None:
    from shared.notices import notify_no_candidate
    from shared.tenant.models import User

    cfg, ticket = _notice_setup(users=[User(id="u-d", name="d", roles=["dispatcher"])])
    sender, markers = FakeSender(), FakeMarkers()
    nobody = notify_no_candidate(_notifier(sender, markers), cfg, ticket, "dispatching", 1)
    assert sender.sent == [] and markers.claimed == set()
    assert [s["channel"] for s in nobody.skipped] == ["sms", "email", "wecom"]

    cfg, ticket = _notice_setup()
    no_sender = notify_no_candidate(_notifier(sender, markers, email=False), cfg, ticket, "dispatching", 1)
    assert [c for c, _, _ in sender.sent] == ["sms", "wecom"]
    assert no_sender.skipped == [
        {
            "recipient": "u-zhao",
            "channel": "email",
            "to": "zhao@acme.example",
            "why": "no sender address configured",
        }
    ]


def test_a_failed_notice_gives_its_marker_back_and_does_not_raise() -> None:
    from shared.notices import notify_no_candidate

    cfg, ticket = _notice_setup()
    sender, markers = FakeSender(fail=True), FakeMarkers()
    result = notify_no_candidate(_notifier(sender, markers), cfg, ticket, "dispatching", 1)
    assert [f["channel"] for f in result.failed] == ["sms", "email", "wecom"]
    assert markers.claimed == set()  # a later retry may send
    sender.fail = False
    notify_no_candidate(_notifier(sender, markers), cfg, ticket, "dispatching", 1)
    assert len(sender.sent) == 3


class EmptyRegistry:
    """Everyone is full: the roster has one technician at capacity."""

    def ensure_seeded(self, tenant: str, technicians: list[Any]) -> None:
        return None

    def roster(self, tenant: str, region: str | None = None) -> list[TechnicianRecord]:
        return [tech("t-full", load=5, capacity=5)]

    def release(self, tenant: str, technician_id: str, ticket_id: str) -> None:
        raise AssertionError("nobody held the ticket")


def test_the_dispatch_task_notifies_dispatchers_when_nobody_fits_and_a_retry_does_not() -> None:
    from functions.dispatch import service
    from shared import clock
    from shared.domain.ticket import TicketEvent

    cfg, ticket = _notice_setup()
    tickets = FakeTickets()
    tickets.create(
        ticket.model_copy(update={"node": "dispatching"}),
        TicketEvent(at=NOW, actor="u-lin", kind="created", node="dispatching", version=1),
    )
    sender, markers = FakeSender(), FakeMarkers()
    deps = service.DispatchDeps(
        tickets=tickets,
        technicians=EmptyRegistry(),  # type: ignore[arg-type]
        notifier=_notifier(sender, markers),
    )
    clock.install(lambda: NOW)
    try:
        assert service.assign(deps, cfg, "TK-9", "dispatching") == {"outcome": "no_candidate"}
        assert [(c, to) for c, to, _ in sender.sent] == [
            ("sms", "+8613800000012"),
            ("email", "zhao@acme.example"),
            ("wecom", "ZhaoGang"),
        ]
        assert "capacity 1" in sender.sent[0][2]
        # the task retried (same visit): same answer, no second notice
        assert service.assign(deps, cfg, "TK-9", "dispatching") == {"outcome": "no_candidate"}
        assert len(sender.sent) == 3
    finally:
        clock.reset()
