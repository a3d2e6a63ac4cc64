"""Lambda entry point `scrm-webhooks-ops`: ops routes on recorded deliveries (JWT, dispatcher or admin).

- `GET /deliveries?channel=&status=&limit=&next=`: the tenant's deliveries, newest first.
- `GET /deliveries/{channel}/{delivery_id}`: one delivery (kept headers, redacted payload).
- `POST /deliveries/{channel}/{delivery_id}/replay`: 202, queued again (failed/unmatched/queued only).
- `POST /deliveries/redrive`: the tenant's messages moved from the intake DLQ to the intake queue.

The operations are `functions/webhooks/delivery_ops.py`'s; the store and the queues come from
`functions/webhooks/wiring.py` (env `INTAKE_QUEUE_URL`, `INTAKE_DLQ_URL`). Its role may read the
table, send to the intake queue and receive/delete on the DLQ, nothing else. Raw bodies are never
served: the routes read records only.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.webhooks import delivery_ops as ops
from functions.webhooks import wiring
from shared import metrics as catalogue
from shared.clock import now
from shared.cursors import decode_cursor, encode_cursor
from shared.domain.deliveries import STATUSES
from shared.errors import NotFound
from shared.http import current_caller, install_error_handlers
from shared.identity import Caller
from shared.observability import emit_metric, logger, metrics, tracer

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


def _json(status: int, model: BaseModel) -> Response[str]:
    return Response(status, content_type="application/json", body=model.model_dump_json())


MAX_CHANNEL_CHARS = 64
MAX_DELIVERY_ID_BYTES = 1024
"""Longer ids are never recorded (the item key would pass DynamoDB's 2 KB key limit)."""


def _ids(channel: str, delivery_id: str) -> tuple[str, str]:
    """The path's channel and delivery id, decoded; ids no delivery can have are a 404, not a 5xx."""
    channel, delivery_id = unquote(channel), unquote(delivery_id)
    too_long = len(channel) > MAX_CHANNEL_CHARS
    too_long = too_long or len(delivery_id.encode("utf-8", "surrogatepass")) > MAX_DELIVERY_ID_BYTES
    if too_long or not channel or not delivery_id:
        raise NotFound(f"delivery '{delivery_id[:64]}' of channel '{channel[:64]}' is not recorded")
    return channel, delivery_id


def _caller() -> Caller:
    caller = current_caller(app)
    ops.require_ops(caller)
    logger.append_keys(tenant=caller.tenant)
    return caller


# --------------------------------------------------------------------------- routes


@app.get("/deliveries")
def list_deliveries(
    channel: Annotated[str | None, Query(min_length=1, max_length=64, description="a channel id")] = None,
    status: Annotated[str | None, Query(pattern=f"^({'|'.join(STATUSES)})$")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    next: Annotated[str | None, Query(description="the cursor of the previous page")] = None,
) -> ops.DeliveryPage:
    caller = _caller()
    items, more = ops.list_deliveries(
        wiring.deliveries(),
        caller,
        channel=channel,
        status=status,
        limit=limit,
        start_key=decode_cursor(next, caller.tenant),
    )
    return ops.DeliveryPage(items=items, next=encode_cursor(more, caller.tenant))


@app.get("/deliveries/<channel>/<delivery_id>")
def show(channel: str, delivery_id: str) -> ops.DeliveryDetail:
    caller = _caller()
    return ops.show(wiring.deliveries(), caller, *_ids(channel, delivery_id))


@app.post("/deliveries/<channel>/<delivery_id>/replay")
def replay(channel: str, delivery_id: str) -> Response[str]:
    caller = _caller()
    replayed = ops.replay(
        wiring.deliveries(), wiring.intake_queue(), caller, *_ids(channel, delivery_id), now()
    )
    logger.info("delivery replayed", channel=replayed.channel, delivery_id=replayed.delivery_id)
    emit_metric(catalogue.DELIVERIES_REPLAYED, 1, tenant=caller.tenant, channel=replayed.channel)
    return _json(202, replayed)


@app.post("/deliveries/redrive")
def redrive() -> ops.RedriveOut:
    caller = _caller()
    context = app.lambda_context
    result = ops.redrive(
        wiring.dead_letters(),
        wiring.intake_queue(),
        caller,
        time_left=lambda: context.get_remaining_time_in_millis() / 1000,
    )
    logger.info("intake DLQ redriven", moved=result.moved, left=result.left, complete=result.complete)
    emit_metric(catalogue.DELIVERIES_REDRIVEN, result.moved, tenant=caller.tenant)
    return result


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
