"""Onboard a tenant at deploy time: the provider of every tenant stack's ``Custom::ScrmTenant``.

ONE platform function (``scrm-ticket-onboard``) serves every tenant stack, so onboarding a tenant
adds no Lambda function, role or permission to the account (CloudFormation invokes a custom
resource's service token with the deployer's own permissions). For each request it:

- Create / Update: checks the configuration the stack hands over (it decodes and validates, names
  the stack's tenant, and has a ``live`` version for exactly its ticket types, each a version of that
  type's own state machine), then writes ``tenants/<id>/config.json.gz`` (``shared/tenant/transport.py``)
  and asks ``scrm-dispatch-seed`` to seed the file's technicians. Seeding never overwrites a record
  the registry has changed, and a failed seed does not fail the deploy: the seed function's error
  alarm shows it and the functions still seed the current roster on first use.
- Delete: removes the object it wrote (the bucket keeps the earlier versions); the tenant is then
  unknown to every function once their cached copy expires.

The physical id is the object key: stable across updates (CloudFormation never sends a Delete for
a replaced one), and a Delete whose physical id is not that key (a Create that failed before
writing) removes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from shared.tenant.transport import config_json, config_key, encode_object
from shared.workflow.compiler import state_machine_name


class ConfigObjects(Protocol):
    """The config bucket (``shared/adapters/tenant_configs.py``)."""

    def put(self, key: str, body: bytes) -> str:
        """Write the object; its version id."""
        ...

    def delete(self, key: str) -> None: ...


class Seeder(Protocol):
    """``scrm-dispatch-seed`` (``shared/adapters/invoke.py``)."""

    def seed(self, tenant: str, roster: str) -> dict[str, Any]:
        """Seed the deployed roster (``roster``: its digest); raises when the seed function failed."""
        ...


class Refused(ValueError):
    """The request cannot be carried out as sent: the stack operation fails with this reason."""


@dataclass(frozen=True)
class Outcome:
    physical_id: str
    data: dict[str, str] = field(default_factory=dict)
    """Attributes of the resource (``Fn::GetAtt``); CloudFormation caps the whole answer at 4 KiB."""
    seed_error: str | None = None


def onboard(
    request: Mapping[str, Any], configs: ConfigObjects, seeder: Seeder, *, machine_prefix: str
) -> Outcome:
    """Carry out one CloudFormation request; ``Refused`` (or any error) means the operation failed.

    ``machine_prefix``: ``arn:<partition>:states:<region>:<account>:stateMachine:`` of this account.
    """
    kind = str(request.get("RequestType", ""))
    props = request.get("ResourceProperties") or {}
    tenant = str(props.get("Tenant", ""))
    key = config_key(tenant)
    if kind == "Delete":
        physical = str(request.get("PhysicalResourceId") or key)
        if tenant and physical == key:
            configs.delete(key)
        return Outcome(physical)
    if kind not in ("Create", "Update"):
        raise Refused(f"unknown request type '{kind}'")
    if kind == "Update":
        before = str((request.get("OldResourceProperties") or {}).get("Tenant", ""))
        if before != tenant:
            raise Refused(f"a tenant stack cannot change its tenant ('{before}' -> '{tenant}')")
    canonical, ticket_types = _checked_config(tenant, props.get("Config"))
    live = _checked_live(tenant, ticket_types, props.get("Live"), machine_prefix)
    version_id = configs.put(key, encode_object(canonical, live))
    data = {"ConfigKey": key, "ConfigVersionId": version_id}
    roster = str(props.get("Roster") or "")
    if not roster:
        return Outcome(key, data)
    try:
        seeded = seeder.seed(tenant, roster)
    except Exception as exc:  # the deploy goes on: see the module docstring
        return Outcome(key, {**data, "Seeded": "failed"}, seed_error=f"{type(exc).__name__}: {exc}")
    return Outcome(key, {**data, "Seeded": str(seeded.get("seeded", ""))})


def _checked_config(tenant: str, text: Any) -> tuple[str, list[str]]:
    """The canonical JSON in ``Config`` and its ticket types, once it validates as ``tenant``'s file."""
    from shared.tenant.models import TenantConfig

    if not isinstance(text, str) or not text:
        raise Refused("the resource has no Config (base64 of the gzip'd canonical configuration)")
    try:
        canonical = config_json(text)
        cfg = TenantConfig.model_validate(json.loads(canonical))
    except Exception as exc:
        raise Refused(f"Config does not decode to a valid tenant configuration: {exc}") from exc
    if cfg.tenant.id != tenant:
        raise Refused(f"Config is tenant '{cfg.tenant.id}', the resource says '{tenant}'")
    return canonical, list(cfg.ticket_types)


def _checked_live(tenant: str, ticket_types: list[str], live: Any, machine_prefix: str) -> dict[str, str]:
    """``Live`` in the order of the file's ticket types, each a version of its own state machine."""
    if not isinstance(live, Mapping):
        raise Refused("the resource has no Live map (ticket type -> state machine version ARN)")
    if set(live) != set(ticket_types):
        raise Refused(
            f"Live names {sorted(live)}, the configuration's ticket types are {sorted(ticket_types)}"
        )
    checked: dict[str, str] = {}
    for type_id in ticket_types:
        version = str(live[type_id])
        machine = f"{machine_prefix}{state_machine_name(tenant, type_id)}"
        number = version.removeprefix(machine + ":")
        if not version.startswith(machine + ":") or not number.isdigit():
            raise Refused(f"Live[{type_id}] = '{version}' is not a version of {machine}")
        checked[type_id] = version
    return checked
