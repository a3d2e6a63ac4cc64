"""The metric catalogue, catalogue emission (EMF), log redaction and correlation ids."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from infra.twin.metrics_store import MetricsStore
from shared import metrics as catalogue
from shared.observability import emit_metric, logger, redact, redact_text


@pytest.fixture
def printed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What powertools prints for single_metric (also while a local twin captures it elsewhere)."""
    import aws_lambda_powertools.metrics.base as emitting

    lines: list[str] = []
    monkeypatch.setattr(emitting, "print", lambda text: lines.append(text), raising=False)
    return lines


def _emf(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines if line.startswith('{"_aws"')]


@pytest.fixture(autouse=True)
def _metrics_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "ticket")  # as in Lambda: must not add a dimension


def test_emit_writes_one_emf_line_with_exactly_the_catalogue_dimensions(printed: list[str]) -> None:
    # When a catalogue metric is emitted with its dimensions
    emit_metric(catalogue.TICKETS_CREATED, 1, tenant="acme-home", ticket_type="consult", channel="api")
    # Then one EMF document carries it in namespace Scrm, with those dimensions and no `service`
    (doc,) = _emf(printed)
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "Scrm"
    assert directive["Dimensions"] == [["tenant", "ticket_type", "channel"]]
    assert directive["Metrics"] == [{"Name": "TicketsCreated", "Unit": "Count"}]
    assert doc["TicketsCreated"] == [1.0] and doc["tenant"] == "acme-home" and "service" not in doc


def test_emit_units_and_missing_values(printed: list[str]) -> None:
    emit_metric(catalogue.DISPATCH_LATENCY, 12.5, tenant="t", node="dispatch")
    emit_metric(catalogue.REVENUE, 3999.0, tenant="t", tier=None, region="beijing")
    latency, revenue = _emf(printed)
    assert latency["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Milliseconds"
    assert revenue["tier"] == "none" and revenue["Revenue"] == [3999.0]


@pytest.mark.parametrize(
    "dims",
    [
        {"tenant": "t"},
        {"tenant": "t", "channel": "c", "extra": "x"},
        {"channel": "c", "reason": "r", "other": "o"},
    ],
)
def test_emit_refuses_dimensions_other_than_the_catalogues(dims: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="DeliveriesRefused takes dimensions"):
        emit_metric(catalogue.DELIVERIES_REFUSED, 1, **dims)


def test_disabled_metrics_emit_nothing(monkeypatch: pytest.MonkeyPatch, printed: list[str]) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    emit_metric(catalogue.SLA_BREACHES, 1, tenant="t", node="on_site", level="red")
    assert _emf(printed) == []


def test_catalogue_entries_start_with_tenant_and_use_known_dimensions() -> None:
    assert len(catalogue.BY_NAME) == len(catalogue.CATALOGUE)
    with pytest.raises(ValueError, match="first dimension"):
        catalogue.Metric("X", catalogue.COUNT, ("channel",), "ticket", "")
    with pytest.raises(ValueError, match="unknown dimension"):
        catalogue.Metric("X", catalogue.COUNT, ("tenant", "colour"), "ticket", "")
    assert "| TicketsCreated | Count | tenant, ticket_type, channel |" in catalogue.catalogue_table()


def test_twin_store_keeps_emf_with_the_twin_clock(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the twin's store installed on powertools' output
    instant = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    store = MetricsStore(lambda: instant)
    store.install()
    try:
        emit_metric(catalogue.DELIVERIES_REFUSED, 1, tenant="t", channel="shop", reason="bad_signature")
        print("not a metric")
    finally:
        store.uninstall()
    # Then the EMF line went to the store (not stdout), stamped with the twin clock
    (point,) = store.snapshot()
    assert point["at"] == instant.isoformat() and point["name"] == "DeliveriesRefused"
    assert point["dimensions"] == {"tenant": "t", "channel": "shop", "reason": "bad_signature"}
    assert capsys.readouterr().out == "not a metric\n"


# ----------------------------------------------------------------------------- logging
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call +8613900000000 now", "call +86139****0000 now"),
        ("138 0000 0009", "138****0009"),
        ("mail lin.wei@example.cn", "mail l***@example.cn"),
        ("TK-0123456789abcdef", "TK-0123456789abcdef"),
        ("order 820982911946154508", "order 820982911946154508"),
        ("2026-11-23T09:00:00+08:00", "2026-11-23T09:00:00+08:00"),
    ],
)
def test_redact_text_masks_phones_and_emails_only(text: str, expected: str) -> None:
    assert redact_text(text) == expected


def test_redact_blanks_secret_keys_and_walks_nested_extras() -> None:
    record = {
        "message": "sms to 13800000009",
        "secret": "s3cr3t",
        "aes_key": "k",
        "headers": {"authorization": "Bearer abc", "x-shopify-hmac-sha256": "sig"},
        "recipients": [{"phone": "+8613800000009", "email": "a@b.cn"}],
        "correlation_id": "TK-1",
        "count": 13800000009,
    }
    out = redact(record)
    assert out["message"] == "sms to 138****0009"
    assert out["secret"] == out["aes_key"] == out["headers"]["authorization"] == "***"
    assert out["recipients"] == [{"phone": "+86138****0009", "email": "a***@b.cn"}]
    assert out["correlation_id"] == "TK-1" and out["count"] == 13800000009


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the shared logger writes (its handler's stream, bound when the logger was created)."""
    stream = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", stream)
    previous = logger.log_level
    logger.setLevel("INFO")  # a local twin started in this process may have made it quieter
    yield stream
    logger.setLevel(previous)


def _lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(x) for x in stream.getvalue().splitlines() if '"message"' in x]


def test_log_lines_are_redacted_and_correlated_to_the_ticket(log_lines: io.StringIO) -> None:
    # Given a handler that appends the ticket it works on
    logger.append_keys(ticket_id="TK-42")
    try:
        logger.info("reminder to +8613900000000", extra={"token": "abc", "to": "lin@example.com"})
    finally:
        logger.remove_keys(["ticket_id", "correlation_id"])
    (line,) = _lines(log_lines)
    # Then the correlation id is the ticket id, and nothing personal or secret is in clear
    assert line["correlation_id"] == "TK-42"
    assert line["message"] == "reminder to +86139****0000"
    assert line["token"] == "***" and line["to"] == "l***@example.com"


def test_delivery_id_is_the_correlation_id_when_no_ticket_is_known(log_lines: io.StringIO) -> None:
    logger.append_keys(delivery_id="wh-1")
    try:
        logger.info("delivery queued")
    finally:
        logger.remove_keys(["delivery_id", "correlation_id"])
    (line,) = _lines(log_lines)
    assert line["correlation_id"] == "wh-1"
