"""Lambda entry point of ``scrm-webhooks-outbound``: the outbound webhooks queue (fed by the
platform rule on ``scrm-events``), each message one event to one of the tenant's subscriptions
(``outbound.py``).

Per record (powertools ``BatchProcessor`` for SQS: only failed records come back): delivered,
skipped and split messages are done; a message to retry is given its backoff (its visibility
timeout) and reported failed, so SQS delivers it again then; a refusal is sent to the dead-letter
queue with its reason and is done. Nothing of a message outlives its invocation.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.webhooks import outbound, wiring
from shared.errors import NotFound
from shared.observability import logger, metrics, tracer
from shared.settings import settings
from shared.tenant.store import tenant_config

if TYPE_CHECKING:
    from shared.ports import OutboundQueue


class RetryLater(Exception):
    """The record is retried after its backoff (reported in ``batchItemFailures``)."""


@cache
def _queue() -> OutboundQueue:
    from shared.adapters.webhooks_out import SqsOutboundQueue

    return SqsOutboundQueue(settings().webhook_queue_url, settings().webhook_dlq_url)


def _one(record: SQSRecord) -> None:
    queue = _queue()
    try:
        message = outbound.read_message(record.body)
        cfg = tenant_config(message.event.tenant)
    except (outbound.Unreadable, NotFound) as exc:
        queue.dead_letter(record.body, str(exc))
        logger.warning("outbound webhook dead-lettered", extra={"reason": str(exc)})
        return
    attempt = int(record.attributes.approximate_receive_count or 1)
    outcome = outbound.deliver(
        message,
        cfg,
        wiring.channel_secrets(),
        wiring.outbound_transport(),
        sent_at=datetime.now(UTC),  # wall clock: receivers check it against theirs (5 minutes)
        attempt=attempt,
        retry_base_seconds=settings().webhook_retry_seconds,
    )
    log = {"tenant": cfg.tenant.id, "event": message.event.id, "type": message.event.type, "attempt": attempt}
    log |= outbound.describe(outcome)
    if isinstance(outcome, outbound.Split):
        queue.send(outcome.messages)
    elif isinstance(outcome, outbound.DeadLetter):
        # as a message for that one subscription: a redrive retries that endpoint only
        queue.dead_letter(outbound.Outgoing(message.event, outcome.subscription).body(), outcome.reason)
        logger.warning("outbound webhook dead-lettered", extra=log)
        return
    elif isinstance(outcome, outbound.Retry):
        queue.delay(record.receipt_handle, outcome.delay_seconds)
        logger.info("outbound webhook to retry", extra=log)
        raise RetryLater(outcome.reason)
    logger.info("outbound webhook", extra=log)


@logger.inject_lambda_context
@metrics.log_metrics
@tracer.capture_lambda_handler
def send(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """SQS batch -> signed POSTs; the records to retry (after the backoff each was given)."""
    # a receiver that is down is the tenant's problem, not a function error: a batch whose records
    # are all to retry is answered (every record in batchItemFailures), not raised, so the
    # function's errors alarm stays for the platform's own failures (the DLQ alarm covers theirs)
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    return dict(
        process_partial_response(event=event, record_handler=_one, processor=processor, context=context)
    )
