"""The CloudWatch dashboards, rendered locally: one self-contained HTML page with inline SVG charts.

The widgets are the CDK construct's (``infra/constructs/observability.py``: ``PLATFORM_WIDGETS``,
``TENANT_WIDGETS``); the data are the twin's metrics (``infra/twin/metrics_store.py``). No script,
no stylesheet or font from the network. Each chart carries ``data-points="<n>"``: how many
(bucket, value) points it drew.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from infra.constructs.observability import (
    DEAD_LETTER_QUEUES,
    PLATFORM_ALARMS,
    PLATFORM_WIDGETS,
    TENANT_ALARMS,
    TENANT_WIDGETS,
    AlarmSpec,
    AwsMetric,
    Series,
    Widget,
)
from shared.metrics import NAMESPACE, Metric

COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 560, 220, 56, 28, 12


@dataclass
class Line:
    label: str
    points: list[tuple[float, float]]  # (epoch seconds of the bucket, value)
    stat: str = "Sum"

    @property
    def summary(self) -> str:
        """What the legend tells: the total of a sum, the latest value of anything else (a gauge)."""
        if self.stat == "Sum":
            return f"total {_fmt(sum(v for _, v in self.points))}"
        return f"latest {_fmt(self.points[-1][1])}" if self.points else "no data"


def _stat(values: list[float], stat: str) -> float:
    if stat == "Sum":
        return sum(values)
    if stat == "Average":
        return sum(values) / len(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    if stat.startswith("p"):
        ordered = sorted(values)
        rank = max(0, math.ceil(float(stat[1:]) / 100 * len(ordered)) - 1)
        return ordered[rank]
    raise ValueError(f"unknown statistic {stat}")


def _selected(
    points: list[dict[str, Any]], series: Series, tenant: str | None
) -> Iterable[tuple[str, dict[str, Any]]]:
    """(line key, point) of the points a series reads."""
    metric = series.metric
    for p in points:
        if p["name"] != metric.name:
            continue
        dims = p["dimensions"]
        if isinstance(metric, Metric):
            if p["namespace"] != NAMESPACE or (tenant is not None and dims.get("tenant") != tenant):
                continue
            yield " ".join(str(dims.get(g, "none")) for g in series.groups), p
            continue
        assert isinstance(metric, AwsMetric)
        if p["namespace"] != metric.namespace:
            continue
        if metric.per == "function":
            yield str(dims.get("FunctionName", "")).removeprefix("scrm-"), p
        elif metric.per == "intake":
            if dims.get("Queue") == metric.per:
                yield "", p
        elif metric.per == "dlq":  # one line per dead-letter queue
            if "DeadLetterQueue" in dims:
                yield str(dims["DeadLetterQueue"]), p
        elif metric.per == "api":
            yield "", p
        elif metric.per == "state_machine":
            name = str(dims.get("StateMachineArn", "")).rsplit(":", 1)[-1]
            prefix = f"scrm-{tenant}-" if tenant else "scrm-"
            if name.startswith(prefix):
                yield name.removeprefix(prefix), p


def lines(points: list[dict[str, Any]], widget: Widget, tenant: str | None, bucket: float) -> list[Line]:
    out: list[Line] = []
    for series in widget.series:
        grouped: dict[str, dict[float, list[float]]] = {}
        for key, p in _selected(points, series, tenant):
            at = datetime.fromisoformat(p["at"]).timestamp()
            grouped.setdefault(key, {}).setdefault(at - at % bucket, []).append(float(p["value"]))
        for key, buckets in sorted(grouped.items()):
            label = " ".join(part for part in (key, series.label) if part)
            values = [(t, _stat(v, series.stat)) for t, v in sorted(buckets.items())]
            out.append(Line(label, values, series.stat))
    return out


def _bucket(points: list[dict[str, Any]]) -> float:
    """Seconds per bucket: 5 minutes, wider when the twin clock spans more than a day."""
    if not points:
        return 300.0
    instants = [datetime.fromisoformat(p["at"]).timestamp() for p in points]
    span = max(instants) - min(instants)
    return max(300.0, math.ceil(span / 48 / 300) * 300)


def _span(points: list[dict[str, Any]], bucket: float) -> tuple[float, float]:
    """The page's one time axis, from the first bucket to the end of the last (a CloudWatch dashboard
    has one time range for all its widgets)."""
    instants = [datetime.fromisoformat(p["at"]).timestamp() for p in points] or [0.0]
    return min(instants) - min(instants) % bucket, max(instants) - max(instants) % bucket + bucket


def _runs(points: list[tuple[float, float]], bucket: float) -> list[list[tuple[float, float]]]:
    """The points split where buckets are missing: a line is drawn only between adjacent buckets,
    never across a time without data (which would read as a trend)."""
    runs: list[list[tuple[float, float]]] = []
    for point in points:
        if runs and point[0] - runs[-1][-1][0] <= bucket * 1.5:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 or value == int(value) else f"{value:.2f}"


def _time(epoch: float) -> str:
    return datetime.fromtimestamp(epoch).astimezone().strftime("%m-%d %H:%M")


def chart(widget: Widget, drawn: list[Line], bucket: float, span: tuple[float, float] | None = None) -> str:
    """One widget as an SVG line chart over ``span`` (the page's time axis; its own data's without)."""
    count = sum(len(line.points) for line in drawn)
    title = html.escape(widget.title)
    head = (
        f'<figure class="chart" data-title="{title}" data-points="{count}"><figcaption>{title}</figcaption>'
    )
    if not count:
        return head + '<p class="empty">no data</p></figure>'
    times = [t for line in drawn for t, _ in line.points]
    values = [v for line in drawn for _, v in line.points]
    t0, t1 = span or (min(times), max(times) + bucket)
    low, high = min(0.0, min(values)), max(values)
    high = high if high > low else low + 1
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_TOP - PAD_BOTTOM

    def x(t: float) -> float:
        return PAD_LEFT + (t + bucket / 2 - t0) / (t1 - t0) * plot_w

    def y(v: float) -> float:
        return PAD_TOP + (1 - (v - low) / (high - low)) * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{title}">',
        f'<rect x="{PAD_LEFT}" y="{PAD_TOP}" width="{plot_w}" height="{plot_h}" '
        'fill="#fafafa" stroke="#ccc"/>',
    ]
    middle = (low + high) / 2
    ticks = (low, middle, high) if widget.unit != "count" or middle == int(middle) else (low, high)
    for v in ticks:  # counts get no fractional tick
        parts.append(f'<text x="{PAD_LEFT - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{_fmt(v)}</text>')
        parts.append(
            f'<line x1="{PAD_LEFT}" x2="{WIDTH - 8}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>'
        )
    parts.append(f'<text x="{PAD_LEFT}" y="{HEIGHT - 8}">{_time(t0)}</text>')
    parts.append(f'<text x="{WIDTH - 8}" y="{HEIGHT - 8}" text-anchor="end">{_time(t1)}</text>')
    parts.append(
        f'<text x="12" y="{PAD_TOP + plot_h / 2:.0f}" transform="rotate(-90 12 {PAD_TOP + plot_h / 2:.0f})" '
        f'text-anchor="middle">{html.escape(widget.unit)}</text>'
    )
    for n, line in enumerate(drawn):
        color = COLORS[n % len(COLORS)]
        for run in _runs(line.points, bucket):
            if len(run) > 1:
                coords = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in run)
                parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        # earlier lines get wider dots: equal values of several lines show as concentric rings
        radius = 3.5 + 1.5 * min(len(drawn) - 1 - n, 3)
        for t, v in line.points:
            parts.append(
                f'<circle class="point" cx="{x(t):.1f}" cy="{y(v):.1f}" r="{radius}" fill="{color}">'
                f"<title>{html.escape(line.label)}: {_fmt(v)} at {_time(t)}</title></circle>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<li><span style="background:{COLORS[n % len(COLORS)]}"></span>'
        f"{html.escape(line.label or widget.title)} ({line.summary})</li>"
        for n, line in enumerate(drawn)
    )
    return head + "".join(parts) + f'<ul class="legend">{legend}</ul></figure>'


_COMPARISON = {
    "GreaterThanThreshold": ">",
    "GreaterThanOrEqualToThreshold": "≥",
    "LessThanThreshold": "<",
    "LessThanOrEqualToThreshold": "≤",
}


def _expanded(specs: Iterable[AlarmSpec], tenant: str | None) -> Iterable[tuple[str, AlarmSpec, str]]:
    """(name, spec, description) of each alarm: one per dead-letter queue, placeholders named."""
    for spec in specs:
        if spec.per == "dlq":
            for key, what in sorted(DEAD_LETTER_QUEUES.items()):
                yield spec.name.format(key=key), spec, spec.description.format(key=key, what=what)
        else:
            names = {"key": "<function>", "tenant": tenant or "<tenant>", "type": "<type>"}
            yield spec.name.format(**names), spec, spec.description.format(**names)


def _alarms(specs: Iterable[AlarmSpec], tenant: str | None) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{html.escape(a.metric.name if a.metric else '')}</td>"
        f"<td>{html.escape(_COMPARISON.get(a.comparison, a.comparison))} {_fmt(a.threshold)}</td>"
        f"<td>{html.escape(means)}</td></tr>"
        for name, a, means in _expanded(specs, tenant)
    )
    return (
        '<table class="alarms"><tr><th>alarm (to scrm-platform-alarms)</th><th>metric</th><th>when</th>'
        f"<th>means</th></tr>{rows}</table>"
    )


STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:20px} h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}
.grid{display:flex;flex-wrap:wrap;gap:12px}
figure.chart{margin:0;border:1px solid #ddd;border-radius:4px;padding:8px;width:580px}
figcaption{font-weight:600;margin-bottom:4px} svg text{font-size:11px;fill:#555}
ul.legend{list-style:none;padding:0;margin:4px 0 0;font-size:12px;columns:2}
ul.legend span{display:inline-block;width:10px;height:10px;margin-right:4px}
p.empty{color:#a00} table.alarms{border-collapse:collapse;font-size:12px;margin-top:8px}
table.alarms td,table.alarms th{border:1px solid #ddd;padding:3px 6px;text-align:left}
"""


