"""Intake, platform by platform, on the session twin: each signed delivery becomes its ticket, once.

Every channel of acme-home (Shopify, WooCommerce, Youzan legacy and cloud push, WeCom, Standard
Webhooks) and bright-clean's Standard Webhooks and web form channels get one delivery signed
the way the platform signs it (the adapters' public helpers, the demo secrets of
`examples/tenants/*.secrets.yaml`), delivered THREE times the way the platform retries it.
Each time it is answered as the platform expects; one ticket appears, with the fields the
channel's rule maps, and one delivery record names it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from functions.webhooks.adapters import shopify, standard_webhooks, wecom, woocommerce, youzan
from infra.twin.client import Answer, TwinClient
from infra.twin.twin import LocalTwin, secrets_for
from shared.domain.deliveries import delivery_ticket_id
from tests.e2e.test_intake import shopify_order

ACME, BRIGHT = "acme-home", "bright-clean"
YOUZAN_CLIENT_ID = "yz-client-demo"
WECOM_CORP_ID = "ww-demo"
WAIT_SECONDS = 20.0
TIMES = 3


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def secrets(twin: LocalTwin) -> dict[str, str]:
    return secrets_for(twin.tenant_files, None)


@pytest.fixture(scope="module")
def acme_ops(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user(ACME, "u-zhao", ["dispatcher"])


@pytest.fixture(scope="module")
def bright_ops(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user(BRIGHT, "u-jonas", ["dispatcher"])


# --------------------------------------------------------------------------- helpers


def wait_for(read: Callable[[], Answer], done: Callable[[Answer], bool], what: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    last: Any = None
    while time.monotonic() < deadline:
        answer = read()
        last = (answer.status, answer.body)
        if done(answer):
            return dict(answer.body)
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not get there: {last}")


def ticket(client: TwinClient, ticket_id: str) -> dict[str, Any]:
    return wait_for(lambda: client.get(f"/tickets/{ticket_id}"), lambda a: a.status == 200, ticket_id)


def delivery(ops: TwinClient, channel: str, delivery_id: str, status: str) -> dict[str, Any]:
    path = f"/deliveries/{channel}/{quote(delivery_id, safe='')}"
    return wait_for(
        lambda: ops.get(path),
        lambda a: a.status == 200 and a.body["status"] == status,
        f"delivery {channel}/{delivery_id}",
    )


def tickets_where(client: TwinClient, ticket_type: str, keep: Callable[[dict[str, Any]], bool]) -> list[str]:
    """Ids of every ticket of `ticket_type` (all pages) that `keep` selects."""
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = client.get(f"/tickets?type={ticket_type}&limit=100" + (f"&next={cursor}" if cursor else ""))
        assert page.status == 200, page.body
        ids += [t["id"] for t in page.body["items"] if keep(t)]
        cursor = page.body["next"]
        if not cursor:
            return ids


def deliveries_of(ops: TwinClient, channel: str, delivery_id: str) -> int:
    """How many delivery records of `channel` carry `delivery_id` (all pages)."""
    count, cursor = 0, None
    while True:
        page = ops.get(f"/deliveries?channel={channel}&limit=100" + (f"&next={cursor}" if cursor else ""))
        assert page.status == 200, page.body
        count += sum(1 for d in page.body["items"] if d["delivery_id"] == delivery_id)
        cursor = page.body["next"]
        if not cursor:
            return count


def assert_once(
    client: TwinClient,
    ops: TwinClient,
    *,
    tenant: str,
    channel: str,
    delivery_id: str,
    ticket_type: str,
    marker: str,
) -> dict[str, Any]:
    """The delivery became exactly one ticket of `ticket_type` (the one its id names), recorded once."""
    ticket_id = delivery_ticket_id(tenant, channel, delivery_id)
    created = ticket(client, ticket_id)
    record = delivery(ops, channel, delivery_id, "ticket_created")
    assert record["ticket_id"] == ticket_id
    time.sleep(0.5)  # let any wrongly queued repeat reach the consumer before counting
    same = tickets_where(client, ticket_type, lambda t: marker in json.dumps(t["fields"], ensure_ascii=False))
    assert same == [ticket_id], f"{TIMES} deliveries of {delivery_id} gave tickets {same}"
    assert deliveries_of(ops, channel, delivery_id) == 1
    assert created["type"] == ticket_type and created["channel"] == channel
    assert created["created_by"] == f"channel:{channel}"
    return created


def deliver_times(
    anonymous: TwinClient, path: str, delivery_id: str, signed: Callable[[], tuple[bytes, dict[str, str]]]
) -> None:
    """POST the delivery `signed` builds TIMES times; each answer is the platform's 200 receipt."""
    for _ in range(TIMES):
        body, headers = signed()
        answer = anonymous.request("POST", path, raw=body, headers=headers)
        assert answer.status == 200, answer.body
        assert answer.body == {"status": "received", "delivery_id": delivery_id}


