"""Powertools Logger, Tracer and Metrics, created once and shared by every function.

- ``logger``: JSON; the correlation id becomes the ticket id or the delivery id as soon as a
  handler appends ``ticket_id`` / ``delivery_id``; phone numbers and email addresses in messages
  and extras are masked, secret-like keys (``secret``, ``token``, ``password``, ...) blanked.
- ``tracer``: a powertools ``Tracer`` that loads the X-Ray SDK and patches botocore on the first
  traced call instead of at import (``LazyTracer``): the SDK is a large share of a cold start.
- ``emit_metric(entry, value, **dimensions)``: one EMF line (powertools ``single_metric``) for an
  entry of the catalogue (``shared/metrics.py``), with exactly the entry's dimensions and no
  implicit ``service`` dimension. ``POWERTOOLS_METRICS_DISABLED`` turns it off. (The twin captures
  these lines and stamps them with its own clock: ``infra/twin/metrics_store.py``.)
"""

from __future__ import annotations

import functools
import json
import re
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from shared import tenant_scope
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
    """Powertools Logger whose correlation id follows the ticket or delivery being handled.

    Its ``inject_lambda_context`` decorates every entry point, so it also marks where an invocation
    starts and ends: each one runs as one ``tenant_scope.invocation`` (no tenant scope leaks from
    one invocation into the next, see ``shared/tenant_scope.py``).
    """

    def inject_lambda_context(
        self,
        lambda_handler: Callable[..., Any] | None = None,
        log_event: bool | None = None,
        correlation_id_path: str | None = None,
        clear_state: bool | None = False,
        flush_buffer_on_uncaught_error: bool = False,
    ) -> Any:
        options: dict[str, Any] = {
            "log_event": log_event,
            "correlation_id_path": correlation_id_path,
            "clear_state": clear_state,
            "flush_buffer_on_uncaught_error": flush_buffer_on_uncaught_error,
        }
        if lambda_handler is None:  # used with arguments: decorate later
            return functools.partial(self.inject_lambda_context, **options)
        return super().inject_lambda_context(tenant_scope.scoped(lambda_handler), **options)

    def append_keys(self, **additional_keys: object) -> None:
        super().append_keys(**additional_keys)
        if "correlation_id" not in additional_keys:
            known = additional_keys.get("ticket_id") or additional_keys.get("delivery_id")
            if isinstance(known, str) and known:
                super().append_keys(correlation_id=known)


# ------------------------------------------------------------------ tracing
class LazyTracer(Tracer):
    """Powertools Tracer whose X-Ray provider is built on first use, not when the module is imported.

    ``Tracer()`` imports ``aws_xray_sdk.core`` for its provider and, in Lambda, patches every library
    the SDK supports (``patch_all``), which imports them: together the largest part of a handler's
    import. Here decorators such as ``capture_lambda_handler`` are applied at import as usual, and the
    first read of an attribute the decorators use at call time (``provider``, ``disabled``, ...)
    builds the real Tracer and patches ``patch_modules``: that happens as a traced handler starts,
    before any AWS call of its first invocation, so every invocation is traced as before.

    Only botocore is patched: every AWS call of the functions (boto3 clients and pynamodb, which
    calls botocore's client) goes through it, and they make no other outbound calls.
    """

    _STARTED_BY = ("provider", "disabled", "service", "auto_patch")

    def __init__(self, patch_modules: Sequence[str] = ("botocore",)) -> None:
        # No Tracer.__init__ here: that is what builds the provider (see ``start``).
        self._patch_modules = tuple(patch_modules)
        self._lock = threading.Lock()
        self._started = False

    def start(self) -> None:
        """Build the X-Ray provider and patch the modules (once; the first traced call does it)."""
        with self._lock:
            if self._started:
                return
            Tracer.__init__(self, auto_patch=False)
            self.patch(modules=self._patch_modules)  # a no-op when tracing is disabled
            self._started = True

    @property
    def started(self) -> bool:
        return self._started

    def __getattr__(self, name: str) -> Any:
        # Only reached while the attributes Tracer.__init__ sets are still missing.
        if name in LazyTracer._STARTED_BY:
            self.start()
            return self.__dict__[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


logger = ScrmLogger(json_serializer=_serialize)
tracer = LazyTracer()
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
