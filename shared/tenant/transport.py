"""How a tenant's configuration travels from the tenant stack to the functions.

The tenant stack writes the validated configuration into SSM Parameter Store as
``<prefix>/<tenant>/config/000``, ``/001``, ...: compact JSON in the order of the tenant's
file (a node's first action is its primary one, so key order is meaning, never sorted), gzip
(mtime 0, so the same config always gives the same parameters), base64, cut into
chunks that fit the standard tier. Functions read every chunk with one
``GetParametersByPath`` (cached by powertools) and decode them here.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

CHUNK_CHARS = 4000
DEFAULT_PREFIX = "/scrm/tenants"


def config_path(tenant_id: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The SSM path under which a tenant's configuration chunks live."""
    return f"{prefix.rstrip('/')}/{tenant_id}/config"


def config_to_json(cfg: TenantConfig) -> str:
    """Canonical JSON of a configuration: compact, non-ASCII kept, keys in the file's order.

    Never sorted: the order of a mapping is part of what the tenant wrote (``actions``: the first
    is the primary one; ``nodes``, ``ticket_types``: the order shown and compiled). The same file
    always gives the same JSON, because the models keep insertion order.
    """
    data = cfg.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def encode_config(cfg: TenantConfig, prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Parameter name -> value for every chunk of the tenant's configuration."""
    packed = gzip.compress(config_to_json(cfg).encode("utf-8"), mtime=0)
    text = base64.b64encode(packed).decode("ascii")
    base = config_path(cfg.tenant.id, prefix)
    chunks = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    return {f"{base}/{n:03d}": chunk for n, chunk in enumerate(chunks)}


def decode_config(chunks: Mapping[str, str]) -> TenantConfig:
    """Rebuild a configuration from its chunks (keys are full names or bare ``000``...)."""
    from shared.tenant.models import TenantConfig

    if not chunks:
        raise ValueError("no configuration chunks")
    text = "".join(chunks[name] for name in sorted(chunks, key=lambda n: n.rsplit("/", 1)[-1]))
    data = json.loads(gzip.decompress(base64.b64decode(text)).decode("utf-8"))
    return TenantConfig.model_validate(data)
