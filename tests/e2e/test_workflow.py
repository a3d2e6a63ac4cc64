"""Workflow behaviour through the twin: concurrency, linked tickets, version pinning."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin
from shared.workflow.compiler import LOOP_FAIL_STATE, SUBSTITUTIONS
from tests.e2e.steps import act
from tests.factories import FIXTURES

CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "适合20平米吗?"}
# the answer, plus the linked install ticket's fields (an action leading to a create_ticket node)
TO_INSTALL = {"answer": "安排上门", "address": "朝阳区1号", "region": "CN-BJ"}


def test_twenty_concurrent_actions_one_wins(agent: TwinClient) -> None:
    ticket_id = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
    ready = agent.wait_ready(ticket_id, node="answer")
    body = {"action": "answered", "fields": {"answer": "好"}, "version": ready["version"]}

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(lambda _: agent.post(f"/tickets/{ticket_id}/actions", body), range(20)))

    statuses = sorted(a.status for a in answers)
    assert statuses == [200] + [409] * 19, [a.body for a in answers if a.status not in (200, 409)]
    agent.wait_status(ticket_id, "closed")
    events = agent.get(f"/tickets/{ticket_id}/history").body["events"]
    assert [e["kind"] for e in events].count("action") == 1
    assert [e["kind"] for e in events].count("closed") == 1


def test_to_install_opens_a_linked_install_ticket(agent: TwinClient) -> None:
    ticket_id = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
    ready = agent.wait_ready(ticket_id, node="answer")
    # The action leads to a create_ticket node: it may carry the linked ticket's fields as well.
    acted = act(agent, ticket_id, "to_install", TO_INSTALL, ready["version"])
    assert acted.status == 200, acted.body
    parent = agent.wait_status(ticket_id, "closed")
    assert len(parent["children"]) == 1
    child = agent.get(f"/tickets/{parent['children'][0]}").body
    assert child["type"] == "install"
    assert child["parent_id"] == ticket_id
    assert child["fields"]["customer_name"] == CONSULT["customer_name"]
    assert child["fields"]["region"] == "CN-BJ"
    history = agent.get(f"/tickets/{ticket_id}/history").body["events"]
    assert any(e["kind"] == "linked" and e["changes"]["child"] == child["id"] for e in history)
    # The second way out is taken by the Task's Catch (SendTaskFailure), no Choice state between.
    machine = parent["workflow_version"].rsplit(":", 1)[0]
    assert _states_entered(_execution(machine, ticket_id)) == ["answer", "handoff", "done"]


def test_an_execution_on_a_choice_shaped_version_still_routes_by_its_choice(
    twin: LocalTwin, agent: TwinClient
) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = next(arn for name, arn in _machines(twin) if name == "scrm-acme-home-consult")
    original = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    alias = f"{machine}:live"
    # Given a ticket started on a version the old compiler made (a Choice after the Task, no routing)
    park_arn = json.loads(original)["States"]["answer"]["Parameters"]["FunctionName"]
    functions = park_arn[: park_arn.index(":function:") + len(":function:")]
    legacy = (FIXTURES / "asl" / "acme-home.consult.choice-shaped.asl.json").read_text("utf-8")
    for placeholder, function in SUBSTITUTIONS.items():
        legacy = legacy.replace("${" + placeholder + "}", functions + function)
    try:
        _publish(twin, sfn, machine, alias, legacy)
        ticket_id = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
        ready = agent.wait_ready(ticket_id, node="answer")
    finally:
        _publish(twin, sfn, machine, alias, original)
    # When the non-primary action is taken after the new code is live
    acted = act(agent, ticket_id, "to_install", TO_INSTALL, ready["version"])
    assert acted.status == 200, acted.body
    # Then it was sent as success and the old version's Choice took it to the linked ticket
    parent = agent.wait_status(ticket_id, "closed")
    assert len(parent["children"]) == 1
    assert _states_entered(_execution(machine, ticket_id)) == ["answer", "answer?", "handoff", "done"]


def _states_entered(execution_arn: str) -> list[str]:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    events = sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_a_ticket_finishes_on_the_version_it_started_on(twin: LocalTwin, agent: TwinClient) -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    machine = next(arn for name, arn in _machines(twin) if name == "scrm-acme-home-consult")
    original = sfn.describe_state_machine(stateMachineArn=machine)["definition"]
    alias = f"{machine}:live"

    # Given a ticket started on the deployed version
    before = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
    before_ready = agent.wait_ready(before, node="answer")

    # When the tenant deploys a changed workflow: a new version behind the live alias, and the
    # tenant's custom resource updated with it (the live map in its config object)
    changed = json.loads(original)
    changed["States"]["v2_marker"] = {"Type": "Pass", "Next": "done"}
    changed["States"]["answer"]["Next"] = "v2_marker"
    try:
        _publish(twin, sfn, machine, alias, json.dumps(changed))
        after = agent.post("/tickets", {"type": "consult", "fields": CONSULT}).body["id"]
        after_ready = agent.wait_ready(after, node="answer")
        assert after_ready["workflow_version"] != before_ready["workflow_version"]

        # Then both finish, each on its own version
        for ticket in (before_ready, after_ready):
            answer = act(agent, ticket["id"], "answered", {"answer": "ok"}, ticket["version"])
            assert answer.status == 200, answer.body
            agent.wait_status(ticket["id"], "closed")
    finally:
        _publish(twin, sfn, machine, alias, original)
    assert "v2_marker" not in _states_entered(_execution(machine, before))
    assert "v2_marker" in _states_entered(_execution(machine, after))


def _machines(twin: LocalTwin) -> list[tuple[str, str]]:
    return [(name, arn) for d in twin.deployments for name, arn in d.state_machines.items()]


def _execution(machine: str, ticket_id: str) -> str:
    return machine.replace(":stateMachine:", ":execution:") + f":{ticket_id}"


def _publish(twin: LocalTwin, sfn: Any, machine: str, alias: str, definition: str) -> None:
    """What a deploy of a changed workflow does: publish a version, point the alias at it, and
    update the tenant's ``Custom::ScrmTenant`` with it, whose provider rewrites the live map that
    new tickets start on (functions never ask the alias)."""
    version = sfn.update_state_machine(stateMachineArn=machine, definition=definition, publish=True)
    arn = version["stateMachineVersionArn"]
    sfn.update_state_machine_alias(
        stateMachineAliasArn=alias, routingConfiguration=[{"stateMachineVersionArn": arn, "weight": 100}]
    )
    tenant, type_id = machine.rsplit(":", 1)[-1].removeprefix("scrm-").rsplit("-", 1)
    answer = twin.redeploy_tenant(tenant, {type_id: arn})
    assert answer["Status"] == "SUCCESS", answer


def test_past_the_loop_cap_the_ticket_fails_loudly(monkeypatch: Any, anonymous: TwinClient) -> None:
    # The twin runs the functions in this process: lower the cap (read at each visit) to keep the
    # loop short.
    from shared.workflow import routing

    monkeypatch.setattr(routing, "MAX_NODE_VISITS", 2)
    anna = anonymous.as_user("bright-clean", "u-anna", ["agent"])
    jonas = anonymous.as_user("bright-clean", "u-jonas", ["supervisor"])
    fields = {"customer_name": "K", "customer_phone": "+4915100000099", "description": "loop"}
    ticket_id = anna.post("/tickets", {"type": "complaint", "fields": fields}).body["id"]
    for _ in range(2):
        ready = anna.wait_ready(ticket_id, node="answer")
        act(anna, ticket_id, "answered", {"answer": "a"}, ready["version"])
        at_close = jonas.wait_ready(ticket_id, node="close")
        act(jonas, ticket_id, "reopen", {"resolution": "rejected"}, at_close["version"])
    failed = anna.wait_status(ticket_id, "failed")
    assert "more than 2 times" in failed["reason"]
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    arn = f"arn:aws:states:us-east-1:123456789012:execution:scrm-bright-clean-complaint:{ticket_id}"
    # the ticket is marked failed before the task raises; the execution then takes the Catch to Fail
    status = "RUNNING"
    deadline = time.monotonic() + 20
    while status == "RUNNING" and time.monotonic() < deadline:
        status = sfn.describe_execution(executionArn=arn)["status"]
        time.sleep(0.05)
    assert status == "FAILED"
    assert LOOP_FAIL_STATE in _states_entered(arn)
