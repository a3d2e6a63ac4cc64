"""No ticket in limbo, with in-memory fakes: routing from the parked payload, not-ready answers,
the execution ARN kept through races, stopped executions failing their ticket, retry."""

from __future__ import annotations

from typing import Any

import pytest

from functions.ticket import recovery, service
from shared.errors import Conflict, Forbidden, NotReady, Unavailable, ValidationFailed
from shared.identity import Caller
from shared.notices import Notifier
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from shared.workflow.compiler import CATCH_ROUTING
from tests.fakes import FakeEngine, FakeMarkers, FakeSender, FakeTickets

CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "q"}
AGENT = Caller(sub="u-lin", tenant="acme-home", roles=frozenset({"agent"}))
DISPATCHER = Caller(sub="u-zhao", tenant="acme-home", roles=frozenset({"dispatcher"}))
FINANCE = Caller(sub="u-qian", tenant="acme-home", roles=frozenset({"finance"}))


@pytest.fixture(scope="module")
def acme(example_tenant_files: list[str]) -> TenantConfig:
    return load_tenant_file(next(f for f in example_tenant_files if f.endswith("acme-home.yaml")))


@pytest.fixture
def sender() -> FakeSender:
    return FakeSender()


@pytest.fixture
def deps(sender: FakeSender) -> service.Deps:
    notifier = Notifier(sender, FakeMarkers(), lambda *parts: ("k", "#".join(map(str, parts))))
    return service.Deps(tickets=FakeTickets(), engine=FakeEngine(), notifier=notifier)


def _consult(deps: service.Deps, cfg: TenantConfig) -> str:
    return service.create_ticket(deps, cfg, "u-lin", "consult", CONSULT).id


def test_the_parked_payload_decides_primary_and_routing_not_the_mapping_order(
    deps: service.Deps, acme: TenantConfig
) -> None:
    # Given a node parked by ASL that says its primary is "to_install" (as if the file said so first)
    ticket_id = _consult(deps, acme)
    service.park(deps, acme, ticket_id, "answer", "tok", CATCH_ROUTING, success=["to_install"])
    version = deps.tickets.get("acme-home", ticket_id).version
    # When "answered" is taken, it is a non-primary way out: a route error, and no full form needed
    service.act(deps, acme, AGENT, ticket_id, "answered", {}, version)
    assert deps.engine.failed == [("tok", "Scrm.Route.answered", {"action": "answered", "node": "answer"})]  # type: ignore[attr-defined]


def test_the_primary_action_needs_the_full_form(deps: service.Deps, acme: TenantConfig) -> None:
    ticket_id = _consult(deps, acme)
    service.park(deps, acme, ticket_id, "answer", "tok", CATCH_ROUTING, success=["answered"])
    version = deps.tickets.get("acme-home", ticket_id).version
    with pytest.raises(ValidationFailed) as caught:
        service.act(deps, acme, AGENT, ticket_id, "answered", {}, version)
    assert [d["field"] for d in caught.value.details] == ["answer"]


def test_acting_before_the_node_is_parked_is_not_ready_not_forbidden(
    deps: service.Deps, acme: TenantConfig
) -> None:
    ticket_id = _consult(deps, acme)  # started, not parked yet
    version = deps.tickets.get("acme-home", ticket_id).version
    with pytest.raises(NotReady) as caught:
        service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": "a"}, version)
    assert caught.value.status == 409 and caught.value.code == "not_ready"
    # someone the node will never be assigned to still gets 403
    with pytest.raises(Forbidden):
        service.act(deps, acme, FINANCE, ticket_id, "answered", {"answer": "a"}, version)


def test_park_records_the_execution_when_the_start_lost_the_race(
    deps: service.Deps, acme: TenantConfig
) -> None:
    class SlowRecording(FakeEngine):
        """The execution parks before the start's answer is recorded (the race of issue 14)."""

        def __init__(self, tickets: FakeTickets) -> None:
            super().__init__()
            self.tickets = tickets

        def start(self, tenant: str, ticket_type: str, ticket_id: str, payload: dict[str, Any]) -> Any:
            arn, version = super().start(tenant, ticket_type, ticket_id, payload)
            service.park(
                service.Deps(tickets=self.tickets, engine=self),
                acme,
                payload["ticket_id"],
                "answer",
                "tok",
                CATCH_ROUTING,
                success=["answered"],
                execution=arn,
                workflow_version=version,
            )
            return arn, version

    tickets = FakeTickets()
    racing = service.Deps(tickets=tickets, engine=SlowRecording(tickets))
    ticket = service.create_ticket(racing, acme, "u-lin", "consult", CONSULT)
    stored = tickets.get("acme-home", ticket.id)
    assert stored.execution_arn and stored.execution_arn.endswith(f":{ticket.id}")
    assert stored.workflow_version and stored.parked


