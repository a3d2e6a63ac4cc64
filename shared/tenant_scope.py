"""Tenant-scoped credentials: every DynamoDB request for tenant data is signed as that tenant.

The platform functions serve every tenant, so their own roles hold no table access. The platform
stack holds a few data-access roles, one per kind of access (``infra/constructs/tenant_data.py``),
whose policy lets DynamoDB serve only items whose partition key (table or index) starts with
``TENANT#<tenant>#``, ``<tenant>`` being the session tag ``tenant`` (``dynamodb:LeadingKeys`` =
``TENANT#${aws:PrincipalTag/tenant}#*``: ABAC). A function assumes its role with the tag of the tenant
it acts for and signs its table requests with those credentials, so a repository bug cannot read or
write another tenant's items: DynamoDB refuses the request (``AccessDeniedException``). The roles do
not grow with the tenants (an account holds 1,000 roles; one per tenant and kind stopped at ~300).

- **Scope**: a context variable holding the tenant the current invocation acts for. It is entered
  where a handler learns its tenant (``shared.http.current_caller``: the JWT's tenant;
  ``shared.tenant.store.tenant_config``: the task's, webhook's, message's or schedule's tenant) and
  cleared when an invocation starts and ends (:func:`invocation`, applied by the shared logger's
  ``inject_lambda_context``, which decorates every entry point), so no scope outlives its invocation.
  A context variable, not a global: the local twin runs many invocations at once in threads.
- **Known tenants only**: a role per tenant used to refuse an unknown tenant at ``AssumeRole`` (no
  such role); a shared role would tag a session for any id. So before each ``AssumeRole`` for a
  tenant (its first, and each renewal), the cache asks for that tenant's configuration
  (``shared.tenant.store.tenant_config``, cached by the store), which raises ``NotFound`` for a tenant
  that is not deployed: an unknown tenant is a 404 before any table request, whatever the entry point.
- **Credentials**: ``sts:AssumeRole`` of the role named by env ``TENANT_ROLE_ARN`` (``{access}`` for
  env ``TENANT_DATA_ACCESS``, the function's kind of access) with ``Tags=[{"Key": "tenant", "Value":
  <id>}]`` and a session name that starts with the tenant (CloudTrail shows whom a session acted
  for), cached per tenant in the container until :data:`REFRESH_MARGIN` before they expire.
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

from shared.settings import Settings, settings

REFRESH_MARGIN = 300.0
"""Seconds before expiry when cached credentials are renewed (a request never signs with a key
that expires while it is retried)."""
SESSION_SECONDS = 3600
"""Requested session length: the role's default maximum."""
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")
SESSION_TAG = "tenant"
"""The session tag naming the tenant (``aws:PrincipalTag/tenant`` in the roles' policies)."""

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
    """Credentials of a data-access role, one session per tenant (tagged with it), assumed on first
    use and cached per tenant.

    ``vouch(tenant)`` runs before each ``AssumeRole`` for a tenant (its first, and each renewal) and
    raises ``NotFound`` for a tenant that is not deployed. Expiry is real time (``time.time``), not
    the product clock (``shared.clock``): STS expires keys on the wall clock even when the twin's
    clock is advanced by hours.
    """

    def __init__(
        self,
        role_arn: str,
        session_name: str,
        sts: Callable[[], Any],
        vouch: Callable[[str], object],
    ) -> None:
        self.role_arn = role_arn
        self.session_name = _SESSION_NAME.sub("-", session_name) or "scrm"
        self._sts = sts
        self._vouch = vouch
        self._client: Any = None
        self._issued: dict[str, _Issued] = {}
        self._lock = threading.Lock()
        self.assumed = 0  # AssumeRole calls made (figures of the benchmarks, tests)

    def session_name_for(self, tenant: str) -> str:
        """``<tenant>@<function>``, at most 64 characters: whom the session acted for, in CloudTrail."""
        return _SESSION_NAME.sub("-", f"{tenant}@{self.session_name}")[:64]

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
        self._vouch(tenant)  # NotFound for a tenant not (or no longer) deployed: no session for it
        if self._client is None:
            self._client = self._sts()
        answer = self._client.assume_role(
            RoleArn=self.role_arn,
            RoleSessionName=self.session_name_for(tenant),
            DurationSeconds=SESSION_SECONDS,
            Tags=[{"Key": SESSION_TAG, "Value": tenant}],
        )
        self.assumed += 1
        found = answer["Credentials"]
        lifetime = found["Expiration"].timestamp() - time.time()
        credentials = Credentials(
            found["AccessKeyId"], found["SecretAccessKey"], found["SessionToken"], method="assume-role"
        )
        return _Issued(credentials, time.time() + max(0.0, lifetime - REFRESH_MARGIN))


def deployed(tenant: str) -> None:
    """Raise ``NotFound`` unless ``tenant`` is deployed: its configuration exists (the store's cache
    answers when the handler has just read it)."""
    from shared.tenant.store import tenant_config  # the store enters scopes: import it late

    tenant_config(tenant)


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
    role of its own ``TENANT_DATA_ACCESS`` in sessions named after the tenant and itself.
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
                role_arn = cfg.tenant_role_arn.replace("{access}", cfg.tenant_data_access)
                made = (cfg, TenantCredentials(role_arn, cfg.aws_lambda_function_name, _sts_client, deployed))
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
