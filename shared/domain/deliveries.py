"""What becomes of a recorded delivery: its statuses (stored by ``shared.repositories.deliveries``).

Apart from the repository (pynamodb) so that the ops API can name them in its routes at init.
"""

from __future__ import annotations

from typing import Literal

DeliveryStatus = Literal["queued", "ticket_created", "unmatched", "failed"]
STATUSES: tuple[str, ...] = ("queued", "ticket_created", "unmatched", "failed")
REPLAYABLE: tuple[str, ...] = ("failed", "unmatched", "queued")
"""Statuses a delivery can be replayed from (``ticket_created`` is final: its ticket exists)."""
