"""The intake consumer (`scrm-ticket-intake`): a stored delivery becomes a ticket, at most once.

Per queue message `{"tenant", "channel", "delivery_id"}`:

| the delivery | outcome |
|---|---|
| not recorded (expired, discarded) | nothing to do (logged) |
| already handled (status not `queued`) | nothing to do: a redelivered message |
| no rule of its channel matches | marked `unmatched` (kept and visible, not an error) |
| a rule matches, or it is a web form | ticket created (see below), marked `ticket_created` |
| its fields, ticket type, tenant or channel are not valid | marked `failed` with the reason |
| anything else goes wrong | raised: the record is retried and, after 5 receives, lands in the DLQ |

A `failed` delivery is not retried: retrying cannot fix its data.

The ticket's id is `TK-<hash of tenant, channel, delivery id>` and its type and fields come
from the channel's first matching rule (a web form: the channel's ticket type, the posted
fields). The id is derived from the delivery, and `create_ticket` is idempotent for a given id,
so a message processed twice (a crash between creating and marking) never makes two tickets.
The message format, the id and the rules are ``shared.domain.deliveries``'s, which intake
(``functions/webhooks/accept.py``) reads as well.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from functions.ticket import service
from shared import metrics as catalogue
from shared.domain.deliveries import delivery_ticket_id, parse_message, ticket_request
from shared.errors import NotFound, ValidationFailed
from shared.observability import emit_metric, logger
from shared.tenant_scope import tenant_scope

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from shared.ports import DeliveryStore
    from shared.tenant.models import TenantConfig

ACTOR_PREFIX = "channel:"

ConfigLoader = Callable[[str], "TenantConfig"]


def _reason(exc: ValidationFailed) -> str:
    details = "; ".join(f"{d.get('field', '?')}: {d.get('message', '')}" for d in exc.details)
    return f"{exc.message}: {details}" if details else exc.message


def process(
    deps: service.Deps,
    deliveries: DeliveryStore,
    config: ConfigLoader,
    tenant: str,
    channel_id: str,
    delivery_id: str,
) -> str:
    """Turn one stored delivery into a ticket (see the module docstring); returns the outcome."""
    delivery = deliveries.find(tenant, channel_id, delivery_id)
    if delivery is None:
        logger.warning("delivery not recorded; nothing to do")
        return "missing"
    if delivery.status != "queued":
        logger.info("delivery already handled", status=delivery.status, ticket_id=delivery.ticket_id)
        return delivery.status

    def fail(reason: str) -> str:
        logger.warning("delivery failed", reason=reason)
        deliveries.mark(tenant, channel_id, delivery_id, "failed", reason=reason)
        return "failed"

    try:
        cfg = config(tenant)
    except NotFound as exc:
        return fail(exc.message)
    channel = next((c for c in cfg.channels if c.id == channel_id), None)
    if channel is None:
        return fail(f"tenant '{tenant}' no longer has a channel '{channel_id}'")
    try:
        request = ticket_request(channel, delivery)
    except ValidationFailed as exc:
        return fail(_reason(exc))
    if request is None:
        reason = f"no rule of channel '{channel_id}' matches this delivery (topic {delivery.topic!r})"
        logger.info("delivery unmatched", topic=delivery.topic)
        deliveries.mark(tenant, channel_id, delivery_id, "unmatched", reason=reason)
        return "unmatched"
    ticket_type, fields = request
    buyer = None
    if deps.customers is not None:
        from functions.ticket.customers import hints_from_delivery

        buyer = hints_from_delivery(cfg, channel, delivery)
    try:
        ticket = service.create_ticket(
            deps,
            cfg,
            f"{ACTOR_PREFIX}{channel_id}",
            ticket_type,
            fields,
            ticket_id=delivery_ticket_id(tenant, channel_id, delivery_id),
            channel=channel_id,
            # A platform cannot fix its payload: keep the ticket, record what is missing or rejected.
            # Web forms were validated field by field before they were accepted.
            lenient=channel.platform != "webform",
            buyer=buyer,
        )
    except ValidationFailed as exc:
        return fail(_reason(exc))
    deliveries.mark(tenant, channel_id, delivery_id, "ticket_created", ticket_id=ticket.id)
    emit_metric(catalogue.TICKETS_CREATED, 1, tenant=tenant, ticket_type=ticket.type, channel=channel_id)
    logger.info("ticket created from delivery", ticket_id=ticket.id, ticket_type=ticket_type)
    return "ticket_created"


def consume(
    event: Mapping[str, Any],
    context: LambdaContext | None,
    *,
    deps: service.Deps,
    deliveries: DeliveryStore,
    config: ConfigLoader,
) -> dict[str, Any]:
    """The SQS batch: each record processed on its own; failed ones reported for retry."""
    processor = BatchProcessor(event_type=EventType.SQS)

    def record_handler(record: SQSRecord) -> str:
        tenant, channel_id, delivery_id = parse_message(record.body)
        logger.append_keys(tenant=tenant, channel=channel_id, delivery_id=delivery_id)
        try:
            with tenant_scope(tenant):  # each record acts for its own tenant (a batch may mix them)
                return process(deps, deliveries, config, tenant, channel_id, delivery_id)
        finally:
            logger.remove_keys(["tenant", "channel", "delivery_id"])

    return dict(
        process_partial_response(
            event=dict(event), record_handler=record_handler, processor=processor, context=context
        )
    )
