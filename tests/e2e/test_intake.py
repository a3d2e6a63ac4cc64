"""Intake through the twin: signed platform deliveries and web forms become tickets, once.

Deliveries are signed with the adapters' public helpers and the demo secrets of
examples/tenants/acme-home.secrets.yaml, which the twin stored in its SSM.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from functions.webhooks.adapters import shopify, youzan
from infra.twin.client import Answer, TwinClient
from shared.domain.deliveries import delivery_ticket_id

TENANT = "acme-home"
SHOPIFY_SECRET = "test-webhook-secret"
YOUZAN_CLIENT_ID, YOUZAN_SECRET = "yz-client-demo", "csec_demo"
WAIT_SECONDS = 20.0
WECOM = json.loads((Path(__file__).parents[1] / "fixtures" / "webhook-vectors.json").read_text("utf-8"))[
    "wecom"
]


def shopify_order(marker: str, *, tags: list[str] | None = None) -> dict[str, Any]:
    """A Shopify orders/create body; `marker` makes its address unique to the test."""
    return {
        "id": 820982911946154508,
        "name": "#1001",
        "currency": "CNY",
        "total_price": "3999.00",
        "customer": {"id": 115310627314723954, "first_name": "Lin", "last_name": "Wei"},
        "shipping_address": {
            "address1": f"1 Chaoyang Rd ({marker})",
            "city": "Beijing",
            "province_code": "CN-BJ",
            "country_code": "CN",
            "phone": "+8613800000001",
        },
        "line_items": [
            {"id": 466157049, "title": "AC-35 split unit", "quantity": 1, "tags": tags or ["install"]},
            {"id": 518995019, "title": "Remote", "quantity": 1, "tags": []},
        ],
    }


def post_shopify(
    client: TwinClient,
    body: bytes,
    webhook_id: str,
    *,
    signature: str | None = None,
    path: str = f"/webhooks/{TENANT}/shopify-main",
) -> Answer:
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Hmac-Sha256": signature or shopify.signature(SHOPIFY_SECRET, body),
        "X-Shopify-Shop-Domain": "acme-home.myshopify.com",
    }
    return client.request("POST", path, raw=body, headers=headers)


def wait_for_ticket(agent: TwinClient, ticket_id: str, timeout: float = WAIT_SECONDS) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        answer = agent.get(f"/tickets/{ticket_id}")
        last = answer.body
        if answer.status == 200:
            return dict(answer.body)
        time.sleep(0.1)
    raise TimeoutError(f"ticket {ticket_id} did not appear: {last}")


def install_tickets_at(agent: TwinClient, address: str) -> list[dict[str, Any]]:
    page = agent.get("/tickets?type=install&limit=100")
    assert page.status == 200, page.body
    return [t for t in page.body["items"] if t["fields"].get("address") == address]


def test_a_signed_shopify_order_with_an_install_line_becomes_one_install_ticket(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    # Given a signed orders/create delivery with an install-tagged line item
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-{marker}"
    body = json.dumps(shopify_order(marker)).encode()

    # When Shopify delivers it, it is accepted
    answer = post_shopify(anonymous, body, webhook_id)
    assert answer.status == 200, answer.body
    assert answer.body == {"status": "received", "delivery_id": webhook_id}

    # Then an install ticket with the mapped fields appears in the list of install tickets
    address = f"1 Chaoyang Rd ({marker})"
    deadline = time.monotonic() + WAIT_SECONDS
    found: list[dict[str, Any]] = []
    while not found and time.monotonic() < deadline:
        found = install_tickets_at(agent, address)
        time.sleep(0.1)
    assert len(found) == 1, f"no install ticket for {address}"
    ticket = found[0]
    assert ticket["id"] == delivery_ticket_id(TENANT, "shopify-main", webhook_id)
    assert ticket["channel"] == "shopify-main"
    assert ticket["fields"] == {
        "customer_name": "Lin Wei",
        "customer_phone": "+8613800000001",
        "address": address,
        "region": "CN-BJ",
        "priority": "normal",
    }

    # When Shopify delivers the same webhook again, it is answered the same and changes nothing
    again = post_shopify(anonymous, body, webhook_id)
    assert again.status == 200, again.body
    assert again.body == answer.body
    time.sleep(1.0)
    assert len(install_tickets_at(agent, address)) == 1


def test_a_bad_signature_is_refused_with_401(anonymous: TwinClient) -> None:
    body = json.dumps(shopify_order("forged")).encode()
    answer = post_shopify(anonymous, body, "wh-forged", signature=shopify.signature("not-the-secret", body))
    assert answer.status == 401, answer.body
    assert answer.body["error"] == "invalid_signature"
    assert "X-Shopify-Hmac-Sha256" in answer.body["message"]
    assert SHOPIFY_SECRET not in json.dumps(answer.body)


def test_unknown_channel_and_unknown_tenant_are_404(anonymous: TwinClient) -> None:
    body = json.dumps(shopify_order("nowhere")).encode()
    channel = post_shopify(anonymous, body, "wh-x", path=f"/webhooks/{TENANT}/no-such-channel")
    assert channel.status == 404, channel.body
    assert channel.body["error"] == "not_found" and "no-such-channel" in channel.body["message"]
    tenant = post_shopify(anonymous, body, "wh-x", path="/webhooks/no-such-tenant/shopify-main")
    assert tenant.status == 404, tenant.body
    assert "no-such-tenant" in tenant.body["message"]
    form = anonymous.post("/forms/no-such-tenant/web-repair", {"customer_name": "x"})
    assert form.status == 404, form.body


def test_a_malformed_body_is_400(anonymous: TwinClient) -> None:
    body = b'{"id": 1, "line_items": ['
    answer = post_shopify(anonymous, body, "wh-malformed")
    assert answer.status == 400, answer.body
    assert answer.body["error"] == "malformed_body"


def test_the_woocommerce_ping_is_answered_and_creates_nothing(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    answer = anonymous.request(
        "POST",
        f"/webhooks/{TENANT}/woo-main",
        raw=b"webhook_id=31",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert answer.status == 200, answer.body
    assert answer.body["status"] == "ping"
    time.sleep(1.0)
    ticket_id = delivery_ticket_id(TENANT, "woo-main", answer.body["delivery_id"])
    assert agent.get(f"/tickets/{ticket_id}").status == 404


def test_a_youzan_legacy_push_gets_youzans_success_answer_and_a_ticket(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    marker = uuid.uuid4().hex[:8]
    msg = quote(
        json.dumps(
            {
                "tid": f"E2026{marker}",
                "status": "WAIT_SELLER_SEND_GOODS",
                "receiver_name": "王五",
                "receiver_tel": "+8613700000003",
                "receiver_address": f"上海市浦东新区世纪大道100号 {marker}",
                "region_code": "CN-SH",
            },
            ensure_ascii=False,
        )
    )
    push = {
        "client_id": YOUZAN_CLIENT_ID,
        "type": "TRADE_ORDER_STATE",
        "status": "WAIT_SELLER_SEND_GOODS",
        "msg": msg,
        "sign": youzan.legacy_sign(YOUZAN_CLIENT_ID, msg, YOUZAN_SECRET),
        "mode": 1,
        "test": False,
        "send_count": 0,
        "kdt_id": 1001,
    }
    answer = anonymous.post(f"/webhooks/{TENANT}/youzan-shop", push)
    assert answer.status == 200, answer.body
    assert answer.body == {"code": 0, "msg": "success"}

    ticket_id = delivery_ticket_id(TENANT, "youzan-shop", youzan.delivery_id(push))
    ticket = wait_for_ticket(agent, ticket_id)
    assert ticket["fields"]["region"] == "CN-SH"

    # Youzan retries with a higher send_count: the same delivery, the same answer
    retry = anonymous.post(f"/webhooks/{TENANT}/youzan-shop", {**push, "send_count": 1})
    assert retry.body == {"code": 0, "msg": "success"}


def test_a_web_form_with_bad_fields_gets_422_listing_each(anonymous: TwinClient) -> None:
    answer = anonymous.post(
        f"/forms/{TENANT}/web-repair",
        {"customer_phone": "call me", "region": "CN-XX", "address": "1 Road", "colour": "blue"},
    )
    assert answer.status == 422, answer.body
    assert answer.body["error"] == "validation_failed"
    problems = {d["field"]: d["message"] for d in answer.body["details"]}
    assert set(problems) == {"customer_name", "customer_phone", "region", "colour"}
    assert "unknown region 'CN-XX'" in problems["region"]


def test_a_good_web_form_creates_a_ticket_once_per_idempotency_key(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    form = {
        "customer_name": "陈女士",
        "customer_phone": "+8613900000000",
        "address": "成都市高新区天府大道8号",
        "region": "CN-CD",
    }
    created = anonymous.post(f"/forms/{TENANT}/web-repair", form)
    assert created.status == 201, created.body
    ticket = wait_for_ticket(agent, created.body["ticket_id"])
    assert (ticket["type"], ticket["channel"], ticket["fields"]["region"]) == (
        "install",
        "web-repair",
        "CN-CD",
    )

    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = anonymous.post(f"/forms/{TENANT}/web-repair", form, headers=key)
    second = anonymous.post(f"/forms/{TENANT}/web-repair", form, headers=key)
    assert (first.status, second.status) == (201, 201), (first.body, second.body)
    assert first.body["ticket_id"] == second.body["ticket_id"] != created.body["ticket_id"]
    wait_for_ticket(agent, first.body["ticket_id"])
    time.sleep(1.0)
    same_address = [t for t in install_tickets_at(agent, form["address"]) if t["channel"] == "web-repair"]
    assert sorted(t["id"] for t in same_address) == sorted(
        {created.body["ticket_id"], first.body["ticket_id"]}
    )


def test_a_malformed_web_form_is_400(anonymous: TwinClient) -> None:
    answer = anonymous.request("POST", f"/forms/{TENANT}/web-repair", raw=b"[1, 2")
    assert answer.status == 400, answer.body
    assert answer.body["error"] == "malformed_body"


def test_the_wecom_url_check_answers_the_decrypted_echostr(anonymous: TwinClient) -> None:
    # The vectors are signed with acme-home's demo token and AES key (corp ww-demo)
    query = urlencode(WECOM["url_check"]["query"])
    answer = anonymous.get(f"/webhooks/{TENANT}/wecom-service?{query}")
    assert answer.status == 200, answer.body
    assert str(answer.body) == WECOM["url_check"]["answer"]
    assert answer.headers["content-type"].startswith("text/plain")

    forged = urlencode({**WECOM["url_check"]["query"], "msg_signature": "0" * 40})
    assert anonymous.get(f"/webhooks/{TENANT}/wecom-service?{forged}").status == 401
    assert anonymous.get(f"/webhooks/{TENANT}/shopify-main").status == 404


def test_a_wecom_message_is_answered_with_an_empty_200(anonymous: TwinClient) -> None:
    query = urlencode(WECOM["post"]["query"])
    answer = anonymous.request(
        "POST",
        f"/webhooks/{TENANT}/wecom-service?{query}",
        raw=WECOM["post"]["body"].encode(),
        headers={"content-type": "text/xml"},
    )
    assert answer.status == 200, answer.body
    assert answer.body is None


def test_html_forms_urlencoded_and_multipart_become_tickets(anonymous: TwinClient, agent: TwinClient) -> None:
    # An HTML <form> posts name=value pairs: the "+" of the phone is percent-encoded, as browsers do
    encoded = urlencode(
        {
            "customer_name": "表单",
            "customer_phone": "+8613900000500",
            "address": "成都市武侯区1号",
            "region": "CN-CD",
        }
    ).encode()
    posted = anonymous.request(
        "POST",
        f"/forms/{TENANT}/web-repair",
        raw=encoded,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert posted.status == 201, posted.body
    ticket = wait_for_ticket(agent, posted.body["ticket_id"])
    assert ticket["fields"]["customer_phone"] == "+8613900000500"

    boundary = "scrm-boundary"
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in {
            "customer_name": "多部分",
            "customer_phone": "+8613900000501",
            "address": "成都市锦江区2号",
            "region": "CN-CD",
        }.items()
    )
    multipart = anonymous.request(
        "POST",
        f"/forms/{TENANT}/web-repair",
        raw=parts + f"--{boundary}--\r\n".encode(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert multipart.status == 201, multipart.body
    assert wait_for_ticket(agent, multipart.body["ticket_id"])["fields"]["customer_name"] == "多部分"

    xml = anonymous.request(
        "POST", f"/forms/{TENANT}/web-repair", raw=b"<form/>", headers={"content-type": "application/xml"}
    )
    assert (xml.status, xml.body["error"]) == (415, "unsupported_media_type")


def test_an_idempotency_key_reused_with_another_body_is_refused(anonymous: TwinClient) -> None:
    form = {
        "customer_name": "幂等",
        "customer_phone": "+8613900000502",
        "address": "成都市青羊区3号",
        "region": "CN-CD",
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    assert anonymous.post(f"/forms/{TENANT}/web-repair", form, headers=key).status == 201
    other = anonymous.post(f"/forms/{TENANT}/web-repair", {**form, "address": "别处"}, headers=key)
    assert (other.status, other.body["error"]) == (422, "idempotency_key_reused"), other.body
