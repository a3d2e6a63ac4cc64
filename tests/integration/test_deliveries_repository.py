"""DeliveryRepository on moto: big bodies in S3, conditional replay, filtered pages with cursors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from functions.webhooks.accept import accept
from shared.adapters.bodies import S3BodyStore
from shared.domain.deliveries import INLINE_BODY_BYTES, StoredDelivery
from shared.errors import Conflict, NotFound
from shared.ports import BodyStore
from shared.repositories.deliveries import DELIVERY_INDEX, DELIVERY_LIST_SHARDS, DeliveryRepository
from shared.settings import settings

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
BUCKET = "scrm-delivery-bodies-test"


@pytest.fixture
def bucket(aws: None) -> S3BodyStore:
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
    return S3BodyStore(BUCKET)


def delivery(delivery_id: str = "wh-1", **overrides: Any) -> StoredDelivery:
    data: dict[str, Any] = {
        "tenant": "acme-home",
        "channel": "shopify-main",
        "delivery_id": delivery_id,
        "platform": "shopify",
        "topic": "orders/create",
        "payload": {"id": 1},
        "received_at": T0,
        "body": b'{"id": 1}',
    }
    return StoredDelivery(**(data | overrides))


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []

    def send(self, message: dict[str, str]) -> None:
        self.sent.append(message)

    def send_body(self, body: str) -> None:
        raise NotImplementedError


def accepted(repo: DeliveryRepository, bodies: BodyStore | None, stored: StoredDelivery) -> bool:
    """`stored` accepted as the webhook function accepts a delivery: recorded, its big body to the bucket."""
    return accept(
        repo,
        Queue(),
        tenant=stored.tenant,
        channel=stored.channel,
        platform=stored.platform,
        delivery=stored,
        delivery_id=stored.delivery_id,
        body=stored.body or b"",
        headers=stored.headers,
        received_at=stored.received_at,
        bodies=bodies,
    )


def s3_object(key: str) -> bytes:
    return bytes(
        boto3.client("s3", region_name="us-east-1").get_object(Bucket=BUCKET, Key=key)["Body"].read()
    )


def test_a_body_over_the_inline_size_goes_to_the_bucket_and_the_record_keeps_it(bucket: S3BodyStore) -> None:
    repo = DeliveryRepository()
    big = b"x" * (INLINE_BODY_BYTES + 1)
    assert accepted(repo, bucket, delivery("wh-big", body=big))
    got = repo.get("acme-home", "shopify-main", "wh-big")
    assert got.body is None and got.body_size == len(big) and got.body_stored == "bucket"
    assert got.body_key is not None and got.body_key.startswith("deliveries/acme-home/shopify-main/")
    assert s3_object(got.body_key) == big
    assert got.payload == {"id": 1}

    # a body of exactly INLINE_BODY_BYTES stays in the item
    edge = b"y" * INLINE_BODY_BYTES
    assert accepted(repo, bucket, delivery("wh-edge", body=edge))
    kept = repo.get("acme-home", "shopify-main", "wh-edge")
    assert (kept.body, kept.body_key, kept.body_stored) == (edge, None, "item")


def test_a_duplicate_never_overwrites_the_first_body(bucket: S3BodyStore) -> None:
    repo = DeliveryRepository()
    first, second = b"a" * (INLINE_BODY_BYTES + 10), b"b" * (INLINE_BODY_BYTES + 10)
    assert accepted(repo, bucket, delivery("wh-dup", body=first))
    assert not accepted(repo, bucket, delivery("wh-dup", body=second))
    key = repo.get("acme-home", "shopify-main", "wh-dup").body_key
    assert key is not None and s3_object(key) == first


def test_a_failed_upload_forgets_the_record_so_the_retry_is_recorded(aws: None) -> None:
    class Broken:
        def put(self, key: str, body: bytes) -> None:
            raise RuntimeError("S3 unavailable")

    big = delivery("wh-retry", body=b"z" * (INLINE_BODY_BYTES + 1))
    with pytest.raises(RuntimeError):
        accepted(DeliveryRepository(), Broken(), big)
    assert DeliveryRepository().find("acme-home", "shopify-main", "wh-retry") is None
    assert DeliveryRepository().record(big)  # without a bucket the body stays in the item


def test_requeue_is_conditional_on_a_replayable_status(aws: None) -> None:
    repo = DeliveryRepository()
    for n, status in enumerate(("failed", "unmatched", "queued")):
        repo.record(delivery(f"wh-{status}", status=status, reason="why", received_at=T0 + timedelta(n)))
        again = repo.requeue("acme-home", "shopify-main", f"wh-{status}", T0 + timedelta(hours=1))
        assert (again.status, again.reason, again.replays) == ("queued", None, 1)
        assert again.replayed_at == T0 + timedelta(hours=1)
    twice = repo.requeue("acme-home", "shopify-main", "wh-failed", T0 + timedelta(hours=2))
    assert twice.replays == 2

    repo.record(delivery("wh-done"))
    repo.mark("acme-home", "shopify-main", "wh-done", "ticket_created", ticket_id="TK-1")
    with pytest.raises(Conflict) as refused:
        repo.requeue("acme-home", "shopify-main", "wh-done", T0)
    assert "TK-1" in refused.value.message
    assert repo.get("acme-home", "shopify-main", "wh-done").status == "ticket_created"
    with pytest.raises(NotFound):
        repo.requeue("acme-home", "shopify-main", "wh-missing", T0)


def test_pages_are_newest_first_filtered_and_continue_from_their_cursor(aws: None) -> None:
    repo = DeliveryRepository()
    for n in range(7):
        channel = "shopify-main" if n % 2 == 0 else "woo-main"
        status = "unmatched" if n % 3 == 0 else "queued"
        repo.record(delivery(f"d-{n}", channel=channel, status=status, received_at=T0 + timedelta(minutes=n)))
    repo.record(delivery("other", tenant="bright-clean"))

    everything, end = repo.page("acme-home", limit=50)
    assert [d.delivery_id for d in everything] == [f"d-{n}" for n in range(6, -1, -1)] and end is None

    first, cursor = repo.page("acme-home", channel="shopify-main", limit=2)
    assert [d.delivery_id for d in first] == ["d-6", "d-4"] and cursor is not None
    rest, end = repo.page("acme-home", channel="shopify-main", limit=2, start_key=cursor)
    assert [d.delivery_id for d in rest] == ["d-2", "d-0"]
    last, end = repo.page("acme-home", channel="shopify-main", limit=2, start_key=end) if end else ([], None)
    assert last == [] and end is None

    unmatched, _ = repo.page("acme-home", status="unmatched", limit=50)
    assert [d.delivery_id for d in unmatched] == ["d-6", "d-3", "d-0"]
    both, _ = repo.page("acme-home", channel="woo-main", status="unmatched", limit=50)
    assert [d.delivery_id for d in both] == ["d-3"]


def test_the_list_index_carries_no_body_or_payload_and_spreads_over_shards(bucket: S3BodyStore) -> None:
    # Given deliveries with an inline body, a body in the bucket, and a big payload
    repo = DeliveryRepository()
    for n in range(12):
        repo.record(delivery(f"d-{n}", body=b"{" + b"x" * 2000 + b"}", received_at=T0 + timedelta(minutes=n)))
    assert accepted(repo, bucket, delivery("big", body=b"z" * (INLINE_BODY_BYTES + 1), received_at=T0))
    # Then the index entries hold the list's columns only: no raw body, payload or headers
    client = boto3.client("dynamodb", region_name="us-east-1")
    entries = [
        item
        for shard in range(DELIVERY_LIST_SHARDS)
        for item in client.query(
            TableName=settings().table_name,
            IndexName=DELIVERY_INDEX,
            KeyConditionExpression="gsi4pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"TENANT#acme-home#DELIVERIES#{shard}"}},
        )["Items"]
    ]
    assert len(entries) == 13
    assert all(not {"body", "payload", "headers"} & set(entry) for entry in entries)
    assert all(len(json.dumps(entry)) < 1000 for entry in entries)  # ~1 WRU an entry write, whatever the body
    # And they spread over the list's shards (no single partition key takes every delivery)
    assert len({entry["gsi4pk"]["S"] for entry in entries}) > 1
    # And a page still says where each body is kept, newest first
    listed, _ = repo.page("acme-home", limit=50)
    stored = {d.delivery_id: d.body_stored for d in listed}
    assert stored["big"] == "bucket" and {stored[f"d-{n}"] for n in range(12)} == {"item"}
    assert [d.delivery_id for d in listed][:3] == ["d-11", "d-10", "d-9"]
