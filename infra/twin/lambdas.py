"""Run the deployed Lambda functions in-process, as the function configuration in moto says.

moto would need Docker to invoke a function; the twin answers ``lambda:Invoke`` itself
through a botocore ``before-call`` hook on the default boto3 session (which Step Functions
in moto uses), importing the handler named by the function's configuration.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import json
import os
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from infra.twin.deploy import ACCOUNT, REGION
from infra.twin.meter import METER, aws_cpu_ms, enter_aws, leave_aws


@dataclass
class FunctionSpec:
    name: str
    handler: str
    environment: dict[str, str]
    timeout: int
    memory: int


class LocalContext:
    """The parts of the Lambda context object that handlers and powertools read."""

    def __init__(self, spec: FunctionSpec) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{spec.name}"
        self.memory_limit_in_mb = spec.memory
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = "local-twin"
        self._deadline = time.monotonic() + spec.timeout

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class FunctionFailed(Exception):
    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message


class LocalLambdas:
    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.functions: dict[str, FunctionSpec] = {}
        self.invocations: dict[str, int] = {}
        self._lock = threading.Lock()
        self.after_invoke: list[Callable[[str], None]] = []

    def load(self) -> None:
        """Read every function's handler and environment from moto (as CloudFormation deployed it)."""
        client = boto3.client("lambda", region_name=REGION)
        for page in client.get_paginator("list_functions").paginate():
            for fn in page["Functions"]:
                env = (fn.get("Environment") or {}).get("Variables") or {}
                self.functions[fn["FunctionName"]] = FunctionSpec(
                    fn["FunctionName"],
                    fn["Handler"],
                    dict(env),
                    int(fn.get("Timeout", 30)),
                    int(fn.get("MemorySize", 512)),
                )
        self._install_environment()

    def _install_environment(self) -> None:
        """One process hosts every function: their environments must agree, and are merged."""
        merged: dict[str, str] = {}
        differing: set[str] = set()
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                if key in merged and merged[key] != value:
                    differing.add(key)
                merged.setdefault(key, value)
        for key in differing:
            merged.pop(key, None)
        os.environ.update(merged)
        if differing:
            self.log(
                f"  per-function variables left unset in the shared process: {', '.join(sorted(differing))}"
            )

    def invoke(self, name: str, event: Any) -> Any:
        """Call the function's handler; raises ``FunctionFailed`` as Lambda would report an error."""
        spec = self.functions.get(name)
        if spec is None:
            raise FunctionFailed("ResourceNotFoundException", f"function {name} is not deployed")
        module_name, _, attr = spec.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attr)
        with self._lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
        cpu_start, aws_start = time.thread_time(), aws_cpu_ms()
        try:
            return handler(event, LocalContext(spec))
        except Exception as exc:
            self.log(f"  {name} failed: {type(exc).__name__}: {exc}")
            if os.environ.get("SCRM_TWIN_TRACEBACKS"):
                self.log(traceback.format_exc())
            raise FunctionFailed(type(exc).__name__, str(exc)) from exc
        finally:
            cpu_ms = (time.thread_time() - cpu_start) * 1000 - (aws_cpu_ms() - aws_start)
            METER.lambda_call(name, max(0.0, cpu_ms))
            for hook in self.after_invoke:
                hook(name)

    def install_hook(self) -> None:
        """Answer ``lambda:Invoke`` calls made through boto3's default session in-process."""
        boto3.setup_default_session(region_name=REGION)
        session = boto3.DEFAULT_SESSION
        assert session is not None
        session.events.register("before-call.lambda.Invoke", self._on_invoke)  # type: ignore[arg-type]
        session.events.register("before-parameter-build.stepfunctions.StartExecution", _unversioned_start)
        session.events.register("before-call", _before_aws_call)
        session.events.register("after-call", _after_aws_call)
        session.events.register("after-call-error", _after_aws_call)

    def _on_invoke(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        path = unquote(params.get("url_path", ""))
        name = function_of(path.split("/functions/", 1)[-1].split("/", 1)[0])
        body = params.get("body") or b"{}"
        event = json.loads(body.decode() if isinstance(body, bytes) else body or "{}")
        asynchronous = (params.get("headers") or {}).get("X-Amz-Invocation-Type") == "Event"
        if asynchronous:
            threading.Thread(target=self._quiet_invoke, args=(name, event), daemon=True).start()
            return self._answer(202, b"", None)
        try:
            result = self.invoke(name, event)
        except FunctionFailed as exc:
            payload = json.dumps({"errorType": exc.error_type, "errorMessage": exc.message}).encode()
            return self._answer(200, payload, "Unhandled")
        return self._answer(200, json.dumps(result, default=str).encode(), None)

    def _quiet_invoke(self, name: str, event: Any) -> None:
        with contextlib.suppress(FunctionFailed):
            self.invoke(name, event)

    @staticmethod
    def _answer(status: int, payload: bytes, error: str | None) -> tuple[AWSResponse, dict[str, Any]]:
        parsed: dict[str, Any] = {
            "StatusCode": status,
            "ExecutedVersion": "$LATEST",
            "Payload": StreamingBody(io.BytesIO(payload), len(payload)),
            "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": {}},
        }
        if error:
            parsed["FunctionError"] = error
        return AWSResponse("local://lambda", status, {}, None), parsed  # type: ignore[arg-type]


def function_of(reference: str) -> str:
    """The function a name or ARN (``...:function:<name>[:qualifier]``) refers to."""
    return reference.rsplit(":function:", 1)[-1].split(":")[0]


_VERSIONED = re.compile(r"^(arn:[^:]+:states:[^:]+:[^:]+:stateMachine:[^:]+):\d+$")


def _unversioned_start(params: dict[str, Any], **_: Any) -> None:
    """moto cannot start an execution on a version ARN: start it on the state machine itself.

    The twin deploys each workflow once, so the state machine's definition is that version's.
    """
    found = _VERSIONED.match(str(params.get("stateMachineArn", "")))
    if found:
        params["stateMachineArn"] = found.group(1)


_METERED = {
    "scheduler.CreateSchedule": "scheduler:CreateSchedule",
    "sqs.SendMessage": "sqs:SendMessage",
    "sqs.SendMessageBatch": "sqs:SendMessageBatch",
    "sqs.DeleteMessage": "sqs:DeleteMessage",
    "sqs.DeleteMessageBatch": "sqs:DeleteMessageBatch",
    "sns.Publish": "sns:Publish",
    "sesv2.SendEmail": "ses:SendEmail",
    "ses.SendEmail": "ses:SendEmail",
    "stepfunctions.StartExecution": "states:StartExecution",
    "stepfunctions.SendTaskSuccess": "states:SendTaskSuccess",
    "stepfunctions.SendTaskFailure": "states:SendTaskFailure",
}


def _operation(event_name: str) -> str:
    parts = event_name.split(".")
    return ".".join(parts[1:3]) if len(parts) >= 3 else ""


def _before_aws_call(event_name: str = "", **_: Any) -> None:
    if event_name.startswith("before-call.lambda.Invoke"):
        return  # answered in-process: the handler's CPU is its own
    key = _METERED.get(_operation(event_name))
    if key:
        METER.count(key)
    enter_aws()


def _after_aws_call(event_name: str = "", **_: Any) -> None:
    if event_name.startswith("after-call.lambda.Invoke"):
        return
    leave_aws()
