"""The ticket service's use cases, one module each (this module gathers them for the entry points):

| use case | module |
|---|---|
| create a ticket and start its workflow | ``create.py`` |
| park at a human node (workflow task) | ``park.py`` |
| act on the current node, accept an offer | ``act.py`` |
| fill in or correct fields | ``fields.py`` |
| cancel | ``cancel.py`` |
| system nodes ``end`` / ``create_ticket`` (workflow task) | ``step.py`` |
| a stopped execution fails the ticket; retry it | ``recovery.py`` |

Who may do what: ``access.py``. Rules read from the tenant file: ``rules.py``. What leaving a node
undoes: ``leave.py``. The ports they work with: ``deps.py``. Every change goes through
``shared.ticket_updates.update_ticket``.
"""

from __future__ import annotations

from functions.ticket.access import (
    CREATOR_ROLES,
    FIELD_EDITOR_ROLES,
    STAFF_ROLES,
    assignee_for,
    list_scope,
    may_act,
    visible_ticket,
)
from functions.ticket.act import act
from functions.ticket.cancel import cancel
from functions.ticket.create import create_ticket, start_execution
from functions.ticket.deps import Deps
from functions.ticket.fields import update_fields
from functions.ticket.park import park
from functions.ticket.rules import (
    ACCEPT,
    check_filters,
    execution_name,
    handoff_fields,
    new_ticket_id,
    primary_action,
    takes_offers,
)
from functions.ticket.step import step
from shared.domain.ticket import SYSTEM
from shared.workflow.forms import form_context, ticket_type_of

__all__ = [
    "ACCEPT",
    "CREATOR_ROLES",
    "FIELD_EDITOR_ROLES",
    "STAFF_ROLES",
    "SYSTEM",
    "Deps",
    "act",
    "assignee_for",
    "cancel",
    "check_filters",
    "create_ticket",
    "execution_name",
    "form_context",
    "handoff_fields",
    "list_scope",
    "may_act",
    "new_ticket_id",
    "park",
    "primary_action",
    "start_execution",
    "step",
    "takes_offers",
    "ticket_type_of",
    "update_fields",
    "visible_ticket",
]
