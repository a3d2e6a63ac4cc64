"""Run the deployed Lambda functions in-process, as the function configuration in moto says.

moto would need Docker to invoke a function; the twin answers ``lambda:Invoke`` itself
through a botocore ``before-call`` hook on the default boto3 session (which Step Functions
in moto uses), importing the handler named by the function's configuration.

One container per function: a function handles one event at a time, as a Lambda container does
(:class:`Container`), and each invocation sees its own function's environment through
``shared.settings`` (:func:`shared.settings.function_environment`), not a merge of all of them.
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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from infra.twin.deploy import ACCOUNT, REGION
from infra.twin.meter import BUCKETS, METER, aws_cpu_ms, enter_aws, install_call_meter, leave_aws
from shared.settings import function_environment

SLOW_WAIT_SECONDS = 30.0
"""An invocation that waits this long for its function's container is logged (a deadlock would
show here first: an invocation that waits, through another thread, for its own function)."""


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


class Container:
    """The one warm container of a function: it handles one event at a time.

    In AWS a container never runs two events at once, and a function's module state (the
    powertools resolver's ``app.current_event``, logger keys, anything a handler keeps between
    calls) belongs to the one event it is handling. The twin imports each handler module once, so
    without this two threads invoking the same function would share that state and read each
    other's request. The trade-off: two invocations of the same function are serialized in the
    twin (AWS would start a second container), while different functions run concurrently, as they
    do in AWS. Waiting invocations are served in arrival order.

    A thread that invokes the function it is already running (a synchronous call of itself) is let
    through: waiting for itself would never end. Lambda would give that call a second container;
    here it shares the first one's module state, and the twin logs it once per function.

    No invocation waits, through another thread, for its own function: moto runs each Step
    Functions execution (and each of its states) in threads of its own, and ``StartExecution``,
    ``SendTaskSuccess``/``Failure`` and ``StopExecution`` only start or signal them; asynchronous
    invokes run in their own thread; and the ``after_invoke`` hooks run once the container is free
    (the twin's message collection takes the lock the scheduler holds while due schedules invoke
    functions). An invocation still waiting after :data:`SLOW_WAIT_SECONDS` is logged.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._cond = threading.Condition()
        self._owner: int | None = None
        self._waiting: deque[object] = deque()
        self.waited = 0  # invocations that found the container busy and queued

    def enter(self, log: Callable[[str], None]) -> bool:
        """Wait for the container; False when this thread already holds it (a re-entry)."""
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                return False
            if self._owner is None and not self._waiting:
                self._owner = me
                return True
            turn = object()
            self._waiting.append(turn)
            self.waited += 1
            started, warned = time.monotonic(), False
            try:
                while self._owner is not None or self._waiting[0] is not turn:
                    self._cond.wait(timeout=SLOW_WAIT_SECONDS)
                    if not warned and time.monotonic() - started >= SLOW_WAIT_SECONDS:
                        warned = True
                        log(
                            f"  {self.name}: an invocation has waited {SLOW_WAIT_SECONDS:.0f} s for the "
                            f"function's container (busy with thread {self._owner}, "
                            f"{len(self._waiting)} waiting)"
                        )
            except BaseException:
                self._waiting.remove(turn)
                self._cond.notify_all()
                raise
            self._waiting.popleft()
            self._owner = me
            return True

    def leave(self) -> None:
        with self._cond:
            self._owner = None
            self._cond.notify_all()