def acme_install_once(
    agent: TwinClient, acme_ops: TwinClient, channel: str, delivery_id: str, marker: str
) -> dict[str, Any]:
    """`assert_once` for an acme-home channel whose rule makes install tickets."""
    return assert_once(
        agent,
        acme_ops,
        tenant=ACME,
        channel=channel,
        delivery_id=delivery_id,
        ticket_type="install",
        marker=marker,
    )


def install_fields(name: str, phone: str, address: str, region: str) -> dict[str, str]:
    """The fields an acme-home install rule maps (priority defaults to normal)."""
    return {
        "customer_name": name,
        "customer_phone": phone,
        "address": address,
        "region": region,
        "priority": "normal",
    }


# --------------------------------------------------------------------------- acme-home


def test_shopify_orders_create_delivered_three_times_is_one_install_ticket(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    webhook_id = f"b54557e4-{marker}"
    body = json.dumps(shopify_order(marker)).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Hmac-Sha256": shopify.signature(secrets["/scrm/acme-home/shopify-main"], body),
        "X-Shopify-Shop-Domain": "acme-home.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
    }
    deliver_times(anonymous, f"/webhooks/{ACME}/shopify-main", webhook_id, lambda: (body, headers))

    created = acme_install_once(agent, acme_ops, "shopify-main", webhook_id, marker)
    assert created["fields"] == install_fields(
        "Lin Wei", "+8613800000001", f"1 Chaoyang Rd ({marker})", "CN-BJ"
    )
    assert created["incomplete"] is None


def woo_order(marker: str) -> bytes:
    return json.dumps(
        {
            "id": 5001,
            "status": "processing",
            "currency": "CNY",
            "total": "2599.00",
            "billing": {"first_name": "张三", "last_name": "", "phone": "+8613800000002"},
            "shipping": {
                "first_name": "张三",
                "address_1": f"成都市锦江区红星路88号 {marker}",
                "state": "CN-CD",
            },
            "line_items": [{"id": 1, "name": "AC-26 split unit", "quantity": 1}],
        },
        ensure_ascii=False,
    ).encode()


def woo_headers(secret: str, body: bytes, delivery_id: str) -> dict[str, str]:
    return {
        "X-WC-Webhook-Source": "https://shop.acme.example/",
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "created",
        "X-WC-Webhook-ID": "31",
        "X-WC-Webhook-Delivery-ID": delivery_id,
        "X-WC-Webhook-Signature": woocommerce.signature(secret, body),
    }


