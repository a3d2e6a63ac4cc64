"""The technician registry against moto: seeding, exact load under concurrency, dispatch end to end."""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from functions.dispatch import service
from shared import clock
from shared.domain.technician import FAIRNESS_WINDOW, PRUNE_AT, TechnicianRecord, assignment
from shared.domain.ticket import Assignee, Ticket, TicketEvent
from shared.errors import Conflict, TechnicianBusy
from shared.repositories.technicians import TechnicianRepository
from shared.repositories.tickets import TicketRepository
from shared.tenant.loader import load_tenant_file
from shared.tenant.models import Technician, TenantConfig
from tests import factories
from tests.factories import EXAMPLES
from tests.fakes import FakeEngine

MONDAY_10_BEIJING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)


@pytest.fixture
def at_work() -> Any:
    clock.install(lambda: MONDAY_10_BEIJING)
    yield MONDAY_10_BEIJING
    clock.reset()


@pytest.fixture
def acme() -> TenantConfig:
    return load_tenant_file(str(EXAMPLES / "acme-home.yaml"))


def a_technician(technician_id: str = "t-one", capacity: int = 3, **extra: Any) -> Technician:
    data: dict[str, Any] = {
        "id": technician_id,
        "name": f"Technician {technician_id}",
        "phone": "+8613800000001",
        "partner_type": "direct",
        "regions": ["CN-BJ"],
        "skills": {"ac-install": 3},
        "capacity": capacity,
        "rating": "4.5",
        **extra,
    }
    return Technician.model_validate(data)


def install_ticket(ticket_id: str, **fields: Any) -> Ticket:
    return factories.ticket(
        ticket_id,
        at=MONDAY_10_BEIJING,
        ticket_type="install",
        node="dispatching",
        fields={"region": "CN-BJ", **fields},
    )


def stored(tickets: Any, ticket: Ticket) -> Ticket:
    tickets.create(ticket, factories.created_event(ticket))
    return ticket


def dispatched(ticket: Ticket, technician: str) -> tuple[Ticket, TicketEvent]:
    moved = ticket.model_copy(update={"version": 2, "dispatch": {"technician": technician}})
    return moved, TicketEvent(at=MONDAY_10_BEIJING, actor="system", kind="dispatched", version=2)


def registry_with_t_one(capacity: int) -> tuple[TicketRepository, TechnicianRepository]:
    """The ticket store and a registry seeded with t-one alone, of ``capacity``."""
    tickets = TicketRepository()
    repo = TechnicianRepository(tickets)
    repo.ensure_seeded("acme-home", [a_technician("t-one", capacity=capacity)])
    return tickets, repo


def assign(repo: TechnicianRepository, tech: TechnicianRecord, ticket: Ticket, event: TicketEvent) -> None:
    """What the dispatch task does: the domain's assignment and the ticket, in one transaction."""
    repo.assign(assignment(tech, event.at), ticket, expected_version=ticket.version - 1, event=event)


@pytest.mark.usefixtures("aws")
def test_seeding_runs_once_and_never_overwrites_registry_changes() -> None:
    repo = TechnicianRepository()
    roster = [a_technician("t-one"), a_technician("t-two", capacity=5)]
    repo.ensure_seeded("acme-home", roster)
    assert [(r.id, r.capacity, r.load, r.status) for r in repo.roster("acme-home")] == [
        ("t-one", 3, 0, "active"),
        ("t-two", 5, 0, "active"),
    ]
    assert repo.get("acme-home", "t-one").rating == Decimal("4.5")

    # Given a dispatcher's change, when the (same or a new) roster is seeded again
    repo.update("acme-home", "t-one", {"status": "off", "capacity": 1}, actor="u-zhao")
    TechnicianRepository().ensure_seeded("acme-home", roster)
    TechnicianRepository().ensure_seeded("acme-home", [*roster, a_technician("t-three")])

    # Then the change stays and the newcomer is added
    one = repo.get("acme-home", "t-one")
    assert (one.status, one.capacity, one.updated_by) == ("off", 1, "u-zhao")
    assert [r.id for r in repo.roster("acme-home")] == ["t-one", "t-three", "t-two"]
    assert repo.roster("other-tenant") == []


