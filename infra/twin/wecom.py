"""The WeCom server API, emulated: the two calls a ``wecom_app`` message makes
(``shared/adapters/wecom_app.py``), served by the twin under ``/_local/wecom``.

- ``GET /_local/wecom/cgi-bin/gettoken?corpid=&corpsecret=``: the corp must be a deployed tenant's
  ``wecom_app.corp_id`` and the secret the value the twin stored under its ``secret`` reference
  (else errcode 40013 or 40001, as WeCom answers); issues a token valid ``expires_in`` (7,200)
  seconds of the twin clock.
- ``POST /_local/wecom/cgi-bin/message/send?access_token=``: the token must be one issued and not
  expired (40014, 42001), ``agentid`` the corp's application (40056), ``msgtype`` text with a
  content (40008, 41009 ...). Each ``touser`` (``|``-separated) that is a ``wecom_user`` of the
  tenant file is recorded as a message (``channel: "wecom"``, into ``GET /_local/messages``); the
  others come back in ``invaliduser`` (all unknown: 81013), as WeCom does.

Answers are WeCom's: HTTP 200 with ``errcode``/``errmsg``.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

PREFIX = "/_local/wecom"
TOKEN_SECONDS = 7200


@dataclass(frozen=True)
class EmulatedApp:
    tenant: str
    corp_id: str
    agent_id: int
    secret: str | None
    """The value the twin stored (None: not set, every token is refused)."""
    members: frozenset[str]
    """The tenant file's ``wecom_user`` values."""


Answer = tuple[int, dict[str, str], bytes]


class WeComEmulation:
    def __init__(
        self,
        now: Callable[[], datetime],
        record: Callable[[str, str], None],
        token_seconds: int = TOKEN_SECONDS,
    ) -> None:
        """``record(to, content)`` keeps one delivered message."""
        self._now = now
        self._record = record
        self.token_seconds = token_seconds
        self.apps: dict[str, EmulatedApp] = {}  # corp id -> its application
        self._tokens: dict[str, tuple[str, datetime]] = {}  # token -> corp id, expiry (twin clock)
        self._lock = threading.Lock()
        self.calls: list[str] = []
        """``gettoken`` / ``message/send`` in the order they came (tests count the token requests)."""

    def add(self, app: EmulatedApp) -> None:
        self.apps[app.corp_id] = app

    def handle(self, method: str, path: str, query: str, body: bytes) -> Answer:
        call = path.removeprefix(PREFIX).removeprefix("/cgi-bin/")
        params = dict(parse_qsl(query))
        with self._lock:
            self.calls.append(call)
            if (method, call) == ("GET", "gettoken"):
                return _answer(self._gettoken(params))
            if (method, call) == ("POST", "message/send"):
                return _answer(self._send(params, body))
        return _answer(
            {"errcode": 60011 if method in ("GET", "POST") else 43001, "errmsg": f"{method} {path}"}
        )

    def _gettoken(self, params: dict[str, str]) -> dict[str, Any]:
        app = self.apps.get(params.get("corpid", ""))
        if app is None:
            return {"errcode": 40013, "errmsg": "invalid corpid"}
        if app.secret is None or params.get("corpsecret") != app.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (app.corp_id, self._now() + timedelta(seconds=self.token_seconds))
        return {"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": self.token_seconds}

    def _send(self, params: dict[str, str], body: bytes) -> dict[str, Any]:
        issued = self._tokens.get(params.get("access_token", ""))
        if issued is None:
            return {"errcode": 40014, "errmsg": "invalid access_token"}
        corp, expires = issued
        if self._now() >= expires:
            return {"errcode": 42001, "errmsg": "access_token expired"}
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            return {"errcode": 47001, "errmsg": "data format error"}
        if not isinstance(request, dict):
            return {"errcode": 47001, "errmsg": "data format error"}
        app = self.apps[corp]
        if request.get("agentid") != app.agent_id:
            return {"errcode": 40056, "errmsg": f"invalid agentid {request.get('agentid')!r}"}
        if request.get("msgtype") != "text":
            return {"errcode": 40008, "errmsg": "invalid message type (the twin emulates text)"}
        content = (
            (request.get("text") or {}).get("content") if isinstance(request.get("text"), dict) else None
        )
        if not isinstance(content, str) or not content:
            return {"errcode": 41009, "errmsg": "missing text content"}
        if len(content.encode()) > 2048:
            return {"errcode": 45002, "errmsg": "content size out of limit"}
        users = [u for u in str(request.get("touser") or "").split("|") if u]
        if not users:
            return {"errcode": 40031, "errmsg": "invalid user list"}
        known = [u for u in users if u in app.members]
        unknown = [u for u in users if u not in app.members]
        if not known:
            return {
                "errcode": 81013,
                "errmsg": "user & party & tag all invalid",
                "invaliduser": "|".join(unknown),
            }
        for user in known:
            self._record(user, content)
        answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok", "msgid": secrets.token_hex(8)}
        if unknown:
            answer["invaliduser"] = "|".join(unknown)
        return answer


def _answer(body: dict[str, Any]) -> Answer:
    return 200, {"content-type": "application/json"}, json.dumps(body, ensure_ascii=False).encode()
