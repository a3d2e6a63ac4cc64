"""A retried execution's start node hands it on (no entry Choice): the park task of a human start
node and the plain system tasks, with in-memory fakes."""

from __future__ import annotations

import pytest

from functions.ticket import service
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from shared.workflow.compiler import CATCH_ROUTING
from shared.workflow.routing import resume_error
from shared.workflow.task_errors import check_resume
from tests.fakes import FakeEngine, FakeTickets

CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "q"}


@pytest.fixture(scope="module")
def acme(example_tenant_files: list[str]) -> TenantConfig:
    return load_tenant_file(next(f for f in example_tenant_files if f.endswith("acme-home.yaml")))


@pytest.fixture
def deps() -> service.Deps:
    return service.Deps(tickets=FakeTickets(), engine=FakeEngine())


def test_a_human_start_node_hands_a_retried_execution_to_its_node(
    deps: service.Deps, acme: TenantConfig
) -> None:
    # Given a consult ticket (start node: answer) whose retried execution resumes at handoff
    ticket = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    before = deps.tickets.get(acme.tenant.id, ticket.id)
    # When the start node's park task runs with resume_at = handoff
    answer = service.park(
        deps, acme, ticket.id, "answer", "tok-1", CATCH_ROUTING, resume_at="handoff", ticket_type="consult"
    )
    # Then it fails its own task with the resume error (the Catch goes there) and parks nothing
    assert answer == {"parked": False, "node": "answer", "resumed_at": "handoff"}
    engine = deps.engine
    assert isinstance(engine, FakeEngine)
    assert [(token, error) for token, error, _ in engine.failed] == [("tok-1", resume_error("handoff"))]
    after = deps.tickets.get(acme.tenant.id, ticket.id)
    assert after.version == before.version and after.token is None and after.visits == before.visits


@pytest.mark.parametrize(
    "resume_at",
    [None, "answer", "no_such_node", {"Error": "Scrm.Resume.handoff", "Cause": "{}"}],
    ids=["first-start", "at-the-start", "node-gone", "resume-consumed"],
)
def test_otherwise_the_start_node_parks_as_usual(
    deps: service.Deps, acme: TenantConfig, resume_at: object
) -> None:
    ticket = service.create_ticket(deps, acme, "u-lin", "consult", CONSULT)
    answer = service.park(
        deps, acme, ticket.id, "answer", "tok-1", CATCH_ROUTING, resume_at=resume_at, ticket_type="consult"
    )
    assert answer == {"parked": True, "node": "answer"}
    assert deps.tickets.get(acme.tenant.id, ticket.id).token == "tok-1"
    engine = deps.engine
    assert isinstance(engine, FakeEngine) and engine.failed == []


def test_a_plain_system_start_task_raises_the_resume_error(acme: TenantConfig) -> None:
    # a plain Task (no token) can only route by failing: the error's name is what its Catch matches
    event = {"node": "dispatching", "type": "install", "resume_at": "on_site"}
    with pytest.raises(Exception) as raised:
        check_resume(event, acme)
    assert type(raised.value).__name__ == resume_error("on_site")
    # and runs the node otherwise
    for other in (None, "dispatching", "gone", {"Error": "x"}):
        check_resume({**event, "resume_at": other}, acme)
    check_resume({"node": "settle"}, acme)  # not a start node's Task: no resume_at at all
