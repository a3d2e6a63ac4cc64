"""What the use cases need from the outside world: one protocol per store or service, shared by
every function. Implementations live in ``shared/repositories`` (DynamoDB) and ``shared/adapters``
(other AWS services); each function's ``wiring.py`` plugs them in; tests pass fakes (tests/fakes.py).

Only ``typing`` here: importing a port costs nothing at cold start.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime
    from decimal import Decimal

    from shared.domain.catalog import PricingSnapshot
    from shared.domain.customer import Customer, TimelineEntry
    from shared.domain.events import DomainEvent, StoredTicketEvent
    from shared.domain.ledger import LedgerEntry, RevenueChange, RevenueFold, RevenueGroup, SettlementRecord
    from shared.domain.opportunity import Opportunity
    from shared.domain.ticket import Ticket, TicketEvent
    from shared.tenant.models import TenantConfig, WeComApp

# --- Tickets ---


class TicketStore(Protocol):
    """Tickets and their history (``shared.repositories.tickets.TicketRepository``). Change a ticket
    through ``shared.ticket_updates.update_ticket``, not by calling ``save`` directly."""

    def create(self, ticket: Ticket, event: TicketEvent) -> None:
        """Store a new ticket; ``Conflict`` when one with its id exists."""
        ...

    def get(self, tenant: str, ticket_id: str) -> Ticket:
        """The ticket; ``NotFound`` when there is none."""
        ...

    def find(self, tenant: str, ticket_id: str) -> Ticket | None: ...

    def save(self, ticket: Ticket, *, expected_version: int, event: TicketEvent | None = ...) -> None:
        """Save at ``expected_version`` (``Conflict`` otherwise), appending ``event`` to the history."""
        ...

    def history(self, tenant: str, ticket_id: str) -> list[TicketEvent]:
        """The ticket's events, oldest first."""
        ...

    def discard(self, ticket: Ticket) -> None:
        """Remove a ticket whose creation is undone (its workflow could not start)."""
        ...


class OpenPositions(Protocol):
    """Where the open tickets are (``TicketRepository.open_positions``), for the gauges."""

    def open_positions(self, tenant: str) -> Iterable[tuple[str, str]]: ...


# --- Customers ---


class CustomerStore(Protocol):
    """Customers, their identity keys and timelines (``shared.repositories.customers``)."""

    def get(self, tenant: str, customer_id: str) -> Customer:
        """``NotFound`` when there is none."""
        ...

    def find(self, tenant: str, customer_id: str) -> Customer | None: ...

    def owners(self, tenant: str, keys: Sequence[str]) -> dict[str, str]:
        """Identity key → the customer id it names (unclaimed keys left out)."""
        ...

    def create(self, customer: Customer) -> bool:
        """False (nothing written) when one of its keys names a customer already."""
        ...

    def claim(self, tenant: str, customer_id: str, keys: Iterable[str]) -> list[str]:
        """Point unclaimed keys at the customer; the keys another customer holds."""
        ...

    def save(self, customer: Customer, *, expected_version: int, before: Customer | None = ...) -> Customer:
        """Identities, name, tier, tags (not the counters); ``Conflict`` on another version."""
        ...

    def record(
        self,
        tenant: str,
        customer_id: str,
        entry: TimelineEntry,
        *,
        tickets: int = ...,
        orders: int = ...,
        value: Decimal = ...,
    ) -> bool:
        """A timeline entry with the counters it adds, once: False when it is there already."""
        ...

    def merge(self, keeper: Customer, loser: Customer, combined: Customer, at: datetime) -> None:
        """Merge ``loser`` into ``keeper`` (idempotent)."""
        ...

    def timeline(
        self, tenant: str, customer_id: str, *, limit: int = ..., start_key: dict[str, Any] | None = ...
    ) -> tuple[list[TimelineEntry], dict[str, Any] | None]: ...

    def search(self, tenant: str, prefix: str, limit: int = ...) -> list[str]: ...


# --- Opportunities ---


class OpportunityStore(Protocol):
    """Sales opportunities, each write with its domain event (``shared.repositories.opportunities``)."""

    def get(self, tenant: str, opportunity_id: str) -> Opportunity:
        """``NotFound`` when there is none."""
        ...

    def create(self, opp: Opportunity, event: DomainEvent) -> bool:
        """False (nothing written) when it exists already."""
        ...

    def save(
        self, opp: Opportunity, *, expected_version: int, event: DomainEvent | None = ...
    ) -> Opportunity:
        """``Conflict`` when it is no longer at ``expected_version``."""
        ...

    def page(
        self,
        tenant: str,
        *,
        status: str | None = ...,
        owner: str | None = ...,
        limit: int = ...,
        start_key: dict[str, Any] | None = ...,
    ) -> tuple[list[Opportunity], dict[str, Any] | None]: ...

    def every(self, tenant: str) -> Iterable[Opportunity]:
        """All the tenant's opportunities (the pipeline report)."""
        ...


