"""Catalog snapshots: a ticket keeps the prices of the catalog version it was created under."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.repositories.catalogs import CatalogRepository
from shared.tenant import load_tenant_file


@pytest.mark.usefixtures("aws")
def test_a_version_is_stored_once_and_never_rewritten(example_tenant_files: list[str]) -> None:
    cfg = load_tenant_file(next(f for f in example_tenant_files if f.endswith("acme-home.yaml")))
    CatalogRepository().ensure(cfg)

    # A later deploy changes a price but forgets to bump the version: the stored snapshot stays.
    item = cfg.catalog.service_items[0]
    cheaper = item.model_copy(update={"price": {**item.price, "T1": Decimal("1.00")}})
    changed = cfg.model_copy(
        update={
            "catalog": cfg.catalog.model_copy(
                update={"service_items": [cheaper, *cfg.catalog.service_items[1:]]}
            )
        }
    )
    CatalogRepository().ensure(changed)

    stored = CatalogRepository().get("acme-home", cfg.catalog.version)
    assert stored is not None
    assert stored.catalog.service_items[0].price["T1"] == Decimal("200.00")
    assert {r.code: r.coefficient for r in stored.regions}["CN-BJ"] == Decimal("1.20")
    assert CatalogRepository().get("acme-home", "no-such-version") is None
