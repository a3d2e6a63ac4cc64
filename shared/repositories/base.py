"""pynamodb plumbing shared by the repositories: the table's binding and error mapping."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared.settings import settings


class Gsi1(GlobalSecondaryIndex["TableItem"]):
    class Meta:
        index_name = "gsi1"
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex["TableItem"]):
    class Meta:
        index_name = "gsi2"
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class TableItem(Model):
    """Base of every stored item: one table, keys always start with ``TENANT#<id>#``."""

    class Meta:
        table_name = "scrm"
        region = "us-east-1"

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    expires_at = NumberAttribute(null=True)


def bind(*models: type[Model]) -> None:
    """Point the models at the table named by the environment (done once per cold start)."""
    cfg = settings()
    for model in models:
        if model.Meta.table_name != cfg.table_name or model.Meta.region != cfg.region:
            model.Meta.table_name = cfg.table_name
            model.Meta.region = cfg.region
            model._connection = None


def tenant_key(tenant: str, *parts: str) -> str:
    return "#".join(["TENANT", tenant, *parts])
