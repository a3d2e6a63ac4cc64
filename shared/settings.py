"""Environment of the functions, read once through a pydantic model.

In AWS each function's container has its own environment, so ``settings()`` reads ``os.environ``
once and keeps the answer. The local twin hosts every function in one process, where
``os.environ`` is shared: it sets the invoked function's environment for the duration of each
invocation with :func:`function_environment` (a context variable, so threads running other
functions at the same time keep theirs), and ``settings()`` then answers from that environment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache

from pydantic import BaseModel


class Settings(BaseModel):
    table_name: str = "scrm"
    config_bucket: str = "scrm-tenant-configs"
    """Bucket of the tenants' configuration objects (``shared/tenant/transport.py``), from the platform."""
    state_machine_arn_prefix: str = "arn:aws:states:us-east-1:123456789012:stateMachine:"
    intake_queue_url: str = ""
    intake_dlq_url: str = ""
    """The intake queue's dead-letter queue (``scrm-webhooks-ops``: DLQ redrive)."""
    scheduler_group: str = "scrm-reminders"
    scheduler_role_arn: str = ""
    reminder_function_arn: str = ""
    follow_up_function_arn: str = ""
    """Target of the follow-up schedules (``scrm-ticket-follow-up``)."""
    scheduler_dlq_arn: str = ""
    """Dead-letter queue of the one-time schedules a function creates (``Target.DeadLetterConfig``)."""
    region: str = "us-east-1"
    tenant_role_arn: str = ""
    """The data-access role the function assumes for a tenant (the tenant is the session tag, not the
    role): ``{access}`` stands for tenant_data_access."""
    tenant_data_access: str = "data"
    """Which of the data-access roles the function assumes (``shared/tenant_scope.py``)."""
    aws_lambda_function_name: str = "scrm"
    sender_email: str | None = None
    """From-address of reminders and no-candidate notices (a verified SES identity). Unset, the
    reminders fall back to their default address and dispatch sends no email."""
    wecom_api_url: str = "https://qyapi.weixin.qq.com"
    """Base of the WeCom server API (``/cgi-bin/gettoken``, ``/cgi-bin/message/send``) for the
    tenants' ``wecom_app`` messages; the local twin points it at its emulation (``/_local/wecom``)."""
    dispatch_offer_timeouts: str = "true"
    """``false``/``0``/``no``/``off`` turns dispatch offer expiry off (``functions/dispatch/tasks.py``)."""
    seed_function: str = "scrm-dispatch-seed"
    """What ``scrm-ticket-onboard`` invokes to seed a deployed tenant's technicians."""
    delivery_bodies_bucket: str = ""
    """Bucket of raw delivery bodies over the inline limit (``scrm-webhooks-api``); empty: none."""
    event_bus_name: str = ""
    """The platform's domain-event bus (``scrm-ticket-publish``; ``docs/events.md``)."""
    webhook_queue_url: str = ""
    webhook_dlq_url: str = ""
    """The outbound webhooks queue and its dead-letter queue (``scrm-webhooks-outbound``)."""
    webhook_retry_seconds: int = 30
    """First retry's delay of an outbound webhook; each next one doubles it (SQS visibility, max 12 h)."""


_function_environment: ContextVar[frozenset[tuple[str, str]] | None] = ContextVar(
    "scrm_function_environment", default=None
)
"""The environment of the function invoked in this context (hashable: the cache key of its settings)."""


@contextmanager
def function_environment(environment: Mapping[str, str]) -> Iterator[None]:
    """Inside the block ``settings()`` answers from ``environment``, not from ``os.environ``.

    The local twin wraps each invocation in it with the invoked function's environment (as Lambda
    would have set it for that function's container). It nests: the previous environment comes
    back at the end of the block.
    """
    token = _function_environment.set(frozenset(environment.items()))
    try:
        yield
    finally:
        _function_environment.reset(token)


def _from(env: Mapping[str, str]) -> Settings:
    fields = {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    fields.setdefault("region", env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1")
    return Settings(**fields)


@lru_cache(maxsize=1)
def _process_settings() -> Settings:
    return _from(os.environ)


@lru_cache(maxsize=64)
def _settings_of(environment: frozenset[tuple[str, str]]) -> Settings:
    return _from(dict(environment))


class _SettingsReader:
    """``settings()``: the current function's settings, built once per distinct environment."""

    def __call__(self) -> Settings:
        override = _function_environment.get()
        if override is None:
            return _process_settings()
        return _settings_of(override)

    @staticmethod
    def cache_clear() -> None:
        """Read the environment again on the next call (tests that change it, a new twin)."""
        _process_settings.cache_clear()
        _settings_of.cache_clear()


settings = _SettingsReader()
"""The settings of the function running now (see the module docstring)."""
