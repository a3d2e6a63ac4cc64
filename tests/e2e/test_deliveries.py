"""Intake ops through the twin: list, show, replay deliveries, redrive the intake DLQ, big bodies in S3.

The e2e process shares moto with the twin, so a test can put a message into the DLQ or a
failed delivery into the table directly (the way an injected fault would leave them).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.domain.deliveries import INLINE_BODY_BYTES, StoredDelivery, delivery_ticket_id, queue_message
from shared.repositories.deliveries import DeliveryRepository
from shared.tenant_scope import tenant_scope
from tests.e2e.test_intake import TENANT, post_shopify, shopify_order, wait_for_ticket

CHANNEL = "shopify-main"
WAIT_SECONDS = 20.0


@pytest.fixture(scope="module")
def ops(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user(TENANT, "u-ops", ["dispatcher"])


@pytest.fixture(scope="module")
def dlq_url(twin: LocalTwin) -> str:
    return next(d.outputs["IntakeDlqUrl"] for d in twin.deployments if "IntakeDlqUrl" in d.outputs)


def path(delivery_id: str, suffix: str = "") -> str:
    return f"/deliveries/{CHANNEL}/{quote(delivery_id, safe='')}{suffix}"


def wait_until(ops: TwinClient, delivery_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        answer = ops.get(path(delivery_id))
        last = answer.body
        if answer.status == 200 and done(answer.body):
            return dict(answer.body)
        time.sleep(0.1)
    raise TimeoutError(f"delivery {delivery_id} did not get there: {last}")


def record(delivery_id: str, marker: str, status: str) -> None:
    """A delivery stored as the webhook function would, left in `status` (as a fault would leave it)."""
    with tenant_scope(TENANT):  # signed with the tenant's data-access role, as the function's are
        DeliveryRepository().record(
            StoredDelivery(
                tenant=TENANT,
                channel=CHANNEL,
                delivery_id=delivery_id,
                platform="shopify",
                topic="orders/create",
                payload=shopify_order(marker),
                received_at=datetime.now(UTC),
                status=status,
                reason="injected fault" if status == "failed" else None,
            )
        )


def test_an_unmatched_delivery_is_listed_and_shown_without_signatures(
    anonymous: TwinClient, ops: TwinClient
) -> None:
    # Given a signed Shopify order without an install line (no rule of the channel matches it)
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-unmatched-{marker}"
    body = json.dumps(shopify_order(marker, tags=["gift"])).encode()
    answer = post_shopify(anonymous, body, webhook_id)
    assert answer.status == 200, answer.body

    # When the consumer has handled it, Then it is kept as unmatched, with the reason
    shown = wait_until(ops, webhook_id, lambda d: d["status"] == "unmatched")
    assert "no rule" in shown["reason"]
    assert shown["ticket_id"] is None
    assert shown["platform"] == "shopify" and shown["topic"] == "orders/create"
    assert shown["payload"]["shipping_address"]["address1"] == f"1 Chaoyang Rd ({marker})"
    assert shown["headers"]["x-shopify-webhook-id"] == webhook_id
    assert "x-shopify-hmac-sha256" not in shown["headers"]
    # a small body (up to INLINE_BODY_BYTES) stays in the record
    assert len(body) <= INLINE_BODY_BYTES
    assert shown["body_stored"] == "item" and shown["body_bytes"] == len(body)

    # And the list of unmatched deliveries of the channel, newest first, holds it
    page = ops.get(f"/deliveries?channel={CHANNEL}&status=unmatched&limit=100")
    assert page.status == 200, page.body
    assert webhook_id in [d["delivery_id"] for d in page.body["items"]]
    assert {d["status"] for d in page.body["items"]} == {"unmatched"}
    received = [d["received_at"] for d in page.body["items"]]
    assert received == sorted(received, reverse=True)


def test_the_list_pages_with_a_tenant_bound_cursor(anonymous: TwinClient, ops: TwinClient) -> None:
    for _ in range(3):
        marker = uuid.uuid4().hex[:8]
        post_shopify(
            anonymous, json.dumps(shopify_order(marker, tags=["gift"])).encode(), f"wh-page-{marker}"
        )
    first = ops.get("/deliveries?limit=2")
    assert first.status == 200, first.body
    assert len(first.body["items"]) == 2 and first.body["next"]
    second = ops.get(f"/deliveries?limit=2&next={first.body['next']}")
    assert second.status == 200, second.body
    seen = {(d["channel"], d["delivery_id"]) for d in first.body["items"]}
    assert not seen & {(d["channel"], d["delivery_id"]) for d in second.body["items"]}

    # A cursor is bound to its tenant: another tenant's dispatcher cannot use it
    other = anonymous.as_user("bright-clean", "u-jonas", ["dispatcher"])
    refused = other.get(f"/deliveries?limit=2&next={first.body['next']}")
    assert refused.status == 422, refused.body
    assert refused.body["details"][0]["field"] == "next"
    # and sees none of this tenant's deliveries
    assert not [d for d in other.get("/deliveries?limit=100").body["items"] if d["channel"] == CHANNEL]


def test_replaying_an_unmatched_delivery_runs_it_again(anonymous: TwinClient, ops: TwinClient) -> None:
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-replay-{marker}"
    post_shopify(anonymous, json.dumps(shopify_order(marker, tags=["gift"])).encode(), webhook_id)
    wait_until(ops, webhook_id, lambda d: d["status"] == "unmatched")

    replayed = ops.post(path(webhook_id, "/replay"))
    assert replayed.status == 202, replayed.body
    assert replayed.body["status"] == "queued" and replayed.body["replays"] == 1

    again = wait_until(ops, webhook_id, lambda d: d["status"] == "unmatched")
    assert again["replays"] == 1 and again["replayed_at"]


def test_replaying_a_failed_delivery_creates_its_ticket_once(ops: TwinClient, agent: TwinClient) -> None:
    # Given a matching delivery whose processing failed (left `failed` by a fault)
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-failed-{marker}"
    record(webhook_id, marker, "failed")
    assert ops.get("/deliveries?status=failed&limit=100").body["items"]

    # When ops replay it, Then it becomes its ticket
    replayed = ops.post(path(webhook_id, "/replay"))
    assert replayed.status == 202, replayed.body
    ticket_id = delivery_ticket_id(TENANT, CHANNEL, webhook_id)
    ticket = wait_for_ticket(agent, ticket_id)
    assert ticket["fields"]["address"] == f"1 Chaoyang Rd ({marker})"
    done = wait_until(ops, webhook_id, lambda d: d["status"] == "ticket_created")
    assert done["ticket_id"] == ticket_id

    # And replaying it again is refused: its ticket exists
    refused = ops.post(path(webhook_id, "/replay"))
    assert refused.status == 409, refused.body
    assert ticket_id in refused.body["message"]
    assert ops.post(path("wh-never-seen", "/replay")).status == 404


def test_a_message_in_the_dlq_is_redriven_and_processed(
    anonymous: TwinClient, ops: TwinClient, agent: TwinClient, dlq_url: str
) -> None:
    # Given a recorded delivery whose queue message ended in the DLQ, and another tenant's message there
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-dlq-{marker}"
    record(webhook_id, marker, "queued")
    sqs = boto3.client("sqs", region_name="us-east-1")
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(queue_message(TENANT, CHANNEL, webhook_id)))
    other = queue_message("bright-clean", "crm-events", f"evt-{marker}")
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps(other))

    # When ops redrive the DLQ
    answer = ops.post("/deliveries/redrive")

    # Then this tenant's message is moved (and becomes its ticket); the other tenant's stays
    assert answer.status == 200, answer.body
    assert answer.body["moved"] >= 1 and answer.body["left"] >= 1 and answer.body["complete"] is True
    ticket_id = delivery_ticket_id(TENANT, CHANNEL, webhook_id)
    assert wait_for_ticket(agent, ticket_id)["id"] == ticket_id
    assert wait_until(ops, webhook_id, lambda d: d["status"] == "ticket_created")["ticket_id"] == ticket_id
    bodies = _dlq_bodies(sqs, dlq_url)
    assert json.dumps(other) in bodies and not [b for b in bodies if webhook_id in b]

    # And that tenant's dispatcher moves its own (its consumer finds no such delivery: nothing to do)
    theirs = anonymous.as_user("bright-clean", "u-jonas", ["dispatcher"]).post("/deliveries/redrive")
    assert theirs.status == 200 and theirs.body["moved"] >= 1, theirs.body


def _dlq_bodies(sqs: Any, url: str) -> list[str]:
    answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    return [m["Body"] for m in answer.get("Messages", [])]


def test_a_100_kib_shopify_body_goes_to_s3_and_still_becomes_a_ticket(
    anonymous: TwinClient, ops: TwinClient, agent: TwinClient, twin: LocalTwin
) -> None:
    # Given a signed Shopify order of 100 KiB (a long note)
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-big-{marker}"
    order = shopify_order(marker)
    order["note"] = ""
    filler = 100 * 1024 - len(json.dumps(order).encode())
    order["note"] = "n" * filler
    body = json.dumps(order).encode()
    assert len(body) == 100 * 1024

    # When Shopify delivers it, Then it is accepted and becomes its install ticket
    answer = post_shopify(anonymous, body, webhook_id)
    assert answer.status == 200, answer.body
    ticket_id = delivery_ticket_id(TENANT, CHANNEL, webhook_id)
    assert wait_for_ticket(agent, ticket_id)["fields"]["address"] == f"1 Chaoyang Rd ({marker})"

    # And its raw body is kept in the deliveries bucket, the record naming the object
    shown = wait_until(ops, webhook_id, lambda d: d["status"] == "ticket_created")
    assert shown["body_stored"] == "bucket" and shown["body_bytes"] == len(body)
    assert shown["body_key"].startswith(f"deliveries/{TENANT}/{CHANNEL}/")
    bucket = twin.lambdas.functions["scrm-webhooks-api"].environment["DELIVERY_BODIES_BUCKET"]
    stored = boto3.client("s3", region_name="us-east-1").get_object(Bucket=bucket, Key=shown["body_key"])
    assert stored["Body"].read() == body


def test_only_dispatchers_and_admins_reach_deliveries(anonymous: TwinClient, agent: TwinClient) -> None:
    technician = anonymous.as_user(TENANT, "t-wang", ["technician"])
    admin = anonymous.as_user(TENANT, "u-admin", ["admin"])
    for client in (agent, technician):
        for method, route in (
            ("GET", "/deliveries"),
            ("GET", path("wh-x")),
            ("POST", path("wh-x", "/replay")),
            ("POST", "/deliveries/redrive"),
        ):
            answer = client.request(method, route)
            assert answer.status == 403, (method, route, answer.body)
            assert answer.body["error"] == "forbidden"
    assert anonymous.get("/deliveries").status == 401
    assert admin.get("/deliveries?limit=1").status == 200
    assert admin.get("/deliveries?status=nonsense").status == 422


def test_scrm_deliveries_list_show_replay_redrive(
    anonymous: TwinClient, ops: TwinClient, twin: LocalTwin, capsys: pytest.CaptureFixture[str]
) -> None:
    from infra.cli import main

    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-cli-{marker}"
    post_shopify(anonymous, json.dumps(shopify_order(marker, tags=["gift"])).encode(), webhook_id)
    wait_until(ops, webhook_id, lambda d: d["status"] == "unmatched")
    auth = ["--url", twin.url, "--token", str(ops.token), "--tenant", TENANT]

    # list: a readable table, newest first
    assert main(["deliveries", "list", *auth, "--channel", CHANNEL, "--status", "unmatched"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["RECEIVED", "CHANNEL", "DELIVERY", "TOPIC", "STATUS", "TICKET", "REASON"]
    assert any(webhook_id in line and "unmatched" in line for line in table[1:])

    # show --json: the API's answer, without signature headers
    assert main(["deliveries", "show", *auth, CHANNEL, webhook_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["delivery_id"] == webhook_id and "x-shopify-hmac-sha256" not in shown["headers"]
    assert main(["deliveries", "show", *auth, CHANNEL, webhook_id]) == 0
    assert "payload:" in capsys.readouterr().out

    # replay, then redrive (nothing of this tenant's in the DLQ: moves 0)
    assert main(["deliveries", "replay", *auth, CHANNEL, webhook_id]) == 0
    assert f"replayed {CHANNEL}/{webhook_id}: status queued, replays 1" in capsys.readouterr().out
    assert main(["deliveries", "redrive", *auth, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["complete"] is True

    # errors: the API's message, exit 1
    assert main(["deliveries", "show", *auth, CHANNEL, "wh-never-seen"]) == 1
    assert "HTTP 404" in capsys.readouterr().err


@pytest.mark.parametrize("delivery_id", ["x" * 3000, "含 空格/和斜杠", "%ZZ", "wh-" + "é" * 600, "\u0000"])
def test_odd_delivery_ids_are_404_never_5xx(ops: TwinClient, delivery_id: str) -> None:
    for method, suffix in (("GET", ""), ("POST", "/replay")):
        answer = ops.request(method, path(delivery_id, suffix))
        assert answer.status == 404, (method, delivery_id[:20], answer.body)


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=101", "limit=x", "next=garbage", "status=done", "channel="]
)
def test_bad_list_queries_are_422(ops: TwinClient, query: str) -> None:
    answer = ops.get(f"/deliveries?{query}")
    assert answer.status == 422, (query, answer.body)
    assert answer.body["error"] == "validation_failed"
