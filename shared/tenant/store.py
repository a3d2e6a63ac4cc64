"""Read a tenant's configuration where the tenant stack put it (SSM, see transport.py)."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from aws_lambda_powertools.utilities import parameters

from shared import tenant_scope
from shared.errors import NotFound
from shared.settings import settings
from shared.tenant.transport import config_path, decode_config

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

CACHE_SECONDS = 300
TENANT_ID = re.compile(r"[a-z0-9-]{3,32}")
_decoded: dict[str, tuple[str, TenantConfig]] = {}


def tenant_config(tenant_id: str, *, fresh: bool = False) -> TenantConfig:
    """The tenant's configuration; ``NotFound`` when no tenant of that id is deployed.

    Where a task, webhook, message or schedule names its tenant: from here on the invocation acts
    for that tenant (its table requests are signed with the tenant's role, ``shared/tenant_scope.py``).
    ``fresh`` reads the parameters again instead of the up-to-5-minutes-old cache (a deploy just wrote them).
    """
    if not TENANT_ID.fullmatch(tenant_id):
        raise NotFound(f"unknown tenant '{tenant_id[:40]}'")
    path = config_path(tenant_id, settings().config_path_prefix)
    chunks = parameters.get_parameters(path, max_age=CACHE_SECONDS, force_fetch=fresh)
    if not chunks:
        raise NotFound(f"unknown tenant '{tenant_id}'")
    tenant_scope.enter(tenant_id)
    digest = hashlib.sha256("".join(f"{k}={chunks[k]}" for k in sorted(chunks)).encode()).hexdigest()
    cached = _decoded.get(tenant_id)
    if cached and cached[0] == digest:
        return cached[1]
    cfg = decode_config(chunks)
    _decoded[tenant_id] = (digest, cfg)
    return cfg


def deployed_tenants() -> list[str]:
    """Ids of every deployed tenant (the platform's fan-out jobs, e.g. the gauges), sorted.

    Read from where the tenant stacks put their configuration; callers run at most every few
    minutes, never per ticket.
    """
    import boto3

    prefix = settings().config_path_prefix.rstrip("/") + "/"
    ssm = boto3.client("ssm", region_name=settings().region)
    found: set[str] = set()
    for page in ssm.get_paginator("get_parameters_by_path").paginate(
        Path=prefix, Recursive=True, WithDecryption=False
    ):
        for parameter in page["Parameters"]:
            rest = parameter["Name"][len(prefix) :].split("/")
            if len(rest) >= 2 and rest[1] == "config" and TENANT_ID.fullmatch(rest[0]):
                found.add(rest[0])
    return sorted(found)