@pytest.mark.usefixtures("aws")
def test_concurrent_assignments_never_exceed_capacity() -> None:
    tickets, repo = registry_with_t_one(capacity=3)
    tech = repo.get("acme-home", "t-one")
    pending = [stored(tickets, install_ticket(f"TK-{n}")) for n in range(10)]

    def take(ticket: Ticket) -> bool:
        moved, event = dispatched(ticket, "t-one")
        try:
            assign(repo, tech, moved, event)
            return True
        except Conflict:
            return False

    with ThreadPoolExecutor(10) as pool:
        wins = list(pool.map(take, pending))

    assert wins.count(True) == 3
    assert repo.get("acme-home", "t-one").load == 3
    # the losers' tickets were not touched
    for ticket, won in zip(pending, wins, strict=True):
        assert tickets.get("acme-home", ticket.id).version == (2 if won else 1)
    # and t-one holds exactly the winners' tickets: releasing each lowers the load only for those
    released = [repo.release_once("acme-home", "t-one", ticket.id) for ticket in pending]
    assert released == wins
    assert repo.get("acme-home", "t-one").load == 0


@pytest.mark.usefixtures("aws")
def test_release_is_idempotent_and_frees_room() -> None:
    tickets, repo = registry_with_t_one(capacity=1)
    first, second = stored(tickets, install_ticket("TK-1")), stored(tickets, install_ticket("TK-2"))
    moved, event = dispatched(first, "t-one")
    assign(repo, repo.get("acme-home", "t-one"), moved, event)
    with pytest.raises(TechnicianBusy):
        moved2, event2 = dispatched(second, "t-one")
        assign(repo, repo.get("acme-home", "t-one"), moved2, event2)

    assert repo.release_once("acme-home", "t-one", "TK-1") is True
    assert repo.release_once("acme-home", "t-one", "TK-1") is False
    repo.release("acme-home", "t-one", "TK-never-assigned")
    tech = repo.get("acme-home", "t-one")
    assert tech.load == 0
    assert len(tech.recent) == 1

    assign(repo, tech, moved2, event2)
    assert repo.get("acme-home", "t-one").load == 1


@pytest.mark.usefixtures("aws")
def test_old_assignments_are_pruned_only_from_the_list_as_read() -> None:
    # Given t-one took PRUNE_AT tickets before the fairness window and one within it (all done since)
    tickets, repo = registry_with_t_one(capacity=5)
    old = [MONDAY_10_BEIJING - FAIRNESS_WINDOW - timedelta(hours=n + 1) for n in range(PRUNE_AT)]
    recent = MONDAY_10_BEIJING - timedelta(hours=1)
    for n, at in enumerate([*old, recent]):
        moved, event = dispatched(stored(tickets, install_ticket(f"TK-old-{n}")), "t-one")
        assign(repo, repo.get("acme-home", "t-one"), moved, event.model_copy(update={"at": at}))
        repo.release("acme-home", "t-one", moved.id)
    read = repo.get("acme-home", "t-one")
    assert len(read.recent) == PRUNE_AT + 1
    first, second = stored(tickets, install_ticket("TK-1")), stored(tickets, install_ticket("TK-2"))

    # When a ticket is assigned on that read: the old instants go, the new one is kept
    assign(repo, read, *dispatched(first, "t-one"))
    assert repo.get("acme-home", "t-one").recent == [recent, MONDAY_10_BEIJING]

    # And an assignment pruned on the same, now stale, read is refused (nothing lost), then succeeds
    # on a fresh read
    with pytest.raises(TechnicianBusy):
        assign(repo, read, *dispatched(second, "t-one"))
    assign(repo, repo.get("acme-home", "t-one"), *dispatched(second, "t-one"))
    fresh = repo.get("acme-home", "t-one")
    assert (fresh.load, len(fresh.recent)) == (2, 3)


