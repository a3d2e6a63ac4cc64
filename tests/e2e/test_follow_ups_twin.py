"""Follow-ups (回访) on the twin: acme-home's install ticket, once closed, opens a `callback` ticket
three business days later (its `follow_ups` in the example tenant file), through a one-time
schedule the twin's clock fires.

The session's clock is shared with other tests: the expected instant is computed from the
instant the ticket closed, and the clock only moves forward to it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.calendar import BusinessCalendar
from shared.tenant import load_tenant_file
from tests.e2e.steps import act, at_technician, complete_and_confirm, eventually
from tests.e2e.test_settlement_flow import ON_SITE
from tests.factories import INSTALL_FIELDS

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tenants" / "acme-home.yaml"


def _closed_install(anonymous: TwinClient, agent: TwinClient) -> dict[str, Any]:
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL_FIELDS})
    assert created.status == 201, created.body
    dispatcher = anonymous.as_user("acme-home", "u-zhao", ["dispatcher", "supervisor"])
    ticket = at_technician(agent, dispatcher, created.body["id"])
    technician = anonymous.as_user("acme-home", ticket["assignee"]["id"], ["technician"])
    complete_and_confirm(technician, agent, ticket["id"], ticket["version"], ON_SITE)
    return agent.wait_status(ticket["id"], "closed")


def states_entered(client: TwinClient, ticket_id: str) -> list[str]:
    """The states the ticket's execution entered (moto runs in this process, as the twin does)."""
    arn = client.get(f"/tickets/{ticket_id}").body["execution_arn"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    events = sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def _advance_to(client: TwinClient, instant: datetime) -> None:
    now = datetime.fromisoformat(client.get("/_local/clock").body["now"])
    if instant <= now:
        pytest.fail(f"the shared clock is already past {instant}")
    answer = client.post("/_local/clock/advance", {"seconds": (instant - now).total_seconds()})
    assert answer.status == 200, answer.body


def test_a_closed_install_opens_its_callback_three_business_days_later(
    twin: LocalTwin, anonymous: TwinClient, agent: TwinClient
) -> None:
    # Given an install ticket run to its end
    closed = _closed_install(anonymous, agent)
    # Then a callback follow-up is pending, due three business days after it closed
    calendar = BusinessCalendar.from_config(load_tenant_file(str(EXAMPLE)).calendars["default"])
    closed_at = datetime.fromisoformat(closed["closed_at"])
    due = calendar.add_business_time(closed_at, calendar.business_days_budget(closed_at, 3))
    [entry] = closed["follow_ups"]
    assert (entry["key"], entry["ticket_type"], entry["status"]) == ("callback", "callback", "pending")
    assert datetime.fromisoformat(entry["at"]) == due
    child_id = f"{closed['id']}-callback"
    assert agent.get(f"/tickets/{child_id}").status == 404  # nothing opened before it is due

    # When the clock reaches that instant
    _advance_to(agent, due)

    # Then the callback ticket is open, linked to the install, with the customer's fields, at its
    # first node for an agent
    child = eventually(
        lambda: agent.get(f"/tickets/{child_id}"),
        lambda answer: answer.status == 200 and bool(answer.body.get("ready")),
        what=f"the callback ticket {child_id}",
    ).body
    assert (child["type"], child["node"], child["parent_id"]) == ("callback", "call", closed["id"])
    assert child["fields"] == {
        "customer_name": INSTALL_FIELDS["customer_name"],
        "customer_phone": INSTALL_FIELDS["customer_phone"],
    }
    assert child["assignee"] == {"kind": "role", "id": "agent"}
    source = agent.get(f"/tickets/{closed['id']}").body
    assert source["follow_ups"][0]["status"] == "created" and source["follow_ups"][0]["ticket"] == child_id
    assert child_id in source["children"]
    # And it is worked like any ticket: a satisfied customer, and its decision node closes it
    done = act(agent, child_id, "called", {"satisfied": "yes"}, child["version"])
    assert done.status == 200, done.body
    assert agent.wait_status(child_id, "closed")["node"] == "done"
    # routed by the Choice alone, on the facts the agent's action carried: no Lambda for it
    assert states_entered(agent, child_id) == ["call", "triage", "done"]


def test_an_unhappy_callback_is_routed_to_a_supervisor_by_the_decision_node(
    twin: LocalTwin, anonymous: TwinClient, agent: TwinClient
) -> None:
    # Given a callback ticket (opened for its own test, straight from the API)
    created = agent.post(
        "/tickets",
        {"type": "callback", "fields": {"customer_name": "吴女士", "customer_phone": "+8613900000078"}},
    )
    assert created.status == 201, created.body
    call = agent.wait_ready(created.body["id"], node="call")
    # When the customer says they are not satisfied
    answered = act(agent, call["id"], "called", {"satisfied": "no"}, call["version"])
    assert answered.status == 200, answered.body
    # Then the decision node's first rule holds and the ticket waits for a supervisor
    review = agent.wait_ready(call["id"], node="review")
    assert review["assignee"] == {"kind": "role", "id": "supervisor"}
    assert states_entered(agent, call["id"]) == ["call", "triage", "review"]
    supervisor = anonymous.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])
    reviewed = act(
        supervisor, call["id"], "reviewed", {"resolution": "回电致歉，已补发配件"}, review["version"]
    )
    assert reviewed.status == 200, reviewed.body
    assert agent.wait_status(call["id"], "closed")["node"] == "done"
