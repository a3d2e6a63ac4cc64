"""Intake rules and mappings on the example channels, accepting deliveries, and the intake consumer.

Payloads follow what the platforms send (trimmed to the parts the rules read). The Youzan
delivery goes through the real adapter so `msg` arrives decoded, as the consumer sees it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import pytest

from functions.ticket import from_delivery as consumer
from functions.ticket import service
from functions.webhooks import accept as intake
from functions.webhooks.adapters import youzan
from functions.webhooks.platforms import Delivery, verify
from shared.domain import deliveries as domain
from shared.domain.deliveries import StoredDelivery, kept_headers
from shared.errors import Unavailable, ValidationFailed
from shared.tenant import load_tenant_file
from shared.tenant.models import ChannelRule, TenantConfig
from tests.fakes import FakeEngine, FakeTickets

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def acme(example_tenant_files: list[str]) -> TenantConfig:
    return load_tenant_file(next(f for f in example_tenant_files if f.endswith("acme-home.yaml")))


def channel_of(cfg: TenantConfig, channel_id: str) -> Any:
    return next(c for c in cfg.channels if c.id == channel_id)


# --------------------------------------------------------------------------- payload builders


def shopify_order(*, tags: Any = ("install",), province: str = "CN-BJ", **overrides: Any) -> dict[str, Any]:
    """A Shopify `orders/create` body; `tags` of the first line item (None leaves the key out)."""
    line: dict[str, Any] = {"id": 466157049, "title": "AC-35 split unit", "quantity": 1, "sku": "AC-35"}
    if tags is not None:
        line["tags"] = list(tags) if isinstance(tags, tuple | list) else tags
    order: dict[str, Any] = {
        "id": 820982911946154508,
        "name": "#1001",
        "email": "lin@example.com",
        "currency": "CNY",
        "total_price": "3999.00",
        "customer": {"id": 115310627314723954, "first_name": "Lin", "last_name": "Wei"},
        "shipping_address": {
            "first_name": "Lin",
            "last_name": "Wei",
            "address1": "1 Chaoyang Rd",
            "city": "Beijing",
            "province_code": province,
            "country_code": "CN",
            "phone": "+8613800000001",
        },
        "line_items": [line, {"id": 518995019, "title": "Remote", "quantity": 1, "tags": []}],
    }
    return {**order, **overrides}


def woo_order(**overrides: Any) -> dict[str, Any]:
    order = {
        "id": 727,
        "status": "processing",
        "currency": "CNY",
        "billing": {
            "first_name": "Zhang",
            "last_name": "San",
            "phone": "+8613900000002",
            "email": "z@ex.com",
        },
        "shipping": {"first_name": "Zhang", "address_1": "8 Tianfu Ave", "city": "Chengdu", "state": "CN-CD"},
        "line_items": [{"id": 315, "name": "AC-26", "quantity": 1}],
    }
    return {**order, **overrides}


def youzan_legacy_body(*, status: str = "WAIT_SELLER_SEND_GOODS", **msg_overrides: Any) -> dict[str, Any]:
    msg = {
        "tid": "E20261123000001",
        "status": status,
        "receiver_name": "王五",
        "receiver_tel": "+8613700000003",
        "receiver_address": "上海市浦东新区世纪大道100号",
        "region_code": "CN-SH",
        **msg_overrides,
    }
    encoded = quote(json.dumps(msg, ensure_ascii=False))
    return {
        "client_id": "yz-client-demo",
        "type": "TRADE_ORDER_STATE",
        "status": status,
        "msg": encoded,
        "sign": youzan.legacy_sign("yz-client-demo", encoded, "csec_demo"),
        "mode": 1,
        "test": False,
        "send_count": 0,
        "kdt_id": 1001,
    }


def youzan_delivery(acme: TenantConfig, body: dict[str, Any]) -> Delivery:
    return verify(
        "youzan",
        secrets={"secret": "csec_demo"},
        channel=channel_of(acme, "youzan-shop"),
        method="POST",
        headers={"content-type": "application/json"},
        query={},
        body=json.dumps(body).encode(),
        now=NOW,
    )


def partner_event(**data: Any) -> dict[str, Any]:
    body = {"name": "赵六", "phone": "+8613600000004", "address": "绵阳市涪城区1号", "region": "CN-MY"}
    return {"type": "work_order.requested", "timestamp": "2026-11-23T01:00:00Z", "data": {**body, **data}}


def delivery(topic: str | None, payload: dict[str, Any], delivery_id: str = "d-1") -> Delivery:
    return Delivery(delivery_id=delivery_id, topic=topic, payload=payload)


def mapped(channel: Any, found: Delivery, ticket_type: str | None = None) -> dict[str, Any]:
    """What the channel's rule maps from `found`, which must match a rule (of `ticket_type`, if given)."""
    rule = domain.match_rule(channel, found)
    assert rule is not None
    if ticket_type is not None:
        assert rule.ticket_type == ticket_type
    return domain.map_fields(rule, found.payload)