def render(points: list[dict[str, Any]], tenants: list[str], now: datetime) -> str:
    """The platform dashboard, then one dashboard per tenant, as one HTML page."""
    bucket = _bucket(points)
    span = _span(points, bucket)
    sections: list[tuple[str, tuple[Widget, ...], str | None, tuple[AlarmSpec, ...]]]
    sections = [("scrm-platform", PLATFORM_WIDGETS, None, PLATFORM_ALARMS)]
    sections += [(f"scrm-tenant-{t}", TENANT_WIDGETS, t, TENANT_ALARMS) for t in tenants]
    body = []
    for name, widgets, tenant, alarms in sections:
        charts = "".join(chart(w, lines(points, w, tenant, bucket), bucket, span) for w in widgets)
        body.append(
            f'<section class="dashboard" id="{html.escape(name)}" data-name="{html.escape(name)}">'
            f'<h2>{html.escape(name)}</h2><div class="grid">{charts}</div>{_alarms(alarms, tenant)}</section>'
        )
    nav = " · ".join(f'<a href="#{html.escape(n)}">{html.escape(n)}</a>' for n, *_ in sections)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>scrm dashboards (local twin)</title>"
        f"<style>{STYLE}</style></head><body><h1>scrm dashboards — local twin</h1>"
        f"<p>{len(points)} metric points, twin clock {html.escape(now.isoformat())}, "
        f"{bucket / 60:.0f}-minute buckets. Same widgets as the CloudWatch dashboards.</p>"
        f"<nav>{nav}</nav>" + "".join(body) + "</body></html>"
    )
