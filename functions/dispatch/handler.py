"""Lambda entry points of the dispatch service."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger
from shared.unbuilt import NotBuiltYet, unavailable_route


@logger.inject_lambda_context
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unavailable_route(event, "the technician registry")


@logger.inject_lambda_context
def assign(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    raise NotBuiltYet(f"dispatch node {event.get('node')}: scoring and assignment are not built yet")
