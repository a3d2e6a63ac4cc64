"""`ticket_types.*.opportunity_rules`: sales opportunities opened by ticket events (工单商机联动).

```yaml
ticket_types:
  repair:
    opportunity_rules:              # on this type's events, in file order; every rule that holds opens one
      - id: extended-warranty       # one opportunity per ticket and rule, however often retried
        event: closed               # closed | created
        when: {path: ticket.fields.warranty, equals: expired}   # shared.rules.conditions, like priority_rules
        kind: extended_warranty     # the opportunity's kind (reports group by it)
        amount: "399.00"            # optional: money in the tenant's currency
        owner: {role: sales}        # who works it: exactly one of a role or a user
```

The rules live on the ticket type whose events they watch, so a rule cannot name a type that does
not exist; `when` sees the same facts as a `decision` node (`functions/ticket/facts.py`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from shared.rules.conditions import Condition
from shared.tenant.models.amounts import Money
from shared.tenant.models.base import _Model
from shared.tenant.models.formats import Ident


class OpportunityOwner(_Model):
    """Who works the opportunity: a role (anyone holding it) or one user."""

    role: str | None = None
    user: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> OpportunityOwner:
        if (self.role is None) == (self.user is None):
            raise ValueError("give exactly one of role or user, e.g. {role: sales} or {user: u-zhao}")
        return self

    @property
    def ref(self) -> str:
        """As stored and filtered on (``GET /opportunities?owner=``): ``role:<id>`` or the user id."""
        return f"role:{self.role}" if self.role is not None else str(self.user)


class OpportunityRule(_Model):
    id: Ident
    event: Literal["closed", "created"]
    when: Condition | None = None
    """None: the rule holds on every such event."""
    kind: Ident
    amount: Money | None = None
    owner: OpportunityOwner