# --- Settlement: ledger and catalog snapshots ---


class LedgerStore(Protocol):
    """Settlement records, the earnings ledger and the revenue aggregates
    (``shared.repositories.ledger.LedgerRepository``)."""

    def settlements(self, tenant: str, ticket_id: str) -> list[SettlementRecord]:
        """The ticket's settlement records, oldest (sequence 1) first."""
        ...

    def record(
        self, record: SettlementRecord, entries: list[LedgerEntry], changes: list[RevenueChange]
    ) -> None:
        """Write the record (carrying the aggregates' ``changes``) and its ledger lines, all or nothing.

        ``Conflict`` when the record or a ledger line exists already (another settle of the ticket
        wrote first: read again and decide); ``Unavailable`` when DynamoDB never lets it through.
        The revenue aggregates receive the changes later, from the table's stream (``apply_revenue``)."""
        ...

    def revenue_fold(self, image: dict[str, Any]) -> RevenueFold | None:
        """The revenue changes of a stored settlement record (a stream record's ``NewImage``), or
        ``None`` when the item brings none."""
        ...

    def apply_revenue(self, folds: Sequence[RevenueFold]) -> int:
        """Add a batch of one tenant's records' changes to the aggregates, each record exactly once:
        the number of records taken now (the others had been taken before)."""
        ...

    def earnings(self, tenant: str, technician: str, period: str) -> list[LedgerEntry]:
        """A technician's ledger lines of a month (``YYYY-MM``), by completion time."""
        ...

    def staff_earnings(self, tenant: str, user: str, period: str) -> list[LedgerEntry]:
        """A user's share lines of a month (``shared.domain.shares``), by completion time."""
        ...

    def revenue(self, tenant: str, period: str, group_by: str) -> list[RevenueGroup]:
        """The month's revenue aggregates of one grouping, ordered by key (eventually consistent:
        what has been folded from the stream)."""
        ...


class CatalogStore(Protocol):
    """Price-list snapshots by catalog version (``shared.repositories.catalogs.CatalogRepository``):
    the ticket service stores the current one as a ticket is created, settlement prices with it."""

    def ensure(self, cfg: TenantConfig) -> None:
        """Store the tenant's current catalog version once; a stored version is never rewritten."""
        ...

    def get(self, tenant: str, version: str) -> PricingSnapshot | None:
        """The snapshot of ``version``; ``None`` when it was never stored."""
        ...


# --- Workflow ---


class TaskTokenGone(Exception):
    """The parked task token is no longer valid (timed out, execution stopped or gone)."""


class WorkflowEngine(Protocol):
    def start(
        self, tenant: str, ticket_type: str, ticket_id: str, payload: dict[str, Any]
    ) -> tuple[str, str]:
        """Start on the live version, idempotently (the execution is named after the ticket).

        Returns the execution ARN and the state machine version ARN it runs on.
        """
        ...

    def planned(self, tenant: str, ticket_type: str, execution_name: str) -> tuple[str, str]:
        """The execution ARN and version ARN ``start`` will give for this name (no AWS call), so a new
        ticket is stored with them and needs no second write after its start."""
        ...

    def send_success(self, token: str, output: dict[str, Any]) -> None:
        """Resume a parked task; raises ``TaskTokenGone`` when the token no longer works."""
        ...

    def send_failure(self, token: str, error: str, cause: str) -> None:
        """Fail a parked task with ``error`` (a route error its Catch follows); ``TaskTokenGone`` as above."""
        ...

    def stop(self, execution_arn: str, cause: str) -> None: ...


class SlaScheduler(Protocol):
    """SLA clocks of a ticket's nodes (functions/reminders implements it)."""

    def start(self, cfg: Any, ticket: Any, node: str) -> dict[str, Any] | None:
        """The ticket entered ``node``: schedule its reminders; return the SLA state to store on the
        ticket (``None`` when the node has no SLA target). Idempotent for the same ticket visit."""
        ...

    def stop(self, cfg: Any, ticket: Any, node: str) -> None:
        """The ticket left ``node``: remove its pending reminders (stale ones are ignored when fired)."""
        ...


