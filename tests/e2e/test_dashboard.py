"""The twin keeps the metrics its handlers emit and renders the CloudWatch dashboards from them."""

from __future__ import annotations

import contextlib
import io
import math
import os
import re
import shutil
import struct
import subprocess
import urllib.request
from dataclasses import dataclass, field
from html.parser import HTMLParser
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


# ----------------------------------------------------------------------------- headless Chromium
# These flags matter on a closed network: no sandbox (root), no GPU, and none of Chromium's own
# traffic (QUIC, component updates, sync, background fetches) that would hang or slow a run.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)
WINDOW_WIDTH = 1280  # two charts per row
SCREENSHOT_COPY = Path(__file__).resolve().parents[2] / ".build" / "dashboard.png"


def chromium() -> str:
    """The Chromium on PATH; skipped without one, except under CI, where it must be there."""
    found = next((path for path in map(shutil.which, ("chromium", "chromium-browser")) if path), None)
    if found is None:
        message = "no chromium on PATH: `make browser` installs it (as root, with apt-get)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; under CI the dashboard screenshot test must run")
        pytest.skip(message)
    return found


def run_chromium(browser: str, profile: Path, *args: str) -> str:
    """One headless Chromium run with a fresh profile; its stdout."""
    done = subprocess.run(
        [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


@dataclass
class RenderedChart:
    section: str
    title: str
    points: int
    circles: int = 0
    lines: int = 0
    svg: bool = False
    empty: bool = False
    legend: list[str] = field(default_factory=list)


class RenderedCharts(HTMLParser):
    """The charts of a DOM as Chromium serialized it (``--dump-dom``), with what each one drew."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[RenderedChart] = []
        self._section = ""
        self._in_chart = False
        self._in_legend = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        classes = (attr.get("class") or "").split()
        if tag == "section" and "dashboard" in classes:
            self._section = attr.get("data-name") or ""
        elif tag == "figure" and "chart" in classes:
            self._in_chart = True
            self.charts.append(
                RenderedChart(self._section, attr.get("data-title") or "", int(attr.get("data-points") or 0))
            )
        elif self._in_chart:
            chart = self.charts[-1]
            chart.svg |= tag == "svg"
            chart.circles += tag == "circle" and "point" in classes
            chart.lines += tag == "polyline"
            chart.empty |= tag == "p" and "empty" in classes
            if tag == "li":
                self._in_legend = True
                chart.legend.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "figure":
            self._in_chart = False
        if tag == "li":
            self._in_legend = False

    def handle_data(self, data: str) -> None:
        if self._in_legend:
            self.charts[-1].legend[-1] += data


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def test_headless_chromium_renders_every_chart_and_saves_a_screenshot(
    demo_driven: str, twin: LocalTwin, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    browser = chromium()
    url = f"{twin.url}/_local/dashboard"
    # When Chromium loads the twin's dashboard after the demo
    parser = RenderedCharts()
    parser.feed(run_chromium(browser, tmp_path / "profile-dom", "--dump-dom", url))
    charts = parser.charts
    tenants = sorted(twin.issuer.tenants)
    # Then its DOM holds every widget of the platform and of each tenant ...
    assert len(charts) == len(PLATFORM_WIDGETS) + len(tenants) * len(TENANT_WIDGETS)
    assert [c.title for c in charts if c.section == "scrm-platform"] == [w.title for w in PLATFORM_WIDGETS]
    # ... and no chart of the platform or of the demo's tenant is empty: each drew an SVG with a
    # point per value it reports, a legend line per series, and no "no data" marker
    shown = [c for c in charts if c.section in ("scrm-platform", "scrm-tenant-acme-home")]
    assert len(shown) == len(PLATFORM_WIDGETS) + len(TENANT_WIDGETS)
    empty = [c.title for c in shown if c.empty or not c.svg or c.points == 0 or c.circles != c.points]
    assert empty == []
    assert all(c.legend for c in shown)
    # the OpenTickets gauge has lines per ticket type and node
    (open_tickets,) = [c for c in shown if c.title == "Open tickets by node"]
    assert any(label.startswith(("install ", "consult ")) for label in open_tickets.legend)

    # And a screenshot of the whole page is a PNG of the window's size
    rows = sum(
        math.ceil(len([c for c in charts if c.section == section]) / 2)
        for section in dict.fromkeys(c.section for c in charts)
    )
    height = 200 + rows * 340 + (1 + len(tenants)) * 160  # charts, headings and alarm tables
    shot = tmp_path / "dashboard.png"
    run_chromium(
        browser,
        tmp_path / "profile-png",
        f"--window-size={WINDOW_WIDTH},{height}",
        f"--screenshot={shot}",
        url,
    )
    data = shot.read_bytes()
    assert png_size(data) == (WINDOW_WIDTH, height) and len(data) > 50_000
    SCREENSHOT_COPY.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(shot, SCREENSHOT_COPY)
    with capsys.disabled():
        print(f"\n  dashboard screenshot: {shot} (copy: {SCREENSHOT_COPY})")
