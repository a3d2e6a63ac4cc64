"""``POST /tickets/{id}/reassign``: a dispatcher gives a ticket at a technician's node to another
technician. The ticket stays at its node with its workflow waiting; the loads move; the previous
technician can no longer act, the new one completes it; refusals are 403/409/422 with messages."""

from __future__ import annotations

from typing import Any

from infra.twin.client import TwinClient
from tests.e2e.steps import act, at_technician, complete_and_confirm
from tests.e2e.test_settlement_flow import INSTALL, ON_SITE, TENANT, twin_period

OTHER = {"t-wang": "t-li", "t-li": "t-wang"}


def _loads(dispatcher: TwinClient) -> dict[str, int]:
    answer = dispatcher.get("/technicians")
    assert answer.status == 200, answer.body
    return {t["id"]: t["load"] for t in answer.body["items"]}


def _dispatched(anonymous: TwinClient, agent: TwinClient, dispatcher: TwinClient) -> dict[str, Any]:
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    return at_technician(agent, dispatcher, created.body["id"])


def test_a_dispatcher_reassigns_and_the_new_technician_finishes_the_job(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    dispatcher = anonymous.as_user(TENANT, "u-zhao", ["dispatcher", "supervisor"])
    ticket = _dispatched(anonymous, agent, dispatcher)
    first = ticket["dispatch"]["technician"]
    second = OTHER[first]
    before = _loads(dispatcher)

    moved = dispatcher.post(
        f"/tickets/{ticket['id']}/reassign", {"technician": second, "version": ticket["version"]}
    )

    assert moved.status == 200, moved.body
    assert moved.body["node"] == "on_site" and moved.body["status"] == "open"
    assert moved.body["dispatch"]["technician"] == second
    assert moved.body["dispatch"]["reassigned_from"] == first and moved.body["dispatch"]["by"] == "u-zhao"
    assert moved.body["assignee"] == {"kind": "technician", "id": second}
    after = _loads(dispatcher)
    assert after[first] == before[first] - 1 and after[second] == before[second] + 1
    history = agent.get(f"/tickets/{ticket['id']}/history").body["events"]
    assert history[-1]["kind"] == "reassigned" and history[-1]["changes"] == {"from": first, "to": second}

    old = anonymous.as_user(TENANT, first, ["technician"])
    refused = act(old, ticket["id"], "complete", ON_SITE, moved.body["version"])
    assert refused.status == 403, refused.body
    new = anonymous.as_user(TENANT, second, ["technician"])
    complete_and_confirm(new, agent, ticket["id"], moved.body["version"], ON_SITE)
    agent.wait_status(ticket["id"], "closed")
    finance = anonymous.as_user(TENANT, "u-qian", ["finance"])
    period = twin_period(agent)
    paid = {
        line["ticket_id"]
        for line in finance.get(f"/technicians/{second}/earnings?period={period}").body["lines"]
    }
    assert ticket["id"] in paid  # the technician who finished is paid
    unpaid = finance.get(f"/technicians/{first}/earnings?period={period}").body["lines"]
    assert ticket["id"] not in {line["ticket_id"] for line in unpaid}


def test_reassignment_refusals_say_why(anonymous: TwinClient, agent: TwinClient) -> None:
    dispatcher = anonymous.as_user(TENANT, "u-zhao", ["dispatcher", "supervisor"])
    ticket = _dispatched(anonymous, agent, dispatcher)
    holder = ticket["dispatch"]["technician"]
    path = f"/tickets/{ticket['id']}/reassign"

    as_agent = agent.post(path, {"technician": OTHER[holder], "version": ticket["version"]})
    assert as_agent.status == 403 and "dispatcher" in as_agent.body["message"]
    unknown = dispatcher.post(path, {"technician": "t-nobody", "version": ticket["version"]})
    assert unknown.status == 422 and unknown.body["details"][0]["field"] == "technician"
    same = dispatcher.post(path, {"technician": holder, "version": ticket["version"]})
    assert same.status == 422 and "already" in same.body["message"]
    stale = dispatcher.post(path, {"technician": OTHER[holder], "version": ticket["version"] - 1})
    assert stale.status == 409
    extra = dispatcher.post(path, {"technician": OTHER[holder], "version": ticket["version"], "x": 1})
    assert extra.status == 422
    agent.post(f"/tickets/{ticket['id']}/cancel", {"reason": "test over"})
    cancelled = dispatcher.post(path, {"technician": OTHER[holder], "version": ticket["version"] + 1})
    assert cancelled.status == 409 and "cancelled" in cancelled.body["message"]
