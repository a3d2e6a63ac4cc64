"""``scrm bench ingest [--tickets N] [--json]``: webhook acknowledgement latency and intake throughput.

On a fresh local twin (both example tenants, manual clock, function logs at ERROR) one client
sends N signed Shopify ``orders/create`` deliveries (each with an install-tagged line, so each
matches acme-home's rule and becomes an install ticket) to ``POST /webhooks/acme-home/shopify-main``,
one after the other, and times each request on the client side: from sending the request to
having read the answer, i.e. what Shopify waits for (verify, dedupe write, store, enqueue, 200).
Meanwhile the twin's SQS poller feeds ``scrm-ticket-intake``, which creates the tickets and
starts their workflows. End to end is from the first send until every delivery's ticket exists
(``GET /tickets/{id}``, the id derived from the delivery); deliveries/s = N / that time.

One warm-up delivery (the functions' cold start) is sent and turned into its ticket first and
is not counted. Lambda invocations and handler CPU per delivery come from the twin's meter
(everything the deliveries caused while measured, workflows included; not the polling itself).
Progress goes to stderr; the result to stdout (a table, or JSON with ``--json``).
"""

from __future__ import annotations

import json
import math
import sys
import time
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from benchmarks import _examples
from functions.webhooks.adapters import shopify
from infra.twin.client import TwinClient
from shared.domain.deliveries import delivery_ticket_id

TENANT, CHANNEL = "acme-home", "shopify-main"
SECRET_REF = f"/scrm/{TENANT}/{CHANNEL}"
START = datetime.fromisoformat("2026-11-23T10:00:00+08:00")  # a Monday morning
PROGRESS_EVERY = 100
POLL_SECONDS = 0.1
TIMEOUT_BASE_SECONDS = 120.0
TIMEOUT_PER_DELIVERY_SECONDS = 3.0
"""The wait for every ticket gives up after base + per delivery seconds (missing ones are reported)."""
POLLER = "scrm-ticket-api"
"""Left out of the per-delivery figures: its calls are this benchmark's own `GET /tickets/{id}` polls."""


def _progress(line: str) -> None:
    print(f"  {line}", file=sys.stderr, flush=True)


def order(run: str, n: int) -> bytes:
    """A Shopify orders/create body with one install line, unique to this run and number."""
    return json.dumps(
        {
            "id": 9_000_000_000 + n,
            "name": f"#B{n}",
            "currency": "CNY",
            "total_price": "3999.00",
            "customer": {"id": 115310627314723954, "first_name": "Bench", "last_name": f"{run}-{n}"},
            "shipping_address": {
                "address1": f"{n} Bench Rd ({run})",
                "city": "Beijing",
                "province_code": "CN-BJ",
                "country_code": "CN",
                "phone": "+8613800000009",
            },
            "line_items": [
                {"id": 466157049, "title": "AC-35 split unit", "quantity": 1, "tags": ["install"]},
                {"id": 518995019, "title": "Remote", "quantity": 1, "tags": []},
            ],
        }
    ).encode()


def send(client: TwinClient, secret: str, webhook_id: str, body: bytes) -> tuple[int, float]:
    """POST one signed delivery; (status, client-side milliseconds until the answer was read)."""
    headers = {
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Hmac-Sha256": shopify.signature(secret, body),
        "X-Shopify-Shop-Domain": "acme-home.myshopify.com",
    }
    started = time.perf_counter()
    answer = client.request("POST", f"/webhooks/{TENANT}/{CHANNEL}", raw=body, headers=headers)
    return answer.status, (time.perf_counter() - started) * 1000


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def wait_for_tickets(agent: TwinClient, ticket_ids: list[str], timeout: float) -> tuple[list[str], float]:
    """Poll the tickets in order until each exists; (ids still missing, monotonic time the last appeared)."""
    deadline = time.monotonic() + timeout
    pending = list(ticket_ids)
    last_seen = time.monotonic()
    reported = 0
    while pending and time.monotonic() < deadline:
        if agent.get(f"/tickets/{pending[0]}").status == 200:
            pending.pop(0)
            last_seen = time.monotonic()
            done = len(ticket_ids) - len(pending)
            if done - reported >= PROGRESS_EVERY or not pending:
                _progress(f"tickets {done}/{len(ticket_ids)}")
                reported = done
            continue
        time.sleep(POLL_SECONDS)
    return pending, last_seen