class Workload(Protocol):
    """Technicians' open-ticket load (functions/dispatch implements it)."""

    def release(self, tenant: str, technician_id: str, ticket_id: str) -> None:
        """The ticket left the technician (closed, cancelled): lower the load once, idempotently."""
        ...

    def take(self, technician_id: str, ticket: Any, *, expected_version: int, event: Any) -> None:
        """A person assigned the ticket (manual dispatch): in one transaction raise the technician's
        load (only while active and below capacity) and save the ticket at ``expected_version``.
        Raises ``Conflict`` when either side refuses."""
        ...


class Timers(Protocol):
    """One-time timers by name (``shared.adapters.scheduler.OneTimeScheduler`` implements it)."""

    def delete(self, name: str) -> None:
        """Remove the timer; a timer that is gone (fired, deleted) is not an error."""
        ...


class NoSla:
    """For tenants and ticket types without SLA policies, and for unit tests that ignore SLAs."""

    def start(self, cfg: Any, ticket: Any, node: str) -> dict[str, Any] | None:
        return None

    def stop(self, cfg: Any, ticket: Any, node: str) -> None:
        return None


# --- Notifications (SLA reminders, dispatchers' notices) ---


class Sender(Protocol):
    """SMS, email and WeCom application messages out (``shared.adapters.notifications.AwsSender``:
    SNS, SES v2 and ``shared.adapters.wecom_app.WeComAppSender``). Each raises when not sent."""

    def sms(self, phone: str, text: str) -> None: ...
    def email(self, address: str, subject: str, body: str) -> None: ...
    def wecom(self, app: WeComApp, user: str, text: str) -> None:
        """A text application message of the tenant's WeCom ``app`` to the member ``user`` (UserId)."""
        ...


class Markers(Protocol):
    """Sent-markers, so a notice retried by its scheduler goes out once
    (``shared.repositories.reminders.ReminderMarkers``)."""

    def claim(self, key: tuple[str, str], to: str, at: datetime) -> bool: ...
    def release(self, key: tuple[str, str]) -> None: ...


# --- Technicians and dispatch ---

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from shared.domain.technician import Assignment, TechnicianRecord
    from shared.tenant.models import Technician


class TechnicianStore(Workload, Protocol):
    """The technician registry (``shared.repositories.technicians.TechnicianRepository``): records
    and their exact open-ticket load. Its rules are ``shared.domain.technician``'s."""

    def ensure_seeded(self, tenant: str, technicians: Sequence[Technician]) -> None:
        """Copy the tenant file's technicians in (``seeding``), once per roster, never over a record."""
        ...

    def roster(self, tenant: str, region: str | None = None) -> Sequence[TechnicianRecord]:
        """The technicians covering ``region``, or every technician of the tenant; by id."""
        ...

    def get(self, tenant: str, technician_id: str) -> TechnicianRecord:
        """The technician; ``NotFound`` when there is none."""
        ...

    def update(
        self, tenant: str, technician_id: str, changes: dict[str, Any], *, actor: str
    ) -> TechnicianRecord:
        """Set some of status, skills, regions, capacity, location; ``NotFound`` when there is none."""
        ...

    def assign(
        self, assignment: Assignment, ticket: Ticket, *, expected_version: int, event: TicketEvent | None
    ) -> None:
        """In one transaction apply ``assignment`` (only while the technician has room) and save the
        ticket at ``expected_version``: ``TechnicianBusy`` when the technician's side refuses,
        ``Conflict`` when the ticket changed. Fits ``update_ticket``'s ``save``."""
        ...


class OfferTimer(Protocol):
    """One-time schedules that call a function back (``shared.adapters.scheduler.OneTimeScheduler``)."""

    def at(self, name: str, when: datetime, target_arn: str, payload: dict[str, Any]) -> None:
        """Invoke ``target_arn`` with ``payload`` once at ``when``; the same ``name`` again: no change."""
        ...


# --- Deliveries (webhooks intake and ops) ---

if TYPE_CHECKING:
    from datetime import datetime

    from shared.domain.deliveries import DeadLetter, DeliveryStatus, StoredDelivery


class DeliveryLike(Protocol):
    """What channel rules read of a delivery: the verified ``Delivery`` or a ``StoredDelivery``."""

    @property
    def topic(self) -> str | None: ...

    @property
    def payload(self) -> dict[str, Any]: ...