@pytest.mark.usefixtures("aws")
def test_taking_a_ticket_the_technician_already_holds_counts_it_once() -> None:
    # Given t-one at capacity 1, holding TK-1 (a technician's node sent it straight to manual dispatch)
    tickets, repo = registry_with_t_one(capacity=1)
    ticket = stored(tickets, install_ticket("TK-1"))
    moved, event = dispatched(ticket, "t-one")
    assign(repo, repo.get("acme-home", "t-one"), moved, event)
    # When a dispatcher chooses t-one again
    again = moved.model_copy(update={"version": 3, "node": "on_site"})
    chosen = TicketEvent(at=MONDAY_10_BEIJING, actor="u-zhao", kind="action", version=3)
    repo.take("t-one", again, expected_version=2, event=chosen)
    # Then the ticket moves and the load still counts it once
    assert tickets.get("acme-home", "TK-1").node == "on_site"
    assert repo.get("acme-home", "t-one").load == 1
    # And another ticket is still refused: t-one is at capacity
    other, other_event = dispatched(stored(tickets, install_ticket("TK-2")), "t-one")
    with pytest.raises(TechnicianBusy):
        repo.take("t-one", other, expected_version=1, event=other_event)


# --------------------------------------------------------------------------- the dispatch task


def dispatch_deps() -> service.DispatchDeps:
    tickets = TicketRepository()
    return service.DispatchDeps(tickets=tickets, technicians=TechnicianRepository(tickets))


NEAR_WANG = {"lat": 39.905, "lon": 116.41}


@pytest.mark.usefixtures("aws", "at_work")
def test_assign_picks_the_best_stores_the_explanation_and_is_idempotent(acme: TenantConfig) -> None:
    deps = dispatch_deps()
    stored(deps.tickets, install_ticket("TK-1", location=NEAR_WANG))

    answer = service.assign(deps, acme, "TK-1", "dispatching")

    assert answer == {"outcome": "done", "technician": "t-wang", "attempt": 1}
    ticket = deps.tickets.get("acme-home", "TK-1")
    assert ticket.assignee is not None and ticket.assignee.id == "t-wang"
    assert ticket.dispatch is not None
    top = ticket.dispatch["explanation"]["top"]
    assert [c["technician"] for c in top] == ["t-wang", "t-li"]
    assert set(top[0]["criteria"]) == {"distance", "skill", "load", "rating", "fairness"}
    assert ticket.dispatch["explanation"]["filtered"] == {}
    # a retried task gives the same answer and takes no second unit of load
    assert service.assign(deps, acme, "TK-1", "dispatching") == answer
    assert deps.technicians.get("acme-home", "t-wang").load == 1
    kinds = [e.kind for e in deps.tickets.history("acme-home", "TK-1")]
    assert kinds == ["created", "dispatched"]


@pytest.mark.usefixtures("aws", "at_work")
def test_a_decline_redispatches_without_the_decliner_and_moves_the_load(acme: TenantConfig) -> None:
    deps = dispatch_deps()
    stored(deps.tickets, install_ticket("TK-1", location=NEAR_WANG))
    service.assign(deps, acme, "TK-1", "dispatching")
    ticket = deps.tickets.get("acme-home", "TK-1")

    # Given t-wang declines on the on_site node (as the ticket service records it)
    declined = ticket.model_copy(update={"node": "dispatching", "version": ticket.version + 1})
    event = TicketEvent(
        at=MONDAY_10_BEIJING,
        actor="t-wang",
        kind="action",
        node="on_site",
        action="decline",
        version=declined.version,
    )
    deps.tickets.save(declined, expected_version=ticket.version, event=event)

    # When the dispatch node runs again
    answer = service.assign(deps, acme, "TK-1", "dispatching")

    # Then t-li gets it, t-wang is listed as a decliner and carries no load for it
    assert answer == {"outcome": "done", "technician": "t-li", "attempt": 2}
    again = deps.tickets.get("acme-home", "TK-1")
    assert again.dispatch is not None
    assert again.dispatch["declined"] == ["t-wang"]
    assert again.dispatch["attempt"] == 2
    assert again.dispatch["explanation"]["filtered"] == {"declined": 1}
    assert deps.technicians.get("acme-home", "t-wang").load == 0
    assert deps.technicians.get("acme-home", "t-li").load == 1


