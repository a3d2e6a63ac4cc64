"""A consult ticket through the twin's HTTP API, as a client would drive it."""

from __future__ import annotations

from infra.twin.client import TwinClient

CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "适合20平米吗?"}


def test_consult_ticket_runs_from_creation_to_done(agent: TwinClient) -> None:
    # Given an agent's token, when the agent opens a consult ticket
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    assert created.body["node"] == "answer"

    # Then the workflow parks on the answer node, assigned to the agent role
    ready = agent.wait_ready(ticket_id, node="answer")
    assert ready["assignee"] == {"kind": "role", "id": "agent"}

    # When the agent answers
    acted = agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "适合"}, "version": ready["version"]},
    )
    assert acted.status == 200, acted.body
    assert acted.body["node"] == "done"

    # Then the execution reaches the end node and closes the ticket
    closed = agent.wait_status(ticket_id, "closed")
    assert closed["fields"]["answer"] == "适合"
    assert closed["closed_at"] is not None

    history = agent.get(f"/tickets/{ticket_id}/history")
    assert history.status == 200
    kinds = [(e["kind"], e["node"], e["action"]) for e in history.body["events"]]
    assert kinds == [
        ("created", "answer", None),
        ("entered", "answer", None),
        ("action", "answer", "answered"),
        ("closed", "done", None),
    ]
    action = history.body["events"][2]
    assert action["actor"] == "u-lin"
    assert action["changes"]["fields"] == {"answer": "适合"}


def test_action_with_stale_version_is_refused(agent: TwinClient) -> None:
    ticket_id = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
    ready = agent.wait_ready(ticket_id, node="answer")
    stale = agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "x"}, "version": ready["version"] - 1},
    )
    assert stale.status == 409
    assert "stale version" in stale.body["message"]


def test_form_errors_come_back_per_field(agent: TwinClient) -> None:
    answer = agent.post("/tickets", {"type": "consult", "fields": {"customer_phone": "not a phone"}})
    assert answer.status == 422
    fields = {d["field"] for d in answer.body["details"]}
    assert fields == {"customer_name", "customer_phone", "question"}


def test_missing_or_forged_token_gets_401(anonymous: TwinClient) -> None:
    assert anonymous.get("/tickets/TK-1").status == 401
    forged = TwinClient(anonymous.base_url, token="eyJhbGciOiJIUzI1NiJ9.e30.bad")
    answer = forged.get("/tickets/TK-1")
    assert answer.status == 401
    assert answer.body["error"] == "unauthorized"


def test_unknown_ticket_and_route_are_404(agent: TwinClient) -> None:
    assert agent.get("/tickets/TK-000000-00000000").status == 404
    assert agent.get("/nowhere").status == 404


def test_malformed_body_is_a_4xx_not_a_5xx(agent: TwinClient) -> None:
    answer = agent.request("POST", "/tickets", raw=b"{not json")
    assert 400 <= answer.status < 500, answer.body
    assert answer.body["error"]


def test_cancel_stops_the_workflow_and_shows_in_history(agent: TwinClient) -> None:
    ticket_id = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
    agent.wait_ready(ticket_id, node="answer")
    cancelled = agent.post(f"/tickets/{ticket_id}/cancel", {"reason": "customer withdrew"})
    assert cancelled.status == 200, cancelled.body
    assert (cancelled.body["status"], cancelled.body["reason"]) == ("cancelled", "customer withdrew")
    assert agent.post(f"/tickets/{ticket_id}/cancel", {"reason": "again"}).status == 409
    assert agent.get(f"/tickets/{ticket_id}/history").body["events"][-1]["kind"] == "cancelled"
    assert agent.post(f"/tickets/{ticket_id}/cancel", {}).status == 422


def test_list_filters_and_pages_with_a_cursor(agent: TwinClient) -> None:
    ids = [agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"] for _ in range(3)]
    for ticket_id in ids:
        agent.wait_ready(ticket_id, node="answer")
    first = agent.get("/tickets?type=consult&status=open&limit=2")
    assert first.status == 200, first.body
    assert len(first.body["items"]) == 2 and first.body["next"]
    second = agent.get(f"/tickets?type=consult&status=open&limit=2&next={first.body['next']}")
    seen = [t["id"] for t in first.body["items"] + second.body["items"]]
    assert len(seen) == len(set(seen))
    assert set(ids[-2:]) <= set(seen)
    by_role = agent.get("/tickets?assignee=role:agent&limit=100").body["items"]
    assert {t["id"] for t in by_role} >= set(ids)
    assert agent.get("/tickets?next=garbage").status == 422
    assert agent.get("/tickets?limit=0").status == 422
