"""Dispatch rules that need no storage: duty by calendar, the ticket's needs, registry checks, the
technicians' rules (room, fairness pruning, seeding) and expiring offers on fakes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from functions.dispatch import registry, service
from shared.domain.technician import (
    FAIRNESS_WINDOW,
    PRUNE_AT,
    Assignment,
    TechnicianRecord,
    assignment,
    has_room,
    roster_digest,
    seeding,
)
from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import ValidationFailed
from shared.tenant.loader import load_tenant_file
from shared.tenant.models import TenantConfig
from tests import factories
from tests.factories import EXAMPLES
from tests.fakes import FakeEngine, FakeTickets


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    return load_tenant_file(str(EXAMPLES / "acme-home.yaml"))


def record(calendar: str | None) -> TechnicianRecord:
    return TechnicianRecord(tenant="acme-home", id="t-x", name="x", capacity=1, calendar=calendar)


@pytest.mark.parametrize(
    ("instant", "on_duty"),
    [
        (datetime(2026, 11, 23, 1, 0, tzinfo=UTC), True),  # Monday 09:00 Beijing: opening
        (datetime(2026, 11, 23, 4, 30, tzinfo=UTC), False),  # 12:30: lunch
        (datetime(2026, 11, 28, 3, 59, tzinfo=UTC), True),  # Saturday 11:59
        (datetime(2026, 11, 29, 2, 0, tzinfo=UTC), False),  # Sunday
        (datetime(2026, 12, 31, 2, 0, tzinfo=UTC), False),  # a day off of the calendar
    ],
)
def test_on_duty_follows_the_technicians_calendar(
    acme: TenantConfig, instant: datetime, on_duty: bool
) -> None:
    assert service.duty_check(acme, instant)(record("default")) is on_duty
    assert service.duty_check(acme, instant)(record(None)) is True  # no calendar: always


def install_ticket(at: datetime, **overrides: Any) -> Ticket:
    """TK-1 of acme-home's install type, created at ``at``, on the dispatch node unless told otherwise."""
    data: dict[str, Any] = {"node": "dispatching", "fields": {"region": "CN-BJ"}, **overrides}
    return factories.ticket("TK-1", at=at, ticket_type="install", **data)


def test_the_job_reads_region_location_and_node_skills(acme: TenantConfig) -> None:
    at = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    ticket = install_ticket(at, fields={"region": "CN-BJ", "location": {"lat": 39.9, "lon": 116.4}})
    node = acme.ticket_types["install"].nodes["dispatching"]
    job = service.job_for(acme, ticket, node, frozenset({"t-li"}))
    assert job.region == "CN-BJ"
    assert job.location == (39.9, 116.4)
    assert dict(job.skills) == {"ac-install": 2}
    assert job.declined == frozenset({"t-li"})


def test_registry_changes_name_each_unknown_region_and_skill(acme: TenantConfig) -> None:
    registry.check_changes(acme, {"regions": ["CN-BJ", "CN-SH"], "skills": {"ac-repair": 1}})
    with pytest.raises(ValidationFailed) as raised:
        registry.check_changes(
            acme, {"regions": ["CN-BJ", "XX-01"], "skills": {"ac-install": 2, "plumbing": 1}}
        )
    assert [d["field"] for d in raised.value.details] == ["regions.1", "skills.plumbing"]


# --------------------------------------------------------------------------- the technicians' rules

MONDAY = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


def test_only_an_active_technician_below_capacity_has_room() -> None:
    assert has_room(TechnicianRecord(tenant="t", id="a", name="a", capacity=2, load=1))
    assert not has_room(TechnicianRecord(tenant="t", id="a", name="a", capacity=2, load=2))
    assert not has_room(TechnicianRecord(tenant="t", id="a", name="a", capacity=2, status="off"))


def test_an_assignment_appends_until_old_ones_pile_up_then_prunes_them() -> None:
    old = [MONDAY - FAIRNESS_WINDOW - timedelta(hours=n + 1) for n in range(PRUNE_AT)]
    recent = [MONDAY - timedelta(hours=1)]
    tech = TechnicianRecord(tenant="t", id="a", name="a", capacity=2, recent=[*old[1:], *recent])
    # Given fewer than PRUNE_AT instants past the window: the new one is appended
    assert assignment(tech, MONDAY) == Assignment("t", "a", MONDAY)
    # Given PRUNE_AT of them: the stored list becomes the window's instants and the new one, only if
    # the list is still the one read
    piled = tech.model_copy(update={"recent": [*old, *recent]})
    pruned = assignment(piled, MONDAY)
    assert pruned.recent == (*recent, MONDAY)
    assert pruned.recent_read == PRUNE_AT + 1


def test_seeding_starts_each_technician_fresh_and_names_the_roster(acme: TenantConfig) -> None:
    seed = seeding("acme-home", list(acme.technicians))
    assert (
        seed.digest == roster_digest(list(acme.technicians)) == seeding("acme-home", acme.technicians).digest
    )
    assert [(r.id, r.status, r.load, r.recent) for r in seed.records] == [
        (t.id, "active", 0, []) for t in acme.technicians
    ]
    assert seed.digest != roster_digest(list(acme.technicians)[:1])


# --------------------------------------------------------------------------- offers


def offered_ticket(acme: TenantConfig, tickets: FakeTickets, token: str) -> dict[str, Any]:
    """TK-1 offered to t-wang (attempt 1) and parked on on_site; answers the timer's payload."""
    ticket = install_ticket(
        MONDAY,
        node="on_site",
        version=3,
        token=token,
        token_node="on_site",
        routing="catch",
        dispatch={"node": "dispatching", "technician": "t-wang", "attempt": 1, "version": 2},
    )
    tickets.create(ticket, TicketEvent(at=MONDAY, actor="system", kind="entered", node="on_site", version=3))
    return {"ticket_id": "TK-1", "node": "dispatching", "technician": "t-wang", "attempt": 1}


def test_an_expired_offer_whose_workflow_is_gone_puts_the_ticket_back(acme: TenantConfig) -> None:
    tickets, engine = FakeTickets(), FakeEngine()
    engine.gone_tokens.add("token-1")
    payload = offered_ticket(acme, tickets, "token-1")
    deps = service.DispatchDeps(tickets=tickets, technicians=None, engine=engine)  # type: ignore[arg-type]

    assert service.offer_expired(deps, acme, payload) == {"declined": False, "reason": "workflow gone"}

    # the decline was written, then put back with the reason; the dead token is dropped
    ticket = tickets.get("acme-home", "TK-1")
    assert (ticket.node, ticket.token, ticket.version) == ("on_site", None, 5)
    kinds = [(e.kind, e.action) for e in tickets.history("acme-home", "TK-1")]
    assert kinds == [("entered", None), ("action", "decline"), ("action_failed", None)]
    # and the timer, fired again, finds nothing to decline
    assert service.offer_expired(deps, acme, payload) == {"declined": False, "reason": "moved on"}


def test_an_expired_offer_on_a_ticket_that_changed_meanwhile_does_nothing(acme: TenantConfig) -> None:
    tickets, engine = FakeTickets(), FakeEngine()
    payload = offered_ticket(acme, tickets, "token-1")
    deps = service.DispatchDeps(tickets=tickets, technicians=None, engine=engine)  # type: ignore[arg-type]
    assert service.offer_expired(deps, acme, {**payload, "attempt": 2}) == {
        "declined": False,
        "reason": "superseded",
    }
    assert engine.resumed == [] and engine.failed == []
