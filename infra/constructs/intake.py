"""Intake: the queue between the webhooks function and the ticket intake consumer, its DLQ,
and the bucket of raw delivery bodies too big to keep in the table (over 1 KiB)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.buckets import private_bucket
from infra.constructs.concurrency import INTAKE_MAX_CONCURRENCY
from infra.constructs.queues import dead_letter_queue
from shared.repositories.deliveries import BODY_PREFIX, RETENTION

MAX_RECEIVE_COUNT = 5
CONSUMER_TIMEOUT = Duration.seconds(30)
BODY_RETENTION_DAYS = RETENTION.days
"""Raw bodies expire with the delivery records that name them (their TTL)."""


class Intake(Construct):
    """SQS intake queue (SSE, TLS only) with a dead-letter queue after 5 receives; the bodies bucket."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.bodies = private_bucket(
            self,
            "Bodies",
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-with-delivery-ttl",
                    prefix=BODY_PREFIX,
                    expiration=Duration.days(BODY_RETENTION_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            no_access_log=(
                "raw webhook bodies, written only by scrm-webhooks-api under deliveries/ and expired after "
                "30 days; who wrote what is in the function's logs and CloudTrail, an access-log bucket "
                "would only duplicate that"
            ),
        )
        self.dlq = dead_letter_queue(self)
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # six times the consumer's timeout, as Lambda recommends for SQS sources
            visibility_timeout=Duration.seconds(CONSUMER_TIMEOUT.to_seconds() * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_RECEIVE_COUNT),
        )

    @staticmethod
    def of(queue: sqs.IQueue) -> Intake | None:
        """The Intake construct that holds `queue` (None for a queue from elsewhere)."""
        scope = queue.node.scope
        return scope if isinstance(scope, Intake) else None

    def subscribe(self, consumer: lambda_.IFunction) -> None:
        """Deliver the queue to ``scrm-ticket-intake``; failed records are retried one by one."""
        consumer.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=INTAKE_MAX_CONCURRENCY,
            )
        )
