"""`ticket_types.*.follow_ups`: linked tickets opened a while after an event of a ticket (回访).

```yaml
ticket_types:
  install:
    follow_ups:                     # in file order
      - id: callback                # names the follow-up on the ticket and in its schedule
        event: closed               # closed | entered:<human node of this type>
        after: 3bd                  # "2h", "1d" ... or business days "3bd"; business time on `calendar`
        calendar: default           # optional: without it `after` is wall-clock time ("bd" needs one)
        ticket_type: callback       # the ticket opened, linked to this one (parent) and its customer
        fields:                     # optional: JMESPath into the source ticket (`fields`, `id`, `type` ...)
          customer_name: fields.customer_name
```

Without `fields`, the new ticket takes the source's fields of the same name and type (as a
`create_ticket` hand-off does). Cancelling the source ticket while a follow-up is pending
cancels the follow-up.
"""

from __future__ import annotations

from pydantic import field_validator

from shared.tenant.models.base import _Model
from shared.tenant.models.formats import Ident, TypeName
from shared.tenant.models.times import Budget

CLOSED = "closed"
ENTERED = "entered:"


class FollowUp(_Model):
    id: Ident
    event: str
    after: Budget
    calendar: Ident | None = None
    ticket_type: TypeName
    fields: dict[str, str] = {}

    @field_validator("event")
    @classmethod
    def _event(cls, value: str) -> str:
        if value == CLOSED or (value.startswith(ENTERED) and len(value) > len(ENTERED)):
            return value
        raise ValueError(
            f"{value!r} is not an event; write `closed` or `entered:<node>` (e.g. entered:on_site)"
        )

    @property
    def entered_node(self) -> str | None:
        """The node whose entry starts this follow-up (None for `closed`)."""
        return self.event.removeprefix(ENTERED) if self.event.startswith(ENTERED) else None
