"""The webhooks functions' dependencies, each built once per process on its first use.

Shared by the service's entry points, which Lambda runs as separate functions: ``handler.py``
(``scrm-webhooks-api``: deliveries and forms in) and ``ops_handler.py`` (``scrm-webhooks-ops``:
list, show, replay, redrive). Each dependency is built when a route first needs it, so a function
builds only what it uses (the API never the dead-letter queue, ops never the bucket or the
secrets) and the AWS adapters are imported then, not at a handler's cold start. Nothing here
holds request data.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from shared.settings import settings

if TYPE_CHECKING:
    from shared.ports import (
        BodyStore,
        ChannelSecrets,
        DeadLetters,
        DeliveryStore,
        IntakeQueue,
        WebhookTransport,
    )


@cache
def deliveries() -> DeliveryStore:
    from shared.repositories.deliveries import DeliveryRepository

    return DeliveryRepository()


@cache
def intake_queue() -> IntakeQueue:
    """The intake queue (env ``INTAKE_QUEUE_URL``)."""
    from shared.adapters.queues import SqsIntakeQueue

    return SqsIntakeQueue(settings().intake_queue_url)


@cache
def dead_letters() -> DeadLetters:
    """The intake queue's dead-letter queue (env ``INTAKE_DLQ_URL``)."""
    from shared.adapters.queues import SqsDeadLetters

    return SqsDeadLetters(settings().intake_dlq_url)


@cache
def bodies() -> BodyStore | None:
    """The deliveries bucket (env ``DELIVERY_BODIES_BUCKET``), or None when it is not set."""
    bucket = settings().delivery_bodies_bucket
    if not bucket:
        return None
    from shared.adapters.bodies import S3BodyStore

    return S3BodyStore(bucket)


@cache
def channel_secrets() -> ChannelSecrets:
    """Channel secrets from SSM Parameter Store."""
    from shared.adapters.secrets import SsmChannelSecrets

    return SsmChannelSecrets()


_transport: WebhookTransport | None = None


def outbound_transport() -> WebhookTransport:
    """How outbound webhooks are POSTed: ``urllib`` (https only), unless another transport was put
    in with :func:`use_transport` (the local twin's, which records them: ``infra/twin/outbox.py``)."""
    global _transport
    if _transport is None:
        from shared.adapters.webhooks_out import UrllibTransport

        _transport = UrllibTransport()
    return _transport


def use_transport(transport: WebhookTransport | None) -> None:
    """Put in the transport outbound webhooks use (``None``: back to the default)."""
    global _transport
    _transport = transport
