"""pynamodb plumbing shared by the repositories: the table's binding, its tenant-scoped connection.

Every request for table items is signed with the credentials of the tenant the invocation acts for
(``shared/tenant_scope.py``): :class:`TenantConnection` is the pynamodb connection of every
:class:`TableItem` model (``_get_connection``) and of the repositories' transactions
(:func:`transaction_connection`). There is no other DynamoDB client of the table in the functions.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import PynamoDBException
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from shared.cursors import invalid_cursor
from shared.settings import settings
from shared.tenant_scope import sign_for_tenant

T = TypeVar("T")

_SIGN_HANDLER_ID = "scrm-tenant-scope"


class TenantConnection(Connection):
    """pynamodb's connection whose requests are signed as the current tenant scope says.

    pynamodb builds its botocore client from a session of its own (not boto3's default one), so the
    signing hook is registered on that client, once, as it is created.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signed_client: Any = None

    @property
    def client(self) -> Any:
        client = super().client
        if client is not self._signed_client:  # new (pynamodb replaces a client without credentials)
            client.meta.events.register_first(
                "before-call.dynamodb", sign_for_tenant, unique_id=_SIGN_HANDLER_ID
            )
            self._signed_client = client
        return client


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

    @classmethod
    def _get_connection(cls) -> TableConnection:
        """pynamodb's cached connection of the model, its requests signed for the tenant scope."""
        table = super()._get_connection()
        if not isinstance(table.connection, TenantConnection):
            plain = table.connection
            meta = cls.Meta
            scoped = TenantConnection(
                region=meta.region,
                host=getattr(meta, "host", None),
                connect_timeout_seconds=getattr(meta, "connect_timeout_seconds", None),
                read_timeout_seconds=getattr(meta, "read_timeout_seconds", None),
                max_retry_attempts=getattr(meta, "max_retry_attempts", None),
                max_pool_connections=getattr(meta, "max_pool_connections", None),
                extra_headers=getattr(meta, "extra_headers", None),
            )
            scoped.add_meta_table(plain.get_meta_table(cls.Meta.table_name))
            table.connection = scoped
        return table


_transactions: TenantConnection | None = None
_transactions_lock = threading.Lock()


def transaction_connection() -> TenantConnection:
    """The connection of ``TransactWrite``/``TransactGet`` (signed for the tenant scope, like the models)."""
    global _transactions
    region = settings().region
    with _transactions_lock:
        if _transactions is None or _transactions.region != region:
            _transactions = TenantConnection(region=region)
        return _transactions


def bind(*models: type[Model]) -> None:
    """Point the models at the table named by the environment (done once per cold start)."""
    cfg = settings()
    for model in models:
        if model.Meta.table_name != cfg.table_name or model.Meta.region != cfg.region:
            model.Meta.table_name = cfg.table_name
            model.Meta.region = cfg.region
            model._connection = None


def refused(exc: PynamoDBException) -> None:
    """Re-raise a request DynamoDB refused (``AccessDeniedException``: keys outside the tenant scope).

    For the repositories that read a failed transaction as a conflict: a refusal is a bug to surface,
    never a conflict to retry.
    """
    if exc.cause_response_code == "AccessDeniedException":
        raise exc


def tenant_key(tenant: str, *parts: str) -> str:
    return "#".join(["TENANT", tenant, *parts])


# ----------------------------------------------------------------- write-sharded lists
LIST_POSITION = "before"
"""The one key of a sharded list's cursor: the sort key of the last entry shown."""


def list_position(start_key: dict[str, Any] | None) -> str | None:
    """The sort key a sharded list's page resumes below (None: the first page); ``invalid_cursor``
    for a cursor of another shape."""
    if start_key is None:
        return None
    before = start_key.get(LIST_POSITION)
    if set(start_key) != {LIST_POSITION} or not isinstance(before, str):
        raise invalid_cursor()
    return before


def shard_page_size(limit: int, shards: int) -> int:
    """A shard's first Query of a page: about its share of the page, twice over (pynamodb reads on
    as needed)."""
    return min(limit, max(10, -(-limit // shards) * 2))


def merged_page(
    shards: Iterable[Iterator[T]], sort_key: Callable[[T], str], limit: int
) -> tuple[list[T], dict[str, Any] | None]:
    """The shards' entries (each newest first) merged newest first by their unique sort key: a
    page of ``limit`` and the cursor to continue below its last entry (None at the end)."""
    items = list(islice(heapq.merge(*shards, key=sort_key, reverse=True), limit))
    more = {LIST_POSITION: sort_key(items[-1])} if len(items) == limit else None
    return items, more
