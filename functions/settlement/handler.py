"""Lambda entry points of the settlement service."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger
from shared.unbuilt import NotBuiltYet, unavailable_route


@logger.inject_lambda_context
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unavailable_route(event, "earnings and revenue reports")


@logger.inject_lambda_context
def settle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    raise NotBuiltYet(f"settlement node {event.get('node')}: pricing is not built yet")
