"""Concurrent requests on the session twin: each answer belongs to its own request.

The twin imports each handler module once; a powertools resolver keeps the request it is
resolving in ``app.current_event``. A Lambda container handles one event at a time, so the twin
runs one event at a time per function (``infra/twin/lambdas.py``); without that, two requests to
the same function read each other's path, caller or body. Each invocation also sees its own
function's environment: a function assumes the tenant role its ``TENANT_DATA_ACCESS`` names.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest

from functions.webhooks.adapters import standard_webhooks
from infra.twin.client import Answer, TwinClient
from infra.twin.deploy import ACCOUNT
from infra.twin.iam import SIGNED_FOR_TENANT
from infra.twin.twin import LocalTwin, secrets_for
from shared.domain.deliveries import delivery_ticket_id

ACME, BRIGHT = "acme-home", "bright-clean"
CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "?"}
COMPLAINT = {"customer_name": "Frau Klein", "customer_phone": "+4915100000099", "description": "?"}
THREADS = 16


def _consult(marker: str) -> dict[str, Any]:
    return {"type": "consult", "fields": {**CONSULT, "question": f"q {marker}"}}


def _complaint(marker: str) -> dict[str, Any]:
    return {"type": "complaint", "fields": {**COMPLAINT, "description": f"d {marker}"}}


def test_concurrent_requests_to_one_function_each_get_their_own_answer(anonymous: TwinClient) -> None:
    """16 threads call scrm-ticket-api at once, as two tenants' agents: reads of their own
    tickets and creations with their own fields; every answer is the one its request asked for."""
    run = uuid.uuid4().hex[:8]
    users = {
        ACME: anonymous.as_user(ACME, "u-lin", ["agent"]),
        BRIGHT: anonymous.as_user(BRIGHT, "u-anna", ["agent"]),
    }
    body_of = {ACME: _consult, BRIGHT: _complaint}
    type_of, user_of = {ACME: "consult", BRIGHT: "complaint"}, {ACME: "u-lin", BRIGHT: "u-anna"}
    mine: list[tuple[str, str]] = []  # (tenant, ticket id), one per thread
    for n in range(THREADS):
        tenant = ACME if n % 2 else BRIGHT
        created = users[tenant].post("/tickets", body_of[tenant](f"{run}-seed-{n}"))
        assert created.status == 201, created.body
        mine.append((tenant, created.body["id"]))

    def work(n: int) -> list[str]:
        tenant, ticket_id = mine[n]
        client, wrong = users[tenant], []
        for round_ in range(9):
            read = client.get(f"/tickets/{ticket_id}")
            got = read.body if isinstance(read.body, dict) else {}
            seen = (read.status, got.get("id"), got.get("type"))
            if seen != (200, ticket_id, type_of[tenant]):
                wrong.append(f"GET {tenant}/{ticket_id}: {read.status} {_short(read)}")
            if round_ % 4 == 0:
                marker = f"{run}-{n}-{round_}"
                made = client.post("/tickets", body_of[tenant](marker))
                answer = made.body if isinstance(made.body, dict) else {}
                fields, by = json.dumps(answer.get("fields"), ensure_ascii=False), answer.get("created_by")
                if made.status != 201 or marker not in fields or by != user_of[tenant]:
                    wrong.append(f"POST {tenant} {marker}: {made.status} {_short(made)}")
        return wrong

    with ThreadPoolExecutor(THREADS) as pool:
        wrong = [line for lines in pool.map(work, range(THREADS)) for line in lines]
    assert wrong == [], f"{len(wrong)} answers belonged to another request:\n" + "\n".join(wrong[:10])


def _short(answer: Answer) -> str:
    body = answer.body if isinstance(answer.body, dict) else {}
    keys = ("id", "type", "created_by", "fields", "error", "message")
    return json.dumps({k: body.get(k) for k in keys}, ensure_ascii=False)


def test_each_function_assumes_the_tenant_role_its_own_environment_names(
    twin: LocalTwin, anonymous: TwinClient
) -> None:
    """scrm-settlement-api reads as the read-only role; the ticket API writes as the data role; both
    in sessions tagged with the caller's tenant."""
    assert twin.lambdas.functions["scrm-settlement-api"].environment["TENANT_DATA_ACCESS"] == "read"
    assert twin.lambdas.functions["scrm-ticket-api"].environment["TENANT_DATA_ACCESS"] == "data"
    read_role = (f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-read", ACME)
    data_role = (f"arn:aws:iam::{ACCOUNT}:role/scrm-tenant-data", ACME)
    finance = anonymous.as_user(ACME, "u-qian", ["finance"])
    agent = anonymous.as_user(ACME, "u-lin", ["agent"])
    reads, writes = SIGNED_FOR_TENANT[read_role], SIGNED_FOR_TENANT[data_role]

    with ThreadPoolExecutor(4) as pool:
        report = pool.submit(finance.get, "/reports/revenue?group_by=tier")
        created = pool.submit(agent.post, "/tickets", _consult(uuid.uuid4().hex[:8]))
        assert report.result().status == 200, report.result().body
        assert created.result().status == 201, created.result().body

    assert SIGNED_FOR_TENANT[read_role] > reads, "the settlement API did not read as the read role"
    assert SIGNED_FOR_TENANT[data_role] > writes


# --------------------------------------------------------------------------- 300 deliveries

PARTNER = "partner-api"
DELIVERIES = 300
DISTINCT = 120
RETRIES = 90
FORGERIES = DELIVERIES - DISTINCT - RETRIES
SENDERS = 8
TICKETS_WAIT_SECONDS = 180.0


@dataclass(frozen=True)
class Delivery:
    msg_id: str
    body: bytes
    headers: dict[str, str]
    forged: bool


def _work_order(run: str, n: int) -> bytes:
    """An install work order in 绵阳 (CN-MY), where no technician works: dispatch finds nobody and
    the ticket waits for a dispatcher, so the deliveries take no technician's capacity."""
    return json.dumps(
        {
            "type": "work_order.requested",
            "data": {
                "name": f"Partner {run}-{n}",
                "phone": "+8613600000004",
                "address": f"绵阳市涪城区临园路{n}号 {run}",
                "region": "CN-MY",
            },
        },
        ensure_ascii=False,
    ).encode()


def _one_byte_changed(body: bytes) -> bytes:
    at = body.index(b"+8613600000004") + len(b"+8613600000004") - 1
    return body[:at] + b"5" + body[at + 1 :]


def _deliveries(run: str, secret: str, timestamp: str) -> list[Delivery]:
    rng = random.Random(run)
    originals: list[Delivery] = []
    for n in range(DISTINCT):
        msg_id = f"msg_{run}_{n:03d}"
        body = _work_order(run, n)
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": standard_webhooks.sign(secret, msg_id, timestamp, body),
        }
        originals.append(Delivery(msg_id, body, headers, forged=False))
    retried = [rng.choice(originals) for _ in range(RETRIES)]  # the same id, body and signature again
    forged = [
        Delivery(d.msg_id, _one_byte_changed(d.body), d.headers, forged=True)
        for d in (rng.choice(originals) for _ in range(FORGERIES))
    ]
    sent = originals + retried + forged
    rng.shuffle(sent)
    return sent


