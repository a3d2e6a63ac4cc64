"""Tenant-scoped credentials: every DynamoDB request for tenant data is signed as that tenant.

The platform functions serve every tenant, so their own roles hold no table access. Each tenant
stack deploys data-access roles (``infra/constructs/tenant_data.py``) whose policy lets DynamoDB
serve only items whose partition key (table or index) starts with ``TENANT#<id>#``
(``dynamodb:LeadingKeys``). A function assumes the role of the tenant it is acting for and signs
its table requests with those credentials, so a repository bug cannot read or write another
tenant's items: DynamoDB refuses the request (``AccessDeniedException``).

- **Scope**: a context variable holding the tenant the current invocation acts for. It is entered
  where a handler learns its tenant (``shared.http.current_caller``: the JWT's tenant;
  ``shared.tenant.store.tenant_config``: the task's, webhook's, message's or schedule's tenant) and
  cleared when an invocation starts and ends (:func:`invocation`, applied by the shared logger's
  ``inject_lambda_context``, which decorates every entry point), so no scope outlives its invocation.
  A context variable, not a global: the local twin runs many invocations at once in threads.
- **Credentials**: ``sts:AssumeRole`` of the role named by env ``TENANT_ROLE_ARN`` (a template with
  ``{tenant}`` and ``{access}``: env ``TENANT_DATA_ACCESS``, the function's kind of access), cached
  per tenant in the container until :data:`REFRESH_MARGIN` before they expire.
- **Signing**: the pynamodb connection of the table items (``shared/repositories/base.py``) puts the
  scope's credentials in each request's signing context (botocore ``request_credentials``).
- **No scope**: when ``TENANT_ROLE_ARN`` is set (every deployed function, the twin) a table request
  outside a scope fails closed with :class:`TenantScopeRequired`; the function's own role could not
  make it anyway. Without it (repository tests against moto, scripts) requests use the ambient
  credentials.
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from shared.errors import NotFound
from shared.settings import Settings, settings

REFRESH_MARGIN = 300.0
"""Seconds before expiry when cached credentials are renewed (a request never signs with a key
that expires while it is retried)."""
SESSION_SECONDS = 3600
"""Requested session length: the role's default maximum."""
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")

_scope: ContextVar[str | None] = ContextVar("scrm_tenant_scope", default=None)


class TenantScopeRequired(RuntimeError):
    """Tenant data was touched before the handler named its tenant: a bug, never a caller's fault."""


def enter(tenant: str) -> None:
    """The current invocation acts for ``tenant`` from here on (until another tenant or its end)."""
    _scope.set(tenant)


def current() -> str | None:
    """The tenant the current invocation acts for, if it named one."""
    return _scope.get()


@contextmanager
def tenant_scope(tenant: str) -> Iterator[None]:
    """Act for ``tenant`` inside the block (scripts, tests, a batch of several tenants)."""
    token = _scope.set(tenant)
    try:
        yield
    finally:
        _scope.reset(token)


@contextmanager
def invocation() -> Iterator[None]:
    """One invocation: it starts with no scope and whatever it entered is gone when it ends.

    The previous value comes back at the end, so an invocation nested in another (the twin runs a
    synchronous ``lambda:Invoke`` in the caller's thread) leaves its caller's scope as it was.
    """
    token = _scope.set(None)
    try:
        yield
    finally:
        _scope.reset(token)