@pytest.mark.usefixtures("aws", "at_work")
def test_ten_tickets_against_capacity_eight_assign_exactly_eight(acme: TenantConfig) -> None:
    deps = dispatch_deps()
    for n in range(10):
        stored(deps.tickets, install_ticket(f"TK-{n}"))

    with ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda n: service.assign(deps, acme, f"TK-{n}", "dispatching"), range(10)))

    outcomes = [a["outcome"] for a in answers]
    assert outcomes.count("done") == 8  # t-wang 5 + t-li 3
    assert outcomes.count("no_candidate") == 2
    loads = {t.id: t.load for t in deps.technicians.roster("acme-home")}
    assert loads == {"t-wang": 5, "t-li": 3}
    unassigned = [deps.tickets.get("acme-home", f"TK-{n}") for n in range(10) if outcomes[n] != "done"]
    for ticket in unassigned:
        assert ticket.dispatch is not None and ticket.dispatch["technician"] is None
        assert ticket.dispatch["explanation"]["filtered"] == {"capacity": 2}


@pytest.mark.usefixtures("aws")
def test_nobody_on_duty_on_sunday_gives_no_candidate(acme: TenantConfig) -> None:
    clock.install(lambda: datetime(2026, 11, 29, 2, 0, tzinfo=UTC))  # Sunday 10:00 in Beijing
    try:
        deps = dispatch_deps()
        stored(deps.tickets, install_ticket("TK-1"))
        assert service.assign(deps, acme, "TK-1", "dispatching") == {"outcome": "no_candidate"}
        ticket = deps.tickets.get("acme-home", "TK-1")
        assert ticket.dispatch is not None
        assert ticket.dispatch["explanation"]["filtered"] == {"off_duty": 2}
    finally:
        clock.reset()


@pytest.mark.usefixtures("aws")
def test_without_an_on_no_candidate_route_the_ticket_fails_loudly(acme: TenantConfig) -> None:
    # A dispatch node with nowhere to go when nobody fits must not hand on a ticket with no technician.
    nodes = dict(acme.ticket_types["install"].nodes)
    nodes["dispatching"] = nodes["dispatching"].model_copy(update={"on_no_candidate": None})
    install = acme.ticket_types["install"].model_copy(update={"nodes": nodes})
    strict = acme.model_copy(update={"ticket_types": {**acme.ticket_types, "install": install}})
    clock.install(lambda: datetime(2026, 11, 29, 2, 0, tzinfo=UTC))  # Sunday: nobody on duty
    try:
        deps = dispatch_deps()
        stored(deps.tickets, install_ticket("TK-1"))
        with pytest.raises(service.NoCandidate):
            service.assign(deps, strict, "TK-1", "dispatching")
        ticket = deps.tickets.get("acme-home", "TK-1")
        assert ticket.status == "failed" and "on_no_candidate" in (ticket.reason or "")
    finally:
        clock.reset()


# --------------------------------------------------------------------------- offers


class RecordingTimer:
    def __init__(self) -> None:
        self.schedules: dict[str, tuple[datetime, str, dict[str, Any]]] = {}

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None:
        self.schedules.setdefault(name, (when, target_arn, payload))


class CancelledTimers:
    def __init__(self) -> None:
        self.deleted: list[str] = []

    def delete(self, name: str) -> None:
        self.deleted.append(name)


OFFER_EXPIRED_ARN = "arn:aws:lambda:us-east-1:123456789012:function:scrm-dispatch-offer-expired"


def offering_deps() -> tuple[service.DispatchDeps, RecordingTimer, FakeEngine]:
    """The dispatch task's deps with an offer timer and a workflow engine (offers expire)."""
    timer, engine = RecordingTimer(), FakeEngine()
    deps = dispatch_deps()
    deps.offers, deps.engine = timer, engine
    return deps, timer, engine


