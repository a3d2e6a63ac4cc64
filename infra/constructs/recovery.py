"""No ticket in limbo: the platform's one EventBridge rule on Step Functions status changes.

Step Functions puts a "Step Functions Execution Status Change" event on the account's default bus
whenever a standard execution changes status. ONE rule in the platform stack (never one per tenant:
rules per bus are an account quota) matches the executions of every ``scrm-*`` state machine of this
account and region that end ``FAILED``, ``TIMED_OUT`` or ``ABORTED``, and sends the event to
``scrm-ticket-failed`` (``functions.ticket.tasks.execution_status``), which marks the ticket
``failed``, deletes its timers and tells the tenant's dispatchers. A cancelled ticket's stopped
execution reaches it too, and is left alone there.

Delivery is at least once (the function is idempotent) and never silent:

- EventBridge -> Lambda: an invocation that cannot be delivered (throttled, no permission, no
  function) is retried for up to 24 hours (185 attempts, EventBridge's maximum); then the event goes
  to ``dlq`` (the target's ``DeadLetterConfig``; message attributes say why);
- Lambda's asynchronous invocation: a function error is retried twice; then the invocation record
  (the event, the error) goes to the same ``dlq`` (the function's on-failure destination).

``dlq`` is alarmed like every dead-letter queue (``observability.DEAD_LETTER_QUEUES["recovery"]``).
The Lambda permission for this rule is the only one EventBridge gets on the function.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from constructs import Construct

from infra.constructs.catalogue import state_machine_arn_prefix
from infra.constructs.queues import dead_letter_queue

RULE_NAME = "scrm-executions-stopped"
STOPPED = ("FAILED", "TIMED_OUT", "ABORTED")
STATUS_CHANGE = "Step Functions Execution Status Change"
MAX_EVENT_AGE = Duration.hours(24)
RETRY_ATTEMPTS = 185
FUNCTION_RETRY_ATTEMPTS = 2
FUNCTION_MAX_EVENT_AGE = Duration.hours(6)


class ExecutionRecovery(Construct):
    """The rule ``scrm-executions-stopped`` -> ``function``, with its retry policy and ``dlq``."""

    def __init__(self, scope: Construct, construct_id: str, *, function: lambda_.IFunction) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(
            self,
            serves="the stopped-executions rule's target and of scrm-ticket-failed's asynchronous "
            "invocations",
        )
        self.rule = events.Rule(
            self,
            "ExecutionsStopped",
            rule_name=RULE_NAME,
            description="executions of scrm-* state machines that ended FAILED, TIMED_OUT or ABORTED "
            "-> scrm-ticket-failed (the ticket becomes failed; no ticket in limbo)",
            event_pattern=events.EventPattern(
                source=["aws.states"],
                detail_type=[STATUS_CHANGE],
                detail={
                    "status": list(STOPPED),
                    "stateMachineArn": [{"prefix": f"{state_machine_arn_prefix(self)}scrm-"}],
                },
            ),
            targets=[
                targets.LambdaFunction(
                    function,
                    dead_letter_queue=self.dlq,
                    max_event_age=MAX_EVENT_AGE,
                    retry_attempts=RETRY_ATTEMPTS,
                )
            ],
        )
        function.configure_async_invoke(
            on_failure=destinations.SqsDestination(self.dlq),
            retry_attempts=FUNCTION_RETRY_ATTEMPTS,
            max_event_age=FUNCTION_MAX_EVENT_AGE,
        )
