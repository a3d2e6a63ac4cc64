"""The twin keeps the metrics its handlers emit and renders the CloudWatch dashboards from them."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from infra.constructs.observability import PLATFORM_WIDGETS, TENANT_WIDGETS
from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared import metrics as catalogue

CHART = re.compile(r'<figure class="chart" data-title="([^"]*)" data-points="(\d+)">')


def _page(url: str) -> str:
    with urllib.request.urlopen(url, timeout=60) as answer:
        assert answer.status == 200
        assert answer.headers["content-type"].startswith("text/html")
        return str(answer.read().decode("utf-8"))


@pytest.fixture(scope="module")
def demo_driven(twin: LocalTwin, anonymous: TwinClient, agent: TwinClient) -> str:
    """The demo's two parts on the session twin: a consult ticket through the API, a signed (and a
    forged) Shopify order that becomes an install ticket, dispatched, reminded, completed, settled."""
    from infra import demo

    with contextlib.redirect_stdout(io.StringIO()):
        demo._consult(agent, anonymous)
        demo._install(twin, anonymous, agent)
    return _page(f"{twin.url}/_local/dashboard")


def test_twin_keeps_the_emf_metrics_of_the_catalogue(demo_driven: str, anonymous: TwinClient) -> None:
    # When the metrics are read
    points = anonymous.get("/_local/metrics").body["points"]
    emitted = {p["name"] for p in points if p["namespace"] == catalogue.NAMESPACE}
    # Then each business metric the demo exercises was captured, with its catalogue dimensions
    expected = catalogue_metrics_of_demo()
    assert expected <= emitted, sorted(expected - emitted)
    for p in points:
        if p["namespace"] == catalogue.NAMESPACE:
            assert set(p["dimensions"]) == set(catalogue.BY_NAME[p["name"]].dimensions), p
    created = [
        p for p in points if p["name"] == "TicketsCreated" and p["dimensions"]["tenant"] == "acme-home"
    ]
    assert {p["dimensions"]["channel"] for p in created} >= {"api", "shopify-main"}
    # and AWS metrics as CloudWatch would have them
    assert {"AWS/Lambda", "AWS/ApiGateway", "AWS/SQS", "AWS/States"} <= {p["namespace"] for p in points}
    # stamped with the twin clock (the manual clock moved 29 hours in the demo)
    assert len({p["at"][:13] for p in points}) >= 2


def catalogue_metrics_of_demo() -> set[str]:
    names = {m.name for m in catalogue.CATALOGUE}
    # not in the demo: ops replays and redrives, rework, failures, an SLA breach (29 hours is not enough)
    return names - {
        "DeliveriesReplayed",
        "DeliveriesRedriven",
        "SettlementAdjustments",
        "TicketsFailed",
        "SlaBreaches",
    }


def test_dashboard_page_renders_every_chart_with_data(demo_driven: str, twin: LocalTwin) -> None:
    page = demo_driven
    charts = CHART.findall(page)
    tenants = sorted(twin.issuer.tenants)
    # Then the page has the platform dashboard and one per tenant, widget for widget
    assert len(charts) == len(PLATFORM_WIDGETS) + len(tenants) * len(TENANT_WIDGETS)
    for tenant in tenants:
        assert f'data-name="scrm-tenant-{tenant}"' in page
    # no chart of the platform or of the demo's tenant is empty
    shown = page.split('data-name="scrm-tenant-')
    platform_and_acme = CHART.findall(shown[0]) + CHART.findall(
        next(s for s in shown[1:] if s.startswith("acme-home"))
    )
    empty = [title for title, count in platform_and_acme if int(count) == 0]
    assert empty == []
    assert page.count('<circle class="point"') >= sum(int(c) for _t, c in platform_and_acme)
    # and it is self-contained: no script, no external resource
    assert "<script" not in page and not re.search(r"(src|href)=\"https?://", page)


def test_scrm_report_saves_the_page(demo_driven: str, twin: LocalTwin, tmp_path: Path) -> None:
    from infra.cli import main

    out = tmp_path / "dashboards.html"
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["report", "--url", twin.url, "--out", str(out)]) == 0
    saved = out.read_text(encoding="utf-8")
    assert saved.startswith("<!doctype html>") and len(CHART.findall(saved)) == len(
        CHART.findall(demo_driven)
    )


def test_headless_chromium_screenshot(demo_driven: str, twin: LocalTwin, tmp_path: Path) -> None:
    browser = next((shutil.which(n) for n in ("chromium", "chromium-browser") if shutil.which(n)), None)
    if browser is None:
        pytest.skip(
            "no chromium on PATH: the headless screenshot needs `chromium` (the page is checked above)"
        )
    shot = tmp_path / "dashboard.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,4000",
            f"--screenshot={shot}",
            f"{twin.url}/_local/dashboard",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