def test_a_start_that_fails_keeps_nothing(acme: TenantConfig) -> None:
    class Broken(FakeEngine):
        def start(self, *args: Any, **kwargs: Any) -> Any:
            raise TimeoutError("throttled")

    tickets = FakeTickets()
    with pytest.raises(Unavailable) as caught:
        service.create_ticket(
            service.Deps(tickets=tickets, engine=Broken()), acme, "u-lin", "consult", CONSULT
        )
    assert caught.value.status == 503 and caught.value.retry_after
    assert tickets.tickets == {}


def _failed(deps: service.Deps, acme: TenantConfig, sender: FakeSender) -> str:
    ticket_id = _consult(deps, acme)
    service.park(deps, acme, ticket_id, "answer", "tok", CATCH_ROUTING, success=["answered"])
    answer = recovery.execution_stopped(
        deps,
        acme,
        ticket_id=ticket_id,
        execution_name_=ticket_id,
        execution_arn=f"arn:x:{ticket_id}",
        status="TIMED_OUT",
        error="States.Timeout",
    )
    assert answer["handled"] and answer["newly_failed"]
    return ticket_id


def test_a_stopped_execution_fails_its_ticket_notifies_once_and_is_retryable(
    deps: service.Deps, acme: TenantConfig, sender: FakeSender
) -> None:
    ticket_id = _failed(deps, acme, sender)
    failed = deps.tickets.get("acme-home", ticket_id)
    assert failed.status == "failed" and "timed out" in (failed.reason or "")
    assert failed.token is None and failed.failure and failed.failure["node"] == "answer"
    assert [kind for kind, to, _ in sender.sent] == ["sms", "email", "wecom"]  # u-zhao, the one dispatcher
    assert all(ticket_id in body for _, _, body in sender.sent)
    # EventBridge delivers at least once: the second delivery changes nothing
    again = recovery.execution_stopped(
        deps, acme, ticket_id=ticket_id, execution_name_=ticket_id, execution_arn="a", status="FAILED"
    )
    assert not again["handled"] and len(sender.sent) == 3
    # Retry: dispatcher only, a new execution that resumes at the failed node
    with pytest.raises(Forbidden):
        recovery.retry(deps, acme, AGENT, ticket_id)
    retried = recovery.retry(deps, acme, DISPATCHER, ticket_id)
    assert (retried.status, retried.node, retried.retries) == ("open", "answer", 1)
    assert deps.engine.started[-1] == ("acme-home", "consult", f"{ticket_id}-r1")  # type: ignore[attr-defined]
    assert retried.execution_arn and retried.execution_arn.endswith(f"{ticket_id}-r1")
    with pytest.raises(Conflict):
        recovery.retry(deps, acme, DISPATCHER, ticket_id)  # it is open again
    # A late event of the first execution does not fail the retried ticket
    late = recovery.execution_stopped(
        deps, acme, ticket_id=ticket_id, execution_name_=ticket_id, execution_arn="a", status="FAILED"
    )
    assert not late["handled"]
    assert [e.kind for e in deps.tickets.history("acme-home", ticket_id)][-2:] == ["failed", "retried"]


def test_a_cancelled_tickets_aborted_execution_is_not_a_failure(
    deps: service.Deps, acme: TenantConfig
) -> None:
    ticket_id = _consult(deps, acme)
    service.cancel(deps, acme, AGENT, ticket_id, "duplicate")
    answer = recovery.execution_stopped(
        deps, acme, ticket_id=ticket_id, execution_name_=ticket_id, execution_arn="a", status="ABORTED"
    )
    assert not answer["handled"] and deps.tickets.get("acme-home", ticket_id).status == "cancelled"


def test_cancel_and_actions_racing_exactly_one_wins(deps: service.Deps, acme: TenantConfig) -> None:
    from concurrent.futures import ThreadPoolExecutor

    ticket_id = _consult(deps, acme)
    service.park(deps, acme, ticket_id, "answer", "tok", CATCH_ROUTING, success=["answered"])
    version = deps.tickets.get("acme-home", ticket_id).version

    def attempt(n: int) -> str:
        try:
            if n % 2:
                service.cancel(deps, acme, AGENT, ticket_id, "race", version)
            else:
                service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": "a"}, version)
        except Conflict:
            return "409"
        return "200"

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(30)))
    assert results.count("200") == 1, results


def test_a_ticket_that_reached_its_end_node_cannot_be_cancelled(
    deps: service.Deps, acme: TenantConfig
) -> None:
    ticket_id = _consult(deps, acme)
    service.park(deps, acme, ticket_id, "answer", "tok", CATCH_ROUTING, success=["answered"])
    version = deps.tickets.get("acme-home", ticket_id).version
    service.act(deps, acme, AGENT, ticket_id, "answered", {"answer": "a"}, version)  # now at "done"
    with pytest.raises(Conflict, match="finishing"):
        service.cancel(deps, acme, AGENT, ticket_id, "too late")
    assert service.step(deps, acme, ticket_id, "done") == {"outcome": "done"}
    assert deps.tickets.get("acme-home", ticket_id).status == "closed"
