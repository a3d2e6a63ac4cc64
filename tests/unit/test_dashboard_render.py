"""The twin's dashboard page from given metric points: one time axis, no line across missing data,
gauges summarised by their latest value, one line per dead-letter queue, alarms spelled out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from infra.constructs.observability import DEAD_LETTER_QUEUES, PLATFORM_WIDGETS, TENANT_WIDGETS
from infra.twin.dashboard import render

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
FIGURE = re.compile(r'<figure class="chart" data-title="([^"]*)" data-points="(\d+)">(.*?)</figure>', re.S)


def point(minutes: float, name: str, value: float, namespace: str = "Scrm", **dims: str) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minutes)).isoformat()
    return {"at": at, "namespace": namespace, "name": name, "value": value, "unit": "", "dimensions": dims}


def gauge(minutes: float, node: str, value: float) -> dict[str, Any]:
    return point(minutes, "OpenTickets", value, tenant="acme-home", ticket_type="install", node=node)


def charts(page: str, section: str) -> dict[str, str]:
    part = page.split(f'data-name="{section}"', 1)[1].split("<section", 1)[0]
    return {title: body for title, _n, body in FIGURE.findall(part)}


def test_the_open_tickets_gauge_is_drawn_per_node_with_its_latest_value() -> None:
    # Given the gauge every 5 minutes for 15 minutes, then again after a 6-hour gap
    points = [gauge(m, "on_site", v) for m, v in ((0, 1), (5, 2), (10, 2), (15, 1), (375, 3))]
    points += [gauge(m, "review", 0) for m in (0, 5, 10, 15, 375)]
    page = render(points, ["acme-home"], T0 + timedelta(hours=7))
    body = charts(page, "scrm-tenant-acme-home")["Open tickets by node"]
    # Then one line per (type, node), its legend the latest value (not a meaningless total) ...
    assert "install on_site open (latest 3)" in body and "install review open (latest 0)" in body
    # ... and no line joins the buckets across the 6 hours without data: one polyline per run
    # (6h15 of data: 10-minute buckets, so minutes 0-5, 10-15 and 375, each its bucket's maximum)
    assert body.count("<polyline") == 2
    assert body.count('class="point"') == 2 * 3
    assert "install on_site open: 2 at" in body  # the bucket of minutes 10 and 15 (values 2 and 1)


def test_every_chart_shares_the_page_time_axis() -> None:
    points = [gauge(0, "on_site", 1), gauge(600, "on_site", 1)]
    points.append(point(300, "TicketsCreated", 1, tenant="acme-home", ticket_type="install", channel="api"))
    page = render(points, ["acme-home"], T0 + timedelta(hours=10))
    shown = charts(page, "scrm-tenant-acme-home")
    axes = {
        tuple(re.findall(r">(\d\d-\d\d \d\d:\d\d)</text>", body)) for body in shown.values() if "<svg" in body
    }
    # the created ticket (one point mid-way) is drawn on the same axis as the gauge
    assert len(axes) == 1 and len(next(iter(axes))) == 2


def test_one_line_per_dead_letter_queue_and_the_alarms_spelled_out() -> None:
    points = [
        point(0, "ApproximateNumberOfMessagesVisible", depth, "AWS/SQS", DeadLetterQueue=key)
        for key, depth in (("intake", 0), ("reminders", 2))
    ]
    page = render(points, ["acme-home"], T0)
    body = charts(page, "scrm-platform")["DLQ depth"]
    assert "intake depth (latest 0)" in body and "reminders depth (latest 2)" in body
    alarms = page.split('data-name="scrm-platform"', 1)[1].split("<section", 1)[0]
    for key in DEAD_LETTER_QUEUES:
        assert f"<td>scrm-{key}-dlq-depth</td>" in alarms
    assert "<td>scrm-&lt;function&gt;-errors</td>" in alarms and "&gt; 0" in alarms
    assert "{" not in alarms  # no placeholder left
    tenant = page.split('data-name="scrm-tenant-acme-home"', 1)[1]
    assert "<td>scrm-acme-home-&lt;type&gt;-failed</td>" in tenant


def test_the_page_has_every_widget_and_a_count_axis_has_no_fractional_tick() -> None:
    page = render([gauge(0, "on_site", 1)], ["acme-home"], T0)
    assert len(FIGURE.findall(page)) == len(PLATFORM_WIDGETS) + len(TENANT_WIDGETS)
    body = charts(page, "scrm-tenant-acme-home")["Open tickets by node"]
    assert ">0.50<" not in body and ">1<" in body
