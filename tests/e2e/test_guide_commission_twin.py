"""Issue 17 on the example tenant as deployed (no edited file): a customer who ordered on Shopify
writes to the guide's WeCom with their phone in the text; ``phone_in(Content)`` links the message
to the same customer, whose timeline then holds both channels. The consult is handed off to an
install, which keeps the WeCom channel; its settlement pays the channel's owner (孙导购, u-sun) the
5 % ``channel_owner`` share, shown on the guide's statement and nowhere else."""

from __future__ import annotations

import json
import random
import uuid
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest

from functions.webhooks.adapters import shopify, wecom
from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin, secrets_for
from shared.domain.deliveries import delivery_ticket_id
from tests.e2e.steps import act, eventually
from tests.e2e.test_settlement_flow import twin_period

TENANT = "acme-home"


@pytest.fixture(scope="module")
def secrets(twin: LocalTwin) -> dict[str, str]:
    return secrets_for(twin.tenant_files, None)


def _shopify_order(anonymous: TwinClient, secret: str, phone: str, marker: str) -> str:
    order = {
        "id": random.randrange(10**15, 10**16),
        "total_price": "2999.00",
        "customer": {"id": random.randrange(10**9, 10**10), "first_name": "伟", "last_name": "林"},
        "shipping_address": {"address1": f"建国路{marker}", "province_code": "CN-BJ", "phone": phone},
        "line_items": [{"title": "空调", "quantity": 1, "tags": ["install"]}],
    }
    body = json.dumps(order, ensure_ascii=False).encode()
    webhook_id = f"guide-{marker}"
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Hmac-Sha256": shopify.signature(secret, body),
    }
    answer = anonymous.request("POST", f"/webhooks/{TENANT}/shopify-main", raw=body, headers=headers)
    assert answer.status == 200, answer.body
    return delivery_ticket_id(TENANT, "shopify-main", webhook_id)


def _wecom_message(anonymous: TwinClient, secrets: dict[str, str], text: str, marker: str) -> str:
    msg_id = str(7_200_000_000_000_000 + int(marker[:8], 16))
    message = wecom.text_message("ww-demo", f"wm-{marker}", text, msg_id, create_time="1700000000")
    query, body = wecom.envelope(
        message,
        token=secrets["/scrm/acme-home/wecom-token"],
        aes_key=secrets["/scrm/acme-home/wecom-aes-key"],
        corp_id="ww-demo",
        timestamp="1700000000",
        nonce=f"n{marker}",
    )
    path = f"/webhooks/{TENANT}/wecom-service?{urlencode(query)}"
    answer = anonymous.request("POST", path, raw=body, headers={"content-type": "text/xml"})
    assert answer.status == 200, answer.body
    return delivery_ticket_id(TENANT, "wecom-service", f"wecom:{msg_id}")


def _timeline(agent: TwinClient, customer_id: str) -> list[dict[str, Any]]:
    return list(agent.get(f"/customers/{customer_id}/timeline?limit=50").body["items"])


def test_a_wecom_message_joins_the_shopify_customer_and_its_install_pays_the_guide(
    anonymous: TwinClient, agent: TwinClient, secrets: dict[str, str]
) -> None:
    marker = uuid.uuid4().hex[:10]
    phone = f"139{random.randrange(10**7, 10**8)}"
    period = twin_period(agent)

    # Given a Shopify order from this phone
    order_ticket = _shopify_order(anonymous, secrets["/scrm/acme-home/shopify-main"], f"+86{phone}", marker)
    ordered = agent.wait_ready(order_ticket, timeout=30)
    customer_id = ordered["customer_id"]
    assert customer_id

    # When the customer writes to the guide's WeCom with the number in the text (spaced as people type)
    spaced = f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    consult_id = _wecom_message(anonymous, secrets, f"想再装一台空调 {marker}, 电话 {spaced}", marker)
    consult = agent.wait_ready(consult_id, node="answer", timeout=30)

    # Then the message is the same customer's, and the timeline holds both channels
    assert consult["fields"]["customer_phone"] == f"+86{phone}"
    assert consult["customer_id"] == customer_id
    items = eventually(
        lambda: _timeline(agent, customer_id),
        lambda items: {"shopify-main", "wecom-service"} <= {i.get("channel") for i in items},
        what="the timeline of both channels",
    )
    refs = [item["ref"] for item in items]
    assert order_ticket in refs and consult_id in refs
    assert [item["at"] for item in items] == sorted(item["at"] for item in items)  # oldest first

    # When the agent hands the consult off to an install, which is completed and settled
    answered = act(agent, consult_id, "to_install", {"answer": "已预约安装"}, consult["version"])
    assert answered.status == 200, answered.body
    install_id = f"{consult_id}-handoff-1"
    install = agent.wait_ready(install_id, timeout=30)
    assert install["channel"] == "wecom-service" and install["customer_id"] == customer_id
    patched = agent.request(
        "PATCH",
        f"/tickets/{install_id}/fields",
        {"fields": {"address": f"建国路{marker}", "region": "CN-BJ"}, "version": install["version"]},
    )
    assert patched.status == 200, patched.body
    dispatcher = anonymous.as_user(TENANT, "u-zhao", ["supervisor", "dispatcher"])
    manual = dispatcher.wait_ready(install_id, node="manual_dispatch")
    assert act(dispatcher, install_id, "assign", {"technician": "t-wang"}, manual["version"]).status == 200
    technician = anonymous.as_user(TENANT, "t-wang", ["technician"])
    on_site = technician.wait_ready(install_id, node="on_site")
    work = {"photos": ["a.jpg", "b.jpg"], "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}]}
    assert act(technician, install_id, "complete", work, on_site["version"]).status == 200
    confirm = agent.wait_ready(install_id, node="customer_confirm")
    assert act(agent, install_id, "confirm", {"satisfaction": "5"}, confirm["version"]).status == 200
    settlement = agent.wait_status(install_id, "closed")["settlement"]

    # Then the guide's statement has the 5 % line of this install, and only the guide's
    share = (Decimal(settlement["total"]) * 5 / 100).quantize(Decimal("0.01"))
    guide = anonymous.as_user(TENANT, "u-sun", ["agent"])
    statement = guide.get(f"/staff/u-sun/earnings?period={period}")
    assert statement.status == 200, statement.body
    lines = [line for line in statement.body["lines"] if line["ticket_id"] == install_id]
    assert [(line["party"], Decimal(line["amount"])) for line in lines] == [("channel_owner", share)]
    agents_lines = agent.get(f"/staff/u-lin/earnings?period={period}").body["lines"]
    assert all(line["ticket_id"] != install_id for line in agents_lines)  # the agent who acted: no share
    # The Shopify install (channel shopify-main, no owner) pays no share
    assert all(line["ticket_id"] != order_ticket for line in statement.body["lines"])
