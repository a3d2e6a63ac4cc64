"""One big tenant settles 200 tickets at once: no execution fails, and the revenue folded from the
table's stream equals the ledger to the cent (no line lost, none counted twice).

Tenant ``tests/fixtures/tenants/settle-burst.yaml`` on its own twin (a child process): its tickets are
dispatched and settled by the system alone (dispatch -> settlement -> end), so all 200 created at once
are settled at once. The settlement transaction writes only the ticket's own items and the revenue
aggregates are sharded counters fed by the stream (``scrm-settlement-aggregates``), so nothing makes
these settlements meet; a conflict would be retried by the state machine (``Scrm.Conflict``) and is
counted here from the functions' logs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest

from infra.twin.client import TwinClient
from tests.child_twin import ROOT, child_twin
from tests.e2e.steps import eventually

BURST = ROOT / "tests" / "fixtures" / "tenants" / "settle-burst.yaml"
TENANT = "settle-burst"
PERIOD = "2026-11"  # the child twin's manual clock starts at 2026-11-23 09:00 +08:00
TICKETS = 200
GROUPINGS = ("tier", "region", "item", "ticket_type", "channel")
# Per ticket: 1 x SVC-FIX + 2 x PRT-VALVE. Beijing (tier1 -> A, direct 60%): 100 + 2 x 30 = 160.00,
# earns 96.00; Chengdu (tier2 -> B, dealer 85%): 80 + 2 x 25 = 130.00, earns 110.50.
EXPECTED = {"CN-BJ": (Decimal("160.00"), Decimal("96.00")), "CN-CD": (Decimal("130.00"), Decimal("110.50"))}
RETRIED = ("settlement met another writer", "settlement store busy", "Scrm.Conflict", "Scrm.Unavailable")


@pytest.fixture(scope="module")
def burst() -> Iterator[tuple[TwinClient, list[str]]]:
    """The tenant's twin; its functions log warnings and errors only (a retried conflict is a warning:
    counted below), not a line per invocation, which would take the twin's CPU from the tickets."""
    output: list[str] = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("POWERTOOLS_LOG_LEVEL", "WARNING")
        with child_twin([BURST], name=TENANT, output=output) as client:
            yield client, output


def _fields(n: int) -> dict[str, Any]:
    return {
        "customer_name": f"客户{n:03d}",
        "region": "CN-BJ" if n % 2 else "CN-CD",
        "service_items": [{"code": "SVC-FIX", "quantity": 1}],
        "parts": [{"sku": "PRT-VALVE", "quantity": 2}],
    }


def _money(value: str) -> Decimal:
    return Decimal(value)


@pytest.mark.slow
def test_200_tickets_settled_at_once_fail_none_and_the_folded_revenue_equals_the_ledger(
    burst: tuple[TwinClient, list[str]],
) -> None:
    client, output = burst
    agent = client.as_user(TENANT, "u-kefu", ["agent"])
    finance = client.as_user(TENANT, "u-caiwu", ["finance"])
    logged_before = len(output)

    # When 200 tickets are created at once (each is dispatched, then settled, by its execution)
    started = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        created = list(
            pool.map(lambda n: agent.post("/tickets", {"type": "fix", "fields": _fields(n)}), range(TICKETS))
        )
    refused = [c.body for c in created if c.status != 201]
    assert refused == []
    ids = [c.body["id"] for c in created]
    # (one list read every half second: polling 200 tickets would take the twin's CPU from them)
    eventually(
        lambda: agent.get("/tickets?status=open&limit=100").body.get("items", []),
        lambda still_open: not still_open,
        timeout=300,
        every=0.5,
        what="every ticket to leave the open state",
    )
    settled_in = time.monotonic() - started
    with ThreadPoolExecutor(8) as pool:
        ended = [answer.body for answer in pool.map(lambda i: agent.get(f"/tickets/{i}"), ids)]
    assert [t for t in ended if t["status"] != "closed"] == []

    # Then every execution reached the end: none failed, each ticket shows one settlement
    assert {t["node"] for t in ended} == {"done"}
    assert all(t["settlement"]["sequence"] == 1 for t in ended)
    by_region = {t["id"]: t["fields"]["region"] for t in ended}
    for ticket in ended:
        total, earnings = EXPECTED[by_region[ticket["id"]]]
        assert (_money(ticket["settlement"]["total"]), _money(ticket["settlement"]["earnings"])) == (
            total,
            earnings,
        )

    # And the ledger holds exactly one line per ticket
    technicians = sorted({t["settlement"]["technician"] for t in ended})
    lines = [
        line
        for tech in technicians
        for line in finance.get(f"/technicians/{tech}/earnings?period={PERIOD}").body["lines"]
    ]
    assert sorted(line["ticket_id"] for line in lines) == sorted(ids)
    ledger_total = sum((_money(line["ticket_total"]) for line in lines), Decimal(0))
    ledger_earnings = sum((_money(line["amount"]) for line in lines), Decimal(0))
    expected_total = sum((EXPECTED[by_region[i]][0] for i in ids), Decimal(0))
    expected_earnings = sum((EXPECTED[by_region[i]][1] for i in ids), Decimal(0))
    assert (ledger_total, ledger_earnings) == (expected_total, expected_earnings)

    # And every grouping of the revenue report, once folded from the stream, sums to the ledger exactly
    def report(group_by: str) -> dict[str, Any]:
        answer = finance.get(f"/reports/revenue?period={PERIOD}&group_by={group_by}")
        assert answer.status == 200, answer.body
        return dict(answer.body)

    folded_at = None
    for group_by in GROUPINGS:
        shown = eventually(
            lambda g=group_by: report(g),
            lambda body: _money(body["total"]) >= ledger_total,
            timeout=60,
            every=0.2,
            what=f"the {group_by} report to take every settlement",
        )
        folded_at = folded_at or time.monotonic() - started
        assert _money(shown["total"]) == ledger_total, group_by
        if group_by != "item":  # items: one count per ticket and item, earnings only per ticket
            assert _money(shown["earnings"]) == ledger_earnings, group_by
            assert sum(g["count"] for g in shown["groups"]) == TICKETS, group_by
    tiers = {g["key"]: (_money(g["total"]), g["count"]) for g in report("tier")["groups"]}
    assert tiers == {"A": (Decimal("16000.00"), 100), "B": (Decimal("13000.00"), 100)}

    # And no settlement met another writer: nothing was retried, nothing gave up
    logged = output[logged_before:]
    retried = [line for line in logged if any(word in line for word in RETRIED)]
    gave_up = [line for line in logged if "stream scrm-settlement-aggregates" in line]
    print(
        f"\n{TICKETS} tickets settled in {settled_in:.1f} s, revenue folded at {folded_at:.1f} s; "
        f"conflicts retried: {len(retried)}; stream failures: {len(gave_up)}"
    )
    assert retried == [] and gave_up == []
