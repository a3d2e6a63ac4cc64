"""In-memory stand-ins for the ports, for unit tests of the pure logic."""

from __future__ import annotations

import json
import threading
from typing import Any

from shared.domain.ticket import Ticket, TicketEvent
from shared.errors import Conflict, NotFound
from shared.ports import TaskTokenGone


class FakeTickets:
    """Keeps the repository's contract: create-if-absent and save-if-version, atomically."""

    def __init__(self) -> None:
        self.tickets: dict[tuple[str, str], Ticket] = {}
        self.events: dict[tuple[str, str], list[TicketEvent]] = {}
        self._lock = threading.Lock()

    def create(self, ticket: Ticket, event: TicketEvent) -> None:
        with self._lock:
            key = (ticket.tenant, ticket.id)
            if key in self.tickets:
                raise Conflict(f"ticket {ticket.id} already exists")
            self.tickets[key] = ticket
            self.events[key] = [event]

    def get(self, tenant: str, ticket_id: str) -> Ticket:
        try:
            return self.tickets[(tenant, ticket_id)]
        except KeyError:
            raise NotFound(f"ticket '{ticket_id}' does not exist") from None

    def find(self, tenant: str, ticket_id: str) -> Ticket | None:
        return self.tickets.get((tenant, ticket_id))

    def save(
        self,
        ticket: Ticket,
        *,
        expected_version: int,
        event: TicketEvent | None = None,
        condition: Any = None,
        conflict_message: str = "conflict",
    ) -> None:
        with self._lock:
            key = (ticket.tenant, ticket.id)
            if self.tickets[key].version != expected_version:
                raise Conflict(conflict_message)
            self.tickets[key] = ticket
            if event is not None:
                self.events[key].append(event)

    def history(self, tenant: str, ticket_id: str) -> list[TicketEvent]:
        return list(self.events[(tenant, ticket_id)])

    def discard(self, ticket: Ticket) -> None:
        with self._lock:
            key = (ticket.tenant, ticket.id)
            if self.tickets[key].version != 1:
                raise Conflict(f"ticket {ticket.id} changed meanwhile; it was kept")
            del self.tickets[key]
            del self.events[key]


class FakeEngine:
    def __init__(self) -> None:
        self.started: list[tuple[str, str, str]] = []
        self.resumed: list[tuple[str, dict[str, Any]]] = []
        self.failed: list[tuple[str, str, dict[str, Any]]] = []  # token, error, cause
        self.gone_tokens: set[str] = set()

    def start(
        self, tenant: str, ticket_type: str, ticket_id: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        self.started.append((tenant, ticket_type, ticket_id))
        machine = f"arn:aws:states:us-east-1:1:stateMachine:scrm-{tenant}-{ticket_type}"
        return machine.replace("stateMachine", "execution") + f":{ticket_id}", f"{machine}:1"

    def planned(self, tenant: str, ticket_type: str, execution_name: str) -> tuple[str, str]:
        machine = f"arn:aws:states:us-east-1:1:stateMachine:scrm-{tenant}-{ticket_type}"
        return machine.replace("stateMachine", "execution") + f":{execution_name}", f"{machine}:1"

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        if token in self.gone_tokens:
            raise TaskTokenGone("Task Timed Out")
        self.resumed.append((token, output))

    def send_failure(self, token: str, error: str, cause: str) -> None:
        if token in self.gone_tokens:
            raise TaskTokenGone("Task Timed Out")
        self.failed.append((token, error, json.loads(cause)))

    def stop(self, execution_arn: str, cause: str) -> None:
        pass


class FakeMarkers:
    """Sent-markers: a claim succeeds once per key until released."""

    def __init__(self) -> None:
        self.claimed: set[tuple[str, str]] = set()

    def claim(self, key: tuple[str, str], to: str, at: Any) -> bool:
        if key in self.claimed:
            return False
        self.claimed.add(key)
        return True

    def release(self, key: tuple[str, str]) -> None:
        self.claimed.discard(key)


class FakeSender:
    """SMS, email and WeCom messages as sent: ``(channel, to, text)``, an email's text being subject +
    body, a WeCom message's ``to`` the member's UserId."""

    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, str]] = []
        self.fail = fail

    def sms(self, phone: str, text: str) -> None:
        if self.fail:
            raise RuntimeError("SNS is down")
        self.sent.append(("sms", phone, text))

    def email(self, address: str, subject: str, body: str) -> None:
        if self.fail:
            raise RuntimeError("SES is down")
        self.sent.append(("email", address, subject + "\n" + body))

    def wecom(self, app: Any, user: str, text: str) -> None:
        if self.fail:
            raise RuntimeError("WeCom is down")
        self.sent.append(("wecom", user, text))
