"""Lambda entry point of the reminders service (EventBridge Scheduler target)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.observability import logger
from shared.unbuilt import NotBuiltYet


@logger.inject_lambda_context
def fire(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    raise NotBuiltYet("SLA reminders are not built yet")
