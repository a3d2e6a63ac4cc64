"""WeCom application messages (``wecom_app``): the tenant file, the sender against an HTTP server that
answers as WeCom does (the twin's emulation, ``infra/twin/wecom.py``, served alone), the notices.

Covered: ``scrm validate`` refuses ``wecom`` without ``wecom_app`` at the level's path; the secret is
one of the file's secret references; the sender caches the access token per corp and secret until
``expires_in`` minus a margin, gets a new one on 40014/42001 and sends once more, turns any other
``errcode`` (and an ``invaliduser``) into a ``WeComError`` with WeCom's ``errmsg``, re-reads a
refused secret once, and gives up after its short timeout on a server that does not answer.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from infra.twin.wecom import EmulatedApp
from shared.adapters.wecom_app import (
    TOKEN_MARGIN_SECONDS,
    TokenCache,
    WeComAppSender,
    WeComError,
    check_base,
    fit,
)
from shared.notices import channels_of
from shared.tenant import validate_tenant_data
from shared.tenant.checks.files import validate_secrets
from shared.tenant.models import SecretRef, TenantConfig, WeComApp
from tests.factories import load_example, set_in
from tests.wecom_server import WeComServer

APP = WeComApp(corp_id="ww-test", agent_id=1000002, secret=SecretRef(ssm="/scrm/t/wecom-app-secret"))
SECRET = "app-secret-1"


# --------------------------------------------------------------------------- the tenant file


def test_a_wecom_level_without_wecom_app_is_refused_at_its_path() -> None:
    # Given acme-home without its wecom_app, but with wecom on the orange level
    data = load_example("acme-home")
    del data["wecom_app"]
    # When it is validated
    config, problems = validate_tenant_data(data, file="acme-home.yaml")
    # Then it is refused at the level's channels, saying what to add
    assert config is None
    errors = [p for p in problems if p.is_error]
    assert [p.path for p in errors] == ["sla_policies.install-standard.levels.orange.channels"]
    assert "wecom_app" in errors[0].message and "remove 'wecom'" in errors[0].message


def test_a_wecom_level_nobody_can_receive_is_a_warning() -> None:
    data = load_example("acme-home")
    for person in [*data["users"], *data["technicians"]]:
        person.pop("wecom_user", None)
    config, problems = validate_tenant_data(data, file="acme-home.yaml")
    assert config is not None
    assert [(p.path, p.severity) for p in problems if "wecom_user" in p.message] == [
        ("sla_policies.install-standard.levels.orange.channels", "warning")
    ]


@pytest.mark.parametrize(
    ("path", "value", "where"),
    [
        ("wecom_app.agent_id", 0, "wecom_app.agent_id"),
        ("wecom_app.secret", "plain-text", "wecom_app.secret"),
        ("users.1.wecom_user", "赵 刚", "users.u-zhao.wecom_user"),
        ("sla_policies.install-standard.levels.1.channels", ["sms", "wechat"], "channels"),
    ],
)
def test_the_shape_of_wecom_keys_is_checked(path: str, value: Any, where: str) -> None:
    data = set_in(load_example("acme-home"), path, value)
    config, problems = validate_tenant_data(data, file="acme-home.yaml")
    assert config is None
    assert any(where in p.path for p in problems if p.is_error), problems


def test_the_app_secret_is_a_secret_reference_of_the_file() -> None:
    cfg = TenantConfig.model_validate(load_example("acme-home"))
    assert cfg.secret_refs()["/scrm/acme-home/wecom-app-secret"] == "wecom_app"
    # a secrets file without it: a warning that names what breaks on the twin
    problems = validate_secrets({}, file="s.yaml", config=cfg, tenant_file="acme-home.yaml")
    missing = [p for p in problems if p.path == "/scrm/acme-home/wecom-app-secret"]
    assert len(missing) == 1 and missing[0].severity == "warning" and "WeCom" in missing[0].message


def test_dispatchers_are_told_over_wecom_only_when_the_tenant_has_an_app() -> None:
    cfg = TenantConfig.model_validate(load_example("acme-home"))
    assert channels_of(cfg) == ("sms", "email", "wecom")
    assert channels_of(cfg.model_copy(update={"wecom_app": None})) == ("sms", "email")


# --------------------------------------------------------------------------- the sender


class Secrets:
    """The SSM helper: a value per name, and which reads were forced (``fresh``)."""

    def __init__(self, value: str = SECRET) -> None:
        self.value = value
        self.fresh_reads = 0

    def get(self, name: str, *, fresh: bool = False) -> str | None:
        self.fresh_reads += fresh
        return self.value


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


@pytest.fixture
def wecom() -> Iterator[WeComServer]:
    server = WeComServer(EmulatedApp("t", APP.corp_id, APP.agent_id, SECRET, frozenset({"ZhaoGang", "Wang"})))
    yield server
    server.stop()


def sender_for(
    server: WeComServer, secrets: Secrets | None = None, clock: Clock | None = None
) -> WeComAppSender:
    return WeComAppSender(secrets or Secrets(), server.base, tokens=TokenCache(clock or Clock()), timeout=2)


def test_a_message_goes_to_the_member_and_the_token_is_asked_for_once(wecom: WeComServer) -> None:
    sender = sender_for(wecom)
    sender.send(APP, "ZhaoGang", "工单 TK-1 橙色提醒\n[SLA TK-1 orange]")
    sender.send(APP, "Wang", "second")
    assert wecom.messages == [("ZhaoGang", "工单 TK-1 橙色提醒\n[SLA TK-1 orange]"), ("Wang", "second")]
    assert wecom.emulation.calls == ["gettoken", "message/send", "message/send"]


def test_the_cached_token_is_renewed_before_it_expires(wecom: WeComServer) -> None:
    clock = Clock()
    sender = sender_for(wecom, clock=clock)
    sender.send(APP, "Wang", "one")
    # Given the token's 7,200 s almost used, but still outside the margin: no new token
    clock.seconds += 7200 - TOKEN_MARGIN_SECONDS - 1
    sender.send(APP, "Wang", "two")
    assert wecom.token_requests == 1
    # When the margin is reached: a new token first (WeCom would still take the old one)
    clock.seconds += 2
    sender.send(APP, "Wang", "three")
    assert wecom.token_requests == 2 and [t for _, t in wecom.messages] == ["one", "two", "three"]


def test_an_expired_token_is_refreshed_and_the_message_sent_once(wecom: WeComServer) -> None:
    sender = sender_for(wecom)
    sender.send(APP, "Wang", "one")
    # Given WeCom's clock past the token's 2 hours (42001), though the sender's cache still holds it
    wecom.now += timedelta(seconds=7200)
    # When the next message is sent: refused, a new token, sent again, delivered once
    sender.send(APP, "Wang", "two")
    assert wecom.emulation.calls == ["gettoken", "message/send", "message/send", "gettoken", "message/send"]
    assert [t for _, t in wecom.messages] == ["one", "two"]


def test_a_token_wecom_does_not_know_is_replaced(wecom: WeComServer) -> None:
    # Given a cached token WeCom never issued (another WeCom, a restarted twin): 40014
    tokens = TokenCache(Clock())
    sender = WeComAppSender(Secrets(), wecom.base, tokens=tokens, timeout=2)
    sender.send(APP, "Wang", "one")
    (key,) = tokens._tokens
    tokens.put(key, "not-a-token", 7200)
    sender.send(APP, "Wang", "two")
    assert [t for _, t in wecom.messages] == ["one", "two"] and wecom.token_requests == 2


def test_an_errcode_is_an_error_with_wecoms_errmsg(wecom: WeComServer) -> None:
    sender = sender_for(wecom)
    wrong_agent = APP.model_copy(update={"agent_id": 1000009})
    with pytest.raises(WeComError, match="errcode 40056, invalid agentid") as caught:
        sender.send(wrong_agent, "Wang", "text")
    assert caught.value.errcode == 40056
    with pytest.raises(WeComError, match="81013") as unknown:
        sender.send(APP, "Nobody", "text")
    assert "Nobody" not in str(wecom.messages) and unknown.value.errcode == 81013
    assert wecom.messages == []


def test_a_recipient_wecom_lists_as_invalid_is_an_error(wecom: WeComServer) -> None:
    with pytest.raises(WeComError, match="does not know the member 'Nobody'"):
        sender_for(wecom).send(APP, "Wang|Nobody", "text")
    assert wecom.messages == [("Wang", "text")]


def test_a_refused_secret_is_read_again_once_and_a_rotated_one_is_used(wecom: WeComServer) -> None:
    class Rotated(Secrets):
        def get(self, name: str, *, fresh: bool = False) -> str | None:
            self.fresh_reads += fresh
            return SECRET if fresh else "the-old-secret"

    rotated = Rotated()
    sender_for(wecom, rotated).send(APP, "Wang", "after rotation")
    assert rotated.fresh_reads == 1 and wecom.messages == [("Wang", "after rotation")]

    wrong = Secrets("wrong-secret")
    with pytest.raises(WeComError, match="errcode 40001, invalid credential") as caught:
        sender_for(wecom, wrong).send(APP, "Wang", "never")
    assert wrong.fresh_reads == 1 and "wrong-secret" not in str(caught.value)


def test_a_server_that_does_not_answer_fails_after_the_timeout() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(1)
        base = f"http://127.0.0.1:{listening.getsockname()[1]}"
        sender = WeComAppSender(Secrets(), base, tokens=TokenCache(Clock()), timeout=0.3)
        started = time.monotonic()
        with pytest.raises(WeComError, match="could not be reached"):
            sender.send(APP, "Wang", "text")
        assert time.monotonic() - started < 2


def test_the_api_base_is_https_or_the_local_twin() -> None:
    assert check_base("https://qyapi.weixin.qq.com/") == "https://qyapi.weixin.qq.com"
    assert check_base("http://127.0.0.1:8400/_local/wecom") == "http://127.0.0.1:8400/_local/wecom"
    with pytest.raises(ValueError, match="https"):
        check_base("http://qyapi.weixin.qq.com")


def test_a_long_text_keeps_its_reference_line() -> None:
    text = "客" * 1000 + "\n[SLA TK-1 red]"
    fitted = fit(text)
    assert len(fitted.encode()) <= 2048 and fitted.endswith("…\n[SLA TK-1 red]")
    assert fit("short\n[SLA TK-1 red]") == "short\n[SLA TK-1 red]"