def install_fields(name: str, phone: str, address: str, region: str) -> dict[str, str]:
    """The four customer and place fields of an acme-home install ticket (what its rules map)."""
    return {"customer_name": name, "customer_phone": phone, "address": address, "region": region}


# --------------------------------------------------------------------------- rules


def test_shopify_order_with_an_install_line_matches_and_maps(acme: TenantConfig) -> None:
    shopify = channel_of(acme, "shopify-main")
    assert mapped(shopify, delivery("orders/create", shopify_order()), "install") == install_fields(
        "Lin Wei", "+8613800000001", "1 Chaoyang Rd", "CN-BJ"
    )


@pytest.mark.parametrize(
    ("topic", "payload"),
    [
        ("orders/create", shopify_order(tags=())),  # no install tag
        ("orders/create", shopify_order(tags=None)),  # line items without tags
        ("orders/updated", shopify_order()),  # another topic
        (None, shopify_order()),
        ("orders/create", shopify_order(line_items=None)),  # length(null): cannot evaluate
    ],
)
def test_shopify_orders_without_an_install_line_or_of_another_topic_do_not_match(
    acme: TenantConfig, topic: str | None, payload: dict[str, Any]
) -> None:
    assert domain.match_rule(channel_of(acme, "shopify-main"), delivery(topic, payload)) is None


def test_shopify_tags_as_a_comma_separated_string_also_match(acme: TenantConfig) -> None:
    # `contains` on a string is a substring test, so Shopify's "install, wall-mount" works too
    payload = shopify_order(tags="install, wall-mount")
    assert domain.match_rule(channel_of(acme, "shopify-main"), delivery("orders/create", payload))


def test_woocommerce_order_created_maps_billing_and_shipping(acme: TenantConfig) -> None:
    woo = channel_of(acme, "woo-main")
    assert mapped(woo, delivery("order.created", woo_order()), "install") == install_fields(
        "Zhang", "+8613900000002", "8 Tianfu Ave", "CN-CD"
    )
    assert domain.match_rule(woo, delivery("order.updated", woo_order())) is None


def test_youzan_trade_state_matches_on_body_type_and_status_and_reads_the_decoded_msg(
    acme: TenantConfig,
) -> None:
    yz = channel_of(acme, "youzan-shop")
    waiting = youzan_delivery(acme, youzan_legacy_body())
    assert mapped(yz, waiting) == install_fields(
        "王五", "+8613700000003", "上海市浦东新区世纪大道100号", "CN-SH"
    )
    paid = youzan_delivery(acme, youzan_legacy_body(status="TRADE_PAID"))
    assert domain.match_rule(yz, paid) is None


def test_wecom_rule_without_conditions_matches_every_message(acme: TenantConfig) -> None:
    wecom = channel_of(acme, "wecom-service")
    message = {"FromUserName": "wm-lin", "MsgType": "text", "Content": "空调漏水怎么办?"}
    assert mapped(wecom, delivery("text", message), "consult") == {  # no number typed: left out
        "customer_name": "wm-lin",
        "question": "空调漏水怎么办?",
    }
    message["Content"] = "空调漏水, 电话 138-0000-0009"
    assert mapped(wecom, delivery("text", message), "consult")["customer_phone"] == "+8613800000009"


