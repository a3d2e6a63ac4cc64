"""Webhook verification per platform: published vectors, tampering, secrets, pings, WeCom crypto, limits."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.webhooks.adapters import shopify, standard_webhooks, wecom, woocommerce, youzan
from functions.webhooks.platforms import (
    MAX_BODY_BYTES,
    PLATFORMS,
    Delivery,
    Refusal,
    success_body,
    url_check,
    verify,
)
from shared.tenant.models import WeComChannel, YouzanChannel

FIXTURE = Path(__file__).parents[1] / "fixtures" / "webhook-vectors.json"
PUBLISHED = Path(__file__).parents[3] / "shared" / "webhook-vectors.json"
VECTORS: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SECRET = "shared-secret-for-tests"
OTHER_SECRET = "another-secret-entirely"
WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-key-0001").decode()
OLD_WHSEC = "whsec_" + base64.b64encode(b"standard-webhooks-key-0000").decode()
CLIENT_ID = "cid-test"
CORP_ID = "ww-test"
TOKEN = "wecom-token-test"
AES_KEY = base64.b64encode(bytes(range(32))).decode().rstrip("=")
OTHER_AES_KEY = base64.b64encode(bytes(range(32, 64))).decode().rstrip("=")


# --------------------------------------------------------------------------- factories


@dataclass(frozen=True)
class Call:
    """One request to `verify`, built by the factories below and changed with `replace`."""

    platform: str
    body: bytes
    secrets: dict[str, str] = field(default_factory=dict)
    channel: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    method: str = "POST"
    now: datetime = NOW

    def verify(self) -> Delivery:
        return verify(
            self.platform,
            secrets=self.secrets,
            channel=self.channel,
            method=self.method,
            headers=self.headers,
            query=self.query,
            body=self.body,
            now=self.now,
        )

    def refusal(self) -> Refusal:
        with pytest.raises(Refusal) as info:
            self.verify()
        return info.value

    def without_header(self, name: str) -> Call:
        return replace(self, headers={k: v for k, v in self.headers.items() if k.lower() != name.lower()})


def order(**extra: Any) -> dict[str, Any]:
    return {"id": 1001, "line_items": [{"sku": "AC-1", "tags": ["install"]}], **extra}


def encoded(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def shopify_call(body: bytes | None = None, secret: str = SECRET) -> Call:
    body = encoded(order()) if body is None else body
    headers = {
        "X-Shopify-Hmac-Sha256": shopify.signature(secret, body),
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Webhook-Id": "wh-1",
    }
    return Call("shopify", body, secrets={"secret": secret}, headers=headers)


def woocommerce_call(body: bytes | None = None, secret: str = SECRET) -> Call:
    body = encoded(order()) if body is None else body
    headers = {
        "X-WC-Webhook-Signature": woocommerce.signature(secret, body),
        "X-WC-Webhook-Topic": "order.created",
        "X-WC-Webhook-Delivery-ID": "77",
    }
    return Call("woocommerce", body, secrets={"secret": secret}, headers=headers)


def youzan_push(msg: str, secret: str = SECRET, **extra: Any) -> dict[str, Any]:
    push: dict[str, Any] = {
        "client_id": CLIENT_ID,
        "type": "TRADE_ORDER_STATE",
        "status": "WAIT_SELLER_SEND_GOODS",
    }
    push |= {"msg": msg, "sign": youzan.legacy_sign(CLIENT_ID, msg, secret), "test": False, "send_count": 0}
    return push | extra


def youzan_msg(**fields: Any) -> str:
    return quote(json.dumps({"tid": "E1", "receiver_name": "张三", **fields}, ensure_ascii=False), safe="")


def youzan_legacy_call(secret: str = SECRET, **extra: Any) -> Call:
    body = encoded(youzan_push(youzan_msg(), secret, **extra))
    return Call("youzan", body, secrets={"secret": secret}, channel={"client_id": CLIENT_ID})


def youzan_cloud_call(body: bytes | None = None, secret: str = SECRET) -> Call:
    body = encoded({"id": "E1", "type": "trade_TradePaid", "msg": youzan_msg()}) if body is None else body
    headers = {"Event-Sign": youzan.cloud_sign(CLIENT_ID, body, secret), "Event-Type": "trade_TradePaid"}
    return Call("youzan", body, secrets={"secret": secret}, channel={"client_id": CLIENT_ID}, headers=headers)


def standard_call(
    body: bytes | None = None,
    secret: str = WHSEC,
    at: datetime = NOW,
    signatures: Callable[[str, str, bytes], str] | None = None,
) -> Call:
    body = encoded({"type": "work_order.requested", "data": {"name": "Li"}}) if body is None else body
    stamp = str(int(at.timestamp()))
    sign = signatures or (lambda msg_id, ts, raw: standard_webhooks.sign(secret, msg_id, ts, raw))
    headers = {
        "webhook-id": "msg_1",
        "webhook-timestamp": stamp,
        "webhook-signature": sign("msg_1", stamp, body),
    }
    return Call("standard-webhooks", body, secrets={"secret": secret}, headers=headers)


def wecom_text(content: str = "空调不制冷", **extra: str) -> str:
    fields = {"ToUserName": CORP_ID, "FromUserName": "zhangsan", "CreateTime": "1700000000"}
    fields |= {"MsgType": "text", "Content": content, "MsgId": "99", **extra}
    return "<xml>" + "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"


def wecom_call(
    message: str | bytes | None = None,
    receive_id: str = CORP_ID,
    token: str = TOKEN,
    aes_key: str = AES_KEY,
    prefix: bytes | None = None,
) -> Call:
    query, body = wecom.envelope(
        wecom_text() if message is None else message,
        token=token,
        aes_key=aes_key,
        corp_id=receive_id,
        timestamp="1700000000",
        nonce="n0nce",
        prefix=prefix,
    )
    secrets = {"token": token, "aes_key": aes_key}
    return Call("wecom", body, secrets=secrets, channel={"corp_id": CORP_ID}, query=query)


def wecom_url_check_call(echo: str = "1616140317555161061", receive_id: str = CORP_ID) -> Call:
    echostr = wecom.encrypt(echo, aes_key=AES_KEY, receive_id=receive_id)
    query = {
        "msg_signature": wecom.signature(TOKEN, "1700000000", "n0nce", echostr),
        "timestamp": "1700000000",
        "nonce": "n0nce",
        "echostr": echostr,
    }
    secrets = {"token": TOKEN, "aes_key": AES_KEY}
    return Call("wecom", b"", secrets=secrets, channel={"corp_id": CORP_ID}, query=query, method="GET")


SIGNED: dict[str, Callable[..., Call]] = {
    "shopify": shopify_call,
    "woocommerce": woocommerce_call,
    "youzan-legacy": youzan_legacy_call,
    "youzan-cloud": youzan_cloud_call,
    "standard-webhooks": standard_call,
}


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    return data[:index] + bytes([data[index] ^ mask]) + data[index + 1 :]


def signed_index(kind: str, call: Call) -> int:
    """A byte of the body that the signature covers (Youzan legacy signs only `msg`)."""
    if kind == "youzan-legacy":
        return call.body.index(b'"msg": "') + 10
    if kind == "wecom":
        return call.body.index(b"<Encrypt><![CDATA[") + 30
    return len(call.body) // 2


# --------------------------------------------------------------------------- published vectors


def _vector_cases() -> dict[str, tuple[Call, Callable[[Delivery], None]]]:
    sw, sh, wc = VECTORS["standard-webhooks"], VECTORS["shopify"], VECTORS["woocommerce"]
    yl, yc, wx = VECTORS["youzan-legacy"], VECTORS["youzan-cloud"], VECTORS["wecom"]
    wx_secrets = {"token": wx["token"], "aes_key": wx["aes_key"]}
    sw_time = datetime.fromtimestamp(int(sw["headers"]["webhook-timestamp"]), UTC)

    def expect(**want: Any) -> Callable[[Delivery], None]:
        def check(delivery: Delivery) -> None:
            for name, value in want.items():
                assert getattr(delivery, name) == value, name

        return check

    return {
        "standard-webhooks": (
            Call(
                "standard-webhooks",
                sw["body"].encode(),
                secrets={"secret": sw["secret"]},
                headers=sw["headers"],
                now=sw_time,
            ),
            expect(delivery_id=sw["headers"]["webhook-id"], payload=json.loads(sw["body"])),
        ),
        "shopify": (
            Call("shopify", sh["body"].encode(), secrets={"secret": sh["secret"]}, headers=sh["headers"]),
            expect(delivery_id=sh["headers"]["X-Shopify-Webhook-Id"], topic="orders/create"),
        ),
        "woocommerce": (
            Call("woocommerce", wc["body"].encode(), secrets={"secret": wc["secret"]}, headers=wc["headers"]),
            expect(delivery_id="42", topic="order.created", payload=json.loads(wc["body"])),
        ),
        "youzan-legacy": (
            Call(
                "youzan",
                json.dumps(yl["body"]).encode(),
                secrets={"secret": yl["secret"]},
                channel={"client_id": yl["client_id"]},
            ),
            expect(topic="TRADE_ORDER_STATE"),
        ),
        "youzan-cloud": (
            Call(
                "youzan",
                yc["body"].encode(),
                secrets={"secret": yc["secret"]},
                channel={"client_id": yc["client_id"]},
                headers=yc["headers"],
            ),
            expect(topic="trade_TradePaid", payload=json.loads(yc["body"])),
        ),
        "wecom-post": (
            Call(
                "wecom",
                wx["post"]["body"].encode(),
                secrets=wx_secrets,
                channel={"corp_id": wx["corp_id"]},
                query=wx["post"]["query"],
            ),
            expect(
                topic="text",
                delivery_id="wecom:1234567890123456",
                payload=wecom.xml_to_dict(wecom.parse_xml(wx["post"]["plaintext"].encode(), "plaintext")),
            ),
        ),
        "wecom-url-check": (
            Call(
                "wecom",
                b"",
                secrets=wx_secrets,
                channel={"corp_id": wx["corp_id"]},
                query=wx["url_check"]["query"],
                method="GET",
            ),
            expect(is_ping=True, payload={"echostr": wx["url_check"]["answer"]}),
        ),
    }


VECTOR_CASES = _vector_cases()


@pytest.mark.parametrize("name", sorted(VECTOR_CASES))
def test_published_vector_verifies(name: str) -> None:
    call, check = VECTOR_CASES[name]

    check(call.verify())


def test_every_published_vector_has_a_case() -> None:
    covered = {name.removesuffix("-post").removesuffix("-url-check") for name in VECTOR_CASES}

    assert set(VECTORS) - {"_about"} <= covered


@pytest.mark.skipif(not PUBLISHED.exists(), reason="the shared vectors folder is not beside the repository")
def test_fixture_copy_matches_the_published_vectors() -> None:
    assert json.loads(PUBLISHED.read_text(encoding="utf-8")) == VECTORS


def test_youzan_vector_msg_is_decoded_for_field_mappings() -> None:
    call, _ = VECTOR_CASES["youzan-legacy"]

    delivery = call.verify()

    assert delivery.payload["msg"] == {"tid": "E20240101", "status": "WAIT_SELLER_SEND_GOODS"}
    assert delivery.payload["sign"] == VECTORS["youzan-legacy"]["body"]["sign"]


def test_wecom_vector_url_check_answers_the_decrypted_echostr() -> None:
    wx = VECTORS["wecom"]
    call, _ = VECTOR_CASES["wecom-url-check"]

    echo = url_check(secrets=call.secrets, channel={"corp_id": wx["corp_id"]}, query=call.query)
    status, headers, body = success_body("wecom", call.verify())

    assert echo == wx["url_check"]["answer"]
    assert (status, headers["content-type"], body) == (200, "text/plain; charset=utf-8", echo.encode())


# --------------------------------------------------------------------------- tampering and secrets


@pytest.mark.parametrize("kind", [*SIGNED, "wecom"])
def test_our_own_signed_deliveries_verify(kind: str) -> None:
    call = wecom_call() if kind == "wecom" else SIGNED[kind]()

    delivery = call.verify()

    assert not delivery.is_ping
    assert delivery.payload


@pytest.mark.parametrize("kind", [*SIGNED, "wecom"])
def test_a_one_byte_change_of_the_body_is_refused(kind: str) -> None:
    # Given a correctly signed delivery
    call = wecom_call() if kind == "wecom" else SIGNED[kind]()
    # When one signed byte changes on the way
    tampered = replace(call, body=flip(call.body, signed_index(kind, call)))
    # Then the signature no longer matches
    refusal = tampered.refusal()
    assert (refusal.status, refusal.code) == (401, "invalid_signature")


@pytest.mark.parametrize("kind", SIGNED)
def test_a_wrong_secret_is_refused_without_echoing_either_secret(kind: str) -> None:
    call = SIGNED[kind](secret=OLD_WHSEC if kind == "standard-webhooks" else OTHER_SECRET)
    secret = WHSEC if kind == "standard-webhooks" else SECRET

    refusal = replace(call, secrets={"secret": secret}).refusal()

    assert (refusal.status, refusal.code) == (401, "invalid_signature")
    assert secret not in refusal.message
    assert call.secrets["secret"] not in refusal.message


def test_wecom_wrong_token_fails_the_signature_and_wrong_aes_key_fails_decryption() -> None:
    call = wecom_call()

    bad_token = replace(call, secrets={**call.secrets, "token": "not-the-token"}).refusal()
    bad_key = replace(call, secrets={**call.secrets, "aes_key": OTHER_AES_KEY}).refusal()

    assert (bad_token.status, bad_token.code) == (401, "invalid_signature")
    assert "msg_signature" in bad_token.message
    assert (bad_key.status, bad_key.code) == (401, "decryption_failed")
    assert OTHER_AES_KEY not in bad_key.message


@pytest.mark.parametrize(
    ("kind", "header"),
    [
        ("shopify", "X-Shopify-Hmac-Sha256"),
        ("woocommerce", "X-WC-Webhook-Signature"),
        ("standard-webhooks", "webhook-id"),
        ("standard-webhooks", "webhook-timestamp"),
        ("standard-webhooks", "webhook-signature"),
    ],
)
def test_a_missing_signature_header_is_refused_by_name(kind: str, header: str) -> None:
    refusal = SIGNED[kind]().without_header(header).refusal()

    assert (refusal.status, refusal.code) == (401, "missing_signature")
    assert f"header {header} is missing" in refusal.message


def test_youzan_without_event_sign_or_sign_field_names_both() -> None:
    refusal = youzan_cloud_call().without_header("Event-Sign").refusal()

    assert (refusal.status, refusal.code) == (401, "missing_signature")
    assert "'sign'" in refusal.message
    assert "Event-Sign" in refusal.message


@pytest.mark.parametrize("parameter", ["msg_signature", "timestamp", "nonce"])
def test_wecom_missing_query_parameter_is_refused_by_name(parameter: str) -> None:
    call = wecom_call()

    refusal = replace(call, query={k: v for k, v in call.query.items() if k != parameter}).refusal()

    assert refusal.status == 401
    assert repr(parameter) in refusal.message


@pytest.mark.parametrize("kind", SIGNED)
def test_a_channel_without_its_secret_refuses_every_delivery(kind: str) -> None:
    refusal = replace(SIGNED[kind](), secrets={}).refusal()

    assert (refusal.status, refusal.code) == (401, "missing_secret")


def test_header_names_are_case_insensitive() -> None:
    call = shopify_call()

    lower = replace(call, headers={k.lower(): v for k, v in call.headers.items()}).verify()
    upper = replace(call, headers={k.upper(): v for k, v in call.headers.items()}).verify()

    assert lower == upper == call.verify()
    assert lower.topic == "orders/create"


def test_a_hostile_non_ascii_signature_is_a_refusal_not_a_crash() -> None:
    call = shopify_call()

    refusal = replace(call, headers={**call.headers, "X-Shopify-Hmac-Sha256": "签名\udcff"}).refusal()

    assert refusal.status == 401


def test_lone_surrogates_in_signed_text_are_refusals_not_crashes() -> None:
    youzan_body = json.dumps(youzan_push(youzan_msg()) | {"msg": "\udcff"}).encode()  # "\\udcff" on the wire
    standard = standard_call()

    youzan_refusal = Call("youzan", youzan_body, {"secret": SECRET}, {"client_id": CLIENT_ID}).refusal()
    standard_refusal = replace(standard, headers={**standard.headers, "webhook-id": "msg_\udcff"}).refusal()

    assert (youzan_refusal.status, standard_refusal.status) == (401, 401)


def test_unknown_platform_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="unknown platform 'myspace'"):
        replace(shopify_call(), platform="myspace").verify()


# --------------------------------------------------------------------------- Standard Webhooks time and keys


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=-3)])
def test_standard_webhooks_refuses_a_timestamp_more_than_five_minutes_away(offset: timedelta) -> None:
    call = standard_call(at=NOW + offset)

    refusal = call.refusal()

    assert (refusal.status, refusal.code) == (401, "stale_timestamp")
    assert "webhook-timestamp" in refusal.message


@pytest.mark.parametrize("offset", [timedelta(seconds=-300), timedelta(0), timedelta(seconds=300)])
def test_standard_webhooks_accepts_timestamps_within_five_minutes(offset: timedelta) -> None:
    assert standard_call(at=NOW + offset).verify().delivery_id == "msg_1"


def test_standard_webhooks_published_vector_is_stale_today() -> None:
    call, _ = VECTOR_CASES["standard-webhooks"]

    assert replace(call, now=NOW).refusal().code == "stale_timestamp"


def test_standard_webhooks_timestamp_must_be_unix_seconds() -> None:
    call = standard_call()

    refusal = replace(call, headers={**call.headers, "webhook-timestamp": "2026-11-02T09:30:00Z"}).refusal()

    assert (refusal.status, refusal.code) == (401, "invalid_timestamp")


def test_standard_webhooks_key_rotation_passes_when_only_the_second_signature_matches() -> None:
    # Given a sender that signs with both the old and the new key during a rotation
    def both(msg_id: str, stamp: str, body: bytes) -> str:
        old = standard_webhooks.sign(OLD_WHSEC, msg_id, stamp, body)
        new = standard_webhooks.sign(WHSEC, msg_id, stamp, body)
        return f"{old} v1a,c29tZSBvdGhlciBzY2hlbWU= {new}"

    # When the channel already holds the new key
    delivery = standard_call(secret=WHSEC, signatures=both).verify()

    # Then the second v1 entry is enough
    assert delivery.topic == "work_order.requested"


def test_standard_webhooks_refuses_when_no_entry_matches_or_none_is_v1() -> None:
    only_old = standard_call(signatures=lambda i, t, b: standard_webhooks.sign(OLD_WHSEC, i, t, b))
    no_v1 = standard_call(signatures=lambda i, t, b: "v1a,c29tZSBvdGhlciBzY2hlbWU=")

    assert only_old.refusal().code == "invalid_signature"
    assert "no 'v1,<signature>' entry" in no_v1.refusal().message


# --------------------------------------------------------------------------- pings and success answers


def test_woocommerce_creation_ping_is_answered_and_creates_nothing() -> None:
    ping = Call(
        "woocommerce",
        b"webhook_id=12",
        secrets={"secret": SECRET},
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    delivery = ping.verify()
    status, _, body = success_body("woocommerce", delivery)

    assert delivery.is_ping
    assert delivery.topic is None
    assert status == 200
    assert json.loads(body)["status"] == "ping"


def test_woocommerce_ping_still_needs_the_secret_so_set_up_fails_early() -> None:
    ping = Call("woocommerce", b"webhook_id=12")

    assert ping.refusal().code == "missing_secret"


@pytest.mark.parametrize("body", [b"webhook_id=12&topic=order.created", b"webhook_id=abc", encoded(order())])
def test_woocommerce_unsigned_bodies_other_than_the_ping_are_refused(body: bytes) -> None:
    refusal = Call("woocommerce", body, secrets={"secret": SECRET}).refusal()

    assert (refusal.status, refusal.code) == (401, "missing_signature")


def test_youzan_test_push_is_a_ping_answered_with_success() -> None:
    delivery = youzan_legacy_call(test=True).verify()

    assert delivery.is_ping
    assert success_body("youzan", delivery) == (
        200,
        {"content-type": "application/json"},
        b'{"code":0,"msg":"success"}',
    )


def test_generic_success_answer_carries_the_delivery_id() -> None:
    delivery = shopify_call().verify()

    status, headers, body = success_body("shopify", delivery)

    assert (status, headers["content-type"]) == (200, "application/json")
    assert json.loads(body) == {"status": "received", "delivery_id": "wh-1"}


def test_wecom_message_answer_is_an_empty_200() -> None:
    assert success_body("wecom", wecom_call().verify()) == (
        200,
        {"content-type": "text/plain; charset=utf-8"},
        b"",
    )


# --------------------------------------------------------------------------- Youzan payloads and ids


def test_youzan_msg_becomes_the_decoded_object() -> None:
    delivery = youzan_legacy_call().verify()

    assert delivery.payload["msg"]["receiver_name"] == "张三"
    assert delivery.topic == "TRADE_ORDER_STATE"


def test_youzan_retries_keep_their_delivery_id_and_different_pushes_do_not_share_one() -> None:
    first = youzan_legacy_call().verify()
    retry = youzan_legacy_call(send_count=3).verify()
    other = Call(
        "youzan",
        encoded(youzan_push(youzan_msg(tid="E2"))),
        secrets={"secret": SECRET},
        channel={"client_id": CLIENT_ID},
    ).verify()

    assert first.delivery_id == retry.delivery_id != other.delivery_id


def test_youzan_cloud_push_with_plain_json_msg_and_a_model_channel() -> None:
    channel = YouzanChannel.model_validate(
        {
            "id": "yz",
            "platform": "youzan",
            "client_id": CLIENT_ID,
            "secret": {"ssm": "/scrm/t/yz"},
            "rules": [{"ticket_type": "install"}],
        }
    )
    body = encoded({"id": "E1", "type": "trade_TradePaid", "msg": json.dumps({"tid": "E1", "tel": "+86 1"})})
    call = youzan_cloud_call(body)

    delivery = verify(
        "youzan",
        secrets=call.secrets,
        channel=channel,
        method="POST",
        headers=call.headers,
        query={},
        body=call.body,
        now=NOW,
    )

    assert delivery.payload["msg"] == {"tid": "E1", "tel": "+86 1"}


def test_youzan_body_client_id_must_be_the_channels() -> None:
    call = youzan_legacy_call(client_id="cid-someone-else")

    refusal = call.refusal()

    assert (refusal.status, refusal.code) == (401, "invalid_signature")
    assert "client_id" in refusal.message


# --------------------------------------------------------------------------- WeCom


def test_wecom_round_trip_with_the_channel_model() -> None:
    channel = WeComChannel.model_validate(
        {
            "id": "wx",
            "platform": "wecom",
            "corp_id": CORP_ID,
            "token": {"ssm": "/scrm/t/wx-token"},
            "aes_key": {"ssm": "/scrm/t/wx-aes"},
            "rules": [{"ticket_type": "consult"}],
        }
    )
    call = wecom_call(wecom_text("请上门 <安装> & 调试"))

    delivery = verify(
        "wecom",
        secrets=call.secrets,
        channel=channel,
        method="POST",
        headers={},
        query=call.query,
        body=call.body,
        now=NOW,
    )

    assert delivery.payload["Content"] == "请上门 <安装> & 调试"
    assert delivery.payload["FromUserName"] == "zhangsan"
    assert (delivery.topic, delivery.delivery_id) == ("text", "wecom:99")


def test_wecom_url_check_round_trip() -> None:
    call = wecom_url_check_call("echo-42")

    delivery = call.verify()

    assert url_check(secrets=call.secrets, channel=call.channel, query=call.query) == "echo-42"
    assert delivery.is_ping
    assert success_body("wecom", delivery)[2] == b"echo-42"


def test_wecom_url_check_survives_a_gateway_that_turned_plus_into_space() -> None:
    call = wecom_url_check_call()
    echostr = call.query["echostr"]
    while "+" not in echostr:  # the random prefix decides whether a '+' appears
        call = wecom_url_check_call()
        echostr = call.query["echostr"]

    mangled = replace(call, query={**call.query, "echostr": echostr.replace("+", " ")})

    assert mangled.verify().payload == {"echostr": "1616140317555161061"}


@pytest.mark.parametrize("make", [wecom_call, wecom_url_check_call])
def test_wecom_corp_id_mismatch_is_refused(make: Callable[..., Call]) -> None:
    call = make(receive_id="ww-someone-else")

    refusal = call.refusal()

    assert (refusal.status, refusal.code) == (401, "receiver_mismatch")
    assert "'ww-someone-else'" in refusal.message


def test_wecom_event_without_msgid_keeps_its_id_when_re_encrypted() -> None:
    event = (
        "<xml><ToUserName>ww-test</ToUserName><FromUserName>lisi</FromUserName><CreateTime>1700000001"
        "</CreateTime><MsgType>event</MsgType><Event>enter_agent</Event>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>1</ScanResult></ScanCodeInfo></xml>"
    )

    first = wecom_call(event, prefix=b"A" * 16).verify()
    retry = wecom_call(event, prefix=b"B" * 16).verify()

    assert first.delivery_id == retry.delivery_id
    assert first.delivery_id.startswith("sha256:")
    assert first.payload["ScanCodeInfo"] == {"ScanType": "qrcode", "ScanResult": "1"}
    assert first.topic == "event"


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
    "<xml><Content>&lol2;</Content></xml>"
)


def test_xml_with_a_doctype_is_refused_inside_the_encrypted_message() -> None:
    refusal = wecom_call(BILLION_LAUGHS).refusal()

    assert (refusal.status, refusal.code) == (400, "malformed_body")
    assert "DOCTYPE" in refusal.message


def test_xml_with_a_doctype_is_refused_in_the_outer_body() -> None:
    call = wecom_call()
    body = call.body.replace(b"<xml>", b'<!DOCTYPE xml SYSTEM "http://attacker.example/x.dtd"><xml>', 1)

    refusal = replace(call, body=body).refusal()

    assert (refusal.status, refusal.code) == (400, "malformed_body")
    assert "DOCTYPE" in refusal.message


@pytest.mark.parametrize(
    ("body", "says"),
    [(b"not xml", "body is not XML"), (b"<xml><ToUserName>x</ToUserName></xml>", "no <Encrypt>")],
)
def test_wecom_bodies_that_are_not_encrypted_xml_are_malformed(body: bytes, says: str) -> None:
    refusal = replace(wecom_call(), body=body).refusal()

    assert refusal.status == 400
    assert says in refusal.message


def test_wecom_decrypted_message_that_is_not_xml_is_malformed() -> None:
    refusal = wecom_call("plain text, not xml").refusal()

    assert refusal.status == 400
    assert "decrypted message is not XML" in refusal.message


# --------------------------------------------------------------------------- bodies and size


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_body_above_the_limit_is_refused_with_413(platform: str) -> None:
    call = Call(platform, b"{" + b" " * MAX_BODY_BYTES + b"}", secrets={"secret": SECRET})

    refusal = call.refusal()

    assert (refusal.status, refusal.code) == (413, "payload_too_large")
    assert "262144" in refusal.message


def test_a_body_exactly_at_the_limit_is_accepted() -> None:
    skeleton = encoded({"note": ""})
    body = encoded({"note": "x" * (MAX_BODY_BYTES - len(skeleton))})
    assert len(body) == MAX_BODY_BYTES

    assert shopify_call(body).verify().payload["note"].startswith("x")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"", "body is not JSON: Expecting value at line 1 column 1"),
        (b"not json", "body is not JSON: Expecting value at line 1 column 1"),
        (
            b"{'a': 1}",
            "body is not JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        ),
        (b"[1, 2]", "body is not a JSON object: it is an array"),
        (b'{"a": NaN}', "body is not usable JSON: NaN is not a JSON number"),
        (b'{"a": "\xff"}', "body is not UTF-8 text: invalid byte at position 7"),
        (b"[" * 100_000, "body is not usable JSON: it is nested too deeply"),
    ],
)
def test_unparseable_signed_bodies_are_400_saying_what_failed(body: bytes, message: str) -> None:
    refusal = shopify_call(body).refusal()

    assert (refusal.status, refusal.code, refusal.message) == (400, "malformed_body", message)
    assert refusal.body() == {"error": "malformed_body", "message": message, "details": []}


def test_webform_takes_a_json_object_and_hashes_it_into_a_stable_id() -> None:
    body = encoded({"customer_name": "王五", "customer_phone": "+8613800000003"})

    first = Call("webform", body).verify()
    again = Call("webform", body).verify()

    assert first == again
    assert first.delivery_id.startswith("sha256:")
    assert first.payload["customer_name"] == "王五"
    assert Call("webform", b"name=x").refusal().status == 400


# --------------------------------------------------------------------------- properties

JSON_LEAVES = st.none() | st.booleans() | st.integers(-(10**12), 10**12) | st.text(max_size=20)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
JSON_OBJECTS = st.dictionaries(st.text(max_size=12), JSON_VALUES, max_size=6)
SECRETS = st.text(min_size=1, max_size=64)
KEYS = st.binary(min_size=1, max_size=64).map(lambda key: "whsec_" + base64.b64encode(key).decode())


def _flipped(data: st.DataObject, body: bytes) -> bytes:
    index = data.draw(st.integers(0, len(body) - 1), label="index")
    mask = data.draw(st.integers(1, 255), label="mask")
    return flip(body, index, mask)


@given(payload=JSON_OBJECTS, secret=SECRETS)
def test_property_shopify_signature_we_compute_verifies(payload: dict[str, Any], secret: str) -> None:
    assert shopify_call(encoded(payload), secret).verify().payload == payload


@given(payload=JSON_OBJECTS, secret=SECRETS, data=st.data())
def test_property_shopify_any_single_byte_flip_fails(
    payload: dict[str, Any], secret: str, data: st.DataObject
) -> None:
    call = shopify_call(encoded(payload), secret)

    refusal = replace(call, body=_flipped(data, call.body)).refusal()

    assert (refusal.status, refusal.code) == (401, "invalid_signature")


@given(payload=JSON_OBJECTS, secret=KEYS, skew=st.integers(-300, 300))
def test_property_standard_webhooks_signature_we_compute_verifies(
    payload: dict[str, Any], secret: str, skew: int
) -> None:
    call = standard_call(encoded(payload), secret, at=NOW + timedelta(seconds=skew))

    assert call.verify().payload == payload


@given(payload=JSON_OBJECTS, secret=KEYS, data=st.data())
def test_property_standard_webhooks_any_single_byte_flip_fails(
    payload: dict[str, Any], secret: str, data: st.DataObject
) -> None:
    call = standard_call(encoded(payload), secret)

    refusal = replace(call, body=_flipped(data, call.body)).refusal()

    assert (refusal.status, refusal.code) == (401, "invalid_signature")


@given(message=st.binary(max_size=2048), prefix=st.binary(min_size=16, max_size=16))
def test_property_wecom_decrypt_inverts_encrypt(message: bytes, prefix: bytes) -> None:
    encrypted = wecom.encrypt(message, aes_key=AES_KEY, receive_id=CORP_ID, prefix=prefix)

    assert wecom.decrypt(encrypted, aes_key=AES_KEY, receive_id=CORP_ID) == message
