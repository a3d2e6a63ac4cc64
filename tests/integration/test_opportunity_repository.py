"""Opportunities on moto's DynamoDB: a rule's opportunity opened once however often its ticket event
is retried (one item, one ``opportunity.created`` in the outbox, one timeline entry), two concurrent
wins giving one win and one 409, and the lists by status and owner without a scan."""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as settings_
from hypothesis import strategies as st

from functions.ticket import customers as customer_use_case
from functions.ticket import opportunities as use_case
from functions.ticket.deps import Deps
from shared.clock import install, reset
from shared.errors import Conflict, Forbidden, NotFound, ValidationFailed
from shared.identity import Caller
from shared.repositories.customers import CustomerRepository
from shared.repositories.opportunities import OpportunityRepository
from shared.settings import settings
from shared.tenant.loader import load_tenant_file
from shared.tenant.models import TenantConfig
from tests import factories
from tests.fakes import FakeEngine, FakeTickets

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
_numbers = itertools.count(10_000)
SUPERVISOR = Caller(sub="u-zhao", tenant="acme-home", roles=frozenset({"supervisor"}))
AGENT = Caller(sub="u-lin", tenant="acme-home", roles=frozenset({"agent"}))
TECHNICIAN = Caller(sub="t-wang", tenant="acme-home", roles=frozenset({"technician"}))


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    return load_tenant_file("examples/tenants/acme-home.yaml")


@pytest.fixture(autouse=True)
def _clock() -> Any:
    ticks = iter(T0 + timedelta(seconds=n) for n in range(100_000))
    install(lambda: next(ticks))
    yield
    reset()


def _deps() -> Deps:
    return Deps(
        tickets=FakeTickets(),
        engine=FakeEngine(),
        customers=CustomerRepository(),
        opportunities=OpportunityRepository(),
    )


def _consult(deps: Deps, cfg: TenantConfig, ticket_id: str, answer: str, phone: str) -> Any:
    fields = {"customer_name": "林伟", "customer_phone": phone, "question": "保修?", "answer": answer}
    assert deps.customers is not None
    customer_id = customer_use_case.resolve(deps.customers, cfg, "consult", fields, None)
    return factories.ticket(ticket_id, at=T0, fields=fields, customer_id=customer_id, node="done")


def _outbox(kind: str) -> list[dict[str, Any]]:
    items = boto3.client("dynamodb", region_name="us-east-1").scan(TableName=settings().table_name)["Items"]
    return [i for i in items if i["sk"]["S"] == "OUTBOX" and i["event"]["S"].count(f'"type": "{kind}"')]


@pytest.mark.usefixtures("aws")
def test_a_retried_close_opens_the_opportunity_once(acme: TenantConfig) -> None:
    deps = _deps()
    ticket = _consult(deps, acme, "TK-1", "推荐购买延保服务", "+8613900000101")
    first = use_case.open_opportunities(deps, acme, ticket, "closed", T0)
    again = use_case.open_opportunities(deps, acme, ticket, "closed", T0 + timedelta(minutes=5))
    assert first == again and len(first) == 1
    assert deps.opportunities is not None
    opp = deps.opportunities.get("acme-home", first[0])
    assert (opp.kind, str(opp.amount), opp.currency, opp.owner, opp.stage) == (
        "extended_warranty",
        "399.00",
        "CNY",
        "role:supervisor",
        "new",
    )
    assert (opp.ticket_id, opp.customer_id, opp.created_at) == ("TK-1", ticket.customer_id, T0)
    assert len(_outbox("opportunity.created")) == 1
    timeline = CustomerRepository().all_timeline("acme-home", ticket.customer_id)
    assert [(e.kind, e.ref) for e in timeline if e.kind.startswith("opportunity")] == [
        ("opportunity_opened", opp.id)
    ]
    # a rule that does not hold, or an event no rule watches, opens nothing
    other = _consult(deps, acme, "TK-2", "已解答", "+8613900000102")
    assert use_case.open_opportunities(deps, acme, other, "closed", T0) == []
    assert use_case.open_opportunities(deps, acme, ticket, "created", T0) == []


