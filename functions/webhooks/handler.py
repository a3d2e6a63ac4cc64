"""Lambda entry point of intake: platform webhooks and web forms."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger
from shared.unbuilt import unavailable_route


@logger.inject_lambda_context
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return unavailable_route(event, "webhook and web-form intake")
