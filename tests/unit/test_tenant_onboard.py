"""The config transport's object and the onboard use case (the tenant stacks' provider), on fakes."""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest

from functions.ticket.onboard import Refused, onboard
from shared.tenant import load_tenant_file
from shared.tenant.models import TenantConfig
from shared.tenant.transport import (
    config_json,
    config_key,
    config_to_json,
    decode_object,
    encode_config,
    encode_object,
    tenant_of_key,
)
from tests.factories import EXAMPLES

PREFIX = "arn:aws:states:us-east-1:123456789012:stateMachine:"


@pytest.fixture(scope="module")
def acme() -> TenantConfig:
    return load_tenant_file(str(EXAMPLES / "acme-home.yaml"))


def live_of(cfg: TenantConfig, version: int = 1) -> dict[str, str]:
    return {t: f"{PREFIX}scrm-{cfg.tenant.id}-{t}:{version}" for t in cfg.ticket_types}


class Bucket:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.deleted: list[str] = []

    def put(self, key: str, body: bytes) -> str:
        self.objects[key] = body
        return f"v{len(self.objects)}"

    def delete(self, key: str) -> None:
        self.deleted.append(key)
        self.objects.pop(key, None)


class Seeder:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, str]] = []
        self.fail = fail

    def seed(self, tenant: str, roster: str) -> dict[str, Any]:
        self.calls.append((tenant, roster))
        if self.fail:
            raise RuntimeError("seed function error")
        return {"seeded": 3, "roster": roster}


def request(cfg: TenantConfig, kind: str = "Create", **changes: Any) -> dict[str, Any]:
    props = {
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:scrm-ticket-onboard",
        "Tenant": cfg.tenant.id,
        "Config": encode_config(cfg),
        "Live": live_of(cfg),
        "Roster": "digest-1",
        **changes,
    }
    event: dict[str, Any] = {"RequestType": kind, "RequestId": "r-1", "ResourceProperties": props}
    if kind != "Create":
        event["PhysicalResourceId"] = config_key(cfg.tenant.id)
    if kind == "Update":
        event["OldResourceProperties"] = {**props, "Live": live_of(cfg, 0)}
    return event


# ---------------------------------------------------------------- transport


def test_the_object_keeps_the_files_order_and_is_deterministic(acme: TenantConfig) -> None:
    canonical = config_to_json(acme)
    live = dict(reversed(list(live_of(acme).items())))  # an order that is not sorted
    body = encode_object(canonical, live)
    assert body == encode_object(canonical, live)  # same config, same versions: same bytes (ETag)
    document = gzip.decompress(body).decode("utf-8")
    # the canonical JSON goes in verbatim (never parsed and dumped again), the live map in its order
    assert document.endswith(',"config":' + canonical + "}")
    assert list(json.loads(document)["live"]) == list(live)
    deployed = decode_object(body)
    assert deployed.config == acme and dict(deployed.live) == live
    assert config_to_json(deployed.config) == canonical
    # what the stack hands over decodes to the same canonical JSON
    assert config_json(encode_config(acme)) == canonical


@pytest.mark.parametrize(
    "document",
    [
        {"format": 2, "live": {}, "config": {}},
        {"format": 1, "live": {"consult": 1}, "config": {}},
        ["not", "an", "object"],
    ],
)
def test_an_object_of_another_shape_is_refused(document: Any) -> None:
    with pytest.raises(ValueError):
        decode_object(gzip.compress(json.dumps(document).encode()))


def test_keys_name_their_tenant_and_nothing_else() -> None:
    assert config_key("acme-home") == "tenants/acme-home/config.json.gz"
    assert tenant_of_key(config_key("acme-home")) == "acme-home"
    for other in ("tenants/acme-home/other.json", "tenants/a/b/config.json.gz", "x/acme/config.json.gz"):
        assert tenant_of_key(other) is None, other


# ---------------------------------------------------------------- onboard


