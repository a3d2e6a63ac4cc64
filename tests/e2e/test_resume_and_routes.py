"""No Choice state on a ticket's happy path (issue 16's cost goal), on the twin's real executions.

- A dispatch node with an ``on_no_candidate`` route is a ``waitForTaskToken`` Task: the dispatch
  function answers it, SendTaskFailure(``Scrm.Route.no_candidate``) when nobody fits, and the Catch
  takes the ticket to its node (no Choice state, no Lambda error).
- A retried ticket starts at the type's start node, whose Task hands it to the node where it failed
  (``Scrm.Resume.<node>``) without doing the start node's work (no entry Choice ``Resume?``).
- An execution on a version compiled with the entry Choice (and the dispatch Choice) still runs and
  still resumes: the retry's input is the same for both shapes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.workflow.compiler import SUBSTITUTIONS
from shared.workflow.routing import RESUME_STATE
from tests.e2e.test_dispatch import on_duty  # noqa: F401  (the technicians' calendar is open)
from tests.e2e.test_workflow import _execution, _machines, _publish
from tests.factories import FIXTURES

INSTALL = {
    "customer_name": "续跑",
    "customer_phone": "+8613900000616",
    "address": "北京市东城区16号",
    "region": "CN-BJ",
    "location": {"lat": 39.91, "lon": 116.40},
}
NOBODY_COVERS = "CN-CD"  # a region of acme-home that no technician of its file works in


def _history(execution_arn: str) -> list[dict[str, Any]]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    events: list[Any] = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [dict(e) for e in events]


def _entered(execution_arn: str) -> list[str]:
    return [
        e["stateEnteredEventDetails"]["name"]
        for e in _history(execution_arn)
        if "stateEnteredEventDetails" in e
    ]


def _failures(execution_arn: str) -> list[str]:
    """The error names of the execution's failed tasks and Lambda functions, in order."""
    return [
        details["error"]
        for e in _history(execution_arn)
        for key, details in e.items()
        if key.endswith("FailedEventDetails") and "error" in details
    ]


def _install_machine(twin: LocalTwin) -> str:
    return next(arn for name, arn in _machines(twin) if name == "scrm-acme-home-install")


def _fail_at_on_site(agent: TwinClient) -> dict[str, Any]:
    """An install ticket dispatched and parked at on_site, then its execution stopped: failed there."""
    created = agent.post("/tickets", {"type": "install", "fields": INSTALL})
    assert created.status == 201, created.body
    ready = agent.wait_ready(created.body["id"], node="on_site")
    assert ready["status"] == "open" and ready["assignee"]["kind"] == "technician", ready
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    sfn.stop_execution(executionArn=ready["execution_arn"], error="Ops.Stopped", cause="a test stopped it")
    failed = agent.wait_status(ready["id"], "failed")
    assert failed["node"] == "on_site", failed
    return ready


@pytest.fixture
def dispatcher(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user("acme-home", "u-zhao", ["supervisor", "dispatcher"])


@pytest.mark.usefixtures("on_duty")
def test_nobody_fits_the_dispatch_task_is_failed_to_its_route_not_a_choice(
    twin: LocalTwin, agent: TwinClient
) -> None:
    # Given an install ticket in a region no technician covers
    created = agent.post("/tickets", {"type": "install", "fields": {**INSTALL, "region": NOBODY_COVERS}})
    assert created.status == 201, created.body
    # Then it waits at the node's on_no_candidate route, manual_dispatch
    ready = agent.wait_ready(created.body["id"], node="manual_dispatch")
    assert ready["dispatch"]["explanation"]["eligible"] == 0, ready["dispatch"]
    arn = ready["execution_arn"]
    # one state per node: no Choice after the dispatch Task, no entry Choice
    assert _entered(arn) == ["dispatching", "manual_dispatch"]
    # and the route was the dispatch function's SendTaskFailure, not a Lambda error
    assert _failures(arn) == ["Scrm.Route.no_candidate"]


@pytest.mark.usefixtures("on_duty")
def test_a_retried_ticket_resumes_at_the_node_where_it_failed(
    twin: LocalTwin, agent: TwinClient, dispatcher: TwinClient
) -> None:
    # Given an install ticket that failed at on_site (not its start node)
    ready = _fail_at_on_site(agent)
    ticket_id, dispatched = ready["id"], ready["dispatch"]
    assert _entered(ready["execution_arn"]) == ["dispatching", "on_site"]

    # When a dispatcher retries it
    retried = dispatcher.post(f"/tickets/{ticket_id}/retry")
    assert retried.status == 200, retried.body

    # Then the new execution enters at the start node, which hands it on to on_site by its Catch
    again = agent.wait_ready(ticket_id, node="on_site")
    arn = again["execution_arn"]
    assert arn.endswith(f":{ticket_id}-r1")
    assert _entered(arn) == ["dispatching", "on_site"]
    assert _failures(arn) == ["Scrm.Resume.on_site"]  # the dispatch task's own SendTaskFailure
    # without dispatching again: the same offer, attempt and technician
    assert again["dispatch"]["attempt"] == dispatched["attempt"]
    assert again["assignee"] == ready["assignee"]
    kinds = [e["kind"] for e in agent.get(f"/tickets/{ticket_id}/history").body["events"]]
    assert "dispatched" not in kinds[kinds.index("retried") :], kinds


@pytest.fixture
def choice_shaped_install(twin: LocalTwin) -> Iterator[None]:
    """The install workflow as the compiler made it before: the entry Choice ``Resume?`` and the
    dispatch node's Choice ``dispatching?`` (``tests/fixtures/asl``), live for the test's tickets."""
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = _install_machine(twin)
    original = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    dispatch_arn = json.loads(original)["States"]["dispatching"]["Parameters"]["FunctionName"]
    functions = dispatch_arn[: dispatch_arn.index(":function:") + len(":function:")]
    legacy = (FIXTURES / "asl" / "acme-home.install.resume-choice.asl.json").read_text("utf-8")
    assert json.loads(legacy)["StartAt"] == RESUME_STATE
    for placeholder, function in SUBSTITUTIONS.items():
        legacy = legacy.replace("${" + placeholder + "}", functions + function)
    _publish(twin, sfn, machine, f"{machine}:live", legacy)
    try:
        yield
    finally:
        _publish(twin, sfn, machine, f"{machine}:live", original)


@pytest.mark.usefixtures("on_duty", "choice_shaped_install")
def test_a_version_with_the_entry_choice_still_runs_and_resumes(
    twin: LocalTwin, agent: TwinClient, dispatcher: TwinClient
) -> None:
    # Given a ticket that ran on the Choice-shaped version (the dispatch function answered the plain
    # Task with its result, for the Choice) and failed at on_site
    ready = _fail_at_on_site(agent)
    assert _entered(ready["execution_arn"]) == [RESUME_STATE, "dispatching", "dispatching?", "on_site"]

    # When it is retried while that version is still live
    assert dispatcher.post(f"/tickets/{ready['id']}/retry").status == 200

    # Then the version's own entry Choice takes the same input to on_site
    again = agent.wait_ready(ready["id"], node="on_site")
    assert _entered(again["execution_arn"]) == [RESUME_STATE, "on_site"]
    assert _execution(_install_machine(twin), f"{ready['id']}-r1") == again["execution_arn"]
