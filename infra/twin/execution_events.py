"""Step Functions execution status changes, which moto never puts on the EventBridge bus.

AWS puts a "Step Functions Execution Status Change" event on the account's default bus whenever a
standard execution changes status; the platform's rule ``scrm-executions-stopped`` sends those of
stopped executions to ``scrm-ticket-failed`` (``infra/constructs/recovery.py``). moto executes the
state machines (``execute_state_machine``) but emits no such event, so the twin does:

- ``install()`` wraps the moment moto's interpreter has reflected an execution's end
  (``BaseExecutionWorkerCommunication.terminated``, once per execution, on its worker thread): a
  standard execution that ended ``SUCCEEDED``, ``FAILED``, ``TIMED_OUT`` or ``ABORTED`` is handed
  to every listener (``listen``), once: a flag on the execution guards against a second call;
- ``StopExecution`` ends the execution: moto sets the stop, but a task parked on
  ``waitForTaskToken`` (every human node) waits for its token only, so the execution would stay
  ``RUNNING`` for ever; the twin wakes its callbacks, and it ends ``ABORTED`` as in AWS (an error
  the woken task raises no longer overrides the stop: moto's ``set_error`` would). The stop's
  ``error`` and ``cause``, which moto's request handler drops, are carried to the execution (its
  ``DescribeExecution`` then reports them, as AWS does);
- ``status_change_event`` builds the event as AWS does (``detail``: ``executionArn``,
  ``stateMachineArn`` unversioned, ``name``, ``status``, ``startDate``/``stopDate`` in epoch
  milliseconds as ``DescribeExecution`` reports them, ``input`` as the string the execution started
  with, ``inputDetails``, ``output``/``outputDetails`` (``null`` unless it succeeded), ``error``,
  ``cause``), stamped with the twin clock's ``time``; the twin matches it against the deployed
  rules and delivers it (``infra/twin/rules.py``, ``PatternRules``).

The ``RUNNING`` event of an execution's start is not emitted (no rule of the platform asks for it).
"""

from __future__ import annotations

import functools
import json
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

STATUS_CHANGE = "Step Functions Execution Status Change"
ENDED = ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED")

Listener = Callable[[Any], None]
"""Called with moto's ``Execution`` (``moto.stepfunctions.parser.backend.execution``) once it ended."""

_listeners: list[Listener] = []
_lock = threading.Lock()
_installed = False
_stop_request = threading.local()  # .error/.cause of the StopExecution being handled on this thread
_SENT = "_scrm_twin_status_sent"


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener`` with every execution that ends from now on; returns the way to stop."""
    with _lock:
        _listeners.append(listener)

    def unsubscribe() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return unsubscribe


def install() -> None:
    """Hook moto's Step Functions interpreter (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _hook_termination()
        _keep_stop_reason()
        _installed = True


def _hook_termination() -> None:
    from moto.stepfunctions.parser.backend.execution import BaseExecutionWorkerCommunication

    original = BaseExecutionWorkerCommunication.terminated

    @functools.wraps(original)
    def terminated(self: BaseExecutionWorkerCommunication) -> None:
        original(self)
        _ended(self.execution)

    BaseExecutionWorkerCommunication.terminated = terminated  # type: ignore[method-assign]


def _ended(execution: Any) -> None:
    status = _status(execution)
    if status not in ENDED or str(getattr(execution.sm_type, "value", execution.sm_type)) != "STANDARD":
        return  # express workflows emit no status-change events
    with _lock:
        if getattr(execution, _SENT, False):
            return
        setattr(execution, _SENT, True)
        listeners = list(_listeners)
    if status == "ABORTED":
        _copy_stop_reason(execution)
    for listener in listeners:
        listener(execution)  # the twin's listener only starts threads; moto's worker is done anyway


