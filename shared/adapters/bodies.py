"""The deliveries bucket on S3 (``shared.ports.BodyStore``): raw bodies too big for their record.

The bucket (env ``DELIVERY_BODIES_BUCKET``) is SSE, TLS only, and expires objects after the
records' 30 days (``infra/constructs/intake.py``); object keys come from the delivery store.
"""

from __future__ import annotations

from typing import Any

import boto3

from shared.settings import settings


class S3BodyStore:
    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = client or boto3.client("s3", region_name=settings().region)

    def put(self, key: str, body: bytes) -> None:
        self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/octet-stream",
            ServerSideEncryption="AES256",
        )
