"""Lambda entry point `scrm-webhooks-ops`: ops routes on recorded deliveries (JWT, dispatcher or admin).

- `GET /deliveries?channel=&status=&limit=&next=`: the tenant's deliveries, newest first.
- `GET /deliveries/{channel}/{delivery_id}`: one delivery (kept headers, redacted payload).
- `POST /deliveries/{channel}/{delivery_id}/replay`: 202, queued again (failed/unmatched/queued only).
- `POST /deliveries/redrive`: the tenant's messages moved from the intake DLQ to the intake queue.

Environment: `INTAKE_QUEUE_URL`, `INTAKE_DLQ_URL` (`shared.settings`, through `OpsSettings`). Its role may
read the table, send to the intake queue and receive/delete on the DLQ, nothing else.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from functions.webhooks import deliveries as ops
from shared import metrics as catalogue
from shared.clock import now
from shared.cursors import decode_cursor, encode_cursor
from shared.domain.deliveries import STATUSES
from shared.errors import NotFound
from shared.http import current_caller, install_error_handlers
from shared.identity import Caller
from shared.observability import emit_metric, logger, metrics, tracer
from shared.settings import settings

if TYPE_CHECKING:
    from shared.repositories.deliveries import DeliveryRepository

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


class OpsSettings(BaseModel):
    intake_queue_url: str = ""
    intake_dlq_url: str = ""

    @classmethod
    def from_env(cls) -> OpsSettings:
        cfg = settings()
        return cls(intake_queue_url=cfg.intake_queue_url, intake_dlq_url=cfg.intake_dlq_url)


def _sqs() -> Any:
    return boto3.client("sqs", region_name=settings().region)


class SqsQueue:
    """The intake queue, for replays (one message) and redrives (message bodies as they were)."""

    def __init__(self, url: str) -> None:
        if not url:
            raise RuntimeError("INTAKE_QUEUE_URL is not set: deliveries cannot be queued")
        self._url = url
        self._client = _sqs()

    def send(self, message: dict[str, str]) -> None:
        self.send_body(json.dumps(message, separators=(",", ":")))

    def send_body(self, body: str) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=body)


class SqsDeadLetters:
    """The intake queue's dead-letter queue (env `INTAKE_DLQ_URL`)."""

    def __init__(self, url: str) -> None:
        if not url:
            raise RuntimeError("INTAKE_DLQ_URL is not set: the dead-letter queue cannot be read")
        self._url = url
        self._client = _sqs()

    def receive(self, max_messages: int, hide_seconds: int) -> list[ops.DeadLetter]:
        answer = self._client.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=hide_seconds,
            WaitTimeSeconds=0,
        )
        return [
            ops.DeadLetter(message_id=m["MessageId"], body=m["Body"], handle=m["ReceiptHandle"])
            for m in answer.get("Messages", [])
        ]

    def delete(self, handle: str) -> None:
        self._client.delete_message(QueueUrl=self._url, ReceiptHandle=handle)

    def release(self, handle: str) -> None:
        self._client.change_message_visibility(QueueUrl=self._url, ReceiptHandle=handle, VisibilityTimeout=0)


_repository: DeliveryRepository | None = None


def repository() -> DeliveryRepository:
    global _repository
    if _repository is None:
        from shared.repositories.deliveries import DeliveryRepository

        _repository = DeliveryRepository()  # reads records only: raw bodies are never served
    return _repository


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
    found, more = repository().page(
        caller.tenant,
        channel=channel,
        status=status,
        limit=limit,
        start_key=decode_cursor(next, caller.tenant),
    )
    return ops.DeliveryPage(items=[ops.summary(d) for d in found], next=encode_cursor(more, caller.tenant))


@app.get("/deliveries/<channel>/<delivery_id>")
def show(channel: str, delivery_id: str) -> ops.DeliveryDetail:
    caller = _caller()
    return ops.show(repository(), caller, *_ids(channel, delivery_id))


@app.post("/deliveries/<channel>/<delivery_id>/replay")
def replay(channel: str, delivery_id: str) -> Response[str]:
    caller = _caller()
    queue = SqsQueue(OpsSettings.from_env().intake_queue_url)
    replayed = ops.replay(repository(), queue, caller, *_ids(channel, delivery_id), now())
    logger.info("delivery replayed", channel=replayed.channel, delivery_id=replayed.delivery_id)
    emit_metric(catalogue.DELIVERIES_REPLAYED, 1, tenant=caller.tenant, channel=replayed.channel)
    return _json(202, replayed)


@app.post("/deliveries/redrive")
def redrive() -> ops.RedriveOut:
    caller = _caller()
    cfg = OpsSettings.from_env()
    context = app.lambda_context
    result = ops.redrive(
        SqsDeadLetters(cfg.intake_dlq_url),
        SqsQueue(cfg.intake_queue_url),
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