def test_create_writes_the_config_with_its_live_versions_then_seeds(acme: TenantConfig) -> None:
    bucket, seeder = Bucket(), Seeder()
    outcome = onboard(request(acme), bucket, seeder, machine_prefix=PREFIX)
    key = "tenants/acme-home/config.json.gz"
    assert outcome.physical_id == key
    assert outcome.data == {"ConfigKey": key, "ConfigVersionId": "v1", "Seeded": "3"}
    deployed = decode_object(bucket.objects[key])
    assert deployed.config == acme
    assert dict(deployed.live) == live_of(acme)
    assert list(deployed.live) == list(acme.ticket_types)  # the file's order, whatever was sent
    assert seeder.calls == [("acme-home", "digest-1")]


def test_update_rewrites_the_object_with_the_new_versions(acme: TenantConfig) -> None:
    bucket = Bucket()
    outcome = onboard(request(acme, "Update", Live=live_of(acme, 7)), bucket, Seeder(), machine_prefix=PREFIX)
    assert outcome.physical_id == config_key("acme-home")
    assert set(decode_object(bucket.objects[outcome.physical_id]).live.values()) == set(
        live_of(acme, 7).values()
    )


def test_a_failed_seed_does_not_fail_the_deploy(acme: TenantConfig) -> None:
    bucket = Bucket()
    outcome = onboard(request(acme), bucket, Seeder(fail=True), machine_prefix=PREFIX)
    assert outcome.data["Seeded"] == "failed"
    assert outcome.seed_error is not None and "seed function error" in outcome.seed_error
    assert config_key("acme-home") in bucket.objects


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Tenant": "bright-clean"}, "Config is tenant 'acme-home'"),
        ({"Config": "not base64 gzip"}, "does not decode"),
        ({"Config": ""}, "has no Config"),
        ({"Live": {"consult": f"{PREFIX}scrm-acme-home-consult:1"}}, "ticket types are"),
        ({"Live": "arn"}, "has no Live map"),
    ],
)
def test_a_request_that_does_not_add_up_is_refused_and_writes_nothing(
    acme: TenantConfig, changes: dict[str, Any], reason: str
) -> None:
    bucket, seeder = Bucket(), Seeder()
    with pytest.raises(Refused, match=reason):
        onboard(request(acme, **changes), bucket, seeder, machine_prefix=PREFIX)
    assert bucket.objects == {} and seeder.calls == []


def test_a_live_version_of_another_machine_is_refused(acme: TenantConfig) -> None:
    live = live_of(acme)
    live["consult"] = f"{PREFIX}scrm-acme-home-install:3"  # the wrong machine
    with pytest.raises(Refused, match=r"Live\[consult\]"):
        onboard(request(acme, Live=live), Bucket(), Seeder(), machine_prefix=PREFIX)
    live["consult"] = f"{PREFIX}scrm-acme-home-consult"  # the machine, not a version of it
    with pytest.raises(Refused, match=r"Live\[consult\]"):
        onboard(request(acme, Live=live), Bucket(), Seeder(), machine_prefix=PREFIX)


def test_an_update_cannot_move_the_stack_to_another_tenant(acme: TenantConfig) -> None:
    event = request(acme, "Update")
    event["OldResourceProperties"]["Tenant"] = "other-co"
    with pytest.raises(Refused, match="cannot change its tenant"):
        onboard(event, Bucket(), Seeder(), machine_prefix=PREFIX)


def test_delete_removes_only_the_object_it_wrote(acme: TenantConfig) -> None:
    bucket = Bucket()
    onboard(request(acme), bucket, Seeder(), machine_prefix=PREFIX)
    # a Create that failed answered with another physical id: its rollback Delete removes nothing
    failed = {**request(acme, "Delete"), "PhysicalResourceId": "failed-r-0"}
    assert onboard(failed, bucket, Seeder(), machine_prefix=PREFIX).physical_id == "failed-r-0"
    assert bucket.deleted == []
    outcome = onboard(request(acme, "Delete"), bucket, Seeder(), machine_prefix=PREFIX)
    assert outcome.physical_id == config_key("acme-home")
    assert bucket.deleted == [config_key("acme-home")] and bucket.objects == {}