def parked_on_site(deps: service.DispatchDeps, ticket_id: str, token: str) -> Ticket:
    """What the ticket service's park does when the workflow reaches on_site."""
    ticket = deps.tickets.get("acme-home", ticket_id)
    parked = ticket.model_copy(
        update={"node": "on_site", "token": token, "token_node": "on_site", "version": ticket.version + 1}
    )
    event = TicketEvent(
        at=MONDAY_10_BEIJING, actor="system", kind="entered", node="on_site", version=parked.version
    )
    deps.tickets.save(parked, expected_version=ticket.version, event=event)
    return parked


@pytest.mark.usefixtures("aws", "at_work")
def test_an_expired_offer_is_declined_on_the_technicians_behalf(acme: TenantConfig) -> None:
    deps, timer, engine = offering_deps()
    stored(deps.tickets, install_ticket("TK-1", location=NEAR_WANG))

    # Given t-wang was offered the ticket and the workflow waits on on_site
    answer = service.assign(deps, acme, "TK-1", "dispatching", offer_target=OFFER_EXPIRED_ARN)
    assert answer == {"outcome": "done", "technician": "t-wang", "attempt": 1}
    ((name, (when, target, payload)),) = timer.schedules.items()
    assert name == "offer-acme-home-TK-1-1"
    assert when == MONDAY_10_BEIJING + timedelta(minutes=30)
    assert target == OFFER_EXPIRED_ARN
    assert payload == {
        "op": "offer_expired",
        "tenant": "acme-home",
        "ticket_id": "TK-1",
        "node": "dispatching",
        "technician": "t-wang",
        "attempt": 1,
    }
    parked_on_site(deps, "TK-1", "token-1")

    # When the timer fires before t-wang acted
    assert service.offer_expired(deps, acme, payload) == {"declined": True, "technician": "t-wang"}

    # Then the workflow is resumed with a decline, and the next dispatch skips t-wang
    assert engine.resumed == [("token-1", {"action": "decline", "node": "on_site"})]
    last = deps.tickets.history("acme-home", "TK-1")[-1]
    assert (last.kind, last.action, last.changes["on_behalf_of"]) == ("action", "decline", "t-wang")
    again = service.assign(deps, acme, "TK-1", "dispatching", offer_target=OFFER_EXPIRED_ARN)
    assert again == {"outcome": "done", "technician": "t-li", "attempt": 2}
    assert deps.technicians.get("acme-home", "t-wang").load == 0
    assert "offer-acme-home-TK-1-2" in timer.schedules

    # And the first timer, fired again, does nothing
    assert service.offer_expired(deps, acme, payload)["declined"] is False


@pytest.mark.usefixtures("aws", "at_work")
def test_an_offer_acted_on_in_time_does_not_expire(acme: TenantConfig) -> None:
    deps, timer, engine = offering_deps()
    stored(deps.tickets, install_ticket("TK-1"))
    service.assign(deps, acme, "TK-1", "dispatching", offer_target=OFFER_EXPIRED_ARN)
    ticket = parked_on_site(deps, "TK-1", "token-1")
    (_when, _target, payload) = timer.schedules["offer-acme-home-TK-1-1"]

    # Given t-wang asked for parts and the parts came: the ticket is back on on_site
    for version, node, action in (
        (ticket.version + 1, "on_site", "need_parts"),
        (ticket.version + 2, "waiting_parts", "parts_arrived"),
    ):
        current = deps.tickets.get("acme-home", "TK-1")
        event = TicketEvent(
            at=MONDAY_10_BEIJING, actor="t-wang", kind="action", node=node, action=action, version=version
        )
        deps.tickets.save(
            current.model_copy(update={"version": version}), expected_version=version - 1, event=event
        )

    assert service.offer_expired(deps, acme, payload) == {"declined": False, "reason": "acted"}
    assert engine.resumed == []
    assert deps.technicians.get("acme-home", "t-wang").load == 1


