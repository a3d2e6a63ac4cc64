"""The tenants' configuration objects in the platform's config bucket (env ``CONFIG_BUCKET``).

What an object holds and how it is encoded is ``shared/tenant/transport.py``; who reads it, and how
long a container keeps it, is ``shared/tenant/store.py``. This module only talks to S3:

- :class:`ConfigObjectProvider`, a powertools parameters provider (so ``parameters.clear_caches()``
  and the ``max_age`` cache work as for every other parameter), that GETs an object with
  ``If-None-Match`` on the ETag it already holds: a refresh that finds nothing new is a 304 with no
  body, and a deploy shows within one cache period;
- :class:`ConfigBucket`, the writes of the tenant stacks' provider (``scrm-ticket-onboard``) and the
  listing of deployed tenants.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import BaseProvider
from botocore.exceptions import ClientError

from shared.settings import settings

_NOT_MODIFIED = {"304", "NotModified"}
_MISSING = {"NoSuchKey", "404"}


def _s3(client: Any | None) -> Any:
    return client or boto3.client("s3", region_name=settings().region)


class ConfigObjectProvider(BaseProvider):
    """``get(key)`` -> ``{"etag", "body"}`` of the object, or ``{}`` when there is none.

    An absent object is an answer too (an unknown tenant), cached like any other, so a stream of
    requests naming an unknown tenant costs one GET per cache period, not one each.
    """

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = _s3(client)
        super().__init__(client=self._client)
        self._held: dict[str, tuple[str, bytes]] = {}  # key -> (ETag, body) of the last 200

    def _get(self, name: str, **sdk_options: Any) -> dict[str, Any]:
        held = self._held.get(name)
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": name, **sdk_options}
        if held is not None:
            request["IfNoneMatch"] = held[0]
        try:
            answer = self._client.get_object(**request)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _NOT_MODIFIED and held is not None:
                return {"etag": held[0], "body": held[1]}
            if code in _MISSING:
                self._held.pop(name, None)
                return {}
            raise
        etag, body = str(answer["ETag"]), answer["Body"].read()
        self._held[name] = (etag, body)
        return {"etag": etag, "body": body}

    def _get_multiple(self, path: str, **sdk_options: Any) -> dict[str, str]:
        """Key -> ETag of every object under ``path`` (a listing: no body is read)."""
        return ConfigBucket(self.bucket, self._client).etags(path)


class ConfigBucket:
    """Writes and listings of the config bucket (versioned: every write keeps the one before)."""

    def __init__(self, bucket: str, client: Any | None = None) -> None:
        self.bucket = bucket
        self._client = _s3(client)

    def put(self, key: str, body: bytes) -> str:
        """Write the object; its new version id (``"null"`` on an unversioned bucket)."""
        answer = self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            ContentEncoding="gzip",
            ServerSideEncryption="AES256",
        )
        return str(answer.get("VersionId") or "null")

    def delete(self, key: str) -> None:
        """Remove the object (on a versioned bucket a delete marker: earlier versions stay for audit)."""
        self._client.delete_object(Bucket=self.bucket, Key=key)

    def etags(self, prefix: str) -> dict[str, str]:
        found: dict[str, str] = {}
        for page in self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                found[str(item["Key"])] = str(item.get("ETag", ""))
        return found
