"""Ticket logic with in-memory fakes: create, park, act, loop cap, lost tokens."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from functions.ticket import service
from shared.errors import Conflict, Forbidden, LoopLimitExceeded, Unavailable, ValidationFailed
from shared.identity import Caller
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from shared.workflow.compiler import CATCH_ROUTING, MAX_NODE_VISITS
from tests.fakes import FakeEngine, FakeTickets

CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "q"}
AGENT = Caller(sub="u-lin", tenant="acme-home", roles=frozenset({"agent"}))


@pytest.fixture(scope="module")
def acme(example_tenant_files: list[str]) -> TenantConfig:
    return load_tenant_file(next(f for f in example_tenant_files if f.endswith("acme-home.yaml")))


@pytest.fixture
def deps() -> service.Deps:
    return service.Deps(tickets=FakeTickets(), engine=FakeEngine())


def parked_consult(deps: service.Deps, cfg: TenantConfig, token: str = "tok-1") -> str:
    ticket = service.create_ticket(deps, cfg, "u-lin", "consult", CONSULT)
    service.park(deps, cfg, ticket.id, "answer", token)
    return ticket.id


def test_create_validates_and_starts_the_workflow(deps: service.Deps, acme: TenantConfig) -> None:
    ticket = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    assert ticket.node == "answer"
    assert ticket.workflow_version is not None and ticket.workflow_version.endswith(":1")
    assert deps.engine.started == [("acme-home", "consult", ticket.id)]  # type: ignore[attr-defined]


def test_create_reports_every_bad_field_at_once(deps: service.Deps, acme: TenantConfig) -> None:
    with pytest.raises(ValidationFailed) as caught:
        service.create_ticket(deps, acme, "u-lin", "consult", {"customer_phone": "x", "extra": 1})
    assert {d["field"] for d in caught.value.details} == {
        "customer_name",
        "customer_phone",
        "question",
        "extra",
    }


def test_create_with_a_given_id_is_idempotent(deps: service.Deps, acme: TenantConfig) -> None:
    first = service.create_ticket(deps, acme, "intake", "consult", CONSULT, ticket_id="TK-X")
    again = service.create_ticket(deps, acme, "intake", "consult", CONSULT, ticket_id="TK-X")
    assert again.id == first.id
    # the retry starts again, by the same name: one execution (Step Functions answers the same one)
    assert set(deps.engine.started) == {("acme-home", "consult", "TK-X")}  # type: ignore[attr-defined]
    # stored with the execution it started: no second write to record it
    stored = deps.tickets.get("acme-home", "TK-X")
    assert stored.execution_arn and stored.execution_arn.endswith(":TK-X") and stored.workflow_version


def test_a_retry_starts_what_a_crashed_first_attempt_only_stored(
    deps: service.Deps, acme: TenantConfig
) -> None:
    class Crash(Exception):
        pass

    engine = deps.engine
    real = engine.start

    def crash(*_args: Any, **_kwargs: Any) -> Any:
        raise Crash  # the container died between storing the ticket and starting its workflow

    # (a discard would not run either: the process is gone; simulate by storing the ticket only)
    engine.start = crash  # type: ignore[method-assign]
    deps.tickets.discard = lambda ticket: None  # type: ignore[method-assign]
    with pytest.raises(Unavailable):
        service.create_ticket(deps, acme, "intake", "consult", CONSULT, ticket_id="TK-Y")
    assert deps.tickets.get("acme-home", "TK-Y").status == "open"  # stored, nothing runs it
    engine.start = real  # type: ignore[method-assign]
    service.create_ticket(deps, acme, "intake", "consult", CONSULT, ticket_id="TK-Y")  # the redelivery
    assert ("acme-home", "consult", "TK-Y") in deps.engine.started  # type: ignore[attr-defined]


def test_act_moves_the_ticket_and_resumes_the_workflow(deps: service.Deps, acme: TenantConfig) -> None:
    ticket_id = parked_consult(deps, acme)
    version = deps.tickets.get("acme-home", ticket_id).version
    moved = service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": "yes"}, version)
    assert (moved.node, moved.version, moved.token) == ("done", version + 1, None)
    assert deps.engine.resumed == [("tok-1", {"action": "answered", "node": "answer"})]  # type: ignore[attr-defined]


def test_act_under_catch_routing_fails_the_task_into_the_other_way_out(
    deps: service.Deps, acme: TenantConfig
) -> None:
    # Given consult tickets parked by ASL with Catch routing
    first = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    service.park(deps, acme, first.id, "answer", "tok-a", routing=CATCH_ROUTING)
    second = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    service.park(deps, acme, second.id, "answer", "tok-b", routing=CATCH_ROUTING)
    assert deps.tickets.get("acme-home", first.id).routing == CATCH_ROUTING
    # When one takes the primary action and the other the second way out
    service.act(deps, acme, AGENT, first.id, "answered", {"answer": "yes"}, 2)
    moved = service.act(deps, acme, AGENT, second.id, "to_install", {}, 2)
    # Then the primary one succeeds, the other fails the task with its route error
    assert deps.engine.resumed == [("tok-a", {"action": "answered", "node": "answer"})]  # type: ignore[attr-defined]
    assert deps.engine.failed == [  # type: ignore[attr-defined]
        ("tok-b", "Scrm.Route.to_install", {"action": "to_install", "node": "answer"})
    ]
    assert moved.node == "handoff"


def test_act_on_a_ticket_parked_by_choice_shaped_asl_sends_every_action_as_success(
    deps: service.Deps, acme: TenantConfig
) -> None:
    # Given a ticket parked by an older version (no routing in the Task payload)
    ticket_id = parked_consult(deps, acme)
    assert deps.tickets.get("acme-home", ticket_id).routing is None
    # When a non-primary action is taken, the Choice after the Task routes on it
    service.act(deps, acme, AGENT, ticket_id, "to_install", {}, 2)
    assert deps.engine.resumed == [("tok-1", {"action": "to_install", "node": "answer"})]  # type: ignore[attr-defined]
    assert deps.engine.failed == []  # type: ignore[attr-defined]


def test_a_lost_token_under_catch_routing_is_undone_too(deps: service.Deps, acme: TenantConfig) -> None:
    ticket = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    service.park(deps, acme, ticket.id, "answer", "expired", routing=CATCH_ROUTING)
    deps.engine.gone_tokens.add("expired")  # type: ignore[attr-defined]
    with pytest.raises(Conflict, match="not applied"):
        service.act(deps, acme, AGENT, ticket.id, "to_install", {}, 2)
    after = deps.tickets.get("acme-home", ticket.id)
    assert after.node == "answer" and after.token is None


def test_act_refuses_others_stale_versions_and_unknown_actions(
    deps: service.Deps, acme: TenantConfig
) -> None:
    ticket_id = parked_consult(deps, acme)
    version = deps.tickets.get("acme-home", ticket_id).version
    technician = Caller(sub="t-wang", tenant="acme-home", roles=frozenset({"technician"}))
    with pytest.raises(Forbidden):
        service.act(deps, acme, technician, ticket_id, "answered", {"answer": "x"}, version)
    with pytest.raises(Conflict):
        service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": "x"}, version - 1)
    with pytest.raises(ValidationFailed):
        service.act(deps, acme, AGENT, ticket_id, "nonsense", {}, version)
    with pytest.raises(ValidationFailed) as caught:
        service.act(deps, acme, AGENT, ticket_id, "answered", {}, version)
    assert caught.value.details == [{"field": "answer", "message": "is required"}]


def test_concurrent_actions_exactly_one_wins(deps: service.Deps, acme: TenantConfig) -> None:
    ticket_id = parked_consult(deps, acme)
    version = deps.tickets.get("acme-home", ticket_id).version

    def attempt(n: int) -> str:
        try:
            service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": f"a{n}"}, version)
            return "ok"
        except Conflict:
            return "conflict"

    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(attempt, range(20)))
    assert outcomes.count("ok") == 1 and outcomes.count("conflict") == 19
    assert [e.kind for e in deps.tickets.history("acme-home", ticket_id)].count("action") == 1
    assert len(deps.engine.resumed) == 1  # type: ignore[attr-defined]


def test_a_lost_token_is_undone_and_reported(deps: service.Deps, acme: TenantConfig) -> None:
    ticket_id = parked_consult(deps, acme, token="expired")
    deps.engine.gone_tokens.add("expired")  # type: ignore[attr-defined]
    version = deps.tickets.get("acme-home", ticket_id).version
    with pytest.raises(Conflict, match="not applied"):
        service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": "x"}, version)
    after = deps.tickets.get("acme-home", ticket_id)
    assert after.node == "answer" and after.token is None and "answer" not in after.fields
    assert deps.tickets.history("acme-home", ticket_id)[-1].kind == "action_failed"


def test_the_loop_cap_fails_the_ticket_loudly(deps: service.Deps, acme: TenantConfig) -> None:
    ticket = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    for n in range(MAX_NODE_VISITS):
        service.park(deps, acme, ticket.id, "answer", f"t{n}")
    with pytest.raises(LoopLimitExceeded):
        service.park(deps, acme, ticket.id, "answer", "one-too-many")
    failed = deps.tickets.get("acme-home", ticket.id)
    assert failed.status == "failed" and failed.reason and "more than 50" in failed.reason


def test_end_node_closes_once(deps: service.Deps, acme: TenantConfig) -> None:
    ticket = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    assert service.step(deps, acme, ticket.id, "done") == {"outcome": "done"}
    assert service.step(deps, acme, ticket.id, "done") == {"outcome": "done"}
    assert [e.kind for e in deps.tickets.history("acme-home", ticket.id)].count("closed") == 1


def test_lenient_creation_keeps_the_ticket_and_records_what_is_wrong(
    deps: service.Deps, acme: TenantConfig
) -> None:
    # A WeCom message mapped with customer_phone 'unknown' (a value phone validation rejects).
    fields = {"customer_name": "wx-user", "customer_phone": "unknown", "question": "在吗?"}
    ticket = service.create_ticket(deps, acme, "channel:wecom-service", "consult", fields, lenient=True)
    assert ticket.fields == {"customer_name": "wx-user", "question": "在吗?"}
    assert ticket.incomplete is not None
    assert ticket.incomplete["missing"] == ["customer_phone"]
    assert ticket.incomplete["rejected"]["customer_phone"]["value"] == "unknown"
    created = deps.tickets.history("acme-home", ticket.id)[0]
    assert created.changes["missing"] == ["customer_phone"]
