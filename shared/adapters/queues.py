"""The intake queue and its dead-letter queue on SQS (``shared.ports.IntakeQueue``, ``DeadLetters``).

Queue URLs come from the environment (``INTAKE_QUEUE_URL``, ``INTAKE_DLQ_URL``) through the
function's wiring; a missing URL is a deployment error, raised when the adapter is built.
"""

from __future__ import annotations

import json
from typing import Any

import boto3

from shared.domain.deliveries import DeadLetter
from shared.settings import settings


def _sqs() -> Any:
    return boto3.client("sqs", region_name=settings().region)


class SqsIntakeQueue:
    """The intake queue that ``scrm-ticket-intake`` consumes."""

    def __init__(self, url: str, client: Any | None = None) -> None:
        if not url:
            raise RuntimeError("INTAKE_QUEUE_URL is not set: deliveries cannot be queued")
        self._url = url
        self._client = client or _sqs()

    def send(self, message: dict[str, str]) -> None:
        self.send_body(json.dumps(message, separators=(",", ":")))

    def send_body(self, body: str) -> None:
        self._client.send_message(QueueUrl=self._url, MessageBody=body)


class SqsDeadLetters:
    """The intake queue's dead-letter queue."""

    def __init__(self, url: str, client: Any | None = None) -> None:
        if not url:
            raise RuntimeError("INTAKE_DLQ_URL is not set: the dead-letter queue cannot be read")
        self._url = url
        self._client = client or _sqs()

    def receive(self, max_messages: int, hide_seconds: int) -> list[DeadLetter]:
        answer = self._client.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=max_messages,
            VisibilityTimeout=hide_seconds,
            WaitTimeSeconds=0,
        )
        return [
            DeadLetter(message_id=m["MessageId"], body=m["Body"], handle=m["ReceiptHandle"])
            for m in answer.get("Messages", [])
        ]

    def delete(self, handle: str) -> None:
        self._client.delete_message(QueueUrl=self._url, ReceiptHandle=handle)

    def release(self, handle: str) -> None:
        self._client.change_message_visibility(QueueUrl=self._url, ReceiptHandle=handle, VisibilityTimeout=0)
