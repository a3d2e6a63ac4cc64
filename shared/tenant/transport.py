"""How a tenant's configuration travels from the tenant stack to the functions.

One object per tenant, ``tenants/<tenant>/config.json.gz`` in the platform's versioned config
bucket (env ``CONFIG_BUCKET``), written by ONE platform function, ``scrm-ticket-onboard``: the
provider of every tenant stack's ``Custom::ScrmTenant`` resource. The tenant stack cannot put an
object itself, so it hands the provider the configuration as a resource property
(:func:`encode_config`: compact JSON in the order of the tenant's file, gzip with mtime 0, base64:
the same file always gives the same template) together with the ``live`` map, ticket type -> the
state machine version that stack deploys (CloudFormation resolves each version's ``Ref``). The
provider writes both as one document (:func:`encode_object`); the functions read it with one
conditional ``GetObject`` per container and tenant every few minutes (``shared/tenant/store.py``)
and decode it here (:func:`decode_object`).

Why an object and not parameters: the read cost is one request per refresh whatever the size (the
SSM chunks cost a ``GetParametersByPath`` page per 10 chunks against a 40 TPS account quota), a
refresh that finds the same ETag is a cheap 304, and the live versions travel with the
configuration they were compiled from, so a new ticket never needs a control-plane call to learn
where to start.

Key order is meaning (a node's first action is its primary one), so nothing here ever sorts.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

PREFIX = "tenants/"
OBJECT_NAME = "config.json.gz"
FORMAT = 1
"""Version of the object's document (``{"format", "live", "config"}``); a reader refuses others."""


def config_key(tenant_id: str) -> str:
    """The object key of a tenant's configuration in the config bucket."""
    return f"{PREFIX}{tenant_id}/{OBJECT_NAME}"


def tenant_of_key(key: str) -> str | None:
    """The tenant whose configuration ``key`` is (``None`` for any other key)."""
    if not key.startswith(PREFIX) or not key.endswith("/" + OBJECT_NAME):
        return None
    tenant = key[len(PREFIX) : -len(OBJECT_NAME) - 1]
    return tenant if tenant and "/" not in tenant else None


def config_to_json(cfg: TenantConfig) -> str:
    """Canonical JSON of a configuration: compact, non-ASCII kept, keys in the file's order.

    Never sorted: the order of a mapping is part of what the tenant wrote (``actions``: the first
    is the primary one; ``nodes``, ``ticket_types``: the order shown and compiled). The same file
    always gives the same JSON, because the models keep insertion order.
    """
    data = cfg.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode_config(cfg: TenantConfig) -> str:
    """The configuration as the tenant stack hands it to the provider: base64 of gzip (mtime 0) of
    :func:`config_to_json`, deterministic, so an unchanged file changes nothing in the template."""
    packed = gzip.compress(config_to_json(cfg).encode("utf-8"), mtime=0)
    return base64.b64encode(packed).decode("ascii")


def config_json(text: str) -> str:
    """The canonical JSON inside :func:`encode_config`'s text (the provider writes it unchanged)."""
    return gzip.decompress(base64.b64decode(text, validate=True)).decode("utf-8")


def decode_config(text: str) -> TenantConfig:
    """Rebuild (and validate) a configuration from :func:`encode_config`'s text."""
    from shared.tenant.models import TenantConfig

    return TenantConfig.model_validate(json.loads(config_json(text)))


@dataclass(frozen=True)
class DeployedTenant:
    """What a tenant's object holds: its configuration and the version each ticket type starts on."""

    config: TenantConfig
    live: Mapping[str, str]
    """ticket type -> state machine version ARN published by the tenant's latest deploy."""


def encode_object(canonical_json: str, live: Mapping[str, str]) -> bytes:
    """The object's bytes: gzip (mtime 0) of ``{"format", "live", "config"}``.

    ``canonical_json`` goes in as it is (never parsed and dumped again, so never reordered); the
    same configuration and versions always give the same bytes, hence the same ETag.
    """
    json.loads(canonical_json)  # a broken document must never reach the bucket
    head = json.dumps({"format": FORMAT, "live": dict(live)}, separators=(",", ":"), ensure_ascii=False)
    document = head[:-1] + ',"config":' + canonical_json + "}"
    return gzip.compress(document.encode("utf-8"), mtime=0)


def decode_object(body: bytes) -> DeployedTenant:
    """Read an object written by :func:`encode_object` (``ValueError`` for anything else)."""
    from shared.tenant.models import TenantConfig

    document = json.loads(gzip.decompress(body).decode("utf-8"))
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise ValueError(f"not a tenant configuration object of format {FORMAT}")
    live = document.get("live")
    if not isinstance(live, dict) or not all(isinstance(v, str) for v in live.values()):
        raise ValueError("the object's live map is not ticket type -> version ARN")
    return DeployedTenant(config=TenantConfig.model_validate(document["config"]), live=live)
