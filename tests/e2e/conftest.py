"""One local twin for the whole e2e session: both example tenants, manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest

from infra.twin.client import TwinClient
from infra.twin.twin import LocalTwin


@pytest.fixture(scope="session")
def twin(example_tenant_files: list[str]) -> Iterator[LocalTwin]:
    running = LocalTwin(
        example_tenant_files,
        port=0,
        clock="manual",
        start=datetime.fromisoformat("2026-11-23T09:00:00+08:00"),
        log=lambda _line: None,
        function_log_level="ERROR",
    ).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def anonymous(twin: LocalTwin) -> TwinClient:
    return TwinClient(twin.url)


@pytest.fixture(scope="session")
def agent(anonymous: TwinClient) -> TwinClient:
    return anonymous.as_user("acme-home", "u-lin", ["agent"])


@pytest.fixture(autouse=True, scope="module")
def _close_what_the_module_opened(twin: LocalTwin) -> Iterator[None]:
    """Every module starts with free technicians: tickets a module leaves open hold technicians'
    capacity in the shared twin, so they are cancelled (which releases the load) afterwards."""
    yield
    cancel_open_tickets(TwinClient(twin.url), sorted(twin.issuer.tenants))


def cancel_open_tickets(client: TwinClient, tenants: list[str]) -> None:
    """Cancel every open ticket of ``tenants`` (as an admin), which releases their technicians."""
    for tenant in tenants:
        admin = client.as_user(tenant, "e2e-cleanup", ["admin"])
        for _page in range(20):
            listing = admin.get("/tickets?status=open&limit=100")
            items = listing.body.get("items", []) if listing.status == 200 else []
            for ticket in items:
                admin.post(f"/tickets/{ticket['id']}/cancel", {"reason": "end of test module"})
            if not items:
                break
