"""Sent-markers of SLA reminders: each (ticket, node, visit, level, recipient, channel) is sent once.

Access patterns (PutItem/DeleteItem only):

| pattern | key |
|---|---|
| claim a send before sending | put pk=``TENANT#t#REMINDER#<ticket id>``, |
|  | sk=``SENT#<node>#<visit>#<level>#<recipient>#<channel>``, conditioned on ``attribute_not_exists(pk)`` |
| give a claim back (the send failed, so a retry may send) | DeleteItem on the same key |

A retried or duplicated schedule finds the marker and sends nothing. Markers expire 90 days
after they were written (TTL attribute ``expires_at``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pynamodb.attributes import UnicodeAttribute, UTCDateTimeAttribute
from pynamodb.exceptions import PutError

from shared.repositories.base import TableItem, bind, tenant_key

RETENTION = timedelta(days=90)


class ReminderSentItem(TableItem):
    sent_at = UTCDateTimeAttribute()
    to = UnicodeAttribute()


def marker_key(
    tenant: str, ticket_id: str, node: str, visit: int, level: str, recipient: str, channel: str
) -> tuple[str, str]:
    return tenant_key(tenant, "REMINDER", ticket_id), f"SENT#{node}#{visit}#{level}#{recipient}#{channel}"


class ReminderMarkers:
    """Conditional-put markers that make sending a reminder at-most-once per recipient and channel."""

    def __init__(self) -> None:
        bind(ReminderSentItem)

    def claim(self, key: tuple[str, str], to: str, at: datetime) -> bool:
        """True if this caller may send (the marker is new); False if it was sent (or is being sent)."""
        item = ReminderSentItem(
            key[0], key[1], sent_at=at, to=to, expires_at=int((at + RETENTION).timestamp())
        )
        try:
            item.save(condition=ReminderSentItem.pk.does_not_exist())
        except PutError as exc:
            if exc.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def release(self, key: tuple[str, str]) -> None:
        """The send failed after the claim: remove the marker so a retry can send."""
        ReminderSentItem(key[0], key[1]).delete()
