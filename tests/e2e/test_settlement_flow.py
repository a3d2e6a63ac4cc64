"""Settlement through the twin: an install ticket runs to `done`; its settlement, the installer's
earnings statement and the revenue report agree to the cent; replaying the settlement step leaves
one ledger entry. Plus the routes' access rules and validation, which need no settled ticket.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from tests.e2e.steps import at_technician, complete_and_confirm, eventually, settlement_replay
from tests.factories import INSTALL_FIELDS

TENANT = "acme-home"


def twin_period(client: TwinClient) -> str:
    """The month the shared twin clock is in now (Asia/Shanghai): other e2e modules move the clock,
    so a settlement made here is in whatever month it has reached."""
    now = datetime.fromisoformat(client.get("/_local/clock").body["now"])
    return now.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")


INSTALL = INSTALL_FIELDS
ON_SITE = {
    "photos": ["photos/before.jpg", "photos/after.jpg"],
    "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
    "parts": [{"sku": "PRT-COPPER-PIPE", "quantity": "2.5"}, {"sku": "PRT-BRACKET", "quantity": 1}],
}


@pytest.fixture(scope="module")
def finance(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user(TENANT, "u-qian", ["finance"])


@pytest.fixture(scope="module")
def dispatcher(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user(TENANT, "u-zhao", ["dispatcher", "supervisor"])


def _money(value: str) -> Decimal:
    return Decimal(value)


def _revenue(finance: TwinClient, group_by: str) -> dict[str, Decimal]:
    answer = finance.get(f"/reports/revenue?period={twin_period(finance)}&group_by={group_by}")
    assert answer.status == 200, answer.body
    return {g["key"]: _money(g["total"]) for g in answer.body["groups"]}


def test_install_ticket_is_settled_and_statement_and_report_agree(
    twin: LocalTwin, anonymous: TwinClient, agent: TwinClient, finance: TwinClient, dispatcher: TwinClient
) -> None:
    period = twin_period(finance)  # the month the shared clock is in
    # Given an install ticket in Beijing
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    ticket = at_technician(agent, dispatcher, ticket_id)  # no candidate scored: the dispatcher assigns one
    technician_id = (ticket.get("dispatch") or {}).get("technician") or ticket["assignee"]["id"]
    assert ticket["assignee"] == {"kind": "technician", "id": technician_id}
    tier_before = _revenue(finance, "tier")
    cells_before = _revenue(finance, "tier_region")

    # When the technician completes the job and the customer confirms
    technician = anonymous.as_user(TENANT, technician_id, ["technician"])
    complete_and_confirm(technician, agent, ticket_id, ticket["version"], ON_SITE)

    # Then the workflow settles the ticket and reaches done
    closed = agent.wait_status(ticket_id, "closed")
    assert closed["node"] == "done"
    settlement = closed["settlement"]
    direct = technician_id == "t-wang"
    tier = "T1" if direct else "T2"
    # T1: 200×1.2 + 45×2.5×1.2 + 80×1.2 = 240.00 + 135.00 + 96.00; T2: 192.00 + 120.00 + 84.00
    expected_total = Decimal("471.00") if direct else Decimal("396.00")
    expected_earnings = Decimal("282.60") if direct else Decimal("336.60")  # 60% / 85%
    assert settlement["tier"] == tier
    assert [line["code"] for line in settlement["lines"]] == [
        "SVC-AC-INSTALL",
        "PRT-COPPER-PIPE",
        "PRT-BRACKET",
    ]
    assert settlement["surcharges"] == []
    assert (_money(settlement["total"]), _money(settlement["earnings"])) == (
        expected_total,
        expected_earnings,
    )
    assert _money(settlement["subtotal"]) == sum(_money(line["amount"]) for line in settlement["lines"])
    assert settlement["currency"] == "CNY" and settlement["catalog_version"] == "2026-11"
    assert settlement["sequence"] == 1

    # And the technician's statement shows exactly what they earned
    statement = technician.get(f"/technicians/{technician_id}/earnings?period={period}")
    assert statement.status == 200, statement.body
    mine = [line for line in statement.body["lines"] if line["ticket_id"] == ticket_id]
    assert [(line["kind"], _money(line["amount"])) for line in mine] == [("settlement", expected_earnings)]
    assert _money(statement.body["total"]) == sum(_money(line["amount"]) for line in statement.body["lines"])

    # And the revenue report grew by the ticket's total, to the cent, once the stream is folded
    tier_after = eventually(
        lambda: _revenue(finance, "tier"),
        lambda report: report.get(tier, Decimal(0)) != tier_before.get(tier, Decimal(0)),
        what="the settlement in the revenue report",
    )
    assert tier_after[tier] - tier_before.get(tier, Decimal(0)) == expected_total
    # ... and the heat map's cell of its tier and region (CN-BJ), the cells adding up to the tiers
    cells = eventually(
        lambda: _revenue(finance, "tier_region"),
        lambda report: report.get(f"{tier}|CN-BJ") != cells_before.get(f"{tier}|CN-BJ"),
        what="the settlement in the tier × region report",
    )
    assert cells[f"{tier}|CN-BJ"] - cells_before.get(f"{tier}|CN-BJ", Decimal(0)) == expected_total
    by_tier = eventually(lambda: _revenue(finance, "tier"), lambda report: True)
    assert {t: sum(v for k, v in cells.items() if k.split("|")[0] == t) for t in by_tier} == by_tier
    csv = finance.get(f"/reports/revenue?period={period}&group_by=tier&format=csv")
    assert csv.status == 200
    assert csv.headers["content-type"].startswith("text/csv")
    rows = [row.split(",") for row in str(csv.body).strip().splitlines()]
    assert rows[0] == ["period", "group_by", "key", "currency", "total", "earnings", "count"]
    assert {r[2]: _money(r[4]) for r in rows[1:]} == tier_after

    # When the settlement step is replayed (a retried task), nothing changes
    replay = settlement_replay(TENANT, ticket_id)
    assert twin.lambdas.invoke("scrm-settlement-settle", replay)["outcome"] == "done"
    again = technician.get(f"/technicians/{technician_id}/earnings?period={period}").body
    assert [line for line in again["lines"] if line["ticket_id"] == ticket_id] == mine
    assert _revenue(finance, "tier") == tier_after
    assert agent.get(f"/tickets/{ticket_id}").body["settlement"] == settlement


def test_earnings_are_shown_to_the_technician_finance_and_admin_only(
    anonymous: TwinClient, agent: TwinClient, finance: TwinClient
) -> None:
    period = twin_period(finance)  # the month the shared clock is in
    own = anonymous.as_user(TENANT, "t-li", ["technician"]).get(f"/technicians/t-li/earnings?period={period}")
    assert own.status == 200, own.body
    assert set(own.body) >= {"technician", "period", "currency", "lines", "total"}
    assert finance.get(f"/technicians/t-li/earnings?period={period}").status == 200
    admin = anonymous.as_user(TENANT, "root", ["admin"])
    assert admin.get(f"/technicians/t-li/earnings?period={period}").status == 200
    other = anonymous.as_user(TENANT, "t-wang", ["technician"]).get(
        f"/technicians/t-li/earnings?period={period}"
    )
    assert (other.status, other.body["error"]) == (403, "forbidden")
    assert agent.get(f"/technicians/t-li/earnings?period={period}").status == 403
    assert finance.get(f"/technicians/t-nobody/earnings?period={period}").status == 404
    assert anonymous.get(f"/technicians/t-li/earnings?period={period}").status == 401


def test_reports_are_for_finance_and_bad_parameters_are_422_per_field(
    anonymous: TwinClient, agent: TwinClient, finance: TwinClient
) -> None:
    period = twin_period(finance)  # the month the shared clock is in
    assert agent.get(f"/reports/revenue?period={period}&group_by=tier").status == 403
    empty = finance.get("/reports/revenue?period=2001-01&group_by=channel")
    assert empty.status == 200, empty.body
    assert (empty.body["groups"], empty.body["total"]) == ([], "0.00")
    bad = finance.get("/reports/revenue?period=2026-13&group_by=colour")
    assert bad.status == 422, bad.body
    assert {d["field"].rsplit(".", 1)[-1] for d in bad.body["details"]} == {"period", "group_by"}
    assert finance.get(f"/reports/revenue?period={period}").status == 422  # group_by is required
    assert finance.get(f"/reports/revenue?period={period}&group_by=tier&format=xml").status == 422
    statement = finance.get("/technicians/t-li/earnings?period=November")
    assert statement.status == 422
    assert statement.body["details"][0]["field"].endswith("period")
