"""Web forms: no signature; the body is a JSON object of the ticket's fields."""

from __future__ import annotations

from collections.abc import Mapping

from .base import ChannelLike, Delivery, Request, body_hash, parse_json_object


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    return Delivery(delivery_id=body_hash(request.body), topic=None, payload=parse_json_object(request.body))