def _copy_stop_reason(execution: Any) -> None:
    """The ``error``/``cause`` given to StopExecution (moto keeps them only in the program state)."""
    worker = getattr(execution, "exec_worker", None)
    env = getattr(worker, "env", None)
    state = env.program_state() if env is not None else None
    error, cause = getattr(state, "error", None), getattr(state, "cause", None)
    if execution.error is None and error:
        execution.error = error
    if execution.cause is None and cause:
        execution.cause = cause


def _keep_stop_reason() -> None:
    """moto's StopExecution handler passes ``error=""``, ``cause=""`` whatever the request said."""
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.responses import StepFunctionResponse

    original_response = StepFunctionResponse.stop_execution

    @functools.wraps(original_response)
    def stop_execution(self: StepFunctionResponse) -> Any:
        _stop_request.reason = (self._get_param("error"), self._get_param("cause"))
        try:
            return original_response(self)
        finally:
            _stop_request.reason = None

    original_stop = Execution.stop

    @functools.wraps(original_stop)
    def stop(self: Execution, stop_date: datetime, error: str | None, cause: str | None) -> None:
        requested = getattr(_stop_request, "reason", None)
        if requested is not None:
            error, cause = error or requested[0] or "", cause or requested[1] or ""
        original_stop(self, stop_date=stop_date, error=error, cause=cause)
        _wake_callbacks(self)

    StepFunctionResponse.stop_execution = stop_execution  # type: ignore[method-assign]
    Execution.stop = stop  # type: ignore[method-assign]

    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped

    original_set_error = Environment.set_error

    @functools.wraps(original_set_error)
    def set_error(self: Environment, error: Any) -> None:
        if isinstance(getattr(self, "_program_state", None), ProgramStopped):
            return  # stopped is final: the woken task's error does not turn ABORTED into FAILED
        original_set_error(self, error)

    Environment.set_error = set_error  # type: ignore[method-assign]


def _wake_callbacks(execution: Any) -> None:
    """A task parked on ``waitForTaskToken`` waits for its token alone, not for the stop (a Wait state
    does): wake it, so the stopped execution ends (ABORTED) as in AWS instead of staying RUNNING."""
    env = getattr(getattr(execution, "exec_worker", None), "env", None)
    pool = getattr(getattr(env, "callback_pool_manager", None), "_pool", None)
    for endpoint in list((pool or {}).values()):
        endpoint.interrupt_all()


def _status(execution: Any) -> str:
    status = getattr(execution, "exec_status", None)
    return str(getattr(status, "value", status) or "")


def _millis(value: Any) -> int | None:
    if not isinstance(value, datetime):
        return None
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return int(aware.timestamp() * 1000)


def unversioned(state_machine_arn: str) -> str:
    """``arn:...:stateMachine:<name>`` of a state machine, version or alias ARN."""
    return ":".join(state_machine_arn.split(":")[:7])


def status_change_event(execution: Any, now: datetime, *, event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge event AWS puts on the default bus for ``execution``'s current status."""
    state_machine = execution.state_machine
    machine_arn = unversioned(str(getattr(state_machine, "source_arn", None) or state_machine.arn))
    status = _status(execution)
    succeeded = status == "SUCCEEDED"
    started_with = getattr(execution, "execution_input", None)
    if not isinstance(started_with, str):
        started_with = json.dumps(execution.input_data, separators=(",", ":"), ensure_ascii=False)
    output = (
        json.dumps(execution.output, separators=(",", ":"), ensure_ascii=False)
        if succeeded and execution.output is not None
        else None
    )
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": STATUS_CHANGE,
        "source": "aws.states",
        "account": str(execution.account_id),
        "time": now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": str(execution.region_name),
        "resources": [str(execution.exec_arn)],
        "detail": {
            "executionArn": str(execution.exec_arn),
            "stateMachineArn": machine_arn,
            "name": str(execution.name),
            "status": status,
            "startDate": _millis(execution.start_date),
            "stopDate": _millis(execution.stop_date),
            "input": started_with,
            "inputDetails": {"included": True},
            "output": output,
            "outputDetails": {"included": True} if output is not None else None,
            "error": execution.error or None,
            "cause": execution.cause or None,
        },
    }
