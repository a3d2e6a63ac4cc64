"""Lambda entry point of intake: platform webhooks and web forms.

- `POST /webhooks/{tenant}/{channel}`: verify the delivery with the channel's secrets, record it
  once, queue it for `scrm-ticket-intake`, answer what the platform expects.
- `GET /webhooks/{tenant}/{channel}`: WeCom's URL check (the decrypted `echostr`).
- `POST /forms/{tenant}/{channel}`: validate the form now (422 with one entry per bad field),
  then record and queue it like a delivery and answer 201 with the id its ticket gets
  (`TK-<hash>` of the delivery; a repeated `Idempotency-Key` gets the same id, one ticket).
  The ticket is created by `scrm-ticket-intake`, the one function of intake allowed to start
  workflows, within moments; `GET /tickets/{id}` shows it from then on.

Raw bodies over 1 KiB (``INLINE_BODY_BYTES``) are kept in the deliveries bucket (env
`DELIVERY_BODIES_BUCKET`), the record keeps their object key. Ops inspect and replay deliveries
through `scrm-webhooks-ops` (`functions/webhooks/ops_handler.py`).

Channel secrets come from SSM Parameter Store (SecureString, cached 5 minutes) and are never
logged; a secret that cannot be read counts as missing, and the verifier answers 401. The rules
of accepting are `functions/webhooks/accept.py`'s; the stores, the queue and the secrets come
from `functions/webhooks/wiring.py`.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.webhooks import accept, wiring
from functions.webhooks.accept import Received
from functions.webhooks.platforms import Refusal, success_body, url_check
from shared import metrics as catalogue
from shared.clock import now
from shared.domain.deliveries import delivery_ticket_id
from shared.errors import NotFound
from shared.http import install_error_handlers
from shared.observability import emit_metric, logger, metrics, tracer
from shared.tenant.store import tenant_config

if TYPE_CHECKING:
    from shared.ports import DeliveryLike
    from shared.tenant.models import TenantConfig

app = APIGatewayHttpResolver(enable_validation=True)
install_error_handlers(app)


# --------------------------------------------------------------------------- request parts


def _channel(tenant: str, channel_id: str) -> tuple[TenantConfig, Any]:
    cfg = tenant_config(tenant)
    for channel in cfg.channels:
        if channel.id == channel_id:
            logger.append_keys(tenant=tenant, channel=channel_id, platform=channel.platform)
            return cfg, channel
    raise NotFound(f"tenant '{tenant}' has no channel '{channel_id[:64]}'")


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


def _query() -> dict[str, str]:
    return dict(app.current_event.query_string_parameters or {})


def _received() -> Received:
    headers = {str(k).lower(): str(v) for k, v in (app.current_event.headers or {}).items()}
    return Received(headers=headers, query=_query(), body=_raw_body(), at=now())


def _answer(status: int, headers: dict[str, str], body: bytes) -> Response[str]:
    content_type = headers.pop("content-type", "application/json")
    return Response(status, content_type=content_type, body=body.decode("utf-8"), headers=headers)


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status, content_type="application/json", body=json.dumps(body, ensure_ascii=False))


def _accept(tenant: str, channel: Any, delivery: DeliveryLike, delivery_id: str, received: Received) -> bool:
    """Record and queue a verified delivery or a valid form (False: a duplicate), and count it."""
    queued = accept.accept(
        wiring.deliveries(),
        wiring.intake_queue(),
        bodies=wiring.bodies(),
        tenant=tenant,
        channel=channel.id,
        platform=channel.platform,
        delivery=delivery,
        delivery_id=delivery_id,
        body=received.body,
        headers=received.headers,
        received_at=received.at,
    )
    received_metric = catalogue.DELIVERIES_RECEIVED if queued else catalogue.DELIVERIES_DUPLICATE
    emit_metric(received_metric, 1, tenant=tenant, channel=channel.id)
    return queued


# --------------------------------------------------------------------------- routes


@app.post("/webhooks/<tenant>/<channel>")
def webhook(tenant: str, channel: str) -> Response[str]:
    _cfg, chan = _channel(tenant, channel)
    if chan.platform == "webform":
        raise NotFound(f"channel '{channel}' is a web form: post it to /forms/{tenant}/{channel}")
    received = _received()
    delivery = accept.verified_with(wiring.channel_secrets(), chan, received)
    logger.append_keys(delivery_id=delivery.delivery_id)
    if delivery.is_ping:
        logger.info("ping answered", topic=delivery.topic)
    else:
        queued = _accept(tenant, chan, delivery, delivery.delivery_id, received)
        logger.info("delivery queued" if queued else "duplicate delivery ignored", topic=delivery.topic)
    return _answer(*success_body(chan.platform, delivery))


@app.get("/webhooks/<tenant>/<channel>")
def webhook_url_check(tenant: str, channel: str) -> Response[str]:
    _cfg, chan = _channel(tenant, channel)
    if chan.platform != "wecom":
        raise NotFound(
            f"channel '{channel}' ({chan.platform}) has no URL check; only WeCom channels answer GET"
        )
    secrets = accept.channel_secrets(wiring.channel_secrets(), chan)
    echo = url_check(secrets=secrets, channel=chan, query=_query())
    return Response(200, content_type="text/plain; charset=utf-8", body=echo)


@app.post("/forms/<tenant>/<channel>")
def form(tenant: str, channel: str) -> Response[str]:
    cfg, chan = _channel(tenant, channel)
    if chan.platform != "webform":
        raise NotFound(
            f"channel '{channel}' is a {chan.platform} webhook, not a web form: "
            f"post it to /webhooks/{tenant}/{channel}"
        )
    received = _received()
    delivery = accept.valid_form(cfg, chan, accept.verified(chan, received, {}))
    key = accept.idempotency_key(received.headers)
    delivery_id = accept.form_delivery_id(key)
    queued = _accept(tenant, chan, delivery, delivery_id, received)
    if not queued and key:
        accept.refuse_reused_key(wiring.deliveries(), tenant, chan.id, key, delivery.payload)
    ticket_id = delivery_ticket_id(tenant, chan.id, delivery_id)
    logger.info(
        "web form queued" if queued else "web form repeated", delivery_id=delivery_id, ticket_id=ticket_id
    )
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
