"""A tenant in its own words and order: every primary action sorts last, the decline is `jujue`.

Tenant ``tests/fixtures/tenants/zeta-order.yaml`` on its own twin (a child process). A ticket runs
through a refused empty form, a decline and re-dispatch, a rework and settlement to its end; the
required form is enforced on each node's FIRST action, whatever its name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from infra.twin.client import TwinClient
from tests.child_twin import ROOT, child_twin

ZETA = ROOT / "tests" / "fixtures" / "tenants" / "zeta-order.yaml"
TENANT = "zeta-order"
CUSTOMER = {"customer_name": "周先生", "customer_phone": "+8613900001234", "region": "CN-SZ"}
SITE_FORM = {"photos": ["s3://p/1.jpg"], "service_items": [{"code": "SVC-FIX", "quantity": 1}]}


@pytest.fixture(scope="module")
def zeta() -> Iterator[TwinClient]:
    with child_twin([ZETA], name="zeta-order") as client:
        yield client


def act(client: TwinClient, ticket: dict[str, Any], action: str, fields: dict[str, Any]) -> Any:
    return client.post(
        f"/tickets/{ticket['id']}/actions", {"action": action, "fields": fields, "version": ticket["version"]}
    )


def test_a_ticket_runs_to_its_end_whatever_the_order_and_names(zeta: TwinClient) -> None:
    agent = zeta.as_user(TENANT, "u-kefu", ["agent"])
    created = agent.post("/tickets", {"type": "weixiu", "fields": CUSTOMER})
    assert created.status == 201, created.body
    assert created.body["execution_arn"] and created.body["workflow_version"]

    # Given the ticket dispatched to the best-rated technician
    ticket = agent.wait_ready(created.body["id"], node="shangmen")
    first = ticket["assignee"]["id"]
    assert first == "t-zhang", ticket["dispatch"]
    tech = zeta.as_user(TENANT, first, ["technician"])

    # When the primary action (wancheng, alphabetically last) comes with an empty form: refused
    refused = act(tech, ticket, "wancheng", {})
    assert refused.status == 422, refused.body
    assert {d["field"] for d in refused.body["details"]} == {"photos", "service_items"}

    # When the technician refuses (jujue: back to the dispatch node): dispatched again without them
    declined = act(tech, ticket, "jujue", {})
    assert declined.status == 200, declined.body
    ticket = agent.wait_ready(ticket["id"], node="shangmen")
    assert ticket["assignee"]["id"] == "t-liu", ticket["dispatch"]
    assert ticket["dispatch"]["declined"] == ["t-zhang"]
    tech = zeta.as_user(TENANT, "t-liu", ["technician"])

    # The other way out (buliao, waiting for parts) needs no form, and comes back
    waiting = act(tech, ticket, "buliao", {})
    assert waiting.status == 200, waiting.body
    ticket = agent.wait_ready(ticket["id"], node="daijian")
    dispatcher = zeta.as_user(TENANT, "u-diaodu", ["dispatcher"])
    assert act(dispatcher, ticket, "zailai", {}).status == 200
    ticket = agent.wait_ready(ticket["id"], node="shangmen")

    # Then the primary action with the full form moves it to the customer's confirmation
    done = act(tech, ticket, "wancheng", SITE_FORM)
    assert done.status == 200, done.body
    ticket = agent.wait_ready(ticket["id"], node="queren")
    assert act(agent, ticket, "queding", {}).status == 422  # the score is required on the primary

    # A rework (fangong) sends it back to the same technician, then it is confirmed and settled
    assert act(agent, ticket, "fangong", {}).status == 200
    ticket = agent.wait_ready(ticket["id"], node="shangmen")
    assert ticket["assignee"]["id"] == "t-liu"
    assert act(tech, ticket, "wancheng", SITE_FORM).status == 200
    ticket = agent.wait_ready(ticket["id"], node="queren")
    assert act(agent, ticket, "queding", {"score": "5"}).status == 200
    closed = agent.wait_status(ticket["id"], "closed")
    assert closed["node"] == "wanjie"
    assert closed["settlement"]["total"] == "110.00", closed["settlement"]  # 100.00 x region 1.10

    history = agent.get(f"/tickets/{ticket['id']}/history").body["events"]
    actions = [e["action"] for e in history if e["kind"] == "action"]
    assert actions == ["jujue", "buliao", "zailai", "wancheng", "fangong", "wancheng", "queding"]
