"""Ops on deliveries (pure logic): roles, redaction, replay, redrive of the intake DLQ."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.webhooks import delivery_ops as ops
from shared.domain.deliveries import DeadLetter, StoredDelivery, queue_message
from shared.errors import Forbidden
from shared.identity import Caller

AT = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def caller(*roles: str, tenant: str = "acme-home") -> Caller:
    return Caller(sub="u-ops", tenant=tenant, roles=frozenset(roles))


def stored(**overrides: Any) -> StoredDelivery:
    data: dict[str, Any] = {
        "tenant": "acme-home",
        "channel": "youzan-shop",
        "delivery_id": "d-1",
        "platform": "youzan",
        "topic": "TRADE_ORDER_STATE",
        "payload": {"sign": "abc", "msg": {"tid": "E1", "Token": "t"}, "items": [{"signature": "x"}]},
        "received_at": AT,
        "status": "unmatched",
        "body": b"{}",
        "headers": {"content-type": "application/json"},
    }
    return StoredDelivery(**(data | overrides))


class FakeStore:
    def __init__(self, delivery: StoredDelivery) -> None:
        self.delivery = delivery
        self.requeued: list[tuple[str, str, str]] = []

    def get(self, tenant: str, channel: str, delivery_id: str) -> StoredDelivery:
        return self.delivery

    def requeue(self, tenant: str, channel: str, delivery_id: str, at: datetime) -> StoredDelivery:
        self.requeued.append((tenant, channel, delivery_id))
        self.delivery = self.delivery.model_copy(
            update={"status": "queued", "replays": self.delivery.replays + 1, "replayed_at": at}
        )
        return self.delivery

    def page(self, tenant: str, **_: Any) -> tuple[list[StoredDelivery], dict[str, Any] | None]:
        return [self.delivery], None


class FakeQueue:
    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, message: dict[str, str]) -> None:
        self.send_body(json.dumps(message))

    def send_body(self, body: str) -> None:
        self.sent.append(body)


class FakeDeadLetters:
    """A DLQ: received messages stay hidden until deleted or released."""

    def __init__(self, bodies: list[str]) -> None:
        self.messages = {f"m{n}": body for n, body in enumerate(bodies)}
        self.hidden: set[str] = set()
        self.released: list[str] = []

    def receive(self, max_messages: int, hide_seconds: int) -> list[DeadLetter]:
        visible = [k for k in self.messages if k not in self.hidden][:max_messages]
        self.hidden.update(visible)
        return [DeadLetter(message_id=k, body=self.messages[k], handle=f"h-{k}") for k in visible]

    def delete(self, handle: str) -> None:
        message_id = handle.removeprefix("h-")
        del self.messages[message_id]
        self.hidden.discard(message_id)

    def release(self, handle: str) -> None:
        self.hidden.discard(handle.removeprefix("h-"))
        self.released.append(handle)


def test_only_dispatchers_and_admins_may_operate() -> None:
    for roles in (("agent",), ("technician",), ("finance", "supervisor"), ()):
        with pytest.raises(Forbidden):
            ops.require_ops(caller(*roles))
    ops.require_ops(caller("dispatcher"))
    ops.require_ops(caller("admin"))


def test_show_redacts_signatures_at_any_depth_and_keeps_the_rest() -> None:
    shown = ops.show(FakeStore(stored()), caller("dispatcher"), "youzan-shop", "d-1")
    assert shown.payload == {
        "sign": "[redacted]",
        "msg": {"tid": "E1", "Token": "[redacted]"},
        "items": [{"signature": "[redacted]"}],
    }
    assert shown.body_stored == "item" and shown.body_bytes == 2
    assert "abc" not in shown.model_dump_json()


def test_a_body_in_the_bucket_is_shown_by_its_key() -> None:
    delivery = stored(body=None, body_key="deliveries/acme-home/youzan-shop/00ff", body_size=102_400)
    shown = ops.detail(delivery)
    assert (shown.body_stored, shown.body_key, shown.body_bytes) == (
        "bucket",
        "deliveries/acme-home/youzan-shop/00ff",
        102_400,
    )


def test_replay_requeues_then_sends_the_intake_message() -> None:
    store, queue = FakeStore(stored(status="failed")), FakeQueue()
    replayed = ops.replay(store, queue, caller("admin"), "youzan-shop", "d-1", AT)
    assert store.requeued == [("acme-home", "youzan-shop", "d-1")]
    assert [json.loads(b) for b in queue.sent] == [queue_message("acme-home", "youzan-shop", "d-1")]
    assert (replayed.status, replayed.replays, replayed.replayed_at) == ("queued", 1, AT)


def test_replay_is_refused_to_an_agent_before_anything_moves() -> None:
    store, queue = FakeStore(stored()), FakeQueue()
    with pytest.raises(Forbidden):
        ops.replay(store, queue, caller("agent"), "youzan-shop", "d-1", AT)
    assert store.requeued == [] and queue.sent == []


def test_redrive_moves_the_tenants_messages_and_leaves_the_others() -> None:
    mine = [json.dumps(queue_message("acme-home", "shopify-main", f"wh-{n}")) for n in range(13)]
    theirs = json.dumps(queue_message("bright-clean", "crm-events", "evt-1"))
    dlq, queue = FakeDeadLetters([*mine[:5], theirs, "not json", *mine[5:]]), FakeQueue()

    result = ops.redrive(dlq, queue, caller("dispatcher"), time_left=lambda: 10.0)

    assert result == ops.RedriveOut(moved=13, left=2, complete=True)
    assert queue.sent == mine
    assert sorted(dlq.messages.values()) == sorted([theirs, "not json"])
    assert dlq.hidden == set() and len(dlq.released) == 2


def test_redrive_stops_when_time_runs_out_and_says_so() -> None:
    bodies = [json.dumps(queue_message("acme-home", "shopify-main", f"wh-{n}")) for n in range(25)]
    dlq, queue = FakeDeadLetters(bodies), FakeQueue()
    budget = iter([10.0, 10.0, 1.0])
    result = ops.redrive(dlq, queue, caller("admin"), time_left=lambda: next(budget))
    assert result == ops.RedriveOut(moved=20, left=0, complete=False)
    assert len(dlq.messages) == 5


def test_redrive_releases_what_it_left_even_when_sending_fails() -> None:
    theirs = json.dumps(queue_message("bright-clean", "crm-events", "evt-1"))
    mine = json.dumps(queue_message("acme-home", "shopify-main", "wh-1"))
    dlq = FakeDeadLetters([theirs, mine])

    class Broken(FakeQueue):
        def send_body(self, body: str) -> None:
            raise RuntimeError("queue unavailable")

    with pytest.raises(RuntimeError):
        ops.redrive(dlq, Broken(), caller("admin"), time_left=lambda: 10.0)
    assert dlq.released == ["h-m0"] and len(dlq.messages) == 2