@pytest.mark.usefixtures("aws", "at_work")
def test_the_offered_technician_accepts_and_the_offer_no_longer_expires(acme: TenantConfig) -> None:
    from functions.ticket import service as tickets
    from shared.errors import Conflict, Forbidden, ValidationFailed
    from shared.identity import Caller

    deps, timer, engine = offering_deps()
    stored(deps.tickets, install_ticket("TK-1", location=NEAR_WANG))
    service.assign(deps, acme, "TK-1", "dispatching", offer_target=OFFER_EXPIRED_ARN)
    ticket = parked_on_site(deps, "TK-1", "token-1")
    # the offer's deadline is on the ticket, and the timer is set for it
    (when, _target, payload) = timer.schedules["offer-acme-home-TK-1-1"]
    assert ticket.dispatch is not None
    assert datetime.fromisoformat(ticket.dispatch["offer_expires_at"]) == when
    cancelled = CancelledTimers()
    ticket_deps = tickets.Deps(tickets=deps.tickets, engine=engine, offers=cancelled)
    wang = Caller(sub="t-wang", tenant="acme-home", roles=frozenset({"technician"}))
    li = Caller(sub="t-li", tenant="acme-home", roles=frozenset({"technician"}))

    # Another technician may not accept it, and a stale version is refused
    with pytest.raises(Forbidden):
        tickets.act(ticket_deps, acme, li, "TK-1", "accept", {}, ticket.version)
    with pytest.raises(Conflict):
        tickets.act(ticket_deps, acme, wang, "TK-1", "accept", {}, ticket.version - 1)

    # When t-wang accepts
    accepted = tickets.act(ticket_deps, acme, wang, "TK-1", "accept", {}, ticket.version)

    # Then the ticket stays on on_site with its token, the workflow is not resumed, and it says who and when
    assert (accepted.node, accepted.token, accepted.version) == ("on_site", "token-1", ticket.version + 1)
    assert accepted.dispatch is not None
    assert accepted.dispatch["accepted_by"] == "t-wang"
    assert datetime.fromisoformat(accepted.dispatch["accepted_at"]) == MONDAY_10_BEIJING
    assert engine.resumed == []
    last = deps.tickets.history("acme-home", "TK-1")[-1]
    assert (last.kind, last.action, last.actor) == ("action", "accept", "t-wang")
    # its timer is deleted (were it still there, firing would do nothing: below)
    assert cancelled.deleted == ["offer-acme-home-TK-1-1"]
    # a second accept is refused and says when it was accepted
    with pytest.raises(Conflict, match="already accepted by t-wang"):
        tickets.act(ticket_deps, acme, wang, "TK-1", "accept", {}, accepted.version)
    # and the timer, when it fires, leaves the ticket alone
    assert service.offer_expired(deps, acme, payload) == {"declined": False, "reason": "accepted"}
    assert engine.resumed == []
    assert deps.technicians.get("acme-home", "t-wang").load == 1

    # The node's own actions still work after accepting; an unknown action lists accept among the choices
    with pytest.raises(ValidationFailed) as caught:
        tickets.act(ticket_deps, acme, wang, "TK-1", "finish", {}, accepted.version)
    assert "accept" in caught.value.details[0]["message"]
    declined = tickets.act(ticket_deps, acme, wang, "TK-1", "decline", {}, accepted.version)
    assert declined.node == "dispatching"
    assert engine.resumed == [("token-1", {"action": "decline", "node": "on_site"})]
    assert cancelled.deleted == ["offer-acme-home-TK-1-1"] * 2  # leaving the node cancels it too (idempotent)


@pytest.mark.usefixtures("aws", "at_work")
def test_accept_is_only_built_in_on_the_dispatched_technicians_nodes(acme: TenantConfig) -> None:
    from functions.ticket import service as tickets
    from shared.errors import ValidationFailed
    from shared.identity import Caller

    nodes = acme.ticket_types["install"].nodes
    assert tickets.takes_offers(nodes["on_site"])
    assert not tickets.takes_offers(nodes["manual_dispatch"])  # a dispatcher's node
    deps = dispatch_deps()
    engine = FakeEngine()
    stored(deps.tickets, install_ticket("TK-2"))
    ticket = deps.tickets.get("acme-home", "TK-2")
    parked = ticket.model_copy(
        update={
            "node": "manual_dispatch",
            "token": "token-2",
            "token_node": "manual_dispatch",
            "version": 2,
            "assignee": Assignee(kind="role", id="dispatcher"),
        }
    )
    deps.tickets.save(parked, expected_version=1)
    dispatcher = Caller(sub="u-zhao", tenant="acme-home", roles=frozenset({"dispatcher"}))
    with pytest.raises(ValidationFailed) as caught:
        tickets.act(tickets.Deps(deps.tickets, engine), acme, dispatcher, "TK-2", "accept", {}, 2)
    assert "accept" not in caught.value.details[0]["message"]


