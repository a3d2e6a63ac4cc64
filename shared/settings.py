"""Environment of the functions, read once through a pydantic model."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel


class Settings(BaseModel):
    table_name: str = "scrm"
    config_path_prefix: str = "/scrm/tenants"
    state_machine_arn_prefix: str = "arn:aws:states:us-east-1:123456789012:stateMachine:"
    intake_queue_url: str = ""
    scheduler_group: str = "scrm-reminders"
    scheduler_role_arn: str = ""
    reminder_function_arn: str = ""
    scheduler_dlq_arn: str = ""
    region: str = "us-east-1"
    tenant_role_arn: str = ""
    """Data-access role of a tenant: ``{tenant}`` for its id, ``{access}`` for tenant_data_access."""
    tenant_data_access: str = "data"
    """Which of the tenant's data-access roles the function assumes (``shared/tenant_scope.py``)."""
    aws_lambda_function_name: str = "scrm"


@lru_cache(maxsize=1)
def settings() -> Settings:
    env = os.environ
    fields = {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    fields.setdefault("region", env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1")
    return Settings(**fields)
