"""Lambda entry point of intake: platform webhooks and web forms.

- `POST /webhooks/{tenant}/{channel}`: verify the delivery with the channel's secrets, record it
  once, queue it for `scrm-ticket-intake`, answer what the platform expects.
- `GET /webhooks/{tenant}/{channel}`: WeCom's URL check (the decrypted `echostr`).
- `POST /forms/{tenant}/{channel}`: validate the form now (422 with one entry per bad field),
  then record and queue it like a delivery and answer 201 with the id its ticket gets
  (`TK-<hash>` of the delivery; a repeated `Idempotency-Key` gets the same id, one ticket).
  The ticket is created by `scrm-ticket-intake`, the one function of intake allowed to start
  workflows, within moments; `GET /tickets/{id}` shows it from then on.

Raw bodies over 64 KiB are kept in the deliveries bucket (env `DELIVERY_BODIES_BUCKET`), the
record keeps their object key. Ops inspect and replay deliveries through `scrm-webhooks-ops`
(`functions/webhooks/ops.py`).

Channel secrets come from SSM Parameter Store (SecureString, cached 5 minutes) and are never
logged; a secret that cannot be read counts as missing, and the verifier answers 401.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import GetParameterError
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.webhooks import intake
from functions.webhooks.platforms import Refusal, success_body, url_check, verify
from shared import metrics as catalogue
from shared.clock import now
from shared.errors import NotFound, ValidationFailed
from shared.http import install_error_handlers
from shared.observability import emit_metric, logger, metrics, tracer
from shared.settings import settings
from shared.tenant.store import tenant_config

if TYPE_CHECKING:
    from shared.repositories.deliveries import DeliveryRepository
    from shared.tenant.models import TenantConfig

SECRET_CACHE_SECONDS = 300
SECRET_ROLES = ("secret", "token", "aes_key")
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


class SqsIntakeQueue:
    """The intake queue (env `INTAKE_QUEUE_URL`) behind `intake.IntakeQueue`."""

    def __init__(self, url: str) -> None:
        if not url:
            raise RuntimeError("INTAKE_QUEUE_URL is not set: deliveries cannot be queued")
        self._url = url
        self._client = boto3.client("sqs", region_name=settings().region)

    def send(self, message: dict[str, str]) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=json.dumps(message, separators=(",", ":")))


_deliveries: DeliveryRepository | None = None
_queue: SqsIntakeQueue | None = None


def deliveries() -> DeliveryRepository:
    global _deliveries
    if _deliveries is None:
        from shared.repositories.deliveries import DeliveryRepository, body_store_from_env

        _deliveries = DeliveryRepository(body_store_from_env())
    return _deliveries


def queue() -> SqsIntakeQueue:
    global _queue
    if _queue is None:
        _queue = SqsIntakeQueue(settings().intake_queue_url)
    return _queue


# --------------------------------------------------------------------------- request parts


def _channel(tenant: str, channel_id: str) -> tuple[TenantConfig, Any]:
    cfg = tenant_config(tenant)
    for channel in cfg.channels:
        if channel.id == channel_id:
            logger.append_keys(tenant=tenant, channel=channel_id, platform=channel.platform)
            return cfg, channel
    raise NotFound(f"tenant '{tenant}' has no channel '{channel_id[:64]}'")


def _secrets(channel: Any) -> dict[str, str]:
    """The channel's secret values by role; unreadable or missing ones are left out (→ 401)."""
    values: dict[str, str] = {}
    for role in SECRET_ROLES:
        ref = getattr(channel, role, None)
        name = getattr(ref, "ssm", None)
        if not name:
            continue
        try:
            value = parameters.get_parameter(name, decrypt=True, max_age=SECRET_CACHE_SECONDS)
        except GetParameterError as exc:
            # the reference is a name, not a value: it may be logged; the error text may not echo values
            logger.warning("channel secret could not be read", secret_ref=name, error=type(exc).__name__)
            continue
        if isinstance(value, str) and value:
            values[role] = value
    return values


def _raw_body() -> bytes:
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise Refusal(
                400, "malformed_body", "the body is marked base64 but is not valid base64"
            ) from None
    return body.encode("utf-8", "surrogatepass")


def _headers() -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (app.current_event.headers or {}).items()}


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _answer(status: int, headers: dict[str, str], body: bytes) -> Response[str]:
    content_type = headers.pop("content-type", "application/json")
    return Response(status, content_type=content_type, body=body.decode("utf-8"), headers=headers)


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status, content_type="application/json", body=json.dumps(body, ensure_ascii=False))


# --------------------------------------------------------------------------- routes


