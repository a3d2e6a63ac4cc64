"""Checks across files: tenant ids between tenant files, and a tenant's secrets file.

Keys checked:

- `tenant.id`: not the id of an earlier tenant file;
- the secrets file: a mapping of SSM name (`/...`) to the secret as text;
- given the tenant, warnings for a secret without a value (a channel's `channels.*.secret`,
  `.token`, `.aes_key`, a subscription's, the WeCom application's `wecom_app.secret`), a value
  nothing uses, a Standard Webhooks secret that is not `whsec_...` and a WeCom AES key that is
  not 43 characters long.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from shared.tenant.checks.problems import Problem, as_dict, describe
from shared.tenant.models import StandardWebhooksChannel, TenantConfig, WeComChannel
from shared.tenant.models.config import WECOM_APP

__all__ = ["find_duplicate_tenant_ids", "validate_secrets"]


def find_duplicate_tenant_ids(documents: Sequence[tuple[str, object]]) -> list[Problem]:
    """A problem for each file that reuses a tenant id of an earlier file in `(file, data)` order."""
    first: dict[str, str] = {}
    problems = []
    for file, data in documents:
        tenant_id = as_dict(as_dict(data).get("tenant")).get("id")
        if not isinstance(tenant_id, str):
            continue
        if tenant_id in first:
            problems.append(
                Problem(
                    file,
                    "tenant.id",
                    f"tenant id {tenant_id!r} is already the id of {first[tenant_id]}; "
                    "give each tenant its own id",
                )
            )
        else:
            first[tenant_id] = file
    return problems


def validate_secrets(
    data: object, *, file: str, config: TenantConfig | None = None, tenant_file: str | None = None
) -> list[Problem]:
    """Check a secrets file (secret reference → value) and, given the tenant, that it covers its channels.

    Missing or unused values are warnings: the local twin still runs, but a channel
    without its secret refuses every delivery.
    """
    if not isinstance(data, Mapping):
        return [Problem(file, "", f"expected a mapping of secret reference to value, got {describe(data)}")]
    problems = []
    for key, value in data.items():
        if not isinstance(key, str) or not key.startswith("/"):
            problems.append(
                Problem(file, str(key), "a secret reference is an SSM name starting with '/', e.g. /scrm/t/x")
            )
        elif not isinstance(value, str) or not value:
            problems.append(Problem(file, key, f"expected the secret as text, got {describe(value)}"))
    if config is None:
        return problems
    refs = config.secret_refs()
    for ref, channel_id in refs.items():
        if ref not in data:
            problems.append(Problem(file, ref, _missing_secret(channel_id, tenant_file), "warning"))
    for key in data:
        if isinstance(key, str) and key.startswith("/") and key not in refs:
            problems.append(
                Problem(file, key, f"nothing in {tenant_file} uses this secret; remove it", "warning")
            )
    problems.extend(_secret_format_problems(data, config, file))
    return problems


def _missing_secret(user: str, tenant_file: str | None) -> str:
    """What a secret without a value does on the twin, by what uses it (``secret_refs``)."""
    if user.startswith("subscriptions."):
        return (
            f"no value for the secret of {user} ({tenant_file}); the local twin will not sign its "
            "webhooks (retried, then dead-lettered); add a value"
        )
    if user == WECOM_APP:
        return (
            f"no value for the WeCom application's secret (wecom_app.secret of {tenant_file}); the local "
            "twin's WeCom refuses its access token, so no wecom message is sent; add a value"
        )
    return (
        f"no value for the secret of channel {user!r} ({tenant_file}); the local twin will refuse its "
        "deliveries with 401; add a value"
    )


def _secret_format_problems(data: Mapping[Any, Any], config: TenantConfig, file: str) -> list[Problem]:
    problems = []
    for sub in config.subscriptions:  # signed by the platform: a Standard Webhooks secret too
        value = data.get(sub.secret.ssm)
        if isinstance(value, str) and not re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", value):
            problems.append(
                Problem(
                    file,
                    sub.secret.ssm,
                    f"subscription {sub.id!r}: a Standard Webhooks secret is 'whsec_' followed by base64 "
                    "(24 to 64 random bytes); share the same value with the receiver",
                    "warning",
                )
            )
    for channel in config.channels:
        if isinstance(channel, StandardWebhooksChannel):
            value = data.get(channel.secret.ssm)
            if isinstance(value, str) and not re.fullmatch(r"whsec_[A-Za-z0-9+/]+={0,2}", value):
                problems.append(
                    Problem(
                        file,
                        channel.secret.ssm,
                        "a Standard Webhooks secret is 'whsec_' followed by base64; "
                        "copy it as the sender shows it",
                        "warning",
                    )
                )
        if isinstance(channel, WeComChannel):
            value = data.get(channel.aes_key.ssm)
            if isinstance(value, str) and len(value) != 43:
                problems.append(
                    Problem(
                        file,
                        channel.aes_key.ssm,
                        f"a WeCom EncodingAESKey has 43 characters, this one has {len(value)}; copy it again",
                        "warning",
                    )
                )
    return problems
