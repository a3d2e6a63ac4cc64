"""No ticket in limbo (issue 14), on the twin: a stopped execution reaches ``scrm-ticket-failed``
through the platform's EventBridge rule, and the ticket turns ``failed`` visibly."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from infra.twin.client import TwinClient
from infra.twin.deploy import REGION
from infra.twin.rules import Delivery
from infra.twin.twin import LocalTwin

CONSULT = {"customer_name": "陈女士", "customer_phone": "+8613900000000", "question": "能装吗?"}
DISPATCHER_PHONE = "+8613800000012"  # u-zhao, acme-home's dispatcher
RULE = "scrm-executions-stopped"


def _open_consult(agent: TwinClient) -> dict[str, Any]:
    created = agent.post("/tickets", {"type": "consult", "fields": CONSULT})
    assert created.status == 201, created.body
    agent.wait_ready(created.body["id"], node="answer")
    ticket = agent.get(f"/tickets/{created.body['id']}").body
    assert ticket["execution_arn"], ticket
    return dict(ticket)


def _delivery(twin: LocalTwin, execution_name: str, timeout: float = 20.0) -> Delivery:
    """The rule's delivery of the status change of ``execution_name``, once it finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for delivery in list(twin.event_rules.deliveries):
            if delivery.rule == RULE and delivery.payload["detail"]["name"] == execution_name:
                assert delivery.done.wait(max(0.0, deadline - time.monotonic())), delivery
                return delivery
        time.sleep(0.05)
    raise TimeoutError(f"no status change of {execution_name} reached {RULE}")


def test_a_stopped_execution_fails_its_ticket_and_tells_the_dispatcher(
    twin: LocalTwin, agent: TwinClient
) -> None:
    # Given a consult ticket parked on its first node
    ticket = _open_consult(agent)
    ticket_id, arn = ticket["id"], ticket["execution_arn"]

    # When its execution is stopped behind the platform's back (an operator, a broken deploy)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=arn, error="Ops.Stopped", cause="stopped from the console")

    # Then the execution ends ABORTED, and the ticket turns failed with the reason
    failed = agent.wait_status(ticket_id, "failed")
    assert failed["reason"] and "stopped" in failed["reason"], failed
    assert sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    listed = agent.get("/tickets?status=failed&limit=100")
    assert listed.status == 200, listed.body
    assert ticket_id in {t["id"] for t in listed.body["items"]}

    # And the event came through the platform's rule, as EventBridge would carry it
    delivery = _delivery(twin, ticket_id)
    assert delivery.function == "scrm-ticket-failed" and delivery.attempts == 1, delivery
    event = delivery.payload
    assert (event["source"], event["detail-type"]) == ("aws.states", "Step Functions Execution Status Change")
    assert event["resources"] == [arn]
    detail = event["detail"]
    assert detail["executionArn"] == arn and detail["status"] == "ABORTED"
    assert detail["stateMachineArn"] == arn.split(":execution:")[0] + ":stateMachine:scrm-acme-home-consult"
    assert (detail["error"], detail["cause"]) == ("Ops.Stopped", "stopped from the console")
    started_with = json.loads(detail["input"])
    assert (started_with["tenant"], started_with["ticket_id"]) == ("acme-home", ticket_id)
    assert isinstance(detail["startDate"], int) and detail["stopDate"] >= detail["startDate"]
    assert delivery.answer["handled"] is True, delivery.answer

    # And the dispatcher got an SMS naming the ticket
    messages = agent.get("/_local/messages").body["messages"]
    texts = [
        m
        for m in messages
        if m["channel"] == "sms" and m["to"] == DISPATCHER_PHONE and ticket_id in m["body"]
    ]
    assert texts, [m for m in messages if ticket_id in m["body"]]

    # And a second status change of the same execution changes nothing (EventBridge: at least once)
    again = twin.lambdas.invoke("scrm-ticket-failed", event)
    assert again["handled"] is False, again
    assert agent.get(f"/tickets/{ticket_id}").body["version"] == failed["version"]

    # And it can be retried, by a dispatcher only: a new execution starts at the node where it failed
    assert agent.post(f"/tickets/{ticket_id}/retry").status == 403
    dispatcher = TwinClient(agent.base_url).as_user("acme-home", "u-zhao", ["dispatcher"])
    retried = dispatcher.post(f"/tickets/{ticket_id}/retry")
    assert retried.status == 200, retried.body
    assert (retried.body["status"], retried.body["retries"]) == ("open", 1)
    ready = agent.wait_ready(ticket_id, node="answer")
    assert ready["execution_arn"].endswith(f":{ticket_id}-r1")
    answered = agent.post(
        f"/tickets/{ticket_id}/actions",
        {"action": "answered", "fields": {"answer": "可以"}, "version": ready["version"]},
    )
    assert answered.status == 200, answered.body
    assert agent.wait_status(ticket_id, "closed")["node"] == "done"
    assert dispatcher.post(f"/tickets/{ticket_id}/retry").status == 409  # only failed tickets


