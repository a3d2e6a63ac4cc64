"""The twin's metrics: the EMF lines its handlers emit, plus the AWS metrics CloudWatch would have.

- **EMF** (namespace ``Scrm``, the catalogue in ``shared/metrics.py``): powertools prints each EMF
  document with ``print``; while the twin runs, the ``print`` of the two powertools modules that
  emit (``metrics.base``: ``single_metric``; the CloudWatch EMF provider: ``flush_metrics``) is
  wrapped, and EMF documents go to this store instead of stdout, stamped with the twin clock.
- **AWS metrics**, recorded by the twin where CloudWatch would measure them:
  ``AWS/Lambda`` Invocations, Errors, Throttles (always 0 locally), Duration (wall ms) per
  ``FunctionName``; ``AWS/ApiGateway`` Count, 4xx, 5xx, Latency per request; ``AWS/SQS``
  ``NumberOfMessagesSent`` (messages handed to the consumer) and ``ApproximateAgeOfOldestMessage``
  per batch (dimension ``Queue``: ``intake``), ``ApproximateNumberOfMessagesVisible`` of every
  dead-letter queue when sampled (dimension ``DeadLetterQueue``: ``intake``, ``reminders``, from the
  platform stack's ``<Key>DlqUrl`` outputs); ``AWS/States`` ExecutionsStarted/Succeeded/Failed/TimedOut per
  ``StateMachineArn``, when executions are first seen started or finished (sampled).
"""

from __future__ import annotations

import builtins
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from shared.metrics import NAMESPACE

_EMITTING_MODULES = (
    "aws_lambda_powertools.metrics.base",
    "aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch",
)
MAX_POINTS = 200_000
_TERMINAL = {"SUCCEEDED": "Succeeded", "FAILED": "Failed", "TIMED_OUT": "TimedOut", "ABORTED": "Aborted"}


@dataclass(frozen=True)
class Point:
    at: str  # ISO instant on the twin clock
    namespace: str
    name: str
    value: float
    unit: str = ""
    dimensions: dict[str, str] = field(default_factory=dict)