@pytest.mark.slow
def test_300_signed_deliveries_8_at_a_time_with_retries_and_forgeries(
    twin: LocalTwin, anonymous: TwinClient
) -> None:
    """Every genuine delivery (first or resent) is acknowledged, every one-byte forgery refused
    with 401, and each distinct delivery id becomes exactly one ticket."""
    run = uuid.uuid4().hex[:8]
    secret = secrets_for(twin.tenant_files, None)[f"/scrm/{ACME}/{PARTNER}"]
    timestamp = str(int(twin.clock.now().timestamp()))  # the manual clock stands still meanwhile
    sent = _deliveries(run, secret, timestamp)
    assert len(sent) == DELIVERIES

    def deliver(delivery: Delivery) -> tuple[Delivery, Answer]:
        path = f"/webhooks/{ACME}/{PARTNER}"
        return delivery, anonymous.request("POST", path, raw=delivery.body, headers=delivery.headers)

    started = time.monotonic()
    with ThreadPoolExecutor(SENDERS) as pool:
        answers = list(pool.map(deliver, sent))
    acknowledged = time.monotonic() - started

    wrong = []
    for delivery, answer in answers:
        if delivery.forged and answer.status != 401:
            wrong.append(f"forgery of {delivery.msg_id} got {answer.status} {answer.body}")
        expected = {"status": "received", "delivery_id": delivery.msg_id}
        if not delivery.forged and (not 200 <= answer.status < 300 or answer.body != expected):
            wrong.append(f"genuine {delivery.msg_id} got {answer.status} {answer.body}")
    assert wrong == [], f"{len(wrong)} of {DELIVERIES} answers were wrong:\n" + "\n".join(wrong[:10])

    # Then: exactly one ticket per distinct delivery id, the one its id names
    agent = anonymous.as_user(ACME, "u-lin", ["agent"])
    ops = anonymous.as_user(ACME, "u-zhao", ["dispatcher"])
    distinct = sorted({d.msg_id for d in sent})
    pending = {delivery_ticket_id(ACME, PARTNER, msg_id): msg_id for msg_id in distinct}
    deadline = time.monotonic() + TICKETS_WAIT_SECONDS
    while pending and time.monotonic() < deadline:
        ticket_id = next(iter(pending))
        if agent.get(f"/tickets/{ticket_id}").status == 200:
            del pending[ticket_id]
        else:
            time.sleep(0.1)
    assert not pending, f"{len(pending)} of {len(distinct)} deliveries never became a ticket"
    time.sleep(0.5)  # a wrongly queued repeat would reach the consumer by now
    tickets = _install_tickets_of(agent, run)
    assert sorted(tickets) == sorted(delivery_ticket_id(ACME, PARTNER, m) for m in distinct)
    records = _delivery_records_of(ops, run)
    assert records == Counter({msg_id: 1 for msg_id in distinct})
    print(
        f"\n[300 deliveries] acknowledged in {acknowledged:.1f} s, "
        f"all {len(distinct)} tickets after {time.monotonic() - started:.1f} s"
    )


def _install_tickets_of(client: TwinClient, run: str) -> list[str]:
    ids: list[str] = []
    cursor: str | None = None
    while True:
        page = client.get("/tickets?type=install&limit=100" + (f"&next={cursor}" if cursor else ""))
        assert page.status == 200, page.body
        ids += [t["id"] for t in page.body["items"] if run in json.dumps(t["fields"], ensure_ascii=False)]
        cursor = page.body["next"]
        if not cursor:
            return ids


def _delivery_records_of(ops: TwinClient, run: str) -> Counter[str]:
    found: Counter[str] = Counter()
    cursor: str | None = None
    while True:
        page = ops.get(f"/deliveries?channel={PARTNER}&limit=100" + (f"&next={cursor}" if cursor else ""))
        assert page.status == 200, page.body
        found.update(d["delivery_id"] for d in page.body["items"] if f"_{run}_" in d["delivery_id"])
        cursor = page.body["next"]
        if not cursor:
            return found