def test_standard_webhooks_type_compares_with_the_body(acme: TenantConfig) -> None:
    partner = channel_of(acme, "partner-api")
    assert mapped(partner, delivery(None, partner_event()))["region"] == "CN-MY"
    other = {**partner_event(), "type": "work_order.cancelled"}
    assert domain.match_rule(partner, delivery(None, other)) is None


def test_web_forms_have_no_rules(acme: TenantConfig) -> None:
    assert domain.match_rule(channel_of(acme, "web-repair"), delivery(None, {"a": 1})) is None


def test_first_matching_rule_wins_and_scalars_compare_as_json_text() -> None:
    @dataclass
    class Channel:
        rules: list[ChannelRule] = field(default_factory=list)

    channel = Channel(
        [
            ChannelRule(when={"priority": "1", "urgent": "true"}, ticket_type="urgent"),
            ChannelRule(when={"match": "items"}, ticket_type="with-items"),
            ChannelRule(when={}, ticket_type="anything"),
        ]
    )
    assert domain.match_rule(channel, delivery(None, {"priority": 1, "urgent": True})).ticket_type == "urgent"  # type: ignore[union-attr]
    assert domain.match_rule(channel, delivery(None, {"items": [1]})).ticket_type == "with-items"  # type: ignore[union-attr]
    # JMESPath truthiness: an empty list is false, 0 is true
    assert domain.match_rule(channel, delivery(None, {"items": []})).ticket_type == "anything"  # type: ignore[union-attr]
    assert domain.truthy(0) and not domain.truthy({}) and not domain.truthy("")


def test_null_mappings_are_left_out_and_failing_ones_name_the_field() -> None:
    rule = ChannelRule(
        ticket_type="install",
        fields={"customer_name": "customer.name", "address": "missing.path", "region": "abs(customer.name)"},
    )
    with pytest.raises(ValidationFailed) as failed:
        domain.map_fields(rule, {"customer": {"name": "Lin"}})
    assert [d["field"] for d in failed.value.details] == ["region"]
    ok = ChannelRule(ticket_type="install", fields={"customer_name": "customer.name", "address": "nope"})
    assert domain.map_fields(ok, {"customer": {"name": "Lin"}}) == {"customer_name": "Lin"}


def test_expressions_are_compiled_once() -> None:
    domain.compiled.cache_clear()
    for _ in range(3):
        domain.compiled("a.b")
    info = domain.compiled.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_ticket_ids_are_stable_per_delivery_and_distinct_across_channels_and_kinds() -> None:
    first = domain.delivery_ticket_id("acme-home", "shopify-main", "d-1")
    assert first == domain.delivery_ticket_id("acme-home", "shopify-main", "d-1")
    assert first.startswith("TK-") and len(first) == 19
    assert first != domain.delivery_ticket_id("acme-home", "woo-main", "d-1")
    assert intake.form_delivery_id("key-1") == intake.form_delivery_id("key-1") == "form:key-1"
    assert intake.form_delivery_id(None) != intake.form_delivery_id(None)


def test_a_web_form_asks_for_its_channels_ticket_type_with_the_posted_fields(acme: TenantConfig) -> None:
    form = {"customer_name": "陈女士", "region": "CN-CD"}
    assert domain.ticket_request(channel_of(acme, "web-repair"), delivery(None, form)) == ("install", form)
    assert domain.ticket_request(channel_of(acme, "shopify-main"), delivery("orders/create", {})) is None


# --------------------------------------------------------------------------- accepting deliveries