@pytest.mark.usefixtures("aws", "at_work")
def test_cancelling_an_offered_ticket_deletes_its_offer_timer(acme: TenantConfig) -> None:
    from functions.ticket import service as tickets
    from shared.identity import Caller

    deps, _timer, engine = offering_deps()
    stored(deps.tickets, install_ticket("TK-3", location=NEAR_WANG))
    service.assign(deps, acme, "TK-3", "dispatching", offer_target=OFFER_EXPIRED_ARN)
    parked_on_site(deps, "TK-3", "token-3")
    cancelled = CancelledTimers()
    ticket_deps = tickets.Deps(
        tickets=deps.tickets, engine=engine, workload=deps.technicians, offers=cancelled
    )
    admin = Caller(sub="u-admin", tenant="acme-home", roles=frozenset({"admin"}))

    tickets.cancel(ticket_deps, acme, admin, "TK-3", "customer called it off")

    assert cancelled.deleted == ["offer-acme-home-TK-3-1"]
    assert deps.technicians.get("acme-home", "t-wang").load == 0


def region_view(repo: TechnicianRepository, region: str) -> list[tuple[str, int, list[str]]]:
    return [(r.id, r.load, r.regions) for r in repo.roster("acme-home", region=region)]


@pytest.mark.usefixtures("aws")
def test_each_region_reads_its_own_collection_and_a_copy_follows_its_record() -> None:
    """A technician in several regions is in each region's collection; assignments, releases and
    changes move every copy with the record; the tenant's list shows each technician once."""
    from shared.repositories.technicians import TechnicianItem

    tickets = TicketRepository()
    repo = TechnicianRepository(tickets)
    repo.ensure_seeded(
        "acme-home",
        [
            a_technician("t-bj"),
            a_technician("t-both", regions=["CN-BJ", "CN-SH"]),
            a_technician("t-sh", regions=["CN-SH"]),
        ],
    )
    assert region_view(repo, "CN-BJ") == [("t-bj", 0, ["CN-BJ"]), ("t-both", 0, ["CN-BJ", "CN-SH"])]
    assert [r.id for r in repo.roster("acme-home", region="CN-SH")] == ["t-both", "t-sh"]
    assert repo.roster("acme-home", region="CN-CD") == []
    assert [r.id for r in repo.roster("acme-home")] == ["t-bj", "t-both", "t-sh"]
    # every index partition key is fenced by the tenant
    assert all(
        key.startswith("TENANT#acme-home#")
        for item in TechnicianItem.scan()
        for key in (item.pk, item.gsi1pk, item.gsi2pk)
        if key
    )

    # an assignment raises the load in both collections; a release lowers it in both
    ticket = stored(tickets, install_ticket("TK-1"))
    moved, event = dispatched(ticket, "t-both")
    assign(repo, repo.get("acme-home", "t-both"), moved, event)
    sh = {r.id: r for r in repo.roster("acme-home", region="CN-SH")}
    assert sh["t-both"].load == 1 and sh["t-both"].recent == [MONDAY_10_BEIJING]
    assert sh["t-both"] == repo.get("acme-home", "t-both")

    # a change of regions moves the record and its copies: home CN-SH, a copy in CN-CD, none in CN-BJ
    repo.update("acme-home", "t-both", {"regions": ["CN-SH", "CN-CD"], "capacity": 4}, actor="u-zhao")
    assert [r.id for r in repo.roster("acme-home", region="CN-BJ")] == ["t-bj"]
    assert region_view(repo, "CN-CD") == [("t-both", 1, ["CN-SH", "CN-CD"])]
    cd = repo.roster("acme-home", region="CN-CD")[0]
    assert cd == repo.get("acme-home", "t-both") and cd.capacity == 4 and cd.updated_by == "u-zhao"
    assert [r.id for r in repo.roster("acme-home", region="CN-SH")] == ["t-both", "t-sh"]

    assert repo.release_once("acme-home", "t-both", "TK-1") is True
    assert region_view(repo, "CN-CD") == [("t-both", 0, ["CN-SH", "CN-CD"])]
    assert repo.get("acme-home", "t-both").load == 0
    assert repo.release_once("acme-home", "t-both", "TK-1") is False
    assert [r.id for r in repo.roster("acme-home")] == ["t-bj", "t-both", "t-sh"]


