"""Faults injected into the twin, then exactly-once outcomes.

DynamoDB throttling (absorbed by the SDKs' retries, or beyond them), the intake consumer dying
between creating the ticket and marking the delivery, and ``SendTaskSuccess`` failing. After
the faults clear, every delivery has exactly one ticket and every settled ticket exactly one
ledger entry; the last test prints the counts of the whole tenant.

The injectors live in ``tests/faults.py`` and put everything back when they exit.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

import functions.ticket.service as ticket_service
from functions.webhooks.adapters import shopify
from infra.twin.client import Answer, TwinClient
from infra.twin.twin import LocalTwin
from shared.domain.deliveries import delivery_ticket_id
from tests.e2e.steps import act, complete_and_confirm, settlement_replay
from tests.e2e.test_intake import shopify_order
from tests.factories import INSTALL_FIELDS
from tests.faults import (
    Census,
    census,
    crash_after,
    dynamodb_throttled,
    send_task_success_fails,
    short_visibility,
)

TENANT = "acme-home"
CHANNEL = "shopify-main"
SHOPIFY_SECRET = "test-webhook-secret"  # examples/tenants/acme-home.secrets.yaml
CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "适合20平米吗?"}
INSTALL = INSTALL_FIELDS
ON_SITE = {
    "photos": ["photos/before.jpg", "photos/after.jpg"],
    "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
    "parts": [{"sku": "PRT-BRACKET", "quantity": 1}],
}
WAIT_SECONDS = 20.0


# --------------------------------------------------------------------------- helpers


def order_body(marker: str) -> bytes:
    """A Shopify orders/create body with an install line (``tests/e2e/test_intake.py``), as sent."""
    return json.dumps(shopify_order(marker)).encode()


def deliver(client: TwinClient, webhook_id: str, body: bytes) -> Answer:
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Hmac-Sha256": shopify.signature(SHOPIFY_SECRET, body),
        "X-Shopify-Shop-Domain": "acme-home.myshopify.com",
    }
    return client.request("POST", f"/webhooks/{TENANT}/{CHANNEL}", raw=body, headers=headers)


def deliver_until_accepted(client: TwinClient, webhook_id: str, body: bytes, attempts: int = 5) -> list[int]:
    """Shopify's behaviour: a delivery answered with anything but 2xx is sent again."""
    statuses = []
    for _ in range(attempts):
        statuses.append(deliver(client, webhook_id, body).status)
        if statuses[-1] < 300:
            return statuses
        time.sleep(0.2)
    return statuses