def test_woocommerce_order_created_delivered_three_times_is_one_install_ticket(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    delivery_id = f"wc-{marker}"
    body = woo_order(marker)
    headers = woo_headers(secrets["/scrm/acme-home/woo-main"], body, delivery_id)
    deliver_times(anonymous, f"/webhooks/{ACME}/woo-main", delivery_id, lambda: (body, headers))

    created = acme_install_once(agent, acme_ops, "woo-main", delivery_id, marker)
    assert created["fields"] == install_fields(
        "张三", "+8613800000002", f"成都市锦江区红星路88号 {marker}", "CN-CD"
    )


def test_a_woocommerce_delivery_with_one_byte_changed_is_401_and_records_nothing(
    anonymous: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    delivery_id = f"wc-tampered-{marker}"
    body = woo_order(marker)
    headers = woo_headers(secrets["/scrm/acme-home/woo-main"], body, delivery_id)
    at = body.index(b'"total": "2599.00"') + len(b'"total": "')
    tampered = body[:at] + b"1" + body[at + 1 :]  # 2599.00 -> 1599.00, one byte
    assert len(tampered) == len(body) and sum(a != b for a, b in zip(tampered, body, strict=True)) == 1

    answer = anonymous.request("POST", f"/webhooks/{ACME}/woo-main", raw=tampered, headers=headers)
    assert answer.status == 401, answer.body
    assert answer.body["error"] == "invalid_signature"
    assert "X-WC-Webhook-Signature" in answer.body["message"]
    assert secrets["/scrm/acme-home/woo-main"] not in json.dumps(answer.body)

    signature = headers["X-WC-Webhook-Signature"]
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    forged = anonymous.request(
        "POST", f"/webhooks/{ACME}/woo-main", raw=body, headers={**headers, "X-WC-Webhook-Signature": flipped}
    )
    assert forged.status == 401, forged.body
    path = f"/deliveries/woo-main/{quote(delivery_id, safe='')}"
    assert acme_ops.get(path).status == 404


def youzan_msg(marker: str, name: str) -> str:
    return quote(
        json.dumps(
            {
                "tid": f"E2026{marker}",
                "status": "WAIT_SELLER_SEND_GOODS",
                "receiver_name": name,
                "receiver_tel": "+8613700000003",
                "receiver_address": f"上海市浦东新区世纪大道100号 {marker}",
                "region_code": "CN-SH",
            },
            ensure_ascii=False,
        )
    )


def youzan_push(marker: str, name: str, push_type: str, **extra: Any) -> dict[str, Any]:
    return {
        "client_id": YOUZAN_CLIENT_ID,
        "id": f"E2026{marker}",
        "kdt_id": 1001,
        "type": push_type,
        "status": "WAIT_SELLER_SEND_GOODS",
        "msg": youzan_msg(marker, name),
        "mode": 1,
        "test": False,
        **extra,
    }


def assert_youzan_success(answer: Answer) -> None:
    assert answer.status == 200, answer.body
    assert answer.body == {"code": 0, "msg": "success"}


def test_youzan_legacy_push_retried_three_times_is_one_install_ticket(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    push = youzan_push(marker, "王五", "TRADE_ORDER_STATE", version=1700000000)
    push["sign"] = youzan.legacy_sign(YOUZAN_CLIENT_ID, push["msg"], secrets["/scrm/acme-home/youzan-shop"])
    for send_count in range(TIMES):  # Youzan retries with send_count raised each time
        assert_youzan_success(
            anonymous.post(f"/webhooks/{ACME}/youzan-shop", {**push, "send_count": send_count})
        )

    delivery_id = youzan.delivery_id({**push, "send_count": 0})
    created = acme_install_once(agent, acme_ops, "youzan-shop", delivery_id, marker)
    assert created["fields"] == install_fields(
        "王五", "+8613700000003", f"上海市浦东新区世纪大道100号 {marker}", "CN-SH"
    )


def post_youzan_cloud(anonymous: TwinClient, secret: str, push: dict[str, Any], event_type: str) -> Answer:
    body = json.dumps(push, ensure_ascii=False).encode()
    headers = {
        "Client-Id": YOUZAN_CLIENT_ID,
        "Event-Type": event_type,
        "Event-Sign": youzan.cloud_sign(YOUZAN_CLIENT_ID, body, secret),
    }
    return anonymous.request("POST", f"/webhooks/{ACME}/youzan-shop", raw=body, headers=headers)


def test_youzan_cloud_push_of_a_trade_order_state_retried_three_times_is_one_install_ticket(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    # A cloud push (Event-Sign header) whose body has the top-level type/status the channel's rule
    # compares: the same rule applies whichever generation signed it, msg decoded alike.
    marker = uuid.uuid4().hex[:10]
    push = youzan_push(marker, "赵六", "TRADE_ORDER_STATE", version=1700000000)
    secret = secrets["/scrm/acme-home/youzan-shop"]
    for send_count in range(TIMES):
        assert_youzan_success(
            post_youzan_cloud(anonymous, secret, {**push, "sendCount": send_count}, "TRADE_ORDER_STATE")
        )

    delivery_id = youzan.delivery_id({**push, "sendCount": 0})
    created = acme_install_once(agent, acme_ops, "youzan-shop", delivery_id, marker)
    assert created["fields"]["customer_name"] == "赵六"
    assert created["fields"]["region"] == "CN-SH"
    assert created["fields"]["address"] == f"上海市浦东新区世纪大道100号 {marker}"


def test_youzan_cloud_trade_paid_push_matches_no_rule_and_is_kept_unmatched(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    # By design: acme-home's only Youzan rule is `type: TRADE_ORDER_STATE` (the legacy message type);
    # a cloud push of a cloud message type (trade_TradePaid) cannot match it. It is kept, not dropped.
    marker = uuid.uuid4().hex[:10]
    push = youzan_push(marker, "孙七", "trade_TradePaid", sendCount=0)
    assert_youzan_success(
        post_youzan_cloud(anonymous, secrets["/scrm/acme-home/youzan-shop"], push, "trade_TradePaid")
    )

    delivery_id = youzan.delivery_id(push)
    record = delivery(acme_ops, "youzan-shop", delivery_id, "unmatched")
    assert record["topic"] == "trade_TradePaid" and "no rule" in record["reason"]
    assert record["ticket_id"] is None
    assert agent.get(f"/tickets/{delivery_ticket_id(ACME, 'youzan-shop', delivery_id)}").status == 404


def test_a_wecom_message_delivered_three_times_is_one_incomplete_consult_ticket(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    msg_id = str(7_000_000_000_000_000 + int(marker[:8], 16))
    message = wecom.text_message(
        WECOM_CORP_ID, f"zhangsan-{marker}", f"空调不制冷，请上门 {marker}", msg_id, create_time="1700000000"
    )
    query, body = wecom.envelope(
        message,
        token=secrets["/scrm/acme-home/wecom-token"],
        aes_key=secrets["/scrm/acme-home/wecom-aes-key"],
        corp_id=WECOM_CORP_ID,
        timestamp="1700000000",
        nonce=f"n{marker}",
    )
    path = f"/webhooks/{ACME}/wecom-service?{urlencode(query)}"
    for _ in range(TIMES):
        answer = anonymous.request("POST", path, raw=body, headers={"content-type": "text/xml"})
        assert answer.status == 200, answer.body
        assert answer.body is None  # WeCom wants an empty 200

    created = assert_once(
        agent, acme_ops, tenant=ACME, channel="wecom-service", delivery_id=f"wecom:{msg_id}",
        ticket_type="consult", marker=marker,
    )  # fmt: skip
    # The rule maps customer_phone with phone_in(Content): this message has no number, so the
    # ticket is created anyway and says what a person must complete.
    assert created["fields"] == {
        "customer_name": f"zhangsan-{marker}",
        "question": f"空调不制冷，请上门 {marker}",
    }
    assert created["incomplete"]["missing"] == ["customer_phone"]
    assert not created["incomplete"].get("rejected")


def test_a_standard_webhooks_work_order_delivered_three_times_is_one_install_ticket(
    anonymous: TwinClient, agent: TwinClient, acme_ops: TwinClient, twin: LocalTwin, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    msg_id = f"msg_{marker}"
    body = json.dumps(
        {
            "type": "work_order.requested",
            "timestamp": twin.clock.now().isoformat(),
            "data": {
                "name": f"Partner {marker}",
                "phone": "+8613600000004",
                "address": f"绵阳市涪城区临园路1号 {marker}",
                "region": "CN-MY",
            },
        },
        ensure_ascii=False,
    ).encode()
    secret = secrets["/scrm/acme-home/partner-api"]

    def signed() -> tuple[bytes, dict[str, str]]:
        timestamp = str(int(twin.clock.now().timestamp()))
        # a key rotation: an old key's signature beside the current one; one match is enough
        old = standard_webhooks.sign("whsec_" + "b2xkLWtleS1vbGQta2V5LW9sZC1rZXk=", msg_id, timestamp, body)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": f"{old} {standard_webhooks.sign(secret, msg_id, timestamp, body)}",
        }
        return body, headers

    deliver_times(anonymous, f"/webhooks/{ACME}/partner-api", msg_id, signed)

    created = acme_install_once(agent, acme_ops, "partner-api", msg_id, marker)
    assert created["fields"] == install_fields(
        f"Partner {marker}", "+8613600000004", f"绵阳市涪城区临园路1号 {marker}", "CN-MY"
    )


# --------------------------------------------------------------------------- bright-clean


def crm_event(
    twin: LocalTwin, secret: str, msg_id: str, event: dict[str, Any]
) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(event).encode()
    timestamp = str(int(twin.clock.now().timestamp()))
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": standard_webhooks.sign(secret, msg_id, timestamp, body),
    }
    return body, headers


@pytest.mark.parametrize("kind", ["booking.created", "complaint.created"])
def test_bright_clean_crm_events_delivered_three_times_are_one_ticket_each(
    kind: str, anonymous: TwinClient, bright_ops: TwinClient, twin: LocalTwin, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    msg_id = f"evt_{marker}"
    customer = {"name": f"Frau Koch {marker}", "phone": "+4915100000777"}
    data: dict[str, Any] = {"customer": customer}
    if kind == "booking.created":
        data |= {"address": f"Torstraße 1, Berlin {marker}", "region": "DE-BE", "area_m2": 84}
    else:
        data |= {"text": f"The windows were left streaky {marker}"}
    secret = secrets["/scrm/bright-clean/crm-events"]
    event = {"type": kind, "data": data}
    deliver_times(
        anonymous, f"/webhooks/{BRIGHT}/crm-events", msg_id, lambda: crm_event(twin, secret, msg_id, event)
    )

    ticket_type = "cleaning" if kind == "booking.created" else "complaint"
    created = assert_once(
        bright_ops, bright_ops, tenant=BRIGHT, channel="crm-events", delivery_id=msg_id,
        ticket_type=ticket_type, marker=marker,
    )  # fmt: skip
    if ticket_type == "cleaning":
        assert created["fields"] == {
            "customer_name": customer["name"],
            "customer_phone": customer["phone"],
            "address": f"Torstraße 1, Berlin {marker}",
            "region": "DE-BE",
            "area_m2": 84,
            "priority": "normal",
        }
    else:
        assert created["fields"] == {
            "customer_name": customer["name"],
            "customer_phone": customer["phone"],
            "description": f"The windows were left streaky {marker}",
        }
    assert created["incomplete"] is None


def test_a_bright_clean_booking_form_posted_three_times_with_one_key_is_one_cleaning_ticket(
    anonymous: TwinClient, bright_ops: TwinClient
) -> None:
    marker = uuid.uuid4().hex[:10]
    form = {
        "customer_name": f"Herr Braun {marker}",
        "customer_phone": "+4915100000888",
        "customer_email": "braun@example.com",
        "address": f"Am Kanal 5, Potsdam {marker}",
        "region": "DE-BB",
        "area_m2": 120,
        "preferred_date": "2026-12-02",
        "priority": "urgent",
    }
    key = {"Idempotency-Key": f"booking-{marker}"}
    answers = [anonymous.post(f"/forms/{BRIGHT}/booking-form", form, headers=key) for _ in range(TIMES)]
    assert [a.status for a in answers] == [201] * TIMES, [a.body for a in answers]
    ticket_id = delivery_ticket_id(BRIGHT, "booking-form", f"form:booking-{marker}")
    assert {a.body["ticket_id"] for a in answers} == {ticket_id}

    created = assert_once(
        bright_ops, bright_ops, tenant=BRIGHT, channel="booking-form", delivery_id=f"form:booking-{marker}",
        ticket_type="cleaning", marker=marker,
    )  # fmt: skip
    assert created["fields"] == form
    assert created["incomplete"] is None


@pytest.mark.parametrize("size", [600, 3000])
def test_a_signed_delivery_with_an_overlong_id_is_400_not_500(
    size: int, anonymous: TwinClient, twin: LocalTwin, secrets: dict[str, str]
) -> None:
    # The id keys the delivery record; DynamoDB refuses keys that long (this was a 500 before).
    body = json.dumps({"type": "work_order.requested", "data": {}}).encode()
    msg_id = "m" * size
    timestamp = str(int(twin.clock.now().timestamp()))
    signature = standard_webhooks.sign(secrets["/scrm/acme-home/partner-api"], msg_id, timestamp, body)
    headers = {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": signature}
    answer = anonymous.request("POST", f"/webhooks/{ACME}/partner-api", raw=body, headers=headers)
    assert answer.status == 400, answer.body
    assert answer.body["error"] == "bad_request" and "delivery id" in answer.body["message"]

    body = json.dumps(shopify_order("long-id")).encode()
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "é" * size,
        "X-Shopify-Hmac-Sha256": shopify.signature(secrets["/scrm/acme-home/shopify-main"], body),
    }
    answer = anonymous.request("POST", f"/webhooks/{ACME}/shopify-main", raw=body, headers=headers)
    assert answer.status == 400, answer.body