class FakeDeliveries:
    """Keeps the repository's contract: record once, get, mark, discard."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str, str], StoredDelivery] = {}

    def record(self, stored: StoredDelivery) -> bool:
        key = (stored.tenant, stored.channel, stored.delivery_id)
        if key in self.items:
            return False
        self.items[key] = stored
        return True

    def discard(self, tenant: str, channel: str, delivery_id: str) -> None:
        self.items.pop((tenant, channel, delivery_id), None)

    def find(self, tenant: str, channel: str, delivery_id: str) -> StoredDelivery | None:
        return self.items.get((tenant, channel, delivery_id))

    def mark(
        self,
        tenant: str,
        channel: str,
        delivery_id: str,
        status: Any,
        ticket_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        key = (tenant, channel, delivery_id)
        self.items[key] = self.items[key].model_copy(
            update={"status": status, "ticket_id": ticket_id, "reason": reason}
        )


class FakeQueue:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail = fail

    def send(self, message: dict[str, str]) -> None:
        if self.fail:
            raise ConnectionError("queue unavailable")
        self.sent.append(message)


def accept(
    store: FakeDeliveries, queue: FakeQueue, verified: Delivery, channel: str = "shopify-main"
) -> bool:
    return intake.accept(
        store,
        queue,
        tenant="acme-home",
        channel=channel,
        platform="shopify",
        delivery=verified,
        delivery_id=verified.delivery_id,
        body=json.dumps(verified.payload).encode(),
        headers={"X-Shopify-Topic": "orders/create", "X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl"},
        received_at=NOW,
    )


def test_a_delivery_is_recorded_and_queued_once() -> None:
    store, queue = FakeDeliveries(), FakeQueue()
    verified = delivery("orders/create", shopify_order(), "wh-1")
    assert accept(store, queue, verified) is True
    assert accept(store, queue, verified) is False  # the platform's retry
    assert queue.sent == [{"tenant": "acme-home", "channel": "shopify-main", "delivery_id": "wh-1"}]
    stored = store.items[("acme-home", "shopify-main", "wh-1")]
    assert stored.status == "queued" and stored.payload == shopify_order()
    assert stored.headers == {"x-shopify-topic": "orders/create"}  # never the signature


def test_a_delivery_that_cannot_be_queued_is_forgotten_so_the_retry_is_queued() -> None:
    store = FakeDeliveries()
    verified = delivery("orders/create", shopify_order(), "wh-2")
    with pytest.raises(ConnectionError):
        accept(store, FakeQueue(fail=True), verified)
    assert store.items == {}
    queue = FakeQueue()
    assert accept(store, queue, verified) is True
    assert len(queue.sent) == 1


def test_kept_headers_drop_signatures_and_tokens() -> None:
    headers = {
        "X-WC-Webhook-Signature": "sig",
        "X-WC-Webhook-Delivery-ID": "42",
        "webhook-signature": "v1,abc",
        "Event-Sign": "md5",
        "authorization": "Bearer x",
        "webhook-id": "msg_1",
    }
    assert kept_headers(headers) == {"x-wc-webhook-delivery-id": "42", "webhook-id": "msg_1"}


# --------------------------------------------------------------------------- the consumer


@dataclass
class Consumer:
    cfg: TenantConfig
    deps: service.Deps = field(
        default_factory=lambda: service.Deps(tickets=FakeTickets(), engine=FakeEngine())
    )
    store: FakeDeliveries = field(default_factory=FakeDeliveries)

    def receive(self, channel: str, topic: str | None, payload: dict[str, Any], delivery_id: str) -> None:
        self.store.record(
            StoredDelivery(
                tenant="acme-home",
                channel=channel,
                delivery_id=delivery_id,
                platform="shopify",
                topic=topic,
                payload=payload,
                received_at=NOW,
            )
        )

    def process(self, channel: str, delivery_id: str) -> str:
        return consumer.process(self.deps, self.store, self.config, "acme-home", channel, delivery_id)

    def config(self, tenant: str) -> TenantConfig:
        return self.cfg

    def stored(self, channel: str, delivery_id: str) -> StoredDelivery:
        return self.store.items[("acme-home", channel, delivery_id)]


def test_a_matched_delivery_becomes_one_ticket_even_when_processed_twice(acme: TenantConfig) -> None:
    run = Consumer(acme)
    run.receive("shopify-main", "orders/create", shopify_order(), "wh-1")
    assert run.process("shopify-main", "wh-1") == "ticket_created"
    stored = run.stored("shopify-main", "wh-1")
    assert stored.ticket_id == domain.delivery_ticket_id("acme-home", "shopify-main", "wh-1")
    ticket = run.deps.tickets.get("acme-home", stored.ticket_id)
    assert (ticket.type, ticket.channel, ticket.fields["region"]) == ("install", "shopify-main", "CN-BJ")
    assert ticket.created_by == "channel:shopify-main"

    # a crash before marking: the message comes back while the delivery is still queued
    run.store.mark("acme-home", "shopify-main", "wh-1", "queued")
    assert run.process("shopify-main", "wh-1") == "ticket_created"
    assert len(run.deps.tickets.tickets) == 1  # type: ignore[attr-defined]
    # a redelivered message of a handled delivery does nothing
    assert run.process("shopify-main", "wh-1") == "ticket_created"


def test_a_queued_web_form_becomes_its_ticket(acme: TenantConfig) -> None:
    run = Consumer(acme)
    form = install_fields("陈女士", "+8613900000000", "天府大道8号", "CN-CD")
    run.receive("web-repair", None, form, "form:key-1")
    assert run.process("web-repair", "form:key-1") == "ticket_created"
    ticket = run.deps.tickets.get(
        "acme-home", domain.delivery_ticket_id("acme-home", "web-repair", "form:key-1")
    )
    assert (ticket.type, ticket.fields["address"], ticket.channel) == ("install", "天府大道8号", "web-repair")


def test_an_unmatched_delivery_is_kept_and_marked(acme: TenantConfig) -> None:
    run = Consumer(acme)
    run.receive("shopify-main", "orders/create", shopify_order(tags=()), "wh-2")
    assert run.process("shopify-main", "wh-2") == "unmatched"
    stored = run.stored("shopify-main", "wh-2")
    assert stored.status == "unmatched" and "orders/create" in (stored.reason or "")
    assert run.deps.tickets.tickets == {}  # type: ignore[attr-defined]


def test_bad_platform_fields_still_make_a_ticket_that_says_what_is_wrong(acme: TenantConfig) -> None:
    # A platform cannot correct its payload: the order is kept as a ticket for a person to complete.
    run = Consumer(acme)
    bad = shopify_order(province="BJ")
    bad["shipping_address"]["phone"] = None
    run.receive("shopify-main", "orders/create", bad, "wh-3")
    assert run.process("shopify-main", "wh-3") == "ticket_created"
    ticket_id = run.stored("shopify-main", "wh-3").ticket_id
    assert ticket_id is not None
    ticket = run.deps.tickets.get("acme-home", ticket_id)
    assert ticket.incomplete is not None
    assert set(ticket.incomplete["missing"]) == {"customer_phone", "region"}
    assert "unknown region 'BJ'" in ticket.incomplete["rejected"]["region"]["message"]


def test_a_channel_or_tenant_that_is_gone_fails_the_delivery(acme: TenantConfig) -> None:
    run = Consumer(acme)
    run.receive("old-shop", "orders/create", shopify_order(), "wh-4")
    assert run.process("old-shop", "wh-4") == "failed"
    assert "no longer has a channel 'old-shop'" in (run.stored("old-shop", "wh-4").reason or "")
    assert run.process("shopify-main", "never-recorded") == "missing"


def test_unexpected_errors_are_raised_so_the_record_is_retried(acme: TenantConfig) -> None:
    class BrokenEngine(FakeEngine):
        def start(self, *args: Any, **kwargs: Any) -> Any:
            raise TimeoutError("step functions did not answer")

    tickets = FakeTickets()
    run = Consumer(acme, deps=service.Deps(tickets=tickets, engine=BrokenEngine()))
    run.receive("shopify-main", "orders/create", shopify_order(), "wh-5")
    with pytest.raises(Unavailable, match="could not be started"):
        run.process("shopify-main", "wh-5")
    assert run.stored("shopify-main", "wh-5").status == "queued"
    assert tickets.tickets == {}  # all or nothing: no open ticket without a workflow


def test_the_batch_reports_only_the_failed_records(acme: TenantConfig) -> None:
    run = Consumer(acme)
    run.receive("shopify-main", "orders/create", shopify_order(), "wh-6")

    def record(message_id: str, body: str) -> dict[str, Any]:
        return {
            "messageId": message_id,
            "receiptHandle": "r",
            "body": body,
            "attributes": {},
            "eventSource": "aws:sqs",
        }

    event = {
        "Records": [
            record(
                "m-1", json.dumps({"tenant": "acme-home", "channel": "shopify-main", "delivery_id": "wh-6"})
            ),
            record("m-2", "not json"),
        ]
    }
    answer = consumer.consume(event, None, deps=run.deps, deliveries=run.store, config=run.config)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    assert run.stored("shopify-main", "wh-6").status == "ticket_created"
