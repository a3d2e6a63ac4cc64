"""The twin's WeCom emulation (``infra/twin/wecom.py``) on a port of its own, for tests that send
WeCom application messages without a twin: unit tests of the sender, the reminders on moto."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from infra.twin.wecom import PREFIX, EmulatedApp, WeComEmulation


class WeComServer:
    """Answers as WeCom does for ``apps``; ``messages`` are (UserId, content) as delivered; its clock
    (``now``, for token expiry) moves by hand. ``stop()`` when done."""

    def __init__(self, *apps: EmulatedApp) -> None:
        self.now = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
        self.messages: list[tuple[str, str]] = []
        self.emulation = WeComEmulation(lambda: self.now, lambda to, text: self.messages.append((to, text)))
        for app in apps:
            self.emulation.add(app)
        emulation = self.emulation

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return None

            def _serve(self) -> None:
                split = urlsplit(self.path)
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                status, headers, raw = emulation.handle(self.command, split.path, split.query, body)
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def token_requests(self) -> int:
        return self.emulation.calls.count("gettoken")

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