@app.post("/webhooks/<tenant>/<channel>")
def webhook(tenant: str, channel: str) -> Response[str]:
    _cfg, chan = _channel(tenant, channel)
    if chan.platform == "webform":
        raise NotFound(f"channel '{channel}' is a web form: post it to /forms/{tenant}/{channel}")
    body = _raw_body()
    headers = _headers()
    received_at = now()
    delivery = verify(
        chan.platform,
        secrets=_secrets(chan),
        channel=chan,
        method="POST",
        headers=headers,
        query=_query(),
        body=body,
        now=received_at,
    )
    logger.append_keys(delivery_id=delivery.delivery_id)
    if delivery.is_ping:
        logger.info("ping answered", topic=delivery.topic)
        return _answer(*success_body(chan.platform, delivery))
    queued = intake.accept(
        deliveries(),
        queue(),
        tenant=tenant,
        channel=chan.id,
        platform=chan.platform,
        delivery=delivery,
        delivery_id=delivery.delivery_id,
        body=body,
        headers=headers,
        received_at=received_at,
    )
    logger.info("delivery queued" if queued else "duplicate delivery ignored", topic=delivery.topic)
    received = catalogue.DELIVERIES_RECEIVED if queued else catalogue.DELIVERIES_DUPLICATE
    emit_metric(received, 1, tenant=tenant, channel=chan.id)
    return _answer(*success_body(chan.platform, delivery))


@app.get("/webhooks/<tenant>/<channel>")
def webhook_url_check(tenant: str, channel: str) -> Response[str]:
    _cfg, chan = _channel(tenant, channel)
    if chan.platform != "wecom":
        raise NotFound(
            f"channel '{channel}' ({chan.platform}) has no URL check; only WeCom channels answer GET"
        )
    echo = url_check(secrets=_secrets(chan), channel=chan, query=_query())
    return Response(200, content_type="text/plain; charset=utf-8", body=echo)


@app.post("/forms/<tenant>/<channel>")
def form(tenant: str, channel: str) -> Response[str]:
    cfg, chan = _channel(tenant, channel)
    if chan.platform != "webform":
        raise NotFound(
            f"channel '{channel}' is a {chan.platform} webhook, not a web form: "
            f"post it to /webhooks/{tenant}/{channel}"
        )
    headers = _headers()
    body = _raw_body()
    received_at = now()
    delivery = verify(
        "webform",
        secrets={},
        channel=chan,
        method="POST",
        headers=headers,
        query={},
        body=body,
        now=received_at,
    )
    # Forms only: the ticket service (domain models, form validation) is imported by the first form.
    from functions.ticket import service
    from functions.webhooks.adapters.webform import form_values
    from shared.workflow.forms import validate_form

    ticket_type = service.ticket_type_of(cfg, chan.ticket_type)
    if not isinstance(delivery.payload, dict):
        raise Refusal(400, "malformed_body", "a web form is an object of field values")
    payload = form_values(ticket_type.fields, delivery.payload)  # an HTML form's text as wire types
    _accepted, problems = validate_form(ticket_type.fields, payload, service.form_context(cfg))
    if problems:
        raise ValidationFailed(f"{len(problems)} field(s) of the form are not valid", problems)
    delivery = replace(delivery, payload=payload)
    key = headers.get(IDEMPOTENCY_HEADER, "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise Refusal(400, "bad_request", f"header Idempotency-Key has over {MAX_IDEMPOTENCY_KEY} characters")
    delivery_id = intake.form_delivery_id(key or None)
    queued = intake.accept(
        deliveries(),
        queue(),
        tenant=tenant,
        channel=chan.id,
        platform="webform",
        delivery=delivery,
        delivery_id=delivery_id,
        body=body,
        headers=headers,
        received_at=received_at,
    )
    if not queued and key:
        first = deliveries().find(tenant, chan.id, delivery_id)
        if first is not None and first.payload != payload:
            # As payment APIs do: a key names one request; another body under it is a mistake.
            raise Refusal(
                422,
                "idempotency_key_reused",
                f"Idempotency-Key '{key[:64]}' was already used for a different form; use a new key",
            )
    ticket_id = intake.delivery_ticket_id(tenant, chan.id, delivery_id)
    logger.info(
        "web form queued" if queued else "web form repeated", delivery_id=delivery_id, ticket_id=ticket_id
    )
    received = catalogue.DELIVERIES_RECEIVED if queued else catalogue.DELIVERIES_DUPLICATE
    emit_metric(received, 1, tenant=tenant, channel=chan.id)
    return _json(201, {"ticket_id": ticket_id})


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    answer = app.resolve(event, context)
    _count_refusal(event, answer)
    return answer


def _count_refusal(event: dict[str, Any], answer: dict[str, Any]) -> None:
    """A delivery or form answered 4xx (bad signature, malformed, invalid form): by its error code."""
    status = int(answer.get("statusCode") or 0)
    params = event.get("pathParameters") or {}
    if not 400 <= status < 500 or status == 404:  # 404: no such tenant or channel, nothing to count
        return
    if event.get("requestContext", {}).get("http", {}).get("method") != "POST":
        return
    if "tenant" not in params or "channel" not in params:
        return
    try:
        reason = str(json.loads(answer.get("body") or "{}").get("error") or status)
    except (ValueError, AttributeError):
        reason = str(status)
    emit_metric(
        catalogue.DELIVERIES_REFUSED, 1, tenant=params["tenant"], channel=params["channel"], reason=reason
    )
