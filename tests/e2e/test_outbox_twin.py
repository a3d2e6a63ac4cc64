"""Domain events out, end to end on the twin: a ticket run to closed reaches the tenant's CRM as
signed webhooks (captured in ``GET /_local/outbox``), each event once; a 500 is retried with the
same webhook-id until it is delivered; a 410 is dead-lettered at once with its reason."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import yaml
from standardwebhooks import Webhook

from infra.twin.client import TwinClient
from infra.twin.deploy import REGION
from infra.twin.twin import LocalTwin
from tests.conftest import EXAMPLES
from tests.e2e.steps import eventually

CRM = "https://crm.acme-home.example/hooks/scrm"
CONSULT = {"customer_name": "周先生", "customer_phone": "+8613900000001", "question": "能装在阳台吗?"}


def crm_secret() -> str:
    secrets = yaml.safe_load((EXAMPLES / "acme-home.secrets.yaml").read_text(encoding="utf-8"))
    return str(secrets["/scrm/acme-home/subscriptions/crm"])


def outbox(client: TwinClient) -> list[dict[str, Any]]:
    answer = client.get("/_local/outbox?tenant=acme-home")
    assert answer.status == 200, answer.body
    return list(answer.body["requests"])


def of_ticket(requests: list[dict[str, Any]], ticket_id: str) -> list[dict[str, Any]]:
    return [r for r in requests if json.loads(r["body"])["data"].get("ticket_id") == ticket_id]


def consult_to_closed(agent: TwinClient) -> str:
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201, created.body
    ticket_id = str(created.body["id"])
    ready = agent.wait_ready(ticket_id, node="answer")
    acted = agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "可以"}, "version": ready["version"]},
    )
    assert acted.status == 200, acted.body
    agent.wait_status(ticket_id, "closed")
    return ticket_id


def test_a_ticket_run_to_closed_reaches_the_crm_signed_each_event_once(
    agent: TwinClient, anonymous: TwinClient
) -> None:
    # Given acme-home's subscription "crm" (ticket.*), when a consult ticket runs to closed
    ticket_id = consult_to_closed(agent)
    # Then the outbox shows its created, moved and closed events, in that order of versions
    sent = eventually(
        lambda: of_ticket(outbox(anonymous), ticket_id),
        lambda found: len({json.loads(r["body"])["type"] for r in found}) >= 3,
        what=f"the webhooks of {ticket_id}",
    )
    bodies = [json.loads(r["body"]) for r in sent]
    by_version = sorted(bodies, key=lambda b: b["data"]["ticket_version"])
    assert [b["type"] for b in by_version] == ["ticket.created", "ticket.moved", "ticket.closed"]
    assert by_version[1]["data"]["from_node"] == "answer" and by_version[1]["data"]["to_node"] == "done"
    # each once (one attempt, answered 200), to the subscription's URL
    assert Counter(r["headers"]["webhook-id"] for r in sent) == Counter({b["id"]: 1 for b in bodies})
    assert {(r["url"], r["status"]) for r in sent} == {(CRM, 200)}
    # and each verifies with the subscription's secret, as the CRM would check it
    for request, body in zip(sent, bodies, strict=True):
        assert Webhook(crm_secret()).verify(request["body"], request["headers"]) == body
        assert request["headers"]["webhook-id"] == body["id"]


def test_a_500_is_retried_with_the_same_webhook_id_until_delivered(
    agent: TwinClient, anonymous: TwinClient
) -> None:
    # Given the CRM answers its next request with 500
    told = anonymous.post("/_local/outbox/answers", {"url": CRM, "statuses": [500]})
    assert told.status == 200, told.body
    before = len(outbox(anonymous))
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201
    # Then the event that got the 500 is sent again, with the same id and body, and answered 200
    failed = eventually(
        lambda: [r for r in outbox(anonymous)[before:] if r["status"] == 500],
        lambda found: len(found) == 1,
        what="the request answered 500",
    )[0]
    attempts = eventually(
        lambda: [
            r for r in outbox(anonymous) if r["headers"]["webhook-id"] == failed["headers"]["webhook-id"]
        ],
        lambda found: any(r["status"] == 200 for r in found),
        what="its retry",
    )
    assert [r["status"] for r in attempts] == [500, 200]
    assert attempts[0]["body"] == attempts[1]["body"]
    for attempt in attempts:  # every attempt is signed afresh, and verifies
        Webhook(crm_secret()).verify(attempt["body"], attempt["headers"])


def test_a_410_is_dead_lettered_at_once_with_its_reason(
    twin: LocalTwin, agent: TwinClient, anonymous: TwinClient
) -> None:
    # Given the CRM answers its next request with 410 Gone
    assert anonymous.post("/_local/outbox/answers", {"url": CRM, "statuses": [410]}).status == 200
    before = len(outbox(anonymous))
    assert agent.post("/tickets", {"type": "consult", "fields": CONSULT}).status == 201
    refused = eventually(
        lambda: [r for r in outbox(anonymous)[before:] if r["status"] == 410],
        lambda found: len(found) == 1,
        what="the request answered 410",
    )[0]
    # Then it is in the outbound webhooks' dead-letter queue with the reason, and not sent again
    dlq = next(d.outputs["WebhooksDlqUrl"] for d in twin.deployments if "WebhooksDlqUrl" in d.outputs)
    sqs: Any = boto3.client("sqs", region_name=REGION)
    messages = eventually(
        lambda: sqs.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"], MaxNumberOfMessages=10).get(
            "Messages", []
        ),
        lambda found: bool(found),
        what="the dead letter",
    )
    (message,) = messages
    assert "answered 410" in message["MessageAttributes"]["reason"]["StringValue"]
    assert json.loads(message["Body"])["event"]["id"] == refused["headers"]["webhook-id"]
    sqs.delete_message(QueueUrl=dlq, ReceiptHandle=message["ReceiptHandle"])
    again = [r for r in outbox(anonymous) if r["headers"]["webhook-id"] == refused["headers"]["webhook-id"]]
    assert [r["status"] for r in again] == [410]
