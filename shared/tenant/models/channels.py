"""`channels` (one model per platform, by `platform`) with their intake `rules` and secret
references."""

from __future__ import annotations

from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator

from shared.tenant.models.base import _Model
from shared.tenant.models.formats import FieldName, Ident, JmesPath, SsmName, Text, _check_jmespath

Platform = Literal["shopify", "woocommerce", "youzan", "wecom", "webform", "standard-webhooks"]
PLATFORMS: tuple[str, ...] = get_args(Platform)


class SecretRef(_Model):
    """Where a secret lives; the file never holds the value."""

    ssm: SsmName


class ChannelRule(_Model):
    """Turns a delivery into a ticket when every `when` entry matches (first rule wins).

    `when` keys compare the delivery's topic/type (`topic`, `type`, `status`, ...)
    with the given value, except `match`, a JMESPath expression on the body that
    must be truthy. `fields` maps ticket field → JMESPath into the body.
    """

    when: dict[str, str] = {}
    ticket_type: str
    fields: dict[FieldName, JmesPath] = {}

    @field_validator("when")
    @classmethod
    def _match_compiles(cls, when: dict[str, str]) -> dict[str, str]:
        if "match" in when:
            _check_jmespath(when["match"])
        return when


class _Channel(_Model):
    id: Ident
    owner: Ident | None = None
    """A user paid the ``channel_owner`` share of the settlements of this channel's tickets."""


class _RuleChannel(_Channel):
    rules: list[ChannelRule] = Field(min_length=1)


class ShopifyChannel(_RuleChannel):
    platform: Literal["shopify"]
    secret: SecretRef


class WooCommerceChannel(_RuleChannel):
    platform: Literal["woocommerce"]
    secret: SecretRef


class YouzanChannel(_RuleChannel):
    platform: Literal["youzan"]
    client_id: Text
    secret: SecretRef


class WeComChannel(_RuleChannel):
    platform: Literal["wecom"]
    corp_id: Text
    token: SecretRef
    aes_key: SecretRef


class WebformChannel(_Channel):
    """Posts the ticket's fields as they are; no rules, no secret."""

    platform: Literal["webform"]
    ticket_type: str


class StandardWebhooksChannel(_RuleChannel):
    platform: Literal["standard-webhooks"]
    secret: SecretRef


Channel = Annotated[
    ShopifyChannel
    | WooCommerceChannel
    | YouzanChannel
    | WeComChannel
    | WebformChannel
    | StandardWebhooksChannel,
    Field(discriminator="platform"),
]


def channel_secrets(channel: Channel) -> dict[str, SecretRef]:
    """The channel's secret references by key (`secret`, `token`, `aes_key`)."""
    return {
        name: value
        for name in ("secret", "token", "aes_key")
        if isinstance(value := getattr(channel, name, None), SecretRef)
    }
