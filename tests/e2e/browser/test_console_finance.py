"""Finance's console: a month with a settled install shows its revenue as a tier × region heat map
(the report grouped by tier_region, checked against the by-tier and by-region reports), by item
and by channel; "Download CSV" saves the API's CSV through a Blob link; the installer's statement
shows the ticket's line."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from infra.twin.client import TwinClient
from tests.e2e.browser.conftest import DESK, Page
from tests.e2e.steps import at_technician, complete_and_confirm, eventually
from tests.factories import INSTALL_FIELDS

TENANT = "acme-home"
ON_SITE = {
    "photos": ["photos/before.jpg", "photos/after.jpg"],
    "service_items": [{"code": "SVC-AC-INSTALL", "quantity": 1}],
    "parts": [{"sku": "PRT-BRACKET", "quantity": 1}],
}


def _tier_report(finance: TwinClient) -> dict[str, Any]:
    answer = finance.get("/reports/revenue?group_by=tier")
    assert answer.status == 200, answer.body
    return dict(answer.body)


def _settled_install(anonymous: TwinClient, agent: TwinClient, finance: TwinClient) -> dict[str, Any]:
    """An install in Beijing run to `done`, once the revenue report has folded its settlement."""
    dispatcher = anonymous.as_user(TENANT, "u-zhao", ["dispatcher", "supervisor"])
    before = _tier_report(finance)
    marker = f"F1-fin-{uuid.uuid4().hex[:6]}"
    created = agent.post(
        "/tickets", {"type": "install", "fields": {**INSTALL_FIELDS, "customer_name": marker}}
    )
    assert created.status == 201, created.body
    ticket_id = created.body["id"]
    ticket = at_technician(agent, dispatcher, ticket_id)
    technician = anonymous.as_user(TENANT, ticket["dispatch"]["technician"], ["technician"])
    complete_and_confirm(technician, agent, ticket_id, ticket["version"], ON_SITE)
    closed = agent.wait_status(ticket_id, "closed")
    grew = Decimal(closed["settlement"]["total"])
    eventually(
        lambda: _tier_report(finance),
        lambda report: Decimal(report["total"]) - Decimal(before["total"]) == grew,
        what="the settlement in the revenue report",
    )
    return closed


def test_finance_sees_the_heat_map_downloads_csv_and_reads_the_statement(
    console: Callable[..., Page], anonymous: TwinClient, agent: TwinClient
) -> None:
    finance = anonymous.as_user(TENANT, "u-qian", ["finance"])
    ticket = _settled_install(anonymous, agent, finance)
    settlement, technician = ticket["settlement"], ticket["dispatch"]["technician"]
    report = _tier_report(finance)
    period = report["period"]

    page = console(TENANT, "u-qian", DESK)
    page.go("#/finance")
    page.wait_for(f'[data-view="finance"][data-period="{period}"]')
    heat = page.wait_for('[data-heatmap][data-checked="yes"]')
    assert page.wait_for("[data-crosstab]").get_attribute("data-crosstab") == "checked"
    cell = page.wait_for(f'[data-cell="{settlement["tier"]}|{ticket["fields"]["region"]}"]')
    assert Decimal(cell.get_attribute("data-amount")) >= Decimal(settlement["total"])
    assert int(cell.get_attribute("data-heat")) >= 1
    coloured = [c for c in page.all("[data-cell]") if int(c.get_attribute("data-heat")) > 0]
    assert coloured
    cells = sum(Decimal(c.get_attribute("data-amount")) for c in page.all("[data-cell]"))
    assert cells == Decimal(report["total"])
    assert page.wait_for("[data-grand-total]").text == report["total"]
    assert page.all('[data-report="item"] [data-group="SVC-AC-INSTALL"]')
    assert page.all('[data-report="channel"] [data-group]')
    page.driver.execute_script("arguments[0].scrollIntoView()", heat)
    page.shot("finance-heatmap")

    # Download CSV: the API's CSV, saved through a Blob link, read back from the link
    page.wait_for('[data-download="tier"]').click()
    link = page.wait_for('a[data-csv="tier"]')
    href = link.get_attribute("href")
    assert href.startswith("blob:"), href
    assert link.get_attribute("download") == f"revenue-{period}-tier.csv"
    text = page.driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0]).then((r) => r.text()).then(done, (e) => done('ERROR ' + e));",
        href,
    )
    rows = [row.split(",") for row in text.strip().splitlines()]
    assert rows[0] == ["period", "group_by", "key", "currency", "total", "earnings", "count"]
    assert {r[2]: r[4] for r in rows[1:]} == {g["key"]: g["total"] for g in report["groups"]}
    assert all(r[0] == period and r[1] == "tier" for r in rows[1:])

    # The installer's statement: the ticket's settlement line, and the total
    page.go(f"#/statements?who=t:{technician}&period={period}")
    line = page.wait_for(f'[data-statement="{technician}"] [data-line="{ticket["id"]}"]')
    statement = finance.get(f"/technicians/{technician}/earnings?period={period}").body
    mine = next(x for x in statement["lines"] if x["ticket_id"] == ticket["id"])
    assert line.get_attribute("data-kind") == "settlement" and mine["amount"] in line.text
    assert page.wait_for("[data-statement-total]").text.startswith(statement["total"])
    page.shot("finance-statements")
    page.go(f"#/statements?who=u:u-sun&period={period}")
    staff = '[data-statement="u-sun"][data-statement-kind="staff"]'
    page.wait_for(f"{staff} [data-statement-total], {staff} [data-statement-empty]")
    unexpected = [e for e in page.errors() if "Failed to load resource" not in e]
    assert unexpected == []