def scoped(handler: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``handler`` as one :func:`invocation`."""

    @functools.wraps(handler)
    def run(*args: Any, **kwargs: Any) -> Any:
        with invocation():
            return handler(*args, **kwargs)

    return run


@dataclass(frozen=True)
class _Issued:
    credentials: Credentials
    renew_at: float  # time.time()


class TenantCredentials:
    """Credentials of the tenants' data-access roles, assumed on first use and cached per tenant.

    Expiry is real time (``time.time``), not the product clock (``shared.clock``): STS expires keys on
    the wall clock even when the twin's clock is advanced by hours.
    """

    def __init__(self, role_arn_template: str, session_name: str, sts: Callable[[], Any]) -> None:
        self.role_arn_template = role_arn_template
        self.session_name = _SESSION_NAME.sub("-", session_name)[:64] or "scrm"
        self._sts = sts
        self._client: Any = None
        self._issued: dict[str, _Issued] = {}
        self._lock = threading.Lock()
        self.assumed = 0  # AssumeRole calls made (figures of the benchmarks, tests)

    def role_arn(self, tenant: str) -> str:
        return self.role_arn_template.replace("{tenant}", tenant)

    def for_tenant(self, tenant: str) -> Credentials:
        issued = self._issued.get(tenant)
        if issued is not None and time.time() < issued.renew_at:
            return issued.credentials
        with self._lock:  # one AssumeRole per tenant even when many threads start together
            issued = self._issued.get(tenant)
            if issued is None or time.time() >= issued.renew_at:
                issued = self._assume(tenant)
                self._issued[tenant] = issued
            return issued.credentials

    def _assume(self, tenant: str) -> _Issued:
        if self._client is None:
            self._client = self._sts()
        role_arn = self.role_arn(tenant)
        try:
            answer = self._client.assume_role(
                RoleArn=role_arn, RoleSessionName=self.session_name, DurationSeconds=SESSION_SECONDS
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("AccessDenied", "ValidationError"):
                raise
            # AWS answers AccessDenied for a role that does not exist: a tenant without a tenant
            # stack is not onboarded (a trust policy that leaves this function out says the same);
            # ValidationError: an id no role can have.
            from shared.observability import logger

            logger.error("no data access for tenant", tenant=tenant, role_arn=role_arn, reason=str(exc))
            raise NotFound(f"unknown tenant '{tenant}'") from None
        self.assumed += 1
        found = answer["Credentials"]
        lifetime = found["Expiration"].timestamp() - time.time()
        credentials = Credentials(
            found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"], method="assume-role"
        )
        return _Issued(credentials, time.time() + max(0.0, lifetime - REFRESH_MARGIN))


_brokers: dict[int, tuple[Settings, TenantCredentials]] = {}
"""The credential cache of each settings object (by identity): one per function in the twin."""
_broker_lock = threading.Lock()
_MAX_BROKERS = 64


def _sts_client() -> Any:
    import boto3  # the function's own credentials (its role) are the ones that may assume

    return boto3.client("sts", region_name=settings().region)


def credentials() -> TenantCredentials | None:
    """The function's credential cache, or None when tenant roles are not configured.

    It belongs to the settings it was made for: new settings (``settings.cache_clear()``, as tests
    do with each new embedded AWS) start with no credentials. In AWS a process runs one function and
    has one; the local twin runs every function in one process, each with its own settings
    (``shared.settings.function_environment``), so each function has its own cache, assuming the
    role of its own ``TENANT_DATA_ACCESS`` in a session named after it.
    """
    cfg = settings()
    if not cfg.tenant_role_arn:
        return None
    made = _brokers.get(id(cfg))
    if made is None or made[0] is not cfg:
        with _broker_lock:
            made = _brokers.get(id(cfg))
            if made is None or made[0] is not cfg:
                if len(_brokers) >= _MAX_BROKERS:
                    _brokers.clear()  # settings of earlier embedded AWS instances (tests)
                template = cfg.tenant_role_arn.replace("{access}", cfg.tenant_data_access)
                made = (cfg, TenantCredentials(template, cfg.aws_lambda_function_name, _sts_client))
                _brokers[id(cfg)] = made
    return made[1]


def request_credentials() -> Credentials | None:
    """What a table request is signed with: the scope's tenant role, or None for the ambient keys.

    Raises :class:`TenantScopeRequired` when tenant roles are configured and no scope is active.
    """
    broker = credentials()
    if broker is None:
        return None
    tenant = _scope.get()
    if tenant is None:
        raise TenantScopeRequired(
            "tenant data accessed outside a tenant scope: the handler must name its tenant first "
            "(shared.http.current_caller, shared.tenant.store.tenant_config or tenant_scope)"
        )
    return broker.for_tenant(tenant)


def sign_for_tenant(context: dict[str, Any], **_: Any) -> None:
    """botocore ``before-call`` handler: sign this request with the scope's credentials."""
    found = request_credentials()
    if found is not None:
        context.setdefault("signing", {})["request_credentials"] = found
