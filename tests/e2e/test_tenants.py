"""Two tenants side by side in one twin: each runs its own workflow and sees only its own tickets."""

from __future__ import annotations

from typing import Any

from infra.twin.client import TwinClient

COMPLAINT = {
    "customer_name": "Frau Klein",
    "customer_phone": "+4915100000099",
    "description": "Fenster streifig",
}


def test_second_tenant_runs_its_own_workflow_with_a_reopen_loop(anonymous: TwinClient) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    jonas = anonymous.as_user("bright-clean", "u-jonas", ["supervisor", "dispatcher"])
    ticket_id = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT}).body["id"]

    ready = anna.wait_ready(ticket_id, node="answer")
    anna.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "Sorry"}, "version": ready["version"]},
    )
    at_close = jonas.wait_ready(ticket_id, node="close")
    # The agent may not act on the supervisor's node.
    assert (
        anna.post(
            f"/tickets/{ticket_id}/actions",
            {"action": "close", "fields": {"resolution": "resolved"}, "version": at_close["version"]},
        ).status
        == 403
    )
    # The supervisor sends it back once (a loop to an earlier node), then closes it.
    jonas.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "reopen", "fields": {"resolution": "rejected"}, "version": at_close["version"]},
    )
    again = anna.wait_ready(ticket_id, node="answer")
    anna.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "Redo"}, "version": again["version"]},
    )
    at_close = jonas.wait_ready(ticket_id, node="close")
    jonas.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "close", "fields": {"resolution": "resolved"}, "version": at_close["version"]},
    )
    closed = jonas.wait_status(ticket_id, "closed")
    assert closed["node"] == "closed" and closed["fields"]["resolution"] == "resolved"
    nodes = [
        e["node"] for e in jonas.get(f"/tickets/{ticket_id}/history").body["events"] if e["kind"] == "entered"
    ]
    assert nodes == ["answer", "close", "answer", "close"]


def test_a_tenant_never_sees_another_tenants_ticket(anonymous: TwinClient, agent: TwinClient) -> None:
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    theirs = anna.post("/tickets", {"type": "complaint", "fields": COMPLAINT}).body["id"]
    assert agent.get(f"/tickets/{theirs}").status == 404
    assert agent.get(f"/tickets/{theirs}/history").status == 404
    assert theirs not in {t["id"] for t in agent.get("/tickets?limit=100").body["items"]}
    # acme-home has no 'complaint' type.
    wrong = agent.post("/tickets", {"type": "complaint", "fields": COMPLAINT})
    assert wrong.status == 422 and wrong.body["details"][0]["field"] == "type"


def test_tokens_for_undeployed_tenants_are_refused(anonymous: TwinClient) -> None:
    assert anonymous.post("/_local/token", {"tenant": "nobody", "sub": "x", "roles": []}).status == 404


def test_a_technician_sees_only_tickets_dispatched_to_them(anonymous: TwinClient, agent: TwinClient) -> None:
    ticket_id = agent.post(
        "/tickets",
        {
            "type": "consult",
            "fields": {"customer_name": "陈", "customer_phone": "+8613900000000", "question": "?"},
        },
    ).body["id"]
    technician = anonymous.as_user("acme-home", "t-wang", ["technician"])
    assert technician.get(f"/tickets/{ticket_id}").status == 404
    assert technician.get(f"/tickets/{ticket_id}/history").status == 404
    assert technician.get("/tickets?assignee=t-li").status == 403
    mine = technician.get("/tickets")
    assert mine.status == 200 and all(t["assignee"]["id"] == "t-wang" for t in mine.body["items"])


def test_expired_and_wrong_tenant_tokens_get_401(twin: Any, anonymous: TwinClient) -> None:
    expired = TwinClient(anonymous.base_url, twin.issuer.issue("acme-home", "u-lin", ["agent"], lifetime=-10))
    assert expired.get("/tickets").status == 401
    assert "expired" in expired.get("/tickets").body["message"]
    stranger = TwinClient(anonymous.base_url, twin.issuer.issue("not-deployed", "u-lin", ["agent"]))
    assert stranger.get("/tickets").status == 401
