"""The revenue aggregates' feed: the table's stream to ``scrm-settlement-aggregates``.

A settlement writes only its own items; the aggregates the revenue reports read are folded from
the stream (``functions/settlement/aggregates_handler.py``). The event source mapping:

- **filter**: INSERTs of settlement records only (sort key ``SETTLEMENT#...``), so the function
  is not invoked for the rest of the table's writes (tickets, deliveries, history ...), which are
  most of them; filtered records cost nothing;
- **batch** of up to :data:`BATCH_SIZE` records, waiting at most :data:`BATCHING_WINDOW` to fill
  one: fewer invocations at a big tenant's 50 settlements/s;
- **partial batch responses** (``ReportBatchItemFailures``): a failed record is delivered again
  from that record, not the whole batch; **bisect on error**, for a batch that fails as a whole;
  **retries** bounded (:data:`RETRY_ATTEMPTS`) and records older than a day dropped, after which
  the batch's description goes to the **on-failure queue** (a DLQ: the records stay in the stream
  for 24 hours, time to fold them again by hand; the fold is exactly-once, so that is safe).
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from constructs import Construct

from infra.constructs.queues import dead_letter_queue
from shared.repositories.ledger import SETTLEMENT_PREFIX

BATCH_SIZE = 100
BATCHING_WINDOW = Duration.seconds(1)
RETRY_ATTEMPTS = 10
SETTLEMENT_INSERTS = {
    "eventName": ["INSERT"],
    "dynamodb": {"Keys": {"sk": {"S": [{"prefix": SETTLEMENT_PREFIX}]}}},
}
"""The event filter (Lambda event filtering syntax) of the settlement records' INSERTs."""


class RevenueAggregates(Construct):
    """The stream's event source of ``scrm-settlement-aggregates`` and its on-failure queue."""

    def __init__(
        self, scope: Construct, construct_id: str, *, table: dynamodb.ITable, function: lambda_.IFunction
    ) -> None:
        super().__init__(scope, construct_id)
        self.dlq = dead_letter_queue(
            self, "Dlq", serves="scrm-settlement-aggregates' stream event source (on-failure destination)"
        )
        function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=BATCH_SIZE,
                max_batching_window=BATCHING_WINDOW,
                bisect_batch_on_error=True,
                report_batch_item_failures=True,
                retry_attempts=RETRY_ATTEMPTS,
                max_record_age=Duration.days(1),
                on_failure=sources.SqsDlq(self.dlq),
                filters=[lambda_.FilterCriteria.filter(SETTLEMENT_INSERTS)],
            )
        )