@pytest.mark.usefixtures("aws")
def test_an_assignment_decided_on_regions_since_changed_is_refused() -> None:
    """The copies an assignment writes are the regions it read: after a change of regions it is
    refused (the dispatch reads the technician again), so no copy is left behind or missed."""
    tickets = TicketRepository()
    repo = TechnicianRepository(tickets)
    repo.ensure_seeded("acme-home", [a_technician("t-both", regions=["CN-BJ", "CN-SH"])])
    stale = repo.get("acme-home", "t-both")
    repo.update("acme-home", "t-both", {"regions": ["CN-BJ"]}, actor="u-zhao")
    ticket = stored(tickets, install_ticket("TK-1"))
    moved, event = dispatched(ticket, "t-both")
    with pytest.raises(TechnicianBusy):
        assign(repo, stale, moved, event)
    assert tickets.get("acme-home", "TK-1").version == 1
    assign(repo, repo.get("acme-home", "t-both"), moved, event)
    assert region_view(repo, "CN-BJ") == [("t-both", 1, ["CN-BJ"])]
    assert repo.roster("acme-home", region="CN-SH") == []


@pytest.mark.usefixtures("aws", "at_work")
def test_dispatch_reads_only_the_tickets_region(acme: TenantConfig) -> None:
    """The ranking sees the region's technicians alone: others are never read, so none is counted."""
    deps = dispatch_deps()
    deps.technicians.ensure_seeded("acme-home", list(acme.technicians))
    deps.technicians.ensure_seeded(
        "acme-home", [*acme.technicians, a_technician("t-far", regions=["CN-CD"], calendar="default")]
    )
    read: list[str | None] = []
    real = deps.technicians.roster

    def spy(tenant: str, region: str | None = None) -> Any:
        read.append(region)
        return real(tenant, region=region)

    deps.technicians.roster = spy  # type: ignore[method-assign]
    stored(deps.tickets, install_ticket("TK-1", location=NEAR_WANG))
    service.assign(deps, acme, "TK-1", "dispatching")
    explanation = (deps.tickets.get("acme-home", "TK-1").dispatch or {})["explanation"]
    assert read == ["CN-BJ"]
    assert explanation["considered"] == len([t for t in acme.technicians if "CN-BJ" in t.regions])
    assert "region" not in explanation["filtered"]


@pytest.mark.usefixtures("aws", "at_work")
def test_a_read_after_a_change_of_a_record_sees_the_change_even_on_a_stopped_clock() -> None:
    """The registry caches a roster's static facts per container (``RosterCache``) while every
    ``(id, updated_at)`` is unchanged; each change stamps a new ``updated_at``, also when the
    clock stands still, so a moved technician is ranked where they are now."""
    repo = TechnicianRepository()
    repo.ensure_seeded("acme-home", [a_technician("t-one"), a_technician("t-two")])
    first = repo.roster("acme-home", "CN-BJ")
    assert first.points == [None, None]
    for lat in (39.9, 40.1):
        repo.update("acme-home", "t-two", {"location": {"lat": lat, "lon": 116.4}}, actor="u-zhao")
        again = repo.roster("acme-home", "CN-BJ")
        assert again.points[0] is None and again.points[1] is not None
        assert abs(again.points[1][2] - math.sin(math.radians(lat))) < 1e-12
