"""Customers through the twin's HTTP API: a Shopify order and a web form from the same phone end on
one customer, whose timeline holds both; a technician sees only the customers of their tickets."""

from __future__ import annotations

import json
import random
import time
import uuid
from typing import Any

from infra.twin.client import TwinClient
from shared.domain.deliveries import delivery_ticket_id
from tests.e2e.test_intake import TENANT, WAIT_SECONDS, post_shopify, shopify_order, wait_for_ticket


def _phone() -> tuple[str, str]:
    """A number unique to the run: (E.164, as a person types it)."""
    national = f"139{random.randrange(10**8):08d}"
    return f"+86{national}", f"{national[:3]} {national[3:7]} {national[7:]}"


def _timeline(client: TwinClient, customer_id: str, limit: int = 2) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    cursor = ""
    for _page in range(20):
        answer = client.get(f"/customers/{customer_id}/timeline?limit={limit}{cursor}")
        assert answer.status == 200, answer.body
        entries += answer.body["items"]
        if answer.body["next"] is None:
            return entries
        cursor = f"&cursor={answer.body['next']}"
    raise AssertionError("the timeline did not end")


def test_an_order_and_a_form_from_one_phone_are_one_customer(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    e164, typed = _phone()
    marker = uuid.uuid4().hex[:8]
    # Given a Shopify order whose shipping phone is the number
    order = shopify_order(marker)
    order["shipping_address"]["phone"] = e164
    order["customer"]["id"] = random.randrange(10**15, 10**16)
    webhook_id = f"wh-{marker}"
    assert post_shopify(anonymous, json.dumps(order).encode(), webhook_id).status == 200
    first = wait_for_ticket(agent, delivery_ticket_id(TENANT, "shopify-main", webhook_id))
    # And a web form from the same number
    form = {
        "customer_name": "林伟",
        "customer_phone": e164,
        "address": f"2 Road ({marker})",
        "region": "CN-BJ",
    }
    created = anonymous.post(f"/forms/{TENANT}/web-repair", form)
    assert created.status == 201, created.body
    second = wait_for_ticket(agent, created.body["ticket_id"])

    # Then both tickets name one customer, found by the number as a person types it
    assert first["customer_id"] and first["customer_id"] == second["customer_id"]
    customer_id = first["customer_id"]
    found = agent.get(f"/customers?phone={typed.replace(' ', '%20')}")
    assert found.status == 200, found.body
    assert [c["id"] for c in found.body["items"]] == [customer_id]
    profile = agent.get(f"/customers/{customer_id}").body
    assert profile["phones"] == [e164]
    assert profile["platform_ids"] == [f"shopify:{order['customer']['id']}"]
    assert (profile["orders"], profile["lifetime_value"], profile["tickets"]) == (1, "3999.00", 2)
    assert profile["tier"] == "regular"

    # And its timeline, paged two at a time, holds both channels oldest first
    entries = _timeline(agent, customer_id)
    refs = [(e["kind"], e["ref"]) for e in entries]
    assert ("ticket_opened", first["id"]) in refs and ("ticket_opened", second["id"]) in refs
    assert ("order_received", f"shopify-main/{webhook_id}") in refs
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)
    assert {e["channel"] for e in entries} == {"shopify-main", "web-repair"}

    # And a replay of the order adds nothing
    assert post_shopify(anonymous, json.dumps(order).encode(), webhook_id).status == 200
    assert agent.get(f"/customers/{customer_id}").body["lifetime_value"] == "3999.00"


def test_a_technician_sees_only_the_customers_of_their_tickets(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    e164, _typed = _phone()
    # a consult ticket (never dispatched) for one customer
    created = agent.post(
        "/tickets",
        {"type": "consult", "fields": {"customer_name": "周", "customer_phone": e164, "question": "?"}},
    )
    assert created.status == 201, created.body
    stranger = created.body["customer_id"]
    # an install ticket for another, dispatched to a technician
    other, _ = _phone()
    form = {"customer_name": "吴", "customer_phone": other, "address": "3 Road", "region": "CN-BJ"}
    ticket = wait_for_ticket(agent, anonymous.post(f"/forms/{TENANT}/web-repair", form).body["ticket_id"])
    deadline = time.monotonic() + WAIT_SECONDS
    while not (ticket.get("dispatch") or {}).get("technician") and time.monotonic() < deadline:
        time.sleep(0.2)
        ticket = agent.get(f"/tickets/{ticket['id']}").body
    technician = ticket["dispatch"]["technician"]
    mine = anonymous.as_user(TENANT, technician, ["technician"])

    assert mine.get(f"/customers/{ticket['customer_id']}").status == 200
    assert mine.get(f"/customers/{ticket['customer_id']}/timeline").status == 200
    hidden = mine.get(f"/customers/{stranger}")
    assert hidden.status == 404 and hidden.body["error"] == "not_found"
    assert mine.get(f"/customers/{stranger}/timeline").status == 404
    assert mine.get(f"/customers?phone={other.replace('+', '%2B')}").status == 404  # search is for staff
    assert agent.get(f"/customers/{stranger}").status == 200
    assert agent.get("/customers/CU-nope").status == 404
    bad = agent.get("/customers?phone=call-me")
    assert bad.status == 422 and bad.body["details"][0]["field"] == "phone"
