"""Settings every test shares: quiet jsii, a fake AWS identity, the example tenant files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
for key, value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(key, value)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "tenants"


@pytest.fixture(scope="session")
def example_tenant_files() -> list[str]:
    return sorted(str(p) for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".secrets.yaml"))


@pytest.fixture(autouse=True)
def _one_invocation_per_test() -> object:
    """Each test starts with no tenant scope and leaves none behind, as each Lambda invocation does
    (``shared.tenant_scope.invocation``): a test that names a tenant in the main thread, e.g. through
    ``tenant_config``, must not leak that scope into the next one."""
    from shared.tenant_scope import invocation

    with invocation():
        yield
