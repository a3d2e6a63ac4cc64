"""Opportunities (工单商机联动) end to end on the twin: acme-home's consult rule (an answer that offers
the extended warranty, 延保) opens an opportunity when the ticket closes; it is listed, won once
(a second win is a 409), counted in the pipeline report, shown on the customer's timeline, and sent
to the CRM as ``opportunity.created`` and ``opportunity.won``."""

from __future__ import annotations

import json
import random

from infra.twin.client import TwinClient
from tests.e2e.steps import eventually
from tests.e2e.test_outbox_twin import outbox


def test_a_closed_consult_that_offered_the_warranty_opens_an_opportunity_that_is_won(
    agent: TwinClient, anonymous: TwinClient
) -> None:
    supervisor = anonymous.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])
    phone = f"+86139{random.randrange(10**8):08d}"
    fields = {"customer_name": "周先生", "customer_phone": phone, "question": "保修过期了怎么办?"}
    # Given a consult answered with an offer of the extended warranty, run to closed
    created = agent.post("/tickets", {"type": "consult", "fields": fields})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    ready = agent.wait_ready(ticket_id, node="answer")
    answered = agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "建议购买延保"}, "version": ready["version"]},
    )
    assert answered.status == 200, answered.body
    closed = agent.wait_status(ticket_id, "closed")

    # Then the supervisors' open opportunities show one for the ticket
    listed = eventually(
        lambda: supervisor.get("/opportunities?status=open&owner=role:supervisor&limit=100").body["items"],
        lambda items: any(o["ticket_id"] == ticket_id for o in items),
        what=f"the opportunity of {ticket_id}",
    )
    (opp,) = [o for o in listed if o["ticket_id"] == ticket_id]
    assert (opp["kind"], opp["amount"], opp["currency"], opp["stage"]) == (
        "extended_warranty",
        "399.00",
        "CNY",
        "new",
    )
    assert opp["customer_id"] == closed["customer_id"]
    assert agent.get(f"/opportunities/{opp['id']}").body["id"] == opp["id"]  # staff see it
    # a technician neither lists nor sees it
    technician = anonymous.as_user("acme-home", "t-wang", ["technician"])
    assert technician.get(f"/opportunities/{opp['id']}").status == 404
    assert technician.get("/opportunities?owner=u-zhao").status == 403

    # When the supervisor wins it, a second win is a 409 naming why, and a loss without reason a 422
    won = supervisor.post(f"/opportunities/{opp['id']}/actions", {"action": "win", "version": opp["version"]})
    assert won.status == 200, won.body
    assert (won.body["status"], won.body["version"]) == ("won", 2)
    again = supervisor.post(f"/opportunities/{opp['id']}/actions", {"action": "win"})
    assert again.status == 409 and "won already" in again.body["message"], again.body
    bad = supervisor.post(f"/opportunities/{opp['id']}/actions", {"action": "sell"})
    assert bad.status == 422, bad.body
    assert supervisor.get("/opportunities?status=sold").status == 422

    # And the pipeline report counts it among the won
    report = supervisor.get("/reports/pipeline")
    assert report.status == 200, report.body
    won_rows = [r for r in report.body["rows"] if (r["stage"], r["kind"]) == ("won", "extended_warranty")]
    assert won_rows and won_rows[0]["count"] >= 1 and won_rows[0]["currency"] == "CNY"
    assert technician.get("/reports/pipeline").status == 403

    # Then the customer's timeline shows it opened and won
    timeline = agent.get(f"/customers/{closed['customer_id']}/timeline?limit=100").body["items"]
    assert [(e["kind"], e["ref"]) for e in timeline if e["kind"].startswith("opportunity")] == [
        ("opportunity_opened", opp["id"]),
        ("opportunity_won", opp["id"]),
    ]

    # And the CRM (acme-home's subscription covers opportunity.*) is told both, each once
    sent = eventually(
        lambda: [
            json.loads(r["body"])
            for r in outbox(anonymous)
            if json.loads(r["body"])["data"].get("opportunity_id") == opp["id"]
        ],
        lambda bodies: len(bodies) >= 2,
        what=f"the webhooks of {opp['id']}",
    )
    assert sorted(b["type"] for b in sent) == ["opportunity.created", "opportunity.won"]
    created_event = next(b for b in sent if b["type"] == "opportunity.created")
    assert created_event["data"]["ticket_id"] == ticket_id and created_event["data"]["amount"] == "399.00"