@pytest.mark.usefixtures("aws")
def test_two_concurrent_wins_give_one_win_and_one_conflict(acme: TenantConfig) -> None:
    deps = _deps()
    ticket = _consult(deps, acme, "TK-3", "延保", "+8613900000103")
    (opp_id,) = use_case.open_opportunities(deps, acme, ticket, "closed", T0)
    store = OpportunityRepository()
    read = store.get("acme-home", opp_id)
    from shared.domain import opportunity as domain
    from shared.domain.events import OpportunityWon, make_event

    gate = threading.Barrier(2)
    answers: list[str] = []

    def win(actor: str) -> None:
        moved = domain.win(read, actor, T0 + timedelta(hours=1))
        data = OpportunityWon(opportunity_id=opp_id, actor=actor)
        event = make_event("opportunity.won", "acme-home", ("acme-home", "opportunity.won", opp_id), T0, data)
        gate.wait()
        try:
            store.save(moved, expected_version=read.version, event=event)
            answers.append("200")
        except Conflict:
            answers.append("409")

    threads = [threading.Thread(target=win, args=(actor,)) for actor in ("u-zhao", "u-lin")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(answers) == ["200", "409"]
    assert store.get("acme-home", opp_id).status == "won"
    assert len(_outbox("opportunity.won")) == 1
    # and through the use case: a second win is a 409 that says why
    with pytest.raises(Conflict, match="is won already"):
        use_case.act(deps, acme, SUPERVISOR, opp_id, "win")


@pytest.mark.usefixtures("aws")
def test_actions_who_may_and_the_lists_by_status_and_owner(acme: TenantConfig) -> None:
    deps = _deps()
    ids = [
        use_case.open_opportunities(
            deps, acme, _consult(deps, acme, f"TK-{n}", "延保", f"+86139000002{n:02d}"), "closed", T0
        )[0]
        for n in range(5)
    ]
    with pytest.raises(Forbidden):
        use_case.act(deps, acme, AGENT, ids[0], "win")  # an agent neither sells nor owns it
    with pytest.raises(NotFound):
        use_case.act(deps, acme, TECHNICIAN, ids[0], "win")
    with pytest.raises(ValidationFailed) as missing:
        use_case.act(deps, acme, SUPERVISOR, ids[0], "assign")
    assert missing.value.details[0]["field"] == "user"
    with pytest.raises(Conflict, match="at version 1, not 7"):
        use_case.act(deps, acme, SUPERVISOR, ids[0], "win", version=7)
    assigned = use_case.act(deps, acme, SUPERVISOR, ids[0], "assign", user="u-lin")
    assert (assigned.owner, assigned.stage, assigned.version) == ("u-lin", "working", 2)
    won = use_case.act(deps, acme, AGENT, ids[0], "win")  # its owner now
    assert won.status == "won"
    lost = use_case.act(deps, acme, SUPERVISOR, ids[1], "lose", reason="bought elsewhere")
    assert (lost.status, lost.lost_reason) == ("lost", "bought elsewhere")
    assert len(_outbox("opportunity.lost")) == 1

    store = OpportunityRepository()
    open_ids, _ = store.page("acme-home", status="open")
    assert sorted(o.id for o in open_ids) == sorted(ids[2:])
    mine, _ = store.page("acme-home", owner="u-lin")
    assert [o.id for o in mine] == [ids[0]]
    assert store.page("acme-home", owner="u-lin", status="open")[0] == []
    seen: list[str] = []
    start = None
    for _page in range(10):
        page, start = store.page("acme-home", owner="role:supervisor", limit=2, start_key=start)
        seen += [o.id for o in page]
        if start is None:
            break
    assert sorted(seen) == sorted(ids[1:])
    with pytest.raises(ValidationFailed):
        store.page("acme-home", status="open", start_key={"gsi2pk": {"S": "x"}})
    from shared.domain.opportunity import pipeline

    assert [(r["stage"], r["count"], str(r["amount"])) for r in pipeline(store.every("acme-home"))] == [
        ("new", 3, "1197.00"),
        ("won", 1, "399.00"),
        ("lost", 1, "399.00"),
    ]
    assert use_case.list_scope(TECHNICIAN, None) == "t-wang"
    with pytest.raises(Forbidden):
        use_case.list_scope(TECHNICIAN, "u-lin")


@pytest.mark.usefixtures("aws")
def test_a_created_rule_opens_its_opportunity_when_the_ticket_is_created(acme: TenantConfig) -> None:
    from functions.ticket.create import create_ticket
    from shared.tenant.models import OpportunityRule

    rule = OpportunityRule.model_validate(
        {
            "id": "warranty-question",
            "event": "created",
            "when": {"path": "ticket.fields.question", "matches": "*保修*"},
            "kind": "extended_warranty",
            "owner": {"user": "u-lin"},
        }
    )
    consult = acme.ticket_types["consult"].model_copy(update={"opportunity_rules": [rule]})
    cfg = acme.model_copy(update={"ticket_types": {**acme.ticket_types, "consult": consult}})
    deps = _deps()
    fields = {"customer_name": "林伟", "customer_phone": "+8613900000301", "question": "保修过期了"}
    ticket = create_ticket(deps, cfg, "u-lin", "consult", fields, ticket_id="TK-C1", channel="api")
    again = create_ticket(deps, cfg, "u-lin", "consult", fields, ticket_id="TK-C1", channel="api")
    assert again.id == ticket.id
    mine, _ = OpportunityRepository().page("acme-home", owner="u-lin")
    assert [(o.ticket_id, o.stage, o.amount, o.customer_id) for o in mine] == [
        ("TK-C1", "working", None, ticket.customer_id)
    ]
    other = create_ticket(deps, cfg, "u-lin", "consult", {**fields, "question": "能装吗"}, channel="api")
    assert all(o.ticket_id != other.id for o in OpportunityRepository().page("acme-home")[0])


@pytest.mark.usefixtures("aws")
@settings_(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    retries=st.integers(min_value=1, max_value=4),
    concurrent=st.booleans(),
    offered=st.booleans(),
    gap=st.integers(min_value=0, max_value=3600),
)
def test_rules_fire_once_per_event_however_it_is_retried(
    acme: TenantConfig, retries: int, concurrent: bool, offered: bool, gap: int
) -> None:
    """Property: a ticket event delivered ``retries`` times (one after another, or all at once) opens
    exactly the opportunities whose rules hold: one item, one outbox event, one timeline entry."""
    deps = _deps()
    n = next(_numbers)
    ticket = _consult(deps, acme, f"TK-P{n}", "推荐延保" if offered else "已解答", f"+86139{n:08d}")
    results: list[list[str]] = []

    def deliver(k: int) -> None:
        results.append(
            use_case.open_opportunities(deps, acme, ticket, "closed", T0 + timedelta(seconds=gap * k))
        )

    if concurrent:
        threads = [threading.Thread(target=deliver, args=(k,)) for k in range(retries)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for k in range(retries):
            deliver(k)
    assert len({tuple(r) for r in results}) == 1  # every delivery answers the same opportunities
    opened = results[0]
    assert len(opened) == (1 if offered else 0)
    created = [i for i in _outbox("opportunity.created") if ticket.id in i["event"]["S"]]
    assert len(created) == len(opened)
    timeline = CustomerRepository().all_timeline("acme-home", ticket.customer_id)
    assert [e.ref for e in timeline if e.kind == "opportunity_opened"] == opened
