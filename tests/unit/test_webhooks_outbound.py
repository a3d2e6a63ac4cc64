"""Outbound webhooks: who gets an event, how it is signed (verifiable with ``standardwebhooks``),
and what each answer leads to (delivered, retried with the same webhook-id, dead-lettered);
the tenant file's `subscriptions` checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from functions.webhooks import outbound
from shared.domain.events import DomainEvent, StoredTicketEvent, ticket_event
from shared.domain.ticket import TicketEvent
from shared.ports import TransportError
from shared.tenant.models import TenantConfig
from shared.tenant.models.subscriptions import Subscription
from shared.tenant.validate import validate_tenant_data
from tests.factories import load_example

SECRET = "whsec_z8NTksLPv93xMD7NNaXDmZMoeVMwUhLp"
CRM = "https://crm.bright.example/hooks"
WAREHOUSE = "https://dw.bright.example/in"


def config(*subscriptions: dict[str, Any]) -> TenantConfig:
    data = load_example("bright-clean")
    data["subscriptions"] = list(subscriptions)
    return TenantConfig.model_validate(data)


def sub(id: str, url: str, events: list[str]) -> dict[str, Any]:
    return {
        "id": id,
        "url": url,
        "events": events,
        "secret": {"ssm": f"/scrm/bright-clean/subscriptions/{id}"},
    }


def event(kind: str = "closed") -> DomainEvent:
    line = TicketEvent(
        at=datetime(2026, 11, 23, 1, tzinfo=UTC), actor="system", kind=kind, node="done", version=4
    )
    found = ticket_event(
        StoredTicketEvent("bright-clean", "TK-9", ("TENANT#bright-clean#TICKET#TK-9", "EVT#x"), line)
    )
    assert found is not None
    return found


class Secrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, name: str, *, fresh: bool = False) -> str | None:
        return self.values.get(name)


class Endpoint:
    """Answers the given statuses in turn (an exception instance is raised), then 200."""

    def __init__(self, *answers: int | Exception) -> None:
        self.answers = list(answers)
        self.sent: list[tuple[str, dict[str, str], bytes]] = []

    def post(self, url: str, headers: dict[str, str], body: bytes, timeout: float) -> int:
        self.sent.append((url, headers, body))
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        return answer


ALL_SECRETS = Secrets({f"/scrm/bright-clean/subscriptions/{n}": SECRET for n in ("crm", "dw")})


def attempt(
    cfg: TenantConfig, endpoint: Endpoint, n: int = 1, message: outbound.Outgoing | None = None
) -> Any:
    return outbound.deliver(
        message or outbound.Outgoing(event()),
        cfg,
        ALL_SECRETS,
        endpoint,
        sent_at=datetime.now(UTC),
        attempt=n,
        retry_base_seconds=30,
    )


def test_a_delivered_webhook_verifies_with_the_subscription_secret() -> None:
    endpoint = Endpoint()
    outcome = attempt(config(sub("crm", CRM, ["ticket.closed"])), endpoint)
    assert outcome == outbound.Delivered("crm", 200)
    [(url, headers, body)] = endpoint.sent
    assert url == CRM
    # Then a receiver verifies it with the same secret, and reads the event
    payload = Webhook(SECRET).verify(body, headers)
    assert payload["type"] == "ticket.closed" and payload["id"] == headers["webhook-id"] == event().id
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(body, headers)  # another secret does not verify it
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace(b"TK-9", b"TK-8"), headers)  # nor does a changed body


@pytest.mark.parametrize("answer", [500, 503, 408, 429, TransportError("timed out")])
def test_server_errors_timeouts_and_throttles_are_retried_with_the_same_webhook_id(answer: Any) -> None:
    endpoint = Endpoint(answer)
    cfg = config(sub("crm", CRM, ["*"]))
    first = attempt(cfg, endpoint, 1)
    assert isinstance(first, outbound.Retry) and first.delay_seconds == 30
    second = attempt(cfg, endpoint, 2)
    assert second == outbound.Delivered("crm", 200)
    ids = [headers["webhook-id"] for _url, headers, _body in endpoint.sent]
    assert ids == [event().id, event().id]


def test_retries_double_and_the_last_failure_is_dead_lettered_with_its_reason() -> None:
    cfg = config(sub("crm", CRM, ["*"]))
    delays = [attempt(cfg, Endpoint(502), n) for n in range(1, outbound.MAX_ATTEMPTS)]
    assert [d.delay_seconds for d in delays] == [30, 60, 120, 240, 480, 960, 1920]
    last = attempt(cfg, Endpoint(502), outbound.MAX_ATTEMPTS)
    assert isinstance(last, outbound.DeadLetter)
    assert "answered 502" in last.reason and "gave up after 8 attempts" in last.reason
    assert outbound.retry_delay(30, 30) == outbound.MAX_DELAY_SECONDS


@pytest.mark.parametrize("status", [400, 401, 404, 410, 301])
def test_a_refusal_is_dead_lettered_at_once(status: int) -> None:
    outcome = attempt(config(sub("crm", CRM, ["*"])), Endpoint(status))
    assert isinstance(outcome, outbound.DeadLetter)
    assert f"answered {status}" in outcome.reason and "not retried" in outcome.reason


def test_an_event_two_subscriptions_want_is_split_one_message_each() -> None:
    cfg = config(
        sub("crm", CRM, ["ticket.*"]), sub("dw", WAREHOUSE, ["*"]), sub("other", CRM, ["settlement.posted"])
    )
    endpoint = Endpoint()
    split = attempt(cfg, endpoint)
    assert isinstance(split, outbound.Split) and endpoint.sent == []
    messages = [outbound.read_message(body) for body in split.messages]
    assert [m.subscription for m in messages] == ["crm", "dw"]  # the file's order
    # Each split message goes to its endpoint only
    assert attempt(cfg, endpoint, message=messages[1]) == outbound.Delivered("dw", 200)
    assert [url for url, _h, _b in endpoint.sent] == [WAREHOUSE]


def test_nobody_subscribed_is_skipped_and_a_missing_secret_retried() -> None:
    assert isinstance(attempt(config(sub("crm", CRM, ["settlement.posted"])), Endpoint()), outbound.Skipped)
    outcome = outbound.deliver(
        outbound.Outgoing(event()),
        config(sub("crm", CRM, ["*"])),
        Secrets({}),
        Endpoint(),
        sent_at=datetime.now(UTC),
        attempt=1,
        retry_base_seconds=30,
    )
    assert isinstance(outcome, outbound.Retry) and "secret" in outcome.reason


def test_messages_are_read_from_eventbridge_or_as_split_and_anything_else_is_unreadable() -> None:
    envelope = {
        "version": "0",
        "detail-type": "ticket.closed",
        "source": "scrm.workorders",
        "detail": event().model_dump(mode="json"),
    }
    assert outbound.read_message(json.dumps(envelope)).event == event()
    for bad in ("not json", "[]", json.dumps({"detail": {"id": 1}}), json.dumps({"hello": "x"})):
        with pytest.raises(outbound.Unreadable):
            outbound.read_message(bad)


# ---------------------------------------------------------------- the tenant file
@pytest.mark.parametrize(
    ("patterns", "wanted"),
    [
        (["*"], True),
        (["ticket.*"], True),
        (["ticket.closed"], True),
        (["ticket.moved"], False),
        (["settlement.*"], False),
    ],
)
def test_a_subscription_wants_what_its_events_name(patterns: list[str], wanted: bool) -> None:
    subscription = Subscription.model_validate(sub("crm", CRM, patterns))
    assert subscription.wants("ticket.closed") is wanted


def problems_of(*subscriptions: dict[str, Any]) -> list[tuple[str, str, str]]:
    data = load_example("bright-clean")
    data["subscriptions"] = list(subscriptions)
    _cfg, problems = validate_tenant_data(data, file="bright-clean.yaml")
    return [(p.path, p.message, p.severity) for p in problems]


def test_the_example_subscription_validates() -> None:
    assert problems_of(sub("crm", CRM, ["ticket.*", "settlement.posted"])) == []


def test_an_unknown_event_name_is_an_error_with_did_you_mean() -> None:
    [(path, message, severity)] = problems_of(sub("crm", CRM, ["ticket.closd"]))
    assert path == "subscriptions.crm.events" and severity == "error"
    assert "unknown event 'ticket.closd' (did you mean 'ticket.closed'?)" in message


def test_plain_http_credentials_and_foreign_secrets_are_refused() -> None:
    found = problems_of(
        sub("a", "http://crm.example.com/hook", ["*"]),
        sub("b", "https://user:pw@crm.example.com/hook", ["*"]),
        {**sub("c", CRM, ["*"]), "secret": {"ssm": "/other/place"}},
        {**sub("d", CRM, ["*"]), "secret": {"ssm": "/scrm/acme-home/x"}},
        sub("d", CRM, ["*"]),
    )
    by_path = {path: (message, severity) for path, message, severity in found}
    assert "write https://" in by_path["subscriptions.a.url"][0]
    assert "credentials" in by_path["subscriptions.b.url"][0]
    assert "outside /scrm/" in by_path["subscriptions.c.secret.ssm"][0]
    assert by_path["subscriptions.d.secret.ssm"][1] == "warning"
    assert "used more than once" in by_path["subscriptions.d.id"][0]


def test_http_to_localhost_is_allowed_for_the_twin() -> None:
    assert problems_of(sub("local", "http://127.0.0.1:9000/hook", ["*"])) == []


# ---------------------------------------------------------------- the entry point
class FakeQueue:
    def __init__(self) -> None:
        self.delayed: list[tuple[str, int]] = []
        self.dead: list[tuple[str, str]] = []
        self.sent: list[str] = []

    def delay(self, receipt_handle: str, seconds: int) -> None:
        self.delayed.append((receipt_handle, seconds))

    def dead_letter(self, body: str, reason: str) -> None:
        self.dead.append((body, reason))

    def send(self, bodies: Any) -> None:
        self.sent.extend(bodies)


def sqs_record(body: str, n: int, receives: int = 1) -> dict[str, Any]:
    return {
        "messageId": f"m{n}",
        "receiptHandle": f"h{n}",
        "body": body,
        "attributes": {"ApproximateReceiveCount": str(receives)},
        "messageAttributes": {},
        "eventSource": "aws:sqs",
    }


def test_the_handler_delays_retries_dead_letters_refusals_and_never_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.webhooks import outbound_handler, wiring
    from tests.unit.test_domain_events import lambda_context

    # Given a CRM that answers 503 then 410, and one unreadable message
    queue, endpoint = FakeQueue(), Endpoint(503, 410)
    cfg = config(sub("crm", CRM, ["*"]))
    monkeypatch.setattr(outbound_handler, "_queue", lambda: queue)
    monkeypatch.setattr(outbound_handler, "tenant_config", lambda _tenant: cfg)
    monkeypatch.setattr(wiring, "channel_secrets", lambda: ALL_SECRETS)
    wiring.use_transport(endpoint)
    try:
        envelope = json.dumps({"detail-type": "ticket.closed", "detail": event().model_dump(mode="json")})
        batch = {
            "Records": [sqs_record(envelope, 1, receives=3), sqs_record(envelope, 2), sqs_record("{}", 3)]
        }
        # When the batch is handled
        answer = outbound_handler.send(batch, lambda_context("scrm-webhooks-outbound"))
    finally:
        wiring.use_transport(None)
    # Then the 503 comes back after its backoff (third attempt: 30 * 4 s), the 410 and the
    # unreadable message are dead-lettered with their reasons, and only the retry is reported
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m1"}]}
    assert queue.delayed == [("h1", 120)]
    reasons = [reason for _body, reason in queue.dead]
    assert "answered 410" in reasons[0] and "not a domain event" in reasons[1]
    assert json.loads(queue.dead[0][0])["subscription"] == "crm"  # a redrive goes to that endpoint only

    # And a batch whose only record is to retry is answered, not raised (no function error)
    queue.delayed.clear()
    wiring.use_transport(Endpoint(500))
    try:
        answer = outbound_handler.send(
            {"Records": [sqs_record(envelope, 4)]}, lambda_context("scrm-webhooks-outbound")
        )
    finally:
        wiring.use_transport(None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m4"}]} and queue.delayed == [("h4", 30)]


def test_the_secrets_file_needs_a_standard_webhooks_secret_per_subscription() -> None:
    from shared.tenant.validate import validate_secrets

    cfg = config(sub("crm", CRM, ["*"]))
    channels = {ref: SECRET for ref in cfg.secret_refs() if "subscriptions" not in ref}
    missing = validate_secrets(channels, file="s.yaml", config=cfg, tenant_file="t.yaml")
    assert [(p.path, p.severity) for p in missing] == [("/scrm/bright-clean/subscriptions/crm", "warning")]
    assert "subscriptions.crm" in missing[0].message
    wrong = validate_secrets(
        {**channels, "/scrm/bright-clean/subscriptions/crm": "plain-text"},
        file="s.yaml",
        config=cfg,
        tenant_file="t",
    )
    assert ["'whsec_' followed by base64" in p.message for p in wrong] == [True]
    right = {**channels, "/scrm/bright-clean/subscriptions/crm": SECRET}
    assert validate_secrets(right, file="s.yaml", config=cfg, tenant_file="t") == []


def test_the_aws_transport_calls_public_https_urls_only() -> None:
    from shared.adapters.webhooks_out import UrllibTransport

    for url in (
        "http://crm.example.com/h",
        "https://127.0.0.1/h",
        "https://10.0.0.8/h",
        "https://localhost/h",
    ):
        with pytest.raises(ValueError):
            UrllibTransport().post(url, {}, b"{}", 0.1)
    # a refused URL is a dead letter at once, never retried
    outcome = outbound.deliver(
        outbound.Outgoing(event()),
        config(sub("local", "http://127.0.0.1:9000/hook", ["*"])),
        Secrets({"/scrm/bright-clean/subscriptions/local": SECRET}),
        UrllibTransport(),
        sent_at=datetime.now(UTC),
        attempt=1,
        retry_base_seconds=30,
    )
    assert isinstance(outcome, outbound.DeadLetter) and "https URLs only" in outcome.reason
