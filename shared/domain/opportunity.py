"""Sales opportunities opened by ticket events (工单商机联动): what they hold and how they move.

An opportunity is opened by a tenant's `opportunity_rules` when a ticket is created or closed
(`functions/ticket/opportunities.py`). Its id is derived from the ticket and the rule
(:func:`opportunity_id`), so an event delivered twice, or a step retried, finds the one it opened
rather than opening another.

Status and stage: ``status`` is what a CRM asks (is it still open? won? lost?); ``stage`` is where it
stands in the pipeline, one more step than the status: ``new`` (open, owned by a role: nobody has it
yet), ``working`` (open, assigned to a user), ``won``, ``lost``. The pipeline report groups by stage.

Pure: no AWS library. Storing is ``shared/repositories/opportunities.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import Conflict, ValidationFailed

Status = Literal["open", "won", "lost"]
Stage = Literal["new", "working", "won", "lost"]
STAGES: tuple[str, ...] = ("new", "working", "won", "lost")
ROLE_PREFIX = "role:"


class OpportunityEvent(BaseModel):
    """One line of an opportunity's history: who did what, when (and why, for a loss)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    at: datetime
    actor: str
    action: str
    """``created``, ``win``, ``lose`` or ``assign``."""
    details: dict[str, Any] = Field(default_factory=dict)


class Opportunity(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    tenant: str
    id: str
    kind: str
    amount: Decimal | None = None
    currency: str
    status: Status = "open"
    owner: str
    """``role:<id>`` (anyone holding the role) or a user id (after ``assign``: always a user)."""
    ticket_id: str
    ticket_type: str
    rule: str
    """The rule of the ticket type that opened it (with ``ticket_id``, what its id is derived from)."""
    customer_id: str | None = None
    lost_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    version: int = 1
    history: tuple[OpportunityEvent, ...] = ()

    @property
    def stage(self) -> Stage:
        if self.status == "won":
            return "won"
        if self.status == "lost":
            return "lost"
        return "new" if self.owner.startswith(ROLE_PREFIX) else "working"


def opportunity_id(tenant: str, ticket_id: str, rule: str) -> str:
    """``OP-`` + 20 hex, the same for the same ticket and rule (a retried event opens none more)."""
    digest = hashlib.sha256("\x1f".join((tenant, ticket_id, rule)).encode("utf-8")).hexdigest()
    return f"OP-{digest[:20]}"


def opened(
    *,
    tenant: str,
    ticket_id: str,
    ticket_type: str,
    rule: str,
    kind: str,
    amount: Decimal | None,
    currency: str,
    owner: str,
    customer_id: str | None,
    at: datetime,
    actor: str = "system",
) -> Opportunity:
    """A new opportunity a rule opened for a ticket (its id derived from both)."""
    return Opportunity(
        tenant=tenant,
        id=opportunity_id(tenant, ticket_id, rule),
        kind=kind,
        amount=amount,
        currency=currency,
        owner=owner,
        ticket_id=ticket_id,
        ticket_type=ticket_type,
        rule=rule,
        customer_id=customer_id,
        created_at=at,
        updated_at=at,
        history=(OpportunityEvent(at=at, actor=actor, action="created", details={"rule": rule}),),
    )


def _open_only(opp: Opportunity, action: str) -> None:
    if opp.status != "open":
        raise Conflict(
            f"opportunity '{opp.id}' is {opp.status} already; only an open opportunity can be "
            f"{ {'win': 'won', 'lose': 'lost', 'assign': 'assigned'}[action] }"
        )


def _moved(
    opp: Opportunity, at: datetime, actor: str, action: str, details: dict[str, Any], **update: Any
) -> Opportunity:
    line = OpportunityEvent(at=at, actor=actor, action=action, details=details)
    return opp.model_copy(
        update={**update, "updated_at": at, "version": opp.version + 1, "history": (*opp.history, line)}
    )


def win(opp: Opportunity, actor: str, at: datetime) -> Opportunity:
    """Won: the sale was made (``Conflict`` unless it is open)."""
    _open_only(opp, "win")
    return _moved(opp, at, actor, "win", {}, status="won")


def lose(opp: Opportunity, actor: str, at: datetime, reason: str | None) -> Opportunity:
    """Lost, with the reason a person gave (``ValidationFailed`` without one: a loss nobody can
    explain teaches the business nothing; ``Conflict`` unless it is open)."""
    if not reason or not reason.strip():
        raise ValidationFailed(
            "a lost opportunity needs a reason",
            [{"field": "reason", "message": 'say why it was lost, e.g. "bought elsewhere"'}],
        )
    _open_only(opp, "lose")
    reason = reason.strip()
    return _moved(opp, at, actor, "lose", {"reason": reason}, status="lost", lost_reason=reason)


def assign(opp: Opportunity, actor: str, at: datetime, user: str, known_users: Iterable[str]) -> Opportunity:
    """Handed to one user of the tenant (``ValidationFailed`` for an unknown user; ``Conflict``
    unless it is open or when it is that user's already)."""
    users = list(known_users)
    if user not in users:
        import difflib

        close = difflib.get_close_matches(user, users, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValidationFailed(
            f"user {user!r} is not a user of the tenant{hint}",
            [{"field": "user", "message": f"unknown user {user!r}{hint}"}],
        )
    _open_only(opp, "assign")
    if opp.owner == user:
        raise Conflict(f"opportunity '{opp.id}' is assigned to {user!r} already")
    return _moved(opp, at, actor, "assign", {"from": opp.owner, "to": user}, owner=user)


def pipeline(opportunities: Iterable[Opportunity]) -> list[dict[str, Any]]:
    """Count and amount per stage and kind, stages in pipeline order, kinds as first seen."""
    rows: dict[tuple[str, str, str], list[Any]] = {}
    for opp in opportunities:
        row = rows.setdefault((opp.stage, opp.kind, opp.currency), [0, Decimal("0")])
        row[0] += 1
        row[1] += opp.amount or Decimal("0")
    ordered = sorted(rows.items(), key=lambda item: STAGES.index(item[0][0]))
    return [
        {"stage": stage, "kind": kind, "currency": currency, "count": count, "amount": amount}
        for (stage, kind, currency), (count, amount) in ordered
    ]
