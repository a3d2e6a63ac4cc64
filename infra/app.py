"""The CDK app: one platform stack per cell and one stack per tenant file.

``cdk.json`` runs ``python -m infra.app``; the tenant files come from env ``SCRM_TENANTS``
when set, else from context ``scrm:tenants`` (both comma-separated paths). ``scrm synth``,
the tests and the local twin call :func:`build_app` directly.

Cells (docs/scale.md): past one account's ceilings, tenants are spread over cells, each an AWS
account and region with its own platform stack. A tenant file names its cell (``tenant.cell``,
default ``main``); context ``scrm:cells`` maps cell names to ``{"account", "region"}`` (absent:
the one cell ``main``, deployed wherever the CLI's credentials point). Cell ``main``'s platform
stack is ``ScrmPlatform``, another cell's ``ScrmPlatform-<cell>``; tenant stacks keep
``ScrmTenant-<id>`` (tenant ids are unique across cells) and depend on their cell's platform.
Two cells never share an account: the platform's IAM role names are account-wide.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_cdk import App, DefaultStackSynthesizer, Environment, Validations
from cdk_nag import AwsSolutionsChecks

from infra.stacks import PLATFORM_STACK, PlatformStack, TenantStack, tenant_stack_id

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

TENANTS_CONTEXT = "scrm:tenants"
TENANTS_ENV = "SCRM_TENANTS"
CELLS_CONTEXT = "scrm:cells"
DEFAULT_CELL = "main"


class CellError(ValueError):
    """The tenant files and the cells of ``scrm:cells`` do not fit together."""


@dataclass(frozen=True)
class Cell:
    """An AWS account and region with its own platform stack, and the tenants it hosts."""

    name: str
    account: str | None = None
    region: str | None = None

    @property
    def platform_stack(self) -> str:
        return PLATFORM_STACK if self.name == DEFAULT_CELL else f"{PLATFORM_STACK}-{self.name}"

    @property
    def environment(self) -> Environment | None:
        """Where the cell's stacks deploy; None: wherever the CLI's credentials point."""
        if self.account is None and self.region is None:
            return None
        return Environment(account=self.account, region=self.region)


def cells_from(raw: Mapping[str, Any] | None) -> dict[str, Cell]:
    """The cells of context ``scrm:cells`` (``{"<cell>": {"account": ..., "region": ...}}``).

    Raises :class:`CellError` when two cells share an account (the platform's role names would clash).
    """
    if not raw:
        return {DEFAULT_CELL: Cell(DEFAULT_CELL)}
    cells = {
        str(name): Cell(str(name), (spec or {}).get("account"), (spec or {}).get("region"))
        for name, spec in raw.items()
    }
    accounts: dict[str, str] = {}
    for cell in cells.values():
        if cell.account is None:
            continue
        if cell.account in accounts:
            raise CellError(
                f"cells '{accounts[cell.account]}' and '{cell.name}' share account {cell.account}; "
                "give each cell its own account (the platform's IAM role names are account-wide)"
            )
        accounts[cell.account] = cell.name
    return cells


def group_by_cell(
    configs: Sequence[TenantConfig], cells: Mapping[str, Cell]
) -> dict[str, list[TenantConfig]]:
    """Tenants per cell, in the order of the files; every cell that hosts one, plus ``main``'s
    platform when no tenant is given. Raises :class:`CellError` for a cell ``scrm:cells`` lacks."""
    from shared.tenant.models import did_you_mean

    grouped: dict[str, list[TenantConfig]] = {}
    for cfg in configs:
        name = cfg.tenant.cell or DEFAULT_CELL
        if name not in cells:
            raise CellError(
                f"tenant '{cfg.tenant.id}': tenant.cell {name!r} is not a cell of context "
                f"'{CELLS_CONTEXT}'{did_you_mean(name, list(cells))}; cells: {', '.join(cells)}"
            )
        grouped.setdefault(name, []).append(cfg)
    if not grouped:
        grouped[next(iter(cells))] = []
    return grouped


def load_tenants(tenant_files: Sequence[str]) -> list[TenantConfig]:
    """Load and validate every tenant file (and their ids against each other).

    Raises the loader's ``TenantConfigError``: every problem with its file, path and fix.
    ``*.secrets.yaml`` files among them are checked but make no stack.
    """
    if not tenant_files:
        return []
    from shared.tenant import load_tenant_files

    return load_tenant_files(list(tenant_files))


def _synthesizer() -> DefaultStackSynthesizer:
    # No BootstrapVersion parameter/rule: the templates also deploy into moto (local twin).
    return DefaultStackSynthesizer(generate_bootstrap_version_rule=False)


def local_cell(configs: Sequence[TenantConfig]) -> dict[str, Cell]:
    """The one cell the local twin runs (one embedded account): the cell these tenants name.

    Raises :class:`CellError` when they name several: run one twin per cell.
    """
    named = list(dict.fromkeys(cfg.tenant.cell or DEFAULT_CELL for cfg in configs)) or [DEFAULT_CELL]
    if len(named) > 1:
        raise CellError(
            f"the local twin runs one cell (one account); these tenants name cells {', '.join(named)}: "
            "start one twin per cell"
        )
    return {named[0]: Cell(named[0])}


def populate(
    app: App, configs: Sequence[TenantConfig], *, bundle: bool = True, cells: Mapping[str, Cell] | None = None
) -> App:
    """Add each cell's platform stack, one tenant stack per config (with its cell's platform), and
    the cdk-nag checks."""
    known = dict(cells) if cells is not None else cells_from(app.node.try_get_context(CELLS_CONTEXT))
    for name, tenants in group_by_cell(configs, known).items():
        cell = known[name]
        platform = PlatformStack(
            app,
            cell.platform_stack,
            bundle=bundle,
            env=cell.environment,
            synthesizer=_synthesizer(),
            analytics_reporting=False,
        )
        for cfg in tenants:
            stack = TenantStack(
                app,
                tenant_stack_id(cfg.tenant.id),
                config=cfg,
                env=cell.environment,
                synthesizer=_synthesizer(),
                analytics_reporting=False,
            )
            stack.add_stack_dependency(platform)  # deploy order only: no value crosses the stacks
    add_nag_checks(app)
    return app


def add_nag_checks(app: App) -> None:
    """cdk-nag AwsSolutions as a validation plugin: an unacknowledged finding fails synth.

    Findings are acknowledged where they occur with ``Validations.of(construct).acknowledge``
    and a written reason (see the constructs).
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def build_app(
    tenant_files: list[str],
    *,
    outdir: str | None = None,
    bundle: bool = True,
    cells: Mapping[str, Cell] | None = None,
) -> App:
    """The whole app for these tenant files; call ``.synth()`` on it to write ``outdir``.

    ``bundle=False`` skips building the Lambda dependencies (tests, local twin); see
    ``infra/constructs/bundling.py``. A bad tenant file raises the loader's error.
    """
    configs = load_tenants(tenant_files)
    app = App(outdir=outdir, analytics_reporting=False)
    if cells is None:
        cells = cells_from(_cdk_json_context().get(CELLS_CONTEXT))
    return populate(app, configs, bundle=bundle, cells=cells)


def _cdk_json_context() -> dict[str, Any]:
    """``cdk.json``'s context, for callers that build the app outside the CDK CLI (``scrm synth``)."""
    import json
    from pathlib import Path

    path = Path.cwd() / "cdk.json"
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")).get("context") or {})
    except (OSError, ValueError):
        return {}


def tenant_files_from(app: App) -> list[str]:
    raw = os.environ.get(TENANTS_ENV) or app.node.try_get_context(TENANTS_CONTEXT) or ""
    if isinstance(raw, list):
        return [str(item) for item in raw]
    return [part.strip() for part in str(raw).split(",") if part.strip()]


def main() -> None:
    app = App(analytics_reporting=False)
    from shared.tenant import TenantConfigError

    try:
        configs = load_tenants(tenant_files_from(app))
        populate(app, configs, bundle=True)
    except (TenantConfigError, CellError) as err:  # names the file, the path in it and the fix
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    app.synth()


if __name__ == "__main__":
    main()
