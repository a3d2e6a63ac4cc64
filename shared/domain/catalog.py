"""A price-list snapshot: everything pricing needs that a deploy may change (stored shape:
``shared/repositories/catalogs.py``).

A ticket is settled with the catalog version it was created under: the tenant file holds only the
current catalog, so each version's catalog and region coefficients are kept once, immutably.
"""

from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

from shared.tenant.models import Catalog, Region, TenantConfig


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
        """The tenant's current catalog version."""
        return cls(
            tenant=cfg.tenant.id,
            version=cfg.catalog.version,
            currency=cfg.tenant.currency,
            timezone=cfg.tenant.timezone,
            catalog=cfg.catalog,
            regions=list(cfg.regions),
        )

    def digest(self) -> str:
        """A fingerprint of the content: a catalog changed without a new version shows in it."""
        body = json.dumps(self.model_dump(mode="json", by_alias=True), sort_keys=True)
        return hashlib.sha256(body.encode()).hexdigest()