def run(deliveries: int) -> dict[str, Any]:
    from infra.twin.meter import METER
    from infra.twin.twin import LocalTwin, secrets_for

    files = _examples()
    _progress("starting the local twin (both example tenants, manual clock) ...")
    twin = LocalTwin(
        files, port=0, clock="manual", start=START, log=lambda _line: None, function_log_level="ERROR"
    ).start()
    try:
        anonymous = TwinClient(twin.url)
        agent = anonymous.as_user(TENANT, "bench-agent", ["agent"])
        secret = secrets_for(files, None)[SECRET_REF]
        run_id = uuid.uuid4().hex[:8]

        _progress("warm-up delivery (cold start, not counted) ...")
        status, cold_ms = send(anonymous, secret, f"bench-{run_id}-warmup", order(run_id, -1))
        if status != 200:
            raise RuntimeError(f"the warm-up delivery was refused with HTTP {status}")
        missing, _ = wait_for_tickets(
            agent, [delivery_ticket_id(TENANT, CHANNEL, f"bench-{run_id}-warmup")], TIMEOUT_BASE_SECONDS
        )
        if missing:
            raise RuntimeError("the warm-up delivery did not become a ticket")

        METER.reset()
        _progress(f"sending {deliveries} signed Shopify deliveries ...")
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        ticket_ids: list[str] = []
        started = time.monotonic()
        for n in range(deliveries):
            webhook_id = f"bench-{run_id}-{n}"
            status, ms = send(anonymous, secret, webhook_id, order(run_id, n))
            statuses[status] += 1
            latencies.append(ms)
            if status == 200:
                ticket_ids.append(delivery_ticket_id(TENANT, CHANNEL, webhook_id))
            if (n + 1) % PROGRESS_EVERY == 0 or n + 1 == deliveries:
                ordered = sorted(latencies)
                _progress(
                    f"sent {n + 1}/{deliveries}: p50 {percentile(ordered, 50):.1f} ms, "
                    f"p99 {percentile(ordered, 99):.1f} ms"
                )
        acknowledged = time.monotonic()
        missing, last_ticket = wait_for_tickets(
            agent, ticket_ids, TIMEOUT_BASE_SECONDS + TIMEOUT_PER_DELIVERY_SECONDS * deliveries
        )
        usage = METER.snapshot()
    finally:
        twin.stop()

    ordered = sorted(latencies)
    ack_seconds = acknowledged - started
    e2e_seconds = last_ticket - started
    created = len(ticket_ids) - len(missing)
    per = max(deliveries, 1)
    return {
        "benchmark": "ingest",
        "target": f"POST /webhooks/{TENANT}/{CHANNEL} (Shopify orders/create, signed), sequential client",
        "deliveries": deliveries,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "cold_start_ack_ms": round(cold_ms, 2),
        "ack_ms": {
            "p50": round(percentile(ordered, 50), 2),
            "p90": round(percentile(ordered, 90), 2),
            "p99": round(percentile(ordered, 99), 2),
            "max": round(ordered[-1], 2) if ordered else None,
            "mean": round(sum(ordered) / len(ordered), 2) if ordered else None,
        },
        "ack_seconds": round(ack_seconds, 2),
        "acks_per_second": round(deliveries / ack_seconds, 1) if ack_seconds > 0 else None,
        "tickets_created": created,
        "tickets_missing": len(missing),
        "end_to_end_seconds": round(e2e_seconds, 2),
        "deliveries_per_second": round(created / e2e_seconds, 1) if e2e_seconds > 0 and created else 0.0,
        "drain_after_last_ack_seconds": round(max(0.0, last_ticket - acknowledged), 2),
        "per_delivery": {
            "lambda_calls": {
                k: round(v / per, 2) for k, v in sorted(usage["lambda_calls"].items()) if k != POLLER
            },
            "lambda_cpu_ms": {
                k: round(v / per, 2) for k, v in sorted(usage["lambda_cpu_ms"].items()) if k != POLLER
            },
            "wru": round(usage["wru"] / per, 2),
            "rru": round(usage["rru"] / per, 2),
        },
    }


def _print(r: dict[str, Any]) -> None:
    ack = r["ack_ms"]
    print(f"ingest: {r['deliveries']} deliveries to {r['target']}")
    print(f"  answers: {', '.join(f'HTTP {k} x{v}' for k, v in r['statuses'].items())}")
    print()
    print(f"  {'acknowledgement latency (client side)':<40} {'ms':>9}")
    for key in ("p50", "p90", "p99", "max", "mean"):
        print(f"    {key:<38} {ack[key]:>9.2f}")
    print(f"    {'first delivery (cold start, excluded)':<38} {r['cold_start_ack_ms']:>9.2f}")
    print()
    print(f"  {'throughput':<40} {'value':>9}")
    print(f"    {'acknowledged in (s)':<38} {r['ack_seconds']:>9.2f}")
    print(f"    {'acknowledgements/s':<38} {r['acks_per_second']:>9.1f}")
    print(f"    {'every ticket created after (s)':<38} {r['end_to_end_seconds']:>9.2f}")
    print(f"    {'deliveries/s end to end':<38} {r['deliveries_per_second']:>9.1f}")
    print(f"    {'last ticket after last ack (s)':<38} {r['drain_after_last_ack_seconds']:>9.2f}")
    print(f"    {'tickets created / missing':<38} {r['tickets_created']:>5} / {r['tickets_missing']}")
    print()
    per = r["per_delivery"]
    print("  per delivery (Lambda calls, handler CPU ms):")
    for name, calls in per["lambda_calls"].items():
        print(f"    {name:<28} {calls:>6.2f} {per['lambda_cpu_ms'].get(name, 0.0):>9.2f}")
    print(f"    DynamoDB: {per['wru']:.2f} WRU, {per['rru']:.2f} RRU")


def main(as_json: bool, deliveries: int = 10) -> int:
    if deliveries < 1:
        print("--tickets must be at least 1", file=sys.stderr)
        return 2
    result = run(deliveries)
    if as_json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
    else:
        _print(result)
    return 0 if result["tickets_missing"] == 0 and set(result["statuses"]) == {"200"} else 1
