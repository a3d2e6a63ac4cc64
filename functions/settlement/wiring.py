"""The settlement functions' dependencies, built once per process on first use.

Shared by the settlement service's entry points, which Lambda runs as separate functions:
``handler.py`` (earnings and revenue routes) and ``tasks.py`` (the settlement node's task). The
repositories (pynamodb) are imported when the dependencies are first built, not at a cold start.
"""

from __future__ import annotations

from functions.settlement.deps import Deps

_deps: Deps | None = None


def deps() -> Deps:
    global _deps
    if _deps is None:
        from shared.repositories.catalogs import CatalogRepository
        from shared.repositories.ledger import LedgerRepository
        from shared.repositories.tickets import TicketRepository

        _deps = Deps(tickets=TicketRepository(), ledger=LedgerRepository(), catalogs=CatalogRepository())
    return _deps
