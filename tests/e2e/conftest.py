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
