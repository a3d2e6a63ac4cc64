"""WeCom (企业微信) callbacks: the URL check (GET) and encrypted messages (POST).

- `msg_signature` = hex(SHA1(the sorted concatenation of token, timestamp, nonce and the
  encrypted text)); the encrypted text is `echostr` (GET) or the body's `<Encrypt>` (POST).
- AES-256-CBC with key = base64decode(aes_key + "="), IV = the key's first 16 bytes, PKCS#7
  padding to 32-byte blocks; the plaintext is 16 random bytes, the message length (4 bytes, big
  endian), the message and the receive id, which must be the channel's `corp_id`.
- XML is parsed with `xml.etree.ElementTree`; a DOCTYPE is refused, so no entity is ever expanded.

The decrypted message becomes a dict (`{"MsgType": "text", "Content": ..., ...}`): the topic
is `MsgType`, the delivery id `MsgId`, or for events (which have none) a hash of the message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import (
    ChannelLike,
    Delivery,
    Refusal,
    Request,
    bad_signature,
    channel_value,
    malformed,
    require_secret,
    same,
    shown,
)

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers import Cipher

BLOCK_SIZE = 32
"""WeCom pads to 32-byte blocks (PKCS#7), not to AES's 16."""

_SIGNED_QUERY = ("msg_signature", "timestamp", "nonce")


# --------------------------------------------------------------------------- crypto


def signature(token: str, timestamp: str, nonce: str, encrypted: str) -> str:
    """The `msg_signature` WeCom sends with `encrypted` (an `echostr` or an `<Encrypt>` text)."""
    joined = "".join(sorted([token, timestamp, nonce, encrypted]))
    return hashlib.sha1(joined.encode("utf-8", "surrogatepass")).hexdigest()


def _key(aes_key: str) -> bytes:
    try:
        key = base64.b64decode(aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise Refusal(
            401,
            "channel_misconfigured",
            "the channel's 'aes_key' is not a WeCom EncodingAESKey (43 characters of base64)",
        )
    return key


def _cipher(key: bytes) -> Cipher:
    """AES-CBC with the key's first 16 bytes as IV, as WeCom does. ``cryptography`` is imported here,
    not with the module: only WeCom channels use it, and the webhooks function's cold start should
    not pay for it on every other platform's deliveries."""
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    return Cipher(algorithms.AES(key), modes.CBC(key[:16]))


def encrypt(message: str | bytes, *, aes_key: str, receive_id: str, prefix: bytes | None = None) -> str:
    """Encrypt `message` the way WeCom does (base64 text); `prefix` replaces the 16 random bytes."""
    key = _key(aes_key)
    raw = message.encode("utf-8") if isinstance(message, str) else message
    prefix = os.urandom(16) if prefix is None else prefix
    if len(prefix) != 16:
        raise ValueError("prefix must be 16 bytes")
    plain = prefix + len(raw).to_bytes(4, "big") + raw + receive_id.encode("utf-8")
    pad = BLOCK_SIZE - len(plain) % BLOCK_SIZE
    plain += bytes([pad]) * pad
    encryptor = _cipher(key).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


def _undecryptable(why: str) -> Refusal:
    return Refusal(
        401,
        "decryption_failed",
        f"the encrypted text {why}; check that the channel's 'aes_key' is the app's EncodingAESKey",
    )


def decrypt(encrypted: str, *, aes_key: str, receive_id: str) -> bytes:
    """The message inside `encrypted`; 401 unless it decrypts and is addressed to `receive_id`."""
    key = _key(aes_key)
    try:
        cipher_text = base64.b64decode(encrypted, validate=True)
    except (binascii.Error, ValueError):
        raise _undecryptable("is not base64") from None
    if not cipher_text or len(cipher_text) % 16:
        raise _undecryptable("is not a whole number of AES blocks")
    decryptor = _cipher(key).decryptor()
    plain = decryptor.update(cipher_text) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= BLOCK_SIZE or pad > len(plain) or plain[-pad:] != bytes([pad]) * pad:
        raise _undecryptable("has broken padding after decryption")
    plain = plain[:-pad]
    if len(plain) < 20:
        raise _undecryptable("is too short to hold a message")
    length = int.from_bytes(plain[16:20], "big")
    if 20 + length > len(plain):
        raise _undecryptable("announces a message longer than itself")
    message, sent_id = plain[20 : 20 + length], plain[20 + length :]
    if not same(receive_id, sent_id.decode("utf-8", "replace")):
        raise Refusal(
            401,
            "receiver_mismatch",
            f"the message is addressed to {shown(sent_id.decode('utf-8', 'replace'))}, "
            f"not to this channel's corp_id {receive_id!r}",
        )
    return message


# --------------------------------------------------------------------------- XML


class _NoDoctype(ET.TreeBuilder):
    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise malformed("XML with a DOCTYPE is refused (entities are never expanded)")


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse `data`; 400 when it is not XML or declares a DOCTYPE."""
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(data)
        return parser.close()
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise malformed(f"{what} is not XML: {exc}") from None


def parse_xml_object(data: bytes, what: str) -> dict[str, Any]:
    """`xml_to_dict` of the parsed `data`; 400 when it is not XML, has a DOCTYPE or nests too deeply."""
    root = parse_xml(data, what)
    try:
        return xml_to_dict(root)
    except RecursionError:
        raise malformed(f"{what} is not usable XML: it is nested too deeply") from None


def xml_to_dict(element: ET.Element) -> dict[str, Any]:
    """Children by tag: text for a leaf, a dict for an element with children, a list when repeated."""
    result: dict[str, Any] = {}
    for child in element:
        value: Any = xml_to_dict(child) if len(child) else (child.text or "")
        if child.tag not in result:
            result[child.tag] = value
        elif isinstance(result[child.tag], list):
            result[child.tag].append(value)
        else:
            result[child.tag] = [result[child.tag], value]
    return result


def envelope(
    message: str | bytes,
    *,
    token: str,
    aes_key: str,
    corp_id: str,
    timestamp: str,
    nonce: str,
    prefix: bytes | None = None,
) -> tuple[dict[str, str], bytes]:
    """The query and body of a POST that WeCom would send for `message` (tests, the demo);
    `text_message` writes a customer's text message."""
    encrypted = encrypt(message, aes_key=aes_key, receive_id=corp_id, prefix=prefix)
    query = {
        "msg_signature": signature(token, timestamp, nonce, encrypted),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    body = (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    )
    return query, body.encode("utf-8")


def text_message(
    corp_id: str, from_user: str, content: str, msg_id: str, *, create_time: str, agent_id: str = "1000002"
) -> str:
    """The XML of a customer's text message as WeCom writes it (before `envelope` encrypts it)."""
    return (
        f"<xml><ToUserName><![CDATA[{corp_id}]]></ToUserName>"
        f"<FromUserName><![CDATA[{from_user}]]></FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{msg_id}</MsgId><AgentID>{agent_id}</AgentID></xml>"
    )


# --------------------------------------------------------------------------- verification


def _query(query: Mapping[str, str], name: str) -> str:
    value = query.get(name)
    if not value:
        raise Refusal(401, "missing_signature", f"query parameter {name!r} is missing")
    return value


def _check_signature(token: str, query: Mapping[str, str], encrypted: str) -> None:
    msg_signature, timestamp, nonce = (_query(query, name) for name in _SIGNED_QUERY)
    if not same(signature(token, timestamp, nonce, encrypted), msg_signature.lower()):
        raise bad_signature(
            "query parameter 'msg_signature'", "the SHA1 of the channel's token, timestamp, nonce and message"
        )


def url_check(*, secrets: Mapping[str, str], channel: ChannelLike, query: Mapping[str, str]) -> str:
    """Verify WeCom's GET URL check and return the decrypted `echostr`, the text to answer with."""
    token = require_secret(secrets, "token")
    aes_key = require_secret(secrets, "aes_key")
    corp_id = channel_value(channel, "corp_id")
    # A gateway that decodes '+' in the query as a space breaks the base64; base64 has no spaces.
    echostr = _query(query, "echostr").replace(" ", "+")
    _check_signature(token, query, echostr)
    plain = decrypt(echostr, aes_key=aes_key, receive_id=corp_id)
    try:
        return plain.decode("utf-8")
    except UnicodeDecodeError:
        raise _undecryptable("does not hold UTF-8 text") from None


def verify(request: Request, secrets: Mapping[str, str], channel: ChannelLike) -> Delivery:
    if request.method == "GET":
        echo = url_check(secrets=secrets, channel=channel, query=request.query)
        return Delivery(
            delivery_id="wecom-url-check:" + hashlib.sha256(echo.encode("utf-8")).hexdigest(),
            topic=None,
            payload={"echostr": echo},
            is_ping=True,
        )
    if request.method != "POST":
        raise Refusal(400, "method_not_allowed", f"WeCom callbacks are GET or POST, not {request.method}")
    token = require_secret(secrets, "token")
    aes_key = require_secret(secrets, "aes_key")
    corp_id = channel_value(channel, "corp_id")
    encrypted = (parse_xml(request.body, "body").findtext("Encrypt") or "").strip()
    if not encrypted:
        raise malformed("body has no <Encrypt> element; WeCom callbacks must be in encrypted mode")
    _check_signature(token, request.query, encrypted)
    message = decrypt(encrypted, aes_key=aes_key, receive_id=corp_id)
    payload = parse_xml_object(message, "decrypted message")
    msg_type = payload.get("MsgType")
    msg_id = payload.get("MsgId")
    return Delivery(
        delivery_id=(
            f"wecom:{msg_id}"
            if isinstance(msg_id, str) and msg_id
            else "sha256:" + hashlib.sha256(message).hexdigest()
        ),
        topic=msg_type if isinstance(msg_type, str) and msg_type else None,
        payload=payload,
    )
