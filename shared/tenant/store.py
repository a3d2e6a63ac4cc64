"""Read a tenant's deployed configuration where its stack put it: one S3 object (``transport.py``).

Each container keeps each tenant's object for :data:`CACHE_SECONDS`; the refresh after that is a
conditional GET (``If-None-Match``), a 304 when nothing was deployed meanwhile. The decoded
configuration is kept by ETag, so a 304 costs no parsing either. The same object carries the
``live`` map, so starting a ticket's workflow needs no Step Functions control-plane call
(:func:`live_version`).

A deploy therefore reaches a warm container within :data:`CACHE_SECONDS`: until then it goes on
with the configuration AND the workflow versions of the previous deploy, which belong together.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities.parameters.constants import DEFAULT_PROVIDERS

from shared import tenant_scope
from shared.errors import NotFound
from shared.settings import settings
from shared.tenant.transport import PREFIX, config_key, decode_object, tenant_of_key

if TYPE_CHECKING:
    from shared.adapters.tenant_configs import ConfigObjectProvider
    from shared.tenant.models import TenantConfig
    from shared.tenant.transport import DeployedTenant

CACHE_SECONDS = 300
TENANT_ID = re.compile(r"[a-z0-9-]{3,32}")
_decoded: dict[str, tuple[str, DeployedTenant]] = {}  # object key -> (ETag, what it holds)


def _provider() -> ConfigObjectProvider:
    """The container's provider of the configured bucket, kept among powertools' providers so that
    ``parameters.clear_caches()`` (a new twin, a test) drops it like every other."""
    from shared.adapters.tenant_configs import ConfigObjectProvider

    bucket = settings().config_bucket
    name = f"scrm-tenant-config:{bucket}"
    provider = DEFAULT_PROVIDERS.get(name)
    if not isinstance(provider, ConfigObjectProvider):
        provider = DEFAULT_PROVIDERS[name] = ConfigObjectProvider(bucket)
    return provider


def _deployed(tenant_id: str, fresh: bool) -> DeployedTenant:
    if not TENANT_ID.fullmatch(tenant_id):
        raise NotFound(f"unknown tenant '{tenant_id[:40]}'")
    key = config_key(tenant_id)
    found = _provider().get(key, max_age=CACHE_SECONDS, force_fetch=fresh)
    if not isinstance(found, dict) or not found:
        raise NotFound(f"unknown tenant '{tenant_id}'")
    etag = str(found["etag"])
    cached = _decoded.get(key)
    if cached is not None and cached[0] == etag:
        return cached[1]
    deployed = decode_object(found["body"])
    _decoded[key] = (etag, deployed)
    return deployed


def tenant_config(tenant_id: str, *, fresh: bool = False) -> TenantConfig:
    """The tenant's configuration; ``NotFound`` when no tenant of that id is deployed.

    Where a task, webhook, message or schedule names its tenant: from here on the invocation acts
    for that tenant (its table requests are signed with the tenant's role, ``shared/tenant_scope.py``).
    ``fresh`` reads the object again instead of the up-to-5-minutes-old copy (a deploy just wrote it).
    """
    deployed = _deployed(tenant_id, fresh)
    tenant_scope.enter(tenant_id)
    return deployed.config


def live_version(tenant_id: str, ticket_type: str) -> str:
    """The state machine version ARN that new tickets of ``ticket_type`` start on: the one the
    tenant's latest deploy published, read from the same object as the configuration."""
    deployed = _deployed(tenant_id, False)
    version = deployed.live.get(ticket_type)
    if version is None:
        raise NotFound(
            f"ticket type '{ticket_type}' of tenant '{tenant_id}' has no deployed workflow version"
        )
    return version


def deployed_tenants() -> list[str]:
    """Ids of every deployed tenant (the platform's fan-out jobs, e.g. the gauges), sorted.

    One listing of ``tenants/`` in the config bucket (1,000 keys a page); callers run at most every
    few minutes, never per ticket.
    """
    from shared.adapters.tenant_configs import ConfigBucket

    keys = ConfigBucket(settings().config_bucket).etags(PREFIX)
    return sorted({t for t in map(tenant_of_key, keys) if t is not None and TENANT_ID.fullmatch(t)})
