"""WeCom application messages (企业微信应用消息): the ``wecom`` channel of ``shared.ports.Sender``.

Two calls of the WeCom server API, over the standard library's ``urllib`` (no extra dependency in
the Lambda bundle), each with a short timeout so that a reminder never hangs on WeCom:

- ``GET {base}/cgi-bin/gettoken?corpid=&corpsecret=`` → ``access_token``, valid ``expires_in``
  seconds (7,200). It is cached per corp and secret (:class:`TokenCache`, one per container) until
  :data:`TOKEN_MARGIN_SECONDS` before it expires; WeCom rate-limits ``gettoken``, so it is not
  asked per message.
- ``POST {base}/cgi-bin/message/send?access_token=`` with ``{"touser", "msgtype": "text",
  "agentid", "text": {"content"}}``. An ``errcode`` of 40014 (invalid token) or 42001 (expired)
  drops the cached token, gets a new one and sends once more; any other ``errcode`` other than 0,
  or a recipient WeCom lists as ``invaliduser``, is a :class:`WeComError` with WeCom's ``errmsg``.

The application's secret is read from SSM with the webhooks' cached helper
(``shared.adapters.secrets.SsmChannelSecrets``: an hour's cache); when WeCom refuses it (40001),
it is read again once (``fresh=True``, at most once a minute), so a rotated secret is picked up.

``base`` is ``WECOM_API_URL`` (``shared.settings``; default https://qyapi.weixin.qq.com): https,
or http to a loopback host (the local twin's emulation, ``infra/twin/wecom.py``). Neither the
token nor the secret appears in an error or a log line (the URLs carry them, so no URL does).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from shared.tenant.models import WeComApp

DEFAULT_API_URL = "https://qyapi.weixin.qq.com"
TIMEOUT_SECONDS = 3.0
"""Per request: a reminder sends at most four requests to WeCom (token, send, new token, send)."""
TOKEN_MARGIN_SECONDS = 300.0
"""A cached token is renewed this long before WeCom says it expires."""
STALE_TOKEN = frozenset({40014, 42001})
"""invalid access_token, access_token expired: get a new token and send again."""
BAD_SECRET = frozenset({40001})
"""invalid credential (the corpsecret): read the secret again, once."""
MAX_TEXT_BYTES = 2048
"""The longest ``text.content`` WeCom takes."""
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


class WeComError(RuntimeError):
    """WeCom did not take the request: its ``errcode`` (0 when the failure was not WeCom's answer)."""

    def __init__(self, message: str, errcode: int = 0) -> None:
        super().__init__(message)
        self.errcode = errcode


class SecretSource(Protocol):
    """``shared.adapters.secrets.SsmChannelSecrets``."""

    def get(self, name: str, *, fresh: bool = False) -> str | None: ...


class TokenCache:
    """Access tokens by (API base, corp id, hash of the secret), each until its renewal time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, str]) -> str | None:
        with self._lock:
            found = self._tokens.get(key)
            if found is None or self._clock() >= found[1]:
                return None
            return found[0]

    def put(self, key: tuple[str, str, str], token: str, expires_in: float) -> None:
        renew_at = self._clock() + max(expires_in - TOKEN_MARGIN_SECONDS, expires_in / 2)
        with self._lock:
            self._tokens[key] = (token, renew_at)

    def drop(self, key: tuple[str, str, str], token: str) -> None:
        """Forget ``token`` (WeCom refused it); a newer one another thread cached stays."""
        with self._lock:
            if self._tokens.get(key, ("", 0.0))[0] == token:
                del self._tokens[key]


TOKENS = TokenCache()
"""The container's tokens (every sender of the process shares them, as the secrets cache is)."""


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def check_base(base: str) -> str:
    """The API base without its trailing ``/``: https, or http to a loopback host (the twin)."""
    parts = urlsplit(base)
    if parts.scheme == "https" and parts.hostname:
        return base.rstrip("/")
    if parts.scheme == "http" and parts.hostname in _LOOPBACK:
        return base.rstrip("/")
    raise ValueError(f"WECOM_API_URL must be an https URL (http only to localhost), not {base!r}")


def fit(text: str, limit: int = MAX_TEXT_BYTES) -> str:
    """``text`` within ``limit`` UTF-8 bytes: a longer one loses the end of its message, not its
    last line (the reference ``[SLA <ticket> <level>]``)."""
    if len(text.encode()) <= limit:
        return text
    head, newline, last = text.rpartition("\n")
    room = limit - len(f"…{newline}{last}".encode())
    if not newline or room <= 0:
        return text.encode()[:limit].decode("utf-8", "ignore")
    return head.encode()[:room].decode("utf-8", "ignore") + f"…{newline}{last}"


class WeComAppSender:
    def __init__(
        self,
        secrets: SecretSource | None = None,
        base: str = DEFAULT_API_URL,
        *,
        tokens: TokenCache | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        if secrets is None:
            from shared.adapters.secrets import SsmChannelSecrets

            secrets = SsmChannelSecrets()
        self._secrets = secrets
        self._base = check_base(base)
        self._tokens = TOKENS if tokens is None else tokens
        self._timeout = timeout

    def send(self, app: WeComApp, user: str, text: str) -> None:
        """One text message of ``app`` to the member ``user``; :class:`WeComError` when not sent."""
        secret = self._secret(app, fresh=False)
        key = (self._base, app.corp_id, hashlib.sha256(secret.encode()).hexdigest())
        token = self._tokens.get(key)
        if token is None:
            secret, key, token = self._new_token(app, secret)
        body = {"touser": user, "msgtype": "text", "agentid": app.agent_id, "text": {"content": fit(text)}}
        answer = self._send(token, body)
        if answer.get("errcode") in STALE_TOKEN:
            self._tokens.drop(key, token)
            secret, key, token = self._new_token(app, secret)
            answer = self._send(token, body)
        errcode = _errcode(answer)
        if errcode != 0:
            raise WeComError(
                f"WeCom did not send the message of agent {app.agent_id}: {_said(answer)}", errcode
            )
        if answer.get("invaliduser"):
            raise WeComError(
                f"WeCom does not know the member {answer['invaliduser']!r} in corp {app.corp_id} "
                f"(agent {app.agent_id}, or the member is outside the application's visible range)"
            )

    # ------------------------------------------------------------------ the two calls
    def _new_token(self, app: WeComApp, secret: str) -> tuple[str, tuple[str, str, str], str]:
        """A new access token: (the secret it took, its cache key, the token)."""
        answer = self._get_token(app, secret)
        if _errcode(answer) in BAD_SECRET:
            again = self._secret(app, fresh=True)
            if again != secret:  # rotated in SSM since we cached it
                secret, answer = again, self._get_token(app, again)
        errcode = _errcode(answer)
        token = answer.get("access_token")
        if errcode != 0 or not isinstance(token, str) or not token:
            raise WeComError(
                f"WeCom refused an access token for corp {app.corp_id}: {_said(answer)}", errcode
            )
        key = (self._base, app.corp_id, hashlib.sha256(secret.encode()).hexdigest())
        expires_in = answer.get("expires_in")
        seconds = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 7200.0
        self._tokens.put(key, token, seconds)
        return secret, key, token

    def _get_token(self, app: WeComApp, secret: str) -> dict[str, Any]:
        query = urlencode({"corpid": app.corp_id, "corpsecret": secret})
        return self._call(urllib.request.Request(f"{self._base}/cgi-bin/gettoken?{query}"), "gettoken")

    def _send(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self._base}/cgi-bin/message/send?{urlencode({'access_token': token})}",
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"content-type": "application/json; charset=utf-8"},
            method="POST",
        )
        return self._call(request, "message/send")

    def _call(self, request: urllib.request.Request, what: str) -> dict[str, Any]:
        try:
            with _OPENER.open(request, timeout=self._timeout) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            raise WeComError(f"WeCom {what} answered HTTP {exc.code}") from None
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WeComError(f"WeCom {what} could not be reached: {type(exc).__name__}: {reason}") from None
        try:
            parsed = json.loads(raw)
        except ValueError:
            raise WeComError(f"WeCom {what} answered something that is not JSON") from None
        if not isinstance(parsed, dict):
            raise WeComError(f"WeCom {what} answered JSON that is not an object")
        return parsed

    def _secret(self, app: WeComApp, *, fresh: bool) -> str:
        value = self._secrets.get(app.secret.ssm, fresh=fresh)
        if not value:
            raise WeComError(f"the WeCom application's secret {app.secret.ssm} is not set (SSM)")
        return value


def _errcode(answer: dict[str, Any]) -> int:
    code = answer.get("errcode", 0)
    return code if isinstance(code, int) and not isinstance(code, bool) else -1


def _said(answer: dict[str, Any]) -> str:
    return f"errcode {answer.get('errcode')}, {answer.get('errmsg') or 'no errmsg'}"
