"""Price-list snapshots: a ticket is settled with the catalog version it was created under.

The tenant file holds only the current catalog; when a ticket is created the catalog and the
region coefficients of that version are stored once, immutably, so a later deploy with new
prices cannot reprice open tickets.

| pattern | key |
|---|---|
| the snapshot of one catalog version | pk=``TENANT#t#CATALOG#<version>``, sk=``CATALOG`` |
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import BaseModel
from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError

from shared.observability import logger
from shared.repositories.base import TableItem, bind, tenant_key
from shared.tenant.models import Catalog, Region, TenantConfig

SNAPSHOT_SK = "CATALOG"


class PricingSnapshot(BaseModel):
    """Everything pricing needs that a deploy may change."""

    tenant: str
    version: str
    currency: str
    timezone: str
    catalog: Catalog
    regions: list[Region]

    @classmethod
    def of(cls, cfg: TenantConfig) -> PricingSnapshot:
        return cls(
            tenant=cfg.tenant.id,
            version=cfg.catalog.version,
            currency=cfg.tenant.currency,
            timezone=cfg.tenant.timezone,
            catalog=cfg.catalog,
            regions=list(cfg.regions),
        )

    def digest(self) -> str:
        body = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()


class CatalogItem(TableItem):
    version = UnicodeAttribute()
    digest = UnicodeAttribute()
    body = JSONAttribute()


class CatalogRepository:
    def __init__(self) -> None:
        bind(CatalogItem)
        self._known: set[tuple[str, str]] = set()

    def ensure(self, cfg: TenantConfig) -> None:
        """Store the current catalog version once (cheap after the first call per process)."""
        key = (cfg.tenant.id, cfg.catalog.version)
        if key in self._known:
            return
        snapshot = PricingSnapshot.of(cfg)
        item = CatalogItem(
            tenant_key(cfg.tenant.id, "CATALOG", cfg.catalog.version),
            SNAPSHOT_SK,
            version=snapshot.version,
            digest=snapshot.digest(),
            body=snapshot.model_dump(mode="json", by_alias=True),
        )
        try:
            item.save(condition=CatalogItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            stored = self.get(cfg.tenant.id, cfg.catalog.version)
            if stored is not None and stored.digest() != snapshot.digest():
                logger.warning(
                    "catalog changed without a new version; open tickets keep the stored prices",
                    extra={"tenant": cfg.tenant.id, "catalog_version": cfg.catalog.version},
                )
        self._known.add(key)

    def get(self, tenant: str, version: str) -> PricingSnapshot | None:
        try:
            item = CatalogItem.get(tenant_key(tenant, "CATALOG", version), SNAPSHOT_SK, consistent_read=True)
        except DoesNotExist:
            return None
        body: dict[str, Any] = item.body or {}
        return PricingSnapshot.model_validate(body)