class DeliveryStore(Protocol):
    """Recorded deliveries and web forms (``shared.repositories.deliveries.DeliveryRepository``)."""

    def record(self, delivery: StoredDelivery) -> bool:
        """Store a delivery seen for the first time; False when it was recorded before (a duplicate).
        With a ``body_key`` the record keeps that key instead of the raw body."""
        ...

    def body_key(self, tenant: str, channel: str, delivery_id: str) -> str:
        """The object key under which the ``BodyStore`` keeps a raw body too big for the record."""
        ...

    def discard(self, tenant: str, channel: str, delivery_id: str) -> None:
        """Forget a delivery (nothing when it is not recorded)."""
        ...

    def get(self, tenant: str, channel: str, delivery_id: str) -> StoredDelivery:
        """The delivery; ``NotFound`` when it is not recorded."""
        ...

    def find(self, tenant: str, channel: str, delivery_id: str) -> StoredDelivery | None: ...

    def mark(
        self,
        tenant: str,
        channel: str,
        delivery_id: str,
        status: DeliveryStatus,
        ticket_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        """Set the delivery's outcome (and the ticket it became, or why it did not)."""
        ...

    def requeue(self, tenant: str, channel: str, delivery_id: str, at: datetime) -> StoredDelivery:
        """Back to ``queued`` from a replayable status: ``Conflict`` from another, ``NotFound``."""
        ...

    def page(
        self,
        tenant: str,
        *,
        channel: str | None = None,
        status: str | None = None,
        limit: int = 50,
        start_key: dict[str, Any] | None = None,
    ) -> tuple[list[StoredDelivery], dict[str, Any] | None]:
        """A page of the tenant's deliveries, newest first, and the key to continue from (or None)."""
        ...


class BodyStore(Protocol):
    """The deliveries bucket: raw bodies too big for their record (``shared.adapters.bodies``)."""

    def put(self, key: str, body: bytes) -> None: ...


class IntakeQueue(Protocol):
    """The queue ``scrm-ticket-intake`` consumes (``shared.adapters.queues.SqsIntakeQueue``)."""

    def send(self, message: dict[str, str]) -> None:
        """Queue ``message`` (``shared.domain.deliveries.queue_message``)."""
        ...

    def send_body(self, body: str) -> None:
        """Queue a message body as it is (a redrive moves bodies unchanged)."""
        ...


class DeadLetters(Protocol):
    """The intake queue's dead-letter queue (``shared.adapters.queues.SqsDeadLetters``)."""

    def receive(self, max_messages: int, hide_seconds: int) -> list[DeadLetter]:
        """Up to ``max_messages``, hidden from other receivers for ``hide_seconds``."""
        ...

    def delete(self, handle: str) -> None: ...

    def release(self, handle: str) -> None:
        """Make a received message visible again."""
        ...


class ChannelSecrets(Protocol):
    """Channel secrets by reference (``shared.adapters.secrets.SsmChannelSecrets``); values are
    never logged."""

    def get(self, name: str, *, fresh: bool = False) -> str | None:
        """The value stored under ``name``; None when it is missing, empty or cannot be read.

        ``fresh``: the cached value did not verify a signature (the secret may have been rotated):
        read it again if the store allows it now, else answer from the cache."""
        ...


# ---------------------------------------------------------------- domain events out (issue 17 item 5)
class StreamImages(Protocol):
    """What the table stream's new images are, read by the store that wrote them
    (``shared.repositories.stream_images``): the use case never sees a key layout."""

    def ticket_event(self, image: dict[str, Any]) -> StoredTicketEvent | None:
        """A ticket history line; None for any other item."""
        ...

    def settlement(self, image: dict[str, Any]) -> tuple[tuple[str, str], SettlementRecord] | None:
        """A settlement record and its key; None for any other item."""
        ...

    def outbox_event(self, image: dict[str, Any]) -> DomainEvent | None:
        """An event another service wrote to the outbox (``shared.repositories.outbox``)."""
        ...


class EventBus(Protocol):
    """The platform's event bus (``shared.adapters.events.EventBridgeBus``)."""

    def put(self, events: Sequence[DomainEvent]) -> list[str | None]:
        """Put up to 10 events in one request; per event, None when it was taken, else why not."""
        ...


class TransportError(Exception):
    """The request got no HTTP answer (timeout, refused connection, TLS, DNS): retried."""


class WebhookTransport(Protocol):
    """POSTs an outbound webhook (``shared.adapters.webhooks_out``; the twin's records instead)."""

    def post(self, url: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        """The answer's HTTP status (redirects are not followed); ``TransportError`` when none came."""
        ...


class OutboundQueue(Protocol):
    """The outbound webhooks queue and its dead-letter queue (``shared.adapters.queues``)."""

    def delay(self, receipt_handle: str, seconds: int) -> None:
        """The received message comes back after ``seconds`` (its retry's backoff)."""
        ...

    def dead_letter(self, body: str, reason: str) -> None:
        """Straight to the dead-letter queue, with the reason (a refusal that no retry changes)."""
        ...

    def send(self, bodies: Sequence[str]) -> None:
        """Queue messages (one per subscription, when an event has several)."""
        ...