def wait_until(what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise TimeoutError(f"{what}: still {last!r} after {timeout} s")


def table() -> str:
    return os.environ["TABLE_NAME"]


def delivery_done(webhook_id: str) -> Callable[[], Any]:
    def check() -> Any:
        item = census(table(), TENANT).deliveries.get(f"{CHANNEL}/{webhook_id}")
        return item if item and item.get("status") != "queued" else None

    return check


def intake_queue(twin: LocalTwin) -> str:
    return next(url for d in twin.deployments for url, fn, _ in d.event_sources if fn == "scrm-ticket-intake")


@pytest.fixture(scope="module")
def admin(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user(TENANT, "u-faults-admin", ["admin"])


@pytest.fixture(autouse=True)
def cancel_what_the_test_opened(admin: TwinClient) -> Iterator[None]:
    """Install tickets opened here are dispatched and count against technicians' capacity: cancel
    the ones still open after each test, so later tests find the technicians as they were."""
    before = set(census(table(), TENANT).tickets)
    yield
    opened = [
        ticket_id
        for ticket_id, item in census(table(), TENANT).tickets.items()
        if ticket_id not in before and item.get("status") == "open"
    ]
    for ticket_id in opened:
        answer = admin.post(f"/tickets/{ticket_id}/cancel", {"reason": "fault test done"})
        assert answer.status in (200, 409), answer.body


# --------------------------------------------------------------------------- DynamoDB throttling


def test_throttling_within_the_sdk_retries_changes_no_answer(
    anonymous: TwinClient, agent: TwinClient
) -> None:
    # Given DynamoDB throttles one request in three (each SDK call retries with backoff)
    marker = uuid.uuid4().hex[:8]
    ids = [f"wh-throttle-{marker}-{n}" for n in range(3)]
    with dynamodb_throttled(10, every=3, code="ProvisionedThroughputExceededException") as throttled:
        # When Shopify delivers three orders (one of them twice) and an agent opens a ticket
        answers = [deliver(anonymous, i, order_body(f"{marker}-{n}")) for n, i in enumerate(ids)]
        answers.append(deliver(anonymous, ids[0], order_body(f"{marker}-0")))
        created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
        for webhook_id in ids:
            wait_until(f"delivery {webhook_id} handled", delivery_done(webhook_id))

    # Then DynamoDB did throttle, and every answer is what it is without throttling
    assert throttled.total > 0, "the injector never fired"
    assert [a.status for a in answers] == [200, 200, 200, 200], [a.body for a in answers]
    assert created.status == 201, created.body
    # And each delivery is one ticket
    now = census(table(), TENANT)
    for webhook_id in ids:
        item = now.deliveries[f"{CHANNEL}/{webhook_id}"]
        assert item["status"] == "ticket_created", item
        assert item["ticket_id"] == delivery_ticket_id(TENANT, CHANNEL, webhook_id)
        assert item["ticket_id"] in now.tickets
    assert agent.wait_ready(created.body["id"], node="answer")["status"] == "open"


def test_throttling_beyond_the_retries_is_retried_by_the_sender_and_makes_one_ticket(
    anonymous: TwinClient, twin: LocalTwin
) -> None:
    # Given DynamoDB throttles every request for a while (more than the SDKs retry)
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-burst-{marker}"
    body = order_body(marker)
    with dynamodb_throttled(12, code="ThrottlingException") as throttled:
        # When Shopify delivers an order during the burst
        during = deliver(anonymous, webhook_id, body)
    assert throttled.total >= 4  # pynamodb tries a request 4 times (3 retries with backoff)

    # Then the answer is "busy, retry" (503 with Retry-After), never an internal error; Shopify
    # sends the delivery again on any non-2xx ...
    assert (during.status, during.body["error"]) == (503, "unavailable"), during.body
    assert during.headers.get("retry-after")
    # ... and once it is accepted, the delivery is exactly one ticket
    assert deliver_until_accepted(anonymous, webhook_id, body)[-1] == 200
    wait_until(f"delivery {webhook_id} handled", delivery_done(webhook_id))
    now = census(table(), TENANT)
    item = now.deliveries[f"{CHANNEL}/{webhook_id}"]
    assert item["status"] == "ticket_created", item
    assert item["ticket_id"] in now.tickets


# --------------------------------------------------------------------------- a crash between two writes


def test_intake_crash_after_the_ticket_before_the_mark_is_retried_without_a_second_ticket(
    anonymous: TwinClient, agent: TwinClient, twin: LocalTwin
) -> None:
    # Given the intake consumer dies right after creating the ticket, before marking the delivery
    marker = uuid.uuid4().hex[:8]
    webhook_id = f"wh-crash-{marker}"
    ticket_id = delivery_ticket_id(TENANT, CHANNEL, webhook_id)
    before = twin.lambdas.invocations.get("scrm-ticket-intake", 0)
    with (
        short_visibility(intake_queue(twin), seconds=1),
        crash_after(
            ticket_service, "create_ticket", 1, when=lambda *a, **k: k.get("ticket_id") == ticket_id
        ) as crashed,
    ):
        # When Shopify delivers an order
        assert deliver(anonymous, webhook_id, order_body(marker)).status == 200
        # Then the message comes back after the crash and the delivery is marked
        item = wait_until(f"delivery {webhook_id} handled", delivery_done(webhook_id))

    assert crashed.total == 1, "the injected crash did not happen"
    assert twin.lambdas.invocations["scrm-ticket-intake"] - before >= 2, "the message was not retried"
    assert item["status"] == "ticket_created" and item["ticket_id"] == ticket_id, item
    # And there is one ticket, created once, whose workflow started once
    now = census(table(), TENANT)
    mine = [
        t for t, i in now.tickets.items() if marker in json.dumps(i.get("fields") or {}, ensure_ascii=False)
    ]
    assert mine == [ticket_id]
    ready = agent.wait_ready(ticket_id)
    history = agent.get(f"/tickets/{ticket_id}/history").body["events"]
    assert [e["kind"] for e in history].count("created") == 1
    assert [e["kind"] for e in history].count("entered") == 1, history
    assert ready["status"] == "open"


# --------------------------------------------------------------------------- SendTaskSuccess failing


def _parked_consult(agent: TwinClient) -> dict[str, Any]:
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201, created.body
    return agent.wait_ready(created.body["id"], node="answer")


def _engine_client() -> Any:
    from functions.ticket import wiring

    return wiring.deps().engine._client  # type: ignore[attr-defined]


def test_send_task_success_timed_out_answers_409_and_the_ticket_stays_where_it_is(agent: TwinClient) -> None:
    # Given a consult ticket waiting at `answer`, whose task token has timed out
    ready = _parked_consult(agent)
    ticket_id = ready["id"]
    with send_task_success_fails(_engine_client(), code="TaskTimedOut") as failing:
        # When the agent answers
        acted = act(agent, ticket_id, "answered", {"answer": "适合"}, ready["version"])
    assert failing.total == 1

    # Then the action is refused with 409, and the ticket does not claim the move
    assert acted.status == 409, acted.body
    assert "not applied" in acted.body["message"]
    after = agent.get(f"/tickets/{ticket_id}").body
    assert (after["status"], after["node"]) == ("open", "answer")
    assert "answer" not in after["fields"]
    assert after["ready"] is False  # the token is gone: nobody can act on a dead task
    kinds = [e["kind"] for e in agent.get(f"/tickets/{ticket_id}/history").body["events"]]
    assert kinds[-2:] == ["action", "action_failed"], kinds


def test_send_task_success_throttled_is_not_a_500_and_the_action_can_be_retried(agent: TwinClient) -> None:
    # Given a consult ticket waiting at `answer`, and Step Functions throttling SendTaskSuccess
    ready = _parked_consult(agent)
    ticket_id = ready["id"]
    with send_task_success_fails(_engine_client(), code="ThrottlingException"):
        acted = act(agent, ticket_id, "answered", {"answer": "适合"}, ready["version"])

    # Then the caller is told to retry, and the ticket still waits at `answer` for the action
    assert (acted.status, acted.body["error"]) == (503, "unavailable"), acted.body
    after = agent.get(f"/tickets/{ticket_id}").body
    assert (after["status"], after["node"], after["ready"]) == ("open", "answer", True)
    assert "answer" not in after["fields"]
    kinds = [e["kind"] for e in agent.get(f"/tickets/{ticket_id}/history").body["events"]]
    assert kinds[-2:] == ["action", "action_failed"], kinds
    # And once the fault has cleared, the same action goes through and the ticket closes
    retried = act(agent, ticket_id, "answered", {"answer": "适合"}, after["version"])
    assert retried.status == 200, retried.body
    assert agent.wait_status(ticket_id, "closed")["node"] == "done"


# --------------------------------------------------------------------------- settlement under faults


def _on_site(agent: TwinClient, admin: TwinClient, ticket_id: str, timeout: float = 15.0) -> dict[str, Any]:
    """The install ticket once a technician has it on site; skips while dispatch cannot get it there."""
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = agent.get(f"/tickets/{ticket_id}").body
        if last.get("status") == "failed":
            pytest.skip(f"install tickets cannot reach settlement yet: failed ({last.get('reason')})")
        if last.get("ready") and last.get("node") == "manual_dispatch":  # nobody scored: assign one
            assigned = act(admin, ticket_id, "assign", {"technician": "t-wang"}, last["version"])
            if assigned.status != 200:
                pytest.skip(f"the install ticket could not be assigned: {assigned.body}")
        if last.get("ready") and last.get("node") == "on_site" and (last.get("assignee") or {}).get("id"):
            return last
        time.sleep(0.05)
    pytest.skip(f"install tickets cannot reach settlement yet: stopped at {last.get('node')}")


def test_settlement_under_throttling_and_a_replayed_step_writes_one_ledger_entry(
    anonymous: TwinClient, agent: TwinClient, admin: TwinClient, twin: LocalTwin
) -> None:
    # Given an install ticket on site with its technician
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    ticket = _on_site(agent, admin, ticket_id)
    technician = anonymous.as_user(TENANT, ticket["assignee"]["id"], ["technician"])

    # When the job is completed and confirmed while DynamoDB throttles one request in three
    with dynamodb_throttled(12, every=3) as throttled:
        complete_and_confirm(technician, agent, ticket_id, ticket["version"], ON_SITE)
        closed = agent.wait_status(ticket_id, "closed")
    assert throttled.total > 0

    # And the settlement step is delivered again (a retried task), with DynamoDB throttling
    replay = settlement_replay(TENANT, ticket_id)
    with dynamodb_throttled(3, every=2):
        assert twin.lambdas.invoke("scrm-settlement-settle", replay)["outcome"] == "done"

    # Then the ticket has one settlement and one ledger entry
    assert closed["settlement"]["sequence"] == 1
    now = census(table(), TENANT)
    assert now.settlements[ticket_id] == 1
    assert now.ledger[ticket_id] == 1


# --------------------------------------------------------------------------- the census


def test_after_the_faults_every_delivery_has_one_ticket_and_every_settlement_one_ledger_entry(
    capsys: pytest.CaptureFixture[str], record_property: Callable[[str, object], None]
) -> None:
    def settled() -> Census | None:
        now = census(table(), TENANT)
        return None if any(d.get("status") == "queued" for d in now.deliveries.values()) else now

    now: Census = wait_until("every delivery handled", settled)
    with capsys.disabled():
        print(f"\n[faults] {TENANT}: {now.summary()}")
    record_property("census", now.summary())
    assert now.delivery_problems() == []
    assert now.ledger_problems() == []
