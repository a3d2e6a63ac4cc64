"""Powertools Logger, Tracer and Metrics, created once and shared by every function.

- ``logger``: JSON; the correlation id becomes the ticket id or the delivery id as soon as a
  handler appends ``ticket_id`` / ``delivery_id``; phone numbers and email addresses in messages
  and extras are masked, secret-like keys (``secret``, ``token``, ``password``, ...) blanked.
- ``emit_metric(entry, value, **dimensions)``: one EMF line (powertools ``single_metric``) for an
  entry of the catalogue (``shared/metrics.py``), with exactly the entry's dimensions and no
  implicit ``service`` dimension. ``POWERTOOLS_METRICS_DISABLED`` turns it off. (The twin captures
  these lines and stamps them with its own clock: ``infra/twin/metrics_store.py``.)
"""

from __future__ import annotations

import json
import re
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from shared.metrics import NAMESPACE, Metric

# Every metric leaves through ``emit_metric`` (single_metric), so the ``log_metrics`` decorators
# usually have nothing left to flush; their "no application metrics" warning is noise.
warnings.filterwarnings("ignore", message="No application metrics to publish")

# ------------------------------------------------------------------ redaction
_PHONE = re.compile(r"(?<![\w.+-])(\+\d{1,3}[ -]?)?(\d{3})[ -]?(\d{4})[ -]?(\d{4})(?![\w-])")
_EMAIL = re.compile(r"(?<![\w.+-])([\w.+-])[\w.+-]*@([\w-]+(?:\.[\w-]+)+)")
_SECRET_KEYS = re.compile(r"secret|token|password|passwd|aes_key|authorization|signature|api_key", re.I)
_SAFE_KEYS = {"correlation_id", "function_request_id", "xray_trace_id", "token_type"}
MASK = "***"


def _mask_phone(found: re.Match[str]) -> str:
    prefix = (found.group(1) or "").strip()
    return f"{prefix}{found.group(2)}****{found.group(4)}"


def redact_text(text: str) -> str:
    """Phone numbers keep their first 3 and last 4 digits; emails their first letter and domain."""
    return _EMAIL.sub(r"\1***@\2", _PHONE.sub(_mask_phone, text))


def redact(value: Any, key: str = "") -> Any:
    """A copy of a log record (dicts, lists, strings) with personal data masked and secrets blanked."""
    if key and key not in _SAFE_KEYS and _SECRET_KEYS.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


def _serialize(log: dict[str, Any]) -> str:
    return json.dumps(redact(log), default=str, separators=(",", ":"), ensure_ascii=False)


class ScrmLogger(Logger):
    """Powertools Logger whose correlation id follows the ticket or delivery being handled."""

    def append_keys(self, **additional_keys: object) -> None:
        super().append_keys(**additional_keys)
        if "correlation_id" not in additional_keys:
            known = additional_keys.get("ticket_id") or additional_keys.get("delivery_id")
            if isinstance(known, str) and known:
                super().append_keys(correlation_id=known)


logger = ScrmLogger(json_serializer=_serialize)
tracer = Tracer()
metrics = Metrics(namespace=NAMESPACE)


# ------------------------------------------------------------------ metrics
def emit_metric(entry: Metric, value: float, **dimensions: str | None) -> None:
    """Emit one catalogue metric now, with exactly its dimensions (``None`` becomes ``none``)."""
    if set(dimensions) != set(entry.dimensions):
        raise ValueError(
            f"metric {entry.name} takes dimensions {list(entry.dimensions)}, got {sorted(dimensions)}"
        )
    if is_metrics_disabled():
        return
    dims = {name: str(dimensions[name] or "none") for name in entry.dimensions}
    with single_metric(
        name=entry.name, unit=MetricUnit(entry.unit), value=float(value), namespace=NAMESPACE
    ) as metric:
        metric.service = ""  # no implicit `service` dimension: the catalogue's set, nothing else
        for name, dim_value in dims.items():
            metric.add_dimension(name=name, value=dim_value)