class LocalLambdas:
    def __init__(self, log: Callable[[str], None]) -> None:
        self.log = log
        self.functions: dict[str, FunctionSpec] = {}
        self.invocations: dict[str, int] = {}
        self.containers: dict[str, Container] = {}
        self.environments: dict[str, dict[str, str]] = {}
        """What each function's handler sees as its environment (``shared.settings``)."""
        self._lock = threading.Lock()
        self._reentered: set[str] = set()
        self.after_invoke: list[Callable[[str], None]] = []

    def load(self) -> None:
        """Read every function's handler and environment from moto (as CloudFormation deployed it)."""
        client = boto3.client("lambda", region_name=REGION)
        for page in client.get_paginator("list_functions").paginate():
            for fn in page["Functions"]:
                env = (fn.get("Environment") or {}).get("Variables") or {}
                self.add(
                    FunctionSpec(
                        fn["FunctionName"],
                        fn["Handler"],
                        dict(env),
                        int(fn.get("Timeout", 30)),
                        int(fn.get("MemorySize", 512)),
                    )
                )
        self._install_environment()

    def add(self, spec: FunctionSpec) -> None:
        """Host ``spec``: its container and the environment its invocations see."""
        self.functions[spec.name] = spec
        self.environments[spec.name] = runtime_environment(spec)
        self.containers[spec.name] = Container(spec.name)

    def _install_environment(self) -> None:
        """Put into the process environment what the functions agree on, for the code that runs
        outside an invocation; each invocation reads its own function's environment.

        Inside an invocation ``shared.settings`` answers from the invoked function's environment
        (set around the handler call), so a function sees only its own variables, as in AWS. The
        process still needs some: libraries configured at import (powertools' metrics namespace,
        log level), pydantic's plugin switch, the twin itself (``LocalTwin._verify_sender`` reads
        ``SENDER_EMAIL``) and tests or scripts that use the repositories in their own thread (the
        table, the tenant role template). Those get every variable that has one value wherever
        it is set (the CDK's custom-resource provider function has none of them). A variable with
        different values (``TENANT_DATA_ACCESS``, ``POWERTOOLS_SERVICE_NAME``) stays out of the
        process: outside an invocation its default applies.
        """
        values: dict[str, set[str]] = {}
        for spec in self.functions.values():
            for key, value in spec.environment.items():
                values.setdefault(key, set()).add(value)
        agreed = {key: next(iter(found)) for key, found in values.items() if len(found) == 1}
        os.environ.update(agreed)
        platform = [spec for spec in self.functions.values() if spec.handler.startswith("functions.")]
        per_function = sorted(
            key
            for key in values
            if key not in agreed or any(key not in spec.environment for spec in platform)
        )
        if per_function:
            self.log(f"  per-function variables, served per invocation: {', '.join(per_function)}")

    def invoke(self, name: str, event: Any) -> Any:
        """Call the function's handler in its container (one event at a time, its own environment);
        raises ``FunctionFailed`` as Lambda would report an error."""
        spec = self.functions.get(name)
        if spec is None:
            raise FunctionFailed("ResourceNotFoundException", f"function {name} is not deployed")
        module_name, _, attr = spec.handler.rpartition(".")
        handler = getattr(importlib.import_module(module_name), attr)
        container = self.containers[name]
        entered = container.enter(self.log)
        if not entered:
            self._log_reentry(name)
        try:
            return self._run(spec, handler, event)
        finally:
            if entered:
                container.leave()
            # after the container is free: a hook may wait for a thread that waits for this function
            for hook in self.after_invoke:
                hook(name)

    def _run(self, spec: FunctionSpec, handler: Callable[[Any, Any], Any], event: Any) -> Any:
        name = spec.name
        with self._lock:
            self.invocations[name] = self.invocations.get(name, 0) + 1
        cpu_start, aws_start, wall_start = time.thread_time(), aws_cpu_ms(), time.perf_counter()
        try:
            with function_environment(self.environments[name]), METER.invocation(name):
                return handler(event, LocalContext(spec))
        except Exception as exc:
            self.log(f"  {name} failed: {type(exc).__name__}: {exc}")
            if os.environ.get("SCRM_TWIN_TRACEBACKS"):
                self.log(traceback.format_exc())
            raise FunctionFailed(type(exc).__name__, str(exc)) from exc
        finally:
            cpu_ms = (time.thread_time() - cpu_start) * 1000 - (aws_cpu_ms() - aws_start)
            METER.lambda_call(name, max(0.0, cpu_ms), (time.perf_counter() - wall_start) * 1000)

    def _log_reentry(self, name: str) -> None:
        with self._lock:
            if name in self._reentered:
                return
            self._reentered.add(name)
        self.log(
            f"  {name} invoked itself synchronously: run in the same container "
            "(Lambda would start another one; module state is shared here)"
        )

    def install_hook(self) -> None:
        """Answer ``lambda:Invoke`` calls made through boto3's default session in-process; meter
        every AWS call the functions make and hold it to its rate quota (``meter.py``), with every
        bucket full (a new twin is a new account)."""
        install_call_meter()
        BUCKETS.reset()
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


def runtime_environment(spec: FunctionSpec) -> dict[str, str]:
    """The environment Lambda gives the function: its configured variables and the runtime's own."""
    return {
        **spec.environment,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_LAMBDA_FUNCTION_NAME": spec.name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
        "_HANDLER": spec.handler,
    }


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
    # The cost figures' counts (any caller but a paused one; the twin's event source mapping's
    # deletes included, as AWS bills them; not the twin's DeleteSchedule after a one-time schedule
    # fired, which AWS does itself). Every call the product makes, whatever the API, is counted
    # apart in ``METER.calls`` (``meter.install_call_meter``), by data/control plane.
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
