"""Domain events out: the platform bus ``scrm-events``, its publisher and the outbound webhooks.

```
table stream --(filter: ticket history lines that are events, settlement records)--> scrm-ticket-publish
  --PutEvents (10 a request)--> bus scrm-events --ONE rule scrm-events-webhooks--> SQS queue
  --> scrm-webhooks-outbound: each event signed (Standard Webhooks), POSTed to the tenant's
      subscriptions; retried with backoff; refused or exhausted -> the dead-letter queue (reason)
```

Why one rule and a queue, not API destinations (``docs/events.md``): an API destination, its
connection and its rule per tenant subscription would count against account quotas (300 rules per
bus, API destinations and connections per account) and break far below 1,000 tenants; and an API
destination cannot compute a Standard Webhooks signature per message (its connection adds a fixed
header). One rule, one queue and one function serve every tenant, the subscriptions being data in
the tenant's configuration.

- **Publisher**: the table stream's second reader (with the revenue aggregates'; DynamoDB Streams
  serves two readers per shard without throttling: a third consumer needs a fan-out first), filtered
  to INSERTs of history lines of the kinds that are events (``shared.domain.events.PUBLISHED_KINDS``),
  of settlement records and of the events outbox (other services' events:
  ``shared/repositories/outbox.py``); partial batch responses, bisect on error, bounded retries, then the
  batch's description to ``events_dlq``.
- **Queue**: SSE, TLS only, visibility 6x the sender's timeout; redrive to ``webhooks_dlq`` after
  :data:`MAX_RECEIVES` (a backstop: the sender dead-letters itself, with the reason, after
  ``outbound.MAX_ATTEMPTS``); the rule's target retries for 24 h into the same DLQ.
- **Sender**: batches of :data:`SENDER_BATCH` (its requests are sequential, 4 s timeout each),
  partial batch responses, ``maxConcurrency`` :data:`SENDER_MAX_CONCURRENCY` so slow receivers
  never take the account's concurrency.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.catalogue import FUNCTIONS_BY_KEY
from infra.constructs.queues import dead_letter_queue
from shared.domain.events import EVENT_SOURCE, PUBLISHED_KINDS
from shared.repositories.stream_images import OUTBOX_KEY, SETTLEMENT_RECORD_PREFIX, TICKET_EVENT_PREFIX

BUS_NAME = "scrm-events"
RULE_NAME = "scrm-events-webhooks"
PUBLISH_BATCH = 100
PUBLISH_RETRIES = 10
SENDER_BATCH = 5
SENDER_MAX_CONCURRENCY = 10
MAX_RECEIVES = 10
RETRY_BASE_SECONDS = 30
"""The sender's first retry delay (then doubling): env ``WEBHOOK_RETRY_SECONDS``."""
TICKET_EVENT_INSERTS = {
    "eventName": ["INSERT"],
    "dynamodb": {
        "Keys": {"sk": {"S": [{"prefix": TICKET_EVENT_PREFIX}]}},
        "NewImage": {"kind": {"S": list(PUBLISHED_KINDS)}},
    },
}
SETTLEMENT_INSERTS = {
    "eventName": ["INSERT"],
    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": SETTLEMENT_RECORD_PREFIX}]}}},
}
OUTBOX_INSERTS = {"eventName": ["INSERT"], "dynamodb": {"Keys": {"sk": {"S": [OUTBOX_KEY]}}}}
"""Other services' events (opportunities, customers), written to the events outbox."""


class EventsOut(Construct):
    """The bus, its publisher's stream source, the rule, the outbound queue and their DLQs."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table: dynamodb.ITable,
        publisher: lambda_.Function,
        sender: lambda_.Function,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=BUS_NAME)
        self.events_dlq = dead_letter_queue(
            self, "EventsDlq", serves="scrm-ticket-publish's stream event source (on-failure destination)"
        )
        self.webhooks_dlq = dead_letter_queue(
            self, "WebhooksDlq", serves="the scrm-events-webhooks rule's target and scrm-webhooks-outbound"
        )
        timeout = FUNCTIONS_BY_KEY["webhooks-outbound"].timeout_seconds
        self.queue = sqs.Queue(
            self,
            "WebhooksQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(timeout * 6),
            retention_period=Duration.days(4),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.webhooks_dlq, max_receive_count=MAX_RECEIVES),
        )
        self.rule = events.Rule(
            self,
            "Webhooks",
            rule_name=RULE_NAME,
            # by its fixed name, not a Ref: moto's CloudFormation hands a Ref of the bus to the rule as an
            # object (the twin's deploy fails); the dependency below keeps CloudFormation's order
            event_bus=events.EventBus.from_event_bus_name(self, "BusByName", BUS_NAME),
            description="every domain event on scrm-events -> the outbound webhooks queue (the sender "
            "finds each tenant's subscriptions); one rule for all tenants",
            event_pattern=events.EventPattern(source=[EVENT_SOURCE]),
            targets=[
                targets.SqsQueue(
                    self.queue,
                    dead_letter_queue=self.webhooks_dlq,
                    retry_attempts=185,
                    max_event_age=Duration.hours(24),
                )
            ],
        )

        self.rule.node.add_dependency(self.bus)

        # the publisher: the table stream, filtered, -> PutEvents on the bus
        publisher.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=PUBLISH_BATCH,
                max_batching_window=Duration.seconds(1),
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=PUBLISH_RETRIES,
                max_record_age=Duration.days(1),
                on_failure=sources.SqsDlq(self.events_dlq),
                filters=[
                    lambda_.FilterCriteria.filter(TICKET_EVENT_INSERTS),
                    lambda_.FilterCriteria.filter(SETTLEMENT_INSERTS),
                    lambda_.FilterCriteria.filter(OUTBOX_INSERTS),
                ],
            )
        )
        publisher.add_environment("EVENT_BUS_NAME", BUS_NAME)  # its fixed name (a Ref: see the rule)
        publisher.node.add_dependency(self.bus)
        publisher.add_to_role_policy(
            iam.PolicyStatement(
                sid="PublishDomainEvents", actions=["events:PutEvents"], resources=[self.bus.event_bus_arn]
            )
        )

        # the sender: the queue -> signed POSTs; splits go back to the queue, refusals to the DLQ
        sender.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=SENDER_BATCH,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
                max_concurrency=SENDER_MAX_CONCURRENCY,
            )
        )
        sender.add_environment("WEBHOOK_QUEUE_URL", self.queue.queue_url)
        sender.add_environment("WEBHOOK_DLQ_URL", self.webhooks_dlq.queue_url)
        sender.add_environment("WEBHOOK_RETRY_SECONDS", str(RETRY_BASE_SECONDS))
        sender.add_to_role_policy(
            iam.PolicyStatement(
                sid="OutboundQueues",
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn, self.webhooks_dlq.queue_arn],
            )
        )