class MetricsStore:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self.points: list[Point] = []
        self._lock = threading.Lock()
        self._patched: list[tuple[Any, Any]] = []
        self._executions: dict[str, str] = {}  # execution arn -> last recorded status
        self._sample_lock = threading.Lock()

    # ------------------------------------------------------------------ recording
    def add(
        self,
        namespace: str,
        name: str,
        value: float,
        dimensions: dict[str, str] | None = None,
        unit: str = "",
    ) -> None:
        point = Point(self.clock().isoformat(), namespace, name, float(value), unit, dict(dimensions or {}))
        with self._lock:
            self.points.append(point)
            if len(self.points) > MAX_POINTS:  # a long `scrm local` session keeps the newest
                del self.points[: len(self.points) - MAX_POINTS]

    def capture(self, document: dict[str, Any]) -> bool:
        """Keep one EMF document; False when it is not EMF."""
        meta = document.get("_aws") if isinstance(document, dict) else None
        if not isinstance(meta, dict):
            return False
        for directive in meta.get("CloudWatchMetrics", []):
            keys = (directive.get("Dimensions") or [[]])[0]
            dims = {k: str(document.get(k)) for k in keys}
            for metric in directive.get("Metrics", []):
                values = document.get(metric["Name"])
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, int | float):
                        self.add(
                            directive.get("Namespace", NAMESPACE),
                            metric["Name"],
                            value,
                            dims,
                            metric.get("Unit", ""),
                        )
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(p) for p in self.points]

    # ------------------------------------------------------------------ EMF capture
    def install(self) -> None:
        """Wrap powertools' ``print`` in the modules that emit EMF (see the module docstring)."""
        import importlib

        def emf_print(*args: Any, **kwargs: Any) -> None:
            if len(args) == 1 and not kwargs and isinstance(args[0], str):
                text = args[0]
                if text == "null":  # single_metric's line when the metric block raised
                    return
                if text.startswith("{") and '"_aws"' in text:
                    try:
                        if self.capture(json.loads(text)):
                            return
                    except ValueError:
                        pass
            builtins.print(*args, **kwargs)

        for name in _EMITTING_MODULES:
            module = importlib.import_module(name)
            self._patched.append((module, vars(module).get("print")))
            module.print = emf_print  # type: ignore[attr-defined]

    def uninstall(self) -> None:
        for module, previous in reversed(self._patched):
            if previous is None:
                vars(module).pop("print", None)
            else:
                module.print = previous
        self._patched.clear()

    # ------------------------------------------------------------------ AWS metrics
    def wrap_lambdas(self, lambdas: Any) -> None:
        """Record Invocations, Errors, Throttles and Duration around ``lambdas.invoke``."""
        invoke = lambdas.invoke

        def measured(name: str, event: Any) -> Any:
            started, failed = time.perf_counter(), 0
            try:
                return invoke(name, event)
            except Exception:
                failed = 1
                raise
            finally:
                dims = {"FunctionName": name}
                self.add("AWS/Lambda", "Invocations", 1, dims, "Count")
                self.add("AWS/Lambda", "Errors", failed, dims, "Count")
                self.add("AWS/Lambda", "Throttles", 0, dims, "Count")
                self.add(
                    "AWS/Lambda", "Duration", (time.perf_counter() - started) * 1000, dims, "Milliseconds"
                )

        lambdas.invoke = measured

    def api_request(self, status: int, milliseconds: float) -> None:
        self.add("AWS/ApiGateway", "Count", 1, {}, "Count")
        self.add("AWS/ApiGateway", "4xx", 1 if 400 <= status < 500 else 0, {}, "Count")
        self.add("AWS/ApiGateway", "5xx", 1 if status >= 500 else 0, {}, "Count")
        self.add("AWS/ApiGateway", "Latency", milliseconds, {}, "Milliseconds")

    def queue_batch(self, queue: str, messages: list[dict[str, Any]]) -> None:
        """A batch handed to a consumer: messages sent, age of the oldest (from ``SentTimestamp``)."""
        dims = {"Queue": queue}
        sent = [int(m.get("Attributes", {}).get("SentTimestamp") or 0) for m in messages]
        oldest = min((s for s in sent if s), default=0)
        self.add("AWS/SQS", "NumberOfMessagesSent", len(messages), dims, "Count")
        age = max(0.0, time.time() - oldest / 1000) if oldest else 0.0
        self.add("AWS/SQS", "ApproximateAgeOfOldestMessage", age, dims, "Seconds")

    def sample(
        self, sqs: Any, dlq_urls: Mapping[str, str], stepfunctions: Any, state_machines: list[str]
    ) -> None:
        """Depth of each dead-letter queue (key -> URL) now; executions started or finished since the
        last sample."""
        with self._sample_lock:
            self._sample(sqs, dlq_urls, stepfunctions, state_machines)

    def _sample(
        self, sqs: Any, dlq_urls: Mapping[str, str], stepfunctions: Any, state_machines: list[str]
    ) -> None:
        for key, url in sorted(dlq_urls.items()):
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
            depth = int(attrs.get("Attributes", {}).get("ApproximateNumberOfMessages", 0))
            dims = {"DeadLetterQueue": key}
            self.add("AWS/SQS", "ApproximateNumberOfMessagesVisible", depth, dims, "Count")
        for arn in state_machines:
            dims = {"StateMachineArn": arn}
            for page in stepfunctions.get_paginator("list_executions").paginate(stateMachineArn=arn):
                for execution in page["executions"]:
                    key, status = execution["executionArn"], execution["status"]
                    seen = self._executions.get(key)
                    if seen is None:
                        self.add("AWS/States", "ExecutionsStarted", 1, dims, "Count")
                    if status in _TERMINAL and seen != status:
                        for state, metric in _TERMINAL.items():
                            self.add("AWS/States", f"Executions{metric}", int(state == status), dims, "Count")
                    self._executions[key] = status
