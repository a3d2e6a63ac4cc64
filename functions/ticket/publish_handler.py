"""Lambda entry point of ``scrm-ticket-publish``: the table stream's ticket history lines and
settlement records (the event source mapping filters them) as domain events on ``scrm-events``.

The records are read and published first (10 per ``PutEvents``); then powertools' ``BatchProcessor``
for DynamoDB streams shapes the answer: a record that could not be read, or whose event the bus
refused, raises in the record handler and is reported in ``batchItemFailures``, so Lambda delivers
the stream again from the first of them (what comes again republishes the same ids). Everything is
per invocation: the twin runs invocations at once in threads.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ticket import publish
from shared.domain.events import DomainEvent
from shared.observability import logger, metrics, tracer

if TYPE_CHECKING:
    from shared.ports import EventBus, StreamImages


class NotPublished(Exception):
    """The record's event was refused by the bus, or the record could not be read."""


@cache
def _deps() -> tuple[StreamImages, EventBus]:
    """The stream images' reader and the bus, built once per container (on the first batch)."""
    from shared.adapters.events import EventBridgeBus
    from shared.repositories.stream_images import StreamImageReader
    from shared.settings import settings

    return StreamImageReader(), EventBridgeBus(settings().event_bus_name)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Stream batch -> domain events on the bus; the records to deliver again."""
    images, bus = _deps()
    events: dict[str, DomainEvent] = {}  # sequence number -> its event
    unread: dict[str, str] = {}  # sequence number -> why it could not be read
    for raw in event.get("Records", []):
        body = raw.get("dynamodb") or {}
        sequence = str(body.get("SequenceNumber"))
        try:
            found = publish.event_of(images, body.get("NewImage") or {})
        except Exception as exc:  # reported below, record by record
            unread[sequence] = f"{type(exc).__name__}: {exc}"
            continue
        if found is not None:
            events[sequence] = found
    refused = {r.event.id: r.reason for r in publish.publish(bus, list(events.values()))}

    def check(record: DynamoDBRecord) -> None:
        sequence = str(record.dynamodb.sequence_number if record.dynamodb else None)
        if sequence in unread:
            raise NotPublished(f"record {sequence} could not be read: {unread[sequence]}")
        published = events.get(sequence)
        if published is not None and published.id in refused:
            raise NotPublished(f"{published.type} {published.id} refused: {refused[published.id]}")

    processor = BatchProcessor(event_type=EventType.DynamoDBStreams)
    answer = dict(
        process_partial_response(event=event, record_handler=check, processor=processor, context=context)
    )
    logger.debug("domain events published", extra={"events": len(events), "refused": len(refused)})
    return answer
