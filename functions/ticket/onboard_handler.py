"""Lambda entry point ``scrm-ticket-onboard``: the custom-resource provider of every tenant stack.

CloudFormation invokes it (asynchronously) with a ``Custom::ScrmTenant`` request; the use case is
``functions/ticket/onboard.py``. Whatever happens, the answer goes to the request's ``ResponseURL``
before the function returns: an error becomes a FAILED answer with its reason, never a stack left
waiting for the service timeout. Only a PUT that cannot be delivered raises, so that Lambda's
retries of the asynchronous invocation send the (idempotent) request again.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.ticket.onboard import onboard as carry_out
from shared.adapters import cloudformation
from shared.adapters.invoke import LambdaSeeder
from shared.adapters.tenant_configs import ConfigBucket
from shared.observability import logger, tracer
from shared.settings import settings


@logger.inject_lambda_context
@tracer.capture_lambda_handler
def onboard(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    props = event.get("ResourceProperties") or {}
    logger.append_keys(
        tenant=props.get("Tenant"), request_type=event.get("RequestType"), stack=event.get("StackId")
    )
    fallback = str(event.get("PhysicalResourceId") or f"failed-{event.get('RequestId', '')}")
    try:
        env = settings()
        outcome = carry_out(
            event,
            ConfigBucket(env.config_bucket),
            LambdaSeeder(env.seed_function),
            machine_prefix=env.state_machine_arn_prefix,
        )
    except Exception as exc:
        logger.exception("custom resource request failed")
        body = cloudformation.response(event, "FAILED", fallback, reason=f"{type(exc).__name__}: {exc}")
    else:
        if outcome.seed_error:
            logger.error("technicians not seeded; the deploy goes on", extra={"error": outcome.seed_error})
        logger.info(
            "custom resource request done", extra={"physical_id": outcome.physical_id, **outcome.data}
        )
        body = cloudformation.response(event, "SUCCESS", outcome.physical_id, data=outcome.data)
    cloudformation.send(str(event["ResponseURL"]), body)
    return body
