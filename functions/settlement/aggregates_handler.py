"""Lambda entry point of ``scrm-settlement-aggregates``: the table stream's settlement-record
INSERTs (the event source mapping filters them) folded into the revenue aggregates.

Each record is read on its own (powertools ``process_partial_response``): one whose image cannot be
read is reported in ``batchItemFailures`` and Lambda delivers the stream again from it. The records
read are then folded together (``aggregates.take``: one write per aggregate a batch changes, not per
record). When that fails (aggregates that stayed busy) the invocation fails and Lambda delivers the
batch again, bisecting it; what got through is not taken twice (the fold is exactly-once). The batch
processor and the records read are per invocation: the twin runs invocations at once in threads.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.settlement import aggregates
from functions.settlement.wiring import deps
from shared.domain.ledger import RevenueFold
from shared.observability import logger, metrics, tracer
from shared.tenant.store import tenant_config


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def fold(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Stream batch -> revenue aggregates; the records that could not be read, for Lambda to deliver
    again (a failed fold fails the invocation: the whole batch comes again)."""
    ledger = deps().ledger
    read: list[RevenueFold] = []

    def read_one(record: DynamoDBRecord) -> None:
        image = (record.raw_event.get("dynamodb") or {}).get("NewImage") or {}
        found = aggregates.revenue_of(ledger, image)
        if found is not None:
            read.append(found)

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    answer = dict(
        process_partial_response(event=event, record_handler=read_one, processor=processor, context=context)
    )
    # a deployed tenant only (an unknown one is NotFound: the batch comes again, then the DLQ)
    for taken in aggregates.take(ledger, read, enter=tenant_config):
        logger.debug(
            "revenue folded", extra={"tenant": taken.tenant, "records": taken.records, "taken": taken.applied}
        )
    return answer
