"""The tenant file: models, loading and validation.

Functions that only decode a deployed configuration import `shared.tenant.models`
(or `transport`). Every public name here is imported on first use (PEP 562), the models
included: importing a submodule (``shared.tenant.store``, ``transport``) runs this package's
init, which must not build the models (pydantic, zoneinfo, jmespath) at a Lambda's cold start;
the loader and validator (YAML, holiday tables, ...) are only ever needed by the CLI and stacks.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.tenant.loader import (
        FileCheck,
        check_tenant_files,
        load_secrets_file,
        load_tenant_file,
        load_tenant_files,
        validate_tenant_files,
    )
    from shared.tenant.models import (
        BUILTIN_ROLES,
        Node,
        TenantConfig,
        TicketType,
        format_duration,
        format_money,
        parse_duration,
        parse_money,
    )
    from shared.tenant.validate import Problem, TenantConfigError, validate_tenant_data

__all__ = [
    "BUILTIN_ROLES",
    "FileCheck",
    "Node",
    "Problem",
    "TenantConfig",
    "TenantConfigError",
    "TicketType",
    "check_tenant_files",
    "format_duration",
    "format_money",
    "load_secrets_file",
    "load_tenant_file",
    "load_tenant_files",
    "parse_duration",
    "parse_money",
    "validate_tenant_data",
    "validate_tenant_files",
]

_LAZY = {
    **dict.fromkeys(
        (
            "BUILTIN_ROLES",
            "Node",
            "TenantConfig",
            "TicketType",
            "format_duration",
            "format_money",
            "parse_duration",
            "parse_money",
        ),
        "shared.tenant.models",
    ),
    "FileCheck": "shared.tenant.loader",
    "check_tenant_files": "shared.tenant.loader",
    "load_secrets_file": "shared.tenant.loader",
    "load_tenant_file": "shared.tenant.loader",
    "load_tenant_files": "shared.tenant.loader",
    "validate_tenant_files": "shared.tenant.loader",
    "Problem": "shared.tenant.validate",
    "TenantConfigError": "shared.tenant.validate",
    "validate_tenant_data": "shared.tenant.validate",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'shared.tenant' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
