"""Price-list snapshots (``shared.domain.catalog.PricingSnapshot``): a ticket is settled with the
catalog version it was created under, so each version is stored once and never rewritten.

| pattern | key |
|---|---|
| the snapshot of one catalog version | pk=``TENANT#t#CATALOG#<version>``, sk=``CATALOG`` |
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError

from shared.domain.catalog import PricingSnapshot
from shared.observability import logger
from shared.repositories.base import TableItem, bind, tenant_key
from shared.tenant.models import TenantConfig

SNAPSHOT_SK = "CATALOG"


class CatalogItem(TableItem):
    version = UnicodeAttribute()
    digest = UnicodeAttribute()
    body = JSONAttribute()


def _pk(tenant: str, version: str) -> str:
    return tenant_key(tenant, "CATALOG", version)


class CatalogRepository:
    """The ``shared.ports.CatalogStore`` on the table."""

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
            _pk(snapshot.tenant, snapshot.version),
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
            stored = self.get(snapshot.tenant, snapshot.version)
            if stored is not None and stored.digest() != snapshot.digest():
                logger.warning(
                    "catalog changed without a new version; open tickets keep the stored prices",
                    extra={"tenant": snapshot.tenant, "catalog_version": snapshot.version},
                )
        self._known.add(key)

    def get(self, tenant: str, version: str) -> PricingSnapshot | None:
        """The stored snapshot of ``version``; ``None`` when it was never stored."""
        try:
            item = CatalogItem.get(_pk(tenant, version), SNAPSHOT_SK, consistent_read=True)
        except DoesNotExist:
            return None
        body: dict[str, Any] = item.body or {}
        return PricingSnapshot.model_validate(body)
