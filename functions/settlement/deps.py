"""What the settlement use cases work with: ports only (``wiring.py`` plugs in the repositories;
tests pass fakes).

Apart from ``service.py`` so that the earnings and revenue routes (``handler.py``, ``wiring.py``)
build their dependencies without importing the settlement task's pricing code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from shared.ports import CatalogStore, LedgerStore, TicketStore


@dataclass
class Deps:
    tickets: TicketStore
    ledger: LedgerStore
    catalogs: CatalogStore | None = None
    """Stored catalog versions; without it a ticket is priced only with the tenant's current catalog."""
