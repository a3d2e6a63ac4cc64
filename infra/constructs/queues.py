"""Dead-letter queues: SSE, TLS only, messages kept 14 days (the last stop: no DLQ of their own)."""

from __future__ import annotations

from aws_cdk import Duration, Validations
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.nag import ack

DLQ_RETENTION = Duration.days(14)


def dead_letter_queue(scope: Construct, construct_id: str = "Dlq", *, serves: str | None = None) -> sqs.Queue:
    """A dead-letter queue. ``serves``: what other than an SQS queue dead-letters into it (a rule's
    target, schedules, asynchronous invocations), said in the acknowledgment of cdk-nag's SQS3 (which
    sees only queues' redrive policies)."""
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )
    if serves is not None:
        Validations.of(queue).acknowledge(
            ack("AwsSolutions-SQS3", f"this queue is itself a dead-letter queue: that of {serves}")
        )
    return queue
