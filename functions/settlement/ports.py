"""What the settlement service works on: the ticket store, the ledger and the catalog snapshots.

Apart from ``service.py`` so that the earnings and revenue routes (``handler.py``, ``wiring.py``)
build their dependencies without importing the settlement task's pricing code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from shared.domain.ticket import Ticket, TicketEvent
    from shared.repositories.catalogs import PricingSnapshot
    from shared.repositories.ledger import LedgerEntry, RevenueChange, RevenueGroup, SettlementRecord


class TicketStore(Protocol):
    def get(self, tenant: str, ticket_id: str) -> Ticket: ...
    def save(self, ticket: Ticket, *, expected_version: int, event: TicketEvent | None = ...) -> None: ...
    def history(self, tenant: str, ticket_id: str) -> list[TicketEvent]: ...


class LedgerStore(Protocol):
    def settlements(self, tenant: str, ticket_id: str) -> list[SettlementRecord]: ...
    def record(
        self, record: SettlementRecord, entries: list[LedgerEntry], changes: list[RevenueChange]
    ) -> None: ...
    def earnings(self, tenant: str, technician: str, period: str) -> list[LedgerEntry]: ...
    def revenue(self, tenant: str, period: str, group_by: str) -> list[RevenueGroup]: ...


class CatalogStore(Protocol):
    def get(self, tenant: str, version: str) -> PricingSnapshot | None: ...


@dataclass
class Deps:
    tickets: TicketStore
    ledger: LedgerStore
    catalogs: CatalogStore | None = None
