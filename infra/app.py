"""The CDK app: one platform stack and one stack per tenant file.

``cdk.json`` runs ``python -m infra.app``; the tenant files come from env ``SCRM_TENANTS``
when set, else from context ``scrm:tenants`` (both comma-separated paths). ``scrm synth``,
the tests and the local twin call :func:`build_app` directly.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from aws_cdk import App, DefaultStackSynthesizer, Validations
from cdk_nag import AwsSolutionsChecks

from infra.stacks import PLATFORM_STACK, PlatformStack, TenantStack, tenant_stack_id

if TYPE_CHECKING:
    from shared.tenant.models import TenantConfig

TENANTS_CONTEXT = "scrm:tenants"
TENANTS_ENV = "SCRM_TENANTS"


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


def populate(app: App, configs: Sequence[TenantConfig], *, bundle: bool = True) -> App:
    """Add the platform stack, one tenant stack per config, and the cdk-nag checks."""
    PlatformStack(app, PLATFORM_STACK, bundle=bundle, synthesizer=_synthesizer(), analytics_reporting=False)
    for cfg in configs:
        TenantStack(
            app,
            tenant_stack_id(cfg.tenant.id),
            config=cfg,
            synthesizer=_synthesizer(),
            analytics_reporting=False,
        )
    add_nag_checks(app)
    return app


def add_nag_checks(app: App) -> None:
    """cdk-nag AwsSolutions as a validation plugin: an unacknowledged finding fails synth.

    Findings are acknowledged where they occur with ``Validations.of(construct).acknowledge``
    and a written reason (see the constructs).
    """
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))


def build_app(tenant_files: list[str], *, outdir: str | None = None, bundle: bool = True) -> App:
    """The whole app for these tenant files; call ``.synth()`` on it to write ``outdir``.

    ``bundle=False`` skips building the Lambda dependencies (tests, local twin); see
    ``infra/constructs/bundling.py``. A bad tenant file raises the loader's error.
    """
    configs = load_tenants(tenant_files)
    app = App(outdir=outdir, analytics_reporting=False)
    return populate(app, configs, bundle=bundle)


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
    except TenantConfigError as err:  # names the file, the path in it and the fix
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    populate(app, configs, bundle=True)
    app.synth()


if __name__ == "__main__":
    main()