def test_a_cancelled_tickets_stopped_execution_is_left_alone(twin: LocalTwin, agent: TwinClient) -> None:
    # Given a consult ticket, When the agent cancels it (which stops its execution)
    ticket = _open_consult(agent)
    cancelled = agent.post(f"/tickets/{ticket['id']}/cancel", {"reason": "客户重复提交"})
    assert cancelled.status == 200, cancelled.body

    # Then the stop reaches the function, which leaves the cancelled ticket as it is
    delivery = _delivery(twin, ticket["id"])
    assert delivery.payload["detail"]["status"] == "ABORTED"
    assert "客户重复提交" in (delivery.payload["detail"]["cause"] or ""), delivery.payload
    assert delivery.answer["handled"] is False, delivery.answer
    assert agent.get(f"/tickets/{ticket['id']}").body["status"] == "cancelled"


def test_an_event_the_function_keeps_failing_on_waits_in_the_recovery_dlq(twin: LocalTwin) -> None:
    # Given the platform's dead-letter queue of the rule, which is also the function's on-failure
    # destination (the twin read it from the template's EventInvokeConfig)
    url = next(d.outputs["RecoveryDlqUrl"] for d in twin.deployments if "RecoveryDlqUrl" in d.outputs)
    queue_name = url.rsplit("/", 1)[-1]
    (config,) = [d.invoke_configs["scrm-ticket-failed"] for d in twin.deployments if d.invoke_configs]
    assert config["retries"] == 2 and str(config["on_failure"]).endswith(f":{queue_name}")

    # When a status change names a tenant that is not deployed (the function raises every time)
    machine = f"arn:aws:states:{REGION}:123456789012:stateMachine:scrm-gone-consult"
    execution = f"arn:aws:states:{REGION}:123456789012:execution:scrm-gone-consult:TK-GONE"
    event = {
        "version": "0",
        "id": "e2e-dead-letter",
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": "123456789012",
        "time": "2026-11-23T01:00:00Z",
        "region": REGION,
        "resources": [execution],
        "detail": {
            "executionArn": execution,
            "stateMachineArn": machine,
            "name": "TK-GONE",
            "status": "FAILED",
            "startDate": 1795395600000,
            "stopDate": 1795395601000,
            "input": json.dumps({"tenant": "gone", "ticket_id": "TK-GONE"}),
            "inputDetails": {"included": True},
            "output": None,
            "outputDetails": None,
            "error": "States.Runtime",
            "cause": "boom",
        },
    }
    (delivery,) = twin.event_rules.put(event)
    assert delivery.done.wait(20)

    # Then Lambda's three attempts failed and the invocation record waits in the DLQ
    assert delivery.attempts == 3 and delivery.error and "gone" in delivery.error, delivery
    sqs = boto3.client("sqs", region_name=REGION)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    records = [json.loads(m["Body"]) for m in got]
    mine = [r for r in records if r["requestPayload"]["id"] == "e2e-dead-letter"]
    assert len(mine) == 1, records
    assert mine[0]["requestContext"]["condition"] == "RetriesExhausted"
    assert mine[0]["responsePayload"]["errorType"] == "NotFound"
    for message in got:  # leave the queue as it was
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
