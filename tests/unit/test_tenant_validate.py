"""Validation of tenant files: every problem, at its path, with the fix."""

from __future__ import annotations

import copy
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.tenant import (
    TenantConfigError,
    check_tenant_files,
    load_secrets_file,
    load_tenant_file,
    load_tenant_files,
    validate_tenant_data,
    validate_tenant_files,
)
from shared.tenant.cli_validate import run_validate
from shared.tenant.validate import Problem, data_path
from tests.factories import (
    EXAMPLES,
    FIXTURES,
    create_ticket_node,
    drop_in,
    end_node,
    field,
    human,
    load_example,
    region,
    set_in,
    tenant_dict,
    ticket_type,
    user,
)

Mutation = Callable[[dict[str, Any]], Any]
BROKEN = FIXTURES / "tenants" / "broken.yaml"
REPAIR = "ticket_types.repair"
NODES = f"{REPAIR}.nodes"


def _set(path: str, value: Any) -> Mutation:
    return lambda data: set_in(data, path, value)


def _drop(path: str) -> Mutation:
    return lambda data: drop_in(data, path)


def _append(path: str, value: Any) -> Mutation:
    return lambda data: _at(data, path).append(value)


def _at(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]
    return data


def _problems(mutate: Mutation | None = None) -> list[Problem]:
    data = tenant_dict()
    if mutate is not None:
        mutate(data)
    return validate_tenant_data(data, file="t.yaml")[1]


def _by_path(problems: list[Problem]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for problem in problems:
        found.setdefault(problem.path, []).append(problem.message)
    return found


def _write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    text = json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data, allow_unicode=True)
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- clean files


@pytest.mark.parametrize("name", ["acme-home", "bright-clean"])
def test_examples_have_no_problem_at_all(name: str) -> None:
    config, problems = validate_tenant_data(load_example(name), file=name)

    assert problems == []
    assert config is not None and config.tenant.id == name


def test_factory_tenant_is_clean() -> None:
    assert _problems() == []


def test_examples_and_their_secrets_check_clean() -> None:
    checks = check_tenant_files([str(EXAMPLES)])

    assert [Path(check.file).name for check in checks] == ["acme-home.yaml", "bright-clean.yaml"]
    assert [problem for check in checks for problem in check.problems] == []


# --------------------------------------------------------------------------- the planted mistakes


def test_broken_fixture_reports_all_five_mistakes_at_their_paths() -> None:
    # Given a copy of the example with five planted mistakes (see the file's header)
    # When it is validated
    problems = validate_tenant_files([str(BROKEN)])
    # Then each mistake is reported once, at its path, and nothing else
    found = _by_path(problems)
    assert sorted(found) == sorted(
        [
            "ticket_types.install.nodes.on_site.actions.decline",
            "ticket_types.install.nodes.follow_up",
            "technicians.t-li.regions",
            "catalog.service_items.SVC-VISIT.price",
            "sla_policies.install-standard.targets.on_site.normal",
        ]
    )
    assert all(problem.file == str(BROKEN) and problem.is_error for problem in problems)
    assert (
        "'dispatchng', which does not exist (did you mean 'dispatching'?)"
        in found["ticket_types.install.nodes.on_site.actions.decline"][0]
    )
    assert "cannot be reached from the start node" in found["ticket_types.install.nodes.follow_up"][0]
    assert "unknown region 'CN-GZ'" in found["technicians.t-li.regions"][0]
    assert "no price for tier 'T3'" in found["catalog.service_items.SVC-VISIT.price"][0]
    assert "'2 hours' is not a duration" in found["sla_policies.install-standard.targets.on_site.normal"][0]


def test_load_tenant_file_raises_with_every_problem() -> None:
    with pytest.raises(TenantConfigError) as caught:
        load_tenant_file(BROKEN)

    assert len(caught.value.problems) == 5
    assert "technicians.t-li.regions" in str(caught.value)


# --------------------------------------------------------------------------- one mistake each

CASES: list[tuple[str, Mutation, str, str]] = [
    # workflow graph
    (
        "action target",
        _set(f"{NODES}.review.actions.redo", "onsite"),
        f"{NODES}.review.actions.redo",
        "action 'redo' goes to node 'onsite', which does not exist (did you mean 'on_site'?); known nodes: ",
    ),
    (
        "next target",
        _set(f"{NODES}.settle.next", "close"),
        f"{NODES}.settle.next",
        "'next' goes to node 'close'",
    ),
    (
        "no-candidate target",
        _set(f"{NODES}.dispatching.on_no_candidate", "manaul"),
        f"{NODES}.dispatching.on_no_candidate",
        "goes to node 'manaul', which does not exist",
    ),
    ("start", _set(f"{REPAIR}.start", "begin"), f"{REPAIR}.start", "unknown node 'begin'"),
    (
        "unreachable node",
        _set(f"{NODES}.orphan", human({"close": "closed"})),
        f"{NODES}.orphan",
        "cannot be reached from the start node 'dispatching'",
    ),
    (
        "no way to an end",
        lambda d: (
            set_in(d, f"{NODES}.limbo", human({"again": "limbo"})),
            set_in(d, f"{NODES}.review.actions.park", "limbo"),
        ),
        f"{NODES}.limbo",
        "has no way to an end node",
    ),
    ("no end node", _set(f"{NODES}.closed", human({"reopen": "review"})), f"{NODES}", "no end node"),
    ("system node loop", _set(f"{NODES}.settle.next", "settle"), f"{NODES}.settle.next", "loop forever"),
    # who works a node
    (
        "role",
        _set(f"{NODES}.manual.assignee.role", "dispatch"),
        f"{NODES}.manual.assignee.role",
        "unknown role 'dispatch' (did you mean 'dispatcher'?)",
    ),
    (
        "user",
        _set(f"{NODES}.review.assignee", {"user": "u-nobody"}),
        f"{NODES}.review.assignee.user",
        "unknown user 'u-nobody'",
    ),
    (
        "department",
        _set(f"{NODES}.review.assignee", {"department": "ops"}),
        f"{NODES}.review.assignee.department",
        "unknown department 'ops'",
    ),
    (
        "technician",
        _set(f"{NODES}.on_site.assignee", {"technician": "t-zero"}),
        f"{NODES}.on_site.assignee.technician",
        "unknown technician 't-zero'",
    ),
    (
        "assigned without dispatch",
        _set(
            "ticket_types.visit",
            ticket_type(
                {
                    "go": {**human({"done": "closed"}, role=None), "assignee": {"technician": "assigned"}},
                    "closed": end_node(),
                },
                start="go",
            ),
        ),
        "ticket_types.visit.nodes.go.assignee.technician",
        "no dispatch node",
    ),
    (
        "skill",
        _set(f"{NODES}.dispatching.skills", {"repiar": 1}),
        f"{NODES}.dispatching.skills.repiar",
        "no technician has skill 'repiar' (did you mean 'repair'?)",
    ),
    (
        "create_ticket type",
        _set(
            "ticket_types.consult",
            ticket_type(
                {"handoff": create_ticket_node("repiar", "done"), "done": end_node()}, start="handoff"
            ),
        ),
        "ticket_types.consult.nodes.handoff.ticket_type",
        "unknown ticket type 'repiar' (did you mean 'repair'?)",
    ),
    ("ticket sla", _set(f"{REPAIR}.sla", "fast"), f"{REPAIR}.sla", "unknown SLA policy 'fast'"),
    # people
    (
        "technician region",
        _set("technicians.0.regions", ["CN-BJ", "CN-XX"]),
        "technicians.t-one.regions",
        "unknown region 'CN-XX'",
    ),
    (
        "technician calendar",
        _set("technicians.0.calendar", "night"),
        "technicians.t-one.calendar",
        "unknown calendar 'night'",
    ),
    (
        "supervisor",
        _set("technicians.0.supervisor", "u-nobody"),
        "technicians.t-one.supervisor",
        "unknown user 'u-nobody'",
    ),
    ("phone", _set("users.0.phone", 8613800000011), "users.u-agent.phone", "put the value in quotes"),
    # catalog
    (
        "tier of a price",
        _set("catalog.service_items.0.price.T9", "1.00"),
        "catalog.service_items.SVC-REPAIR.price.T9",
        "is not in catalog.tiers",
    ),
    (
        "missing price",
        _drop("catalog.parts.0.price.T2"),
        "catalog.parts.PRT-SCREW.price",
        "no price for tier 'T2'",
    ),
    (
        "float money",
        _set("catalog.service_items.0.price.T1", 99.5),
        "catalog.service_items.SVC-REPAIR.price.T1",
        'quote it as "99.50"',
    ),
    (
        "money text",
        _set("catalog.service_items.0.price.T1", "1,000.00"),
        "catalog.service_items.SVC-REPAIR.price.T1",
        "not a money amount",
    ),
    (
        "tier rule tier",
        _set("catalog.tier_rules.0.tier", "T3"),
        "catalog.tier_rules.0.tier",
        "unknown tier 'T3'",
    ),
    (
        "tier rule class",
        _set("catalog.tier_rules.0.when.region_class", "tier9"),
        "catalog.tier_rules.0.when.region_class",
        "unknown region class 'tier9'",
    ),
    (
        "surcharge priority",
        _set("catalog.surcharges.0.when.priority", "urgnt"),
        "catalog.surcharges.urgent.when.priority",
        "unknown priority 'urgnt'",
    ),
    (
        "surcharge amount",
        _set("catalog.surcharges.0.fixed", "5.00"),
        "catalog.surcharges.urgent",
        "exactly one of 'percent' or 'fixed'",
    ),
    # SLA and dispatch
    (
        "sla calendar",
        _set("sla_policies.standard.calendar", "nights"),
        "sla_policies.standard.calendar",
        "unknown calendar 'nights'",
    ),
    (
        "sla target node",
        _set("sla_policies.standard.targets.onsite", {"normal": "1h"}),
        "sla_policies.standard.targets.onsite",
        "node 'onsite' is not in repair",
    ),
    (
        "sla pause node",
        _set("sla_policies.standard.pause_on_nodes", ["waiting"]),
        "sla_policies.standard.pause_on_nodes",
        "node 'waiting' is not in repair",
    ),
    (
        "sla priority",
        _set("sla_policies.standard.targets.on_site.hihg", "1h"),
        "sla_policies.standard.targets.on_site.hihg",
        "not an option of the priority field",
    ),
    (
        "sla duration",
        _set("sla_policies.standard.targets.on_site.normal", "2 hours"),
        "sla_policies.standard.targets.on_site.normal",
        "'2 hours' is not a duration",
    ),
    (
        "sla notify",
        _set("sla_policies.standard.levels.1.notify", ["role:dispatch"]),
        "sla_policies.standard.levels.red.notify",
        "unknown role 'dispatch'",
    ),
    (
        "sla share",
        _set("sla_policies.standard.levels.0.at", 50),
        "sla_policies.standard.levels.yellow.at",
        'write it like "50%"',
    ),
    ("offer timeout", _set("dispatch.offer_timeout", 30), "dispatch.offer_timeout", "not a duration"),
    (
        "dispatch factor",
        _set("dispatch.weights.distanse", "0.1"),
        "dispatch.weights",
        "unknown dispatch factor 'distanse'",
    ),
    # calendars and the tenant
    (
        "tenant timezone",
        _set("tenant.timezone", "Asia/Shangai"),
        "tenant.timezone",
        "did you mean 'Asia/Shanghai'",
    ),
    (
        "calendar timezone",
        _set("calendars.default.timezone", "Mars/Base"),
        "calendars.default.timezone",
        "unknown time zone 'Mars/Base'",
    ),
    (
        "holidays",
        _set("calendars.default.holidays", "ZZ"),
        "calendars.default.holidays",
        "unknown holiday country 'ZZ'",
    ),
    (
        "days off",
        lambda d: set_in(
            set_in(d, "calendars.default.days_off", ["2026-10-11"]),
            "calendars.default.workdays",
            ["2026-10-11"],
        ),
        "calendars.default.workdays",
        "both a day off and a workday",
    ),
    ("tenant id", _set("tenant.id", "Test_Co"), "tenant.id", "not a valid tenant id"),
    # forms and keys
    (
        "field type",
        _set(f"{REPAIR}.fields.0.type", "txt"),
        f"{REPAIR}.fields.customer_name.type",
        "(did you mean 'text'?)",
    ),
    (
        "form field type",
        _set(f"{NODES}.on_site.form.0.type", "photo"),
        f"{NODES}.on_site.form.photos.type",
        "did you mean 'photos'",
    ),
    (
        "unknown key",
        _set("technicians.1.skils", {}),
        "technicians.t-two.skils",
        "unknown key 'skils' (did you mean 'skills'?)",
    ),
    (
        "missing key",
        _drop("technicians.1.capacity"),
        "technicians.t-two.capacity",
        "required key 'capacity' is missing",
    ),
    (
        "node kind",
        _set(f"{NODES}.settle.kind", "settle"),
        f"{NODES}.settle.kind",
        "did you mean 'settlement'",
    ),
    ("human without actions", _drop(f"{NODES}.review.actions"), f"{NODES}.review", "at least one action"),
    # channels
    (
        "webform type",
        _set("channels.0.ticket_type", "repiar"),
        "channels.web.ticket_type",
        "unknown ticket type 'repiar'",
    ),
    (
        "rule type",
        _set("channels.1.rules.0.ticket_type", "repiar"),
        "channels.partner.rules.0.ticket_type",
        "unknown ticket type 'repiar'",
    ),
    (
        "rule field",
        _set("channels.1.rules.0.fields.custmer_name", "x"),
        "channels.partner.rules.0.fields.custmer_name",
        "has no field 'custmer_name'",
    ),
    (
        "rule expression",
        _set("channels.1.rules.0.fields.region", "data.["),
        "channels.partner.rules.0.fields.region",
        "does not compile",
    ),
    (
        "rule match",
        _set("channels.1.rules.0.when.match", "length("),
        "channels.partner.rules.0.when",
        "does not compile",
    ),
    (
        "platform",
        _set("channels.1.platform", "standard-webhook"),
        "channels.partner",
        "unknown platform 'standard-webhook' (did you mean 'standard-webhooks'?)",
    ),
    (
        "secret",
        _set("channels.1.secret", {"ssm": "partner"}),
        "channels.partner.secret.ssm",
        "not an SSM parameter name",
    ),
    # duplicate ids
    (
        "duplicate region",
        _append("regions", region("CN-BJ")),
        "regions.CN-BJ",
        "region code 'CN-BJ' is used 2 times",
    ),
    ("duplicate user", _append("users", user("u-boss")), "users.u-boss", "user id 'u-boss' is used 2 times"),
    (
        "duplicate technician",
        lambda d: d["technicians"].append(dict(d["technicians"][0])),
        "technicians.t-one",
        "is used 2 times",
    ),
    (
        "duplicate item",
        lambda d: d["catalog"]["service_items"].append(dict(d["catalog"]["service_items"][0])),
        "catalog.service_items.SVC-REPAIR",
        "is used 2 times",
    ),
    (
        "duplicate part",
        lambda d: d["catalog"]["parts"].append(dict(d["catalog"]["parts"][0])),
        "catalog.parts.PRT-SCREW",
        "is used 2 times",
    ),
    (
        "duplicate channel",
        lambda d: set_in(d, "channels.1.id", "web"),
        "channels.web",
        "channel id 'web' is used 2 times",
    ),
    ("duplicate tier", _append("catalog.tiers", "T1"), "catalog.tiers", "tier 'T1' is listed 2 times"),
    (
        "duplicate field",
        _append(f"{REPAIR}.fields", field("region")),
        f"{REPAIR}.fields.region",
        "field name 'region' is used 2 times",
    ),
    (
        "duplicate form field",
        _append(f"{NODES}.on_site.form", field("photos")),
        f"{NODES}.on_site.form.photos",
        "is used 2 times",
    ),
    (
        "user is a technician",
        _append("users", user("t-one")),
        "technicians.t-one",
        "both a user id and a technician id",
    ),
    (
        "two ticket types with one resource name",
        lambda data: data["ticket_types"].update({"Repair": copy.deepcopy(data["ticket_types"]["repair"])}),
        "ticket_types.Repair",
        "give the same resource name 'Repair'",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_each_mistake_is_reported_at_its_path(mutate: Mutation, path: str, fragment: str) -> None:
    found = _by_path(_problems(mutate))

    assert path in found, f"no problem at {path}; got {found}"
    assert any(fragment in message for message in found[path]), found[path]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_each_mistake_stops_loading(mutate: Mutation, path: str, fragment: str) -> None:
    data = tenant_dict()
    mutate(data)

    config, problems = validate_tenant_data(data)

    assert config is None and any(problem.is_error for problem in problems)


# --------------------------------------------------------------------------- warnings

WARNINGS: list[tuple[str, Mutation, str, str]] = [
    ("weights", _set("dispatch.weights.distance", "0.3"), "dispatch.weights", "add up to 0.9, not 1"),
    (
        "unheld role",
        _set(f"{NODES}.review.assignee.role", "finance"),
        f"{NODES}.review.assignee.role",
        "no user has role 'finance'",
    ),
    (
        "unused policy",
        _set(f"{REPAIR}.sla", None),
        "sla_policies.standard",
        "no ticket type uses this policy",
    ),
    (
        "no catch-all tier",
        _set("catalog.tier_rules", [{"when": {"region_class": "tier1"}, "tier": "T1"}]),
        "catalog.tier_rules",
        "no rule matches every ticket",
    ),
    (
        "skill level",
        _set(f"{NODES}.dispatching.skills.repair", 5),
        f"{NODES}.dispatching.skills.repair",
        "at level 5 or more (best: 2)",
    ),
    (
        "unmapped field",
        _drop("channels.1.rules.0.fields.region"),
        "channels.partner.rules.0.fields",
        "required field(s) region",
    ),
    (
        "role typo on a user",
        _set("users.0.roles", ["agent", "agnet"]),
        "users.u-agent.roles",
        "did you mean 'agent'",
    ),
    (
        "levels order",
        lambda d: d["sla_policies"]["standard"]["levels"].reverse(),
        "sla_policies.standard.levels",
        "rising order",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "path", "fragment"), [case[1:] for case in WARNINGS], ids=[case[0] for case in WARNINGS]
)
def test_warnings_are_reported_but_do_not_stop_loading(mutate: Mutation, path: str, fragment: str) -> None:
    data = tenant_dict()
    mutate(data)

    config, problems = validate_tenant_data(data)

    assert config is not None
    assert [(p.severity, p.path) for p in problems] == [("warning", path)]
    assert fragment in problems[0].message


# --------------------------------------------------------------------------- all at once, no cascades


def test_every_problem_is_collected_in_one_pass() -> None:
    # Given a shape error in one section and reference errors in others
    def plant(data: dict[str, Any]) -> None:
        set_in(data, "sla_policies.standard.targets.on_site.normal", "2 hours")
        set_in(data, "technicians.0.regions", ["CN-XX"])
        set_in(data, f"{NODES}.review.actions.redo", "onsite")
        drop_in(data, "catalog.parts.0.price.T2")
        set_in(data, "tenant.currency", "yuan")

    # Then each is reported
    assert set(_by_path(_problems(plant))) == {
        "sla_policies.standard.targets.on_site.normal",
        "technicians.t-one.regions",
        f"{NODES}.review.actions.redo",
        "catalog.parts.PRT-SCREW.price",
        "tenant.currency",
    }


def test_a_broken_node_does_not_cascade() -> None:
    # A node that fails its own rules is still a known node, and nothing after it is called unreachable.
    problems = _problems(_drop(f"{NODES}.on_site.assignee"))

    assert [(p.path, p.message) for p in problems] == [
        (f"{NODES}.on_site", "a human node needs 'assignee', e.g. {role: agent}")
    ]


def test_a_broken_technician_still_counts_for_skills_and_ids() -> None:
    def plant(data: dict[str, Any]) -> None:
        set_in(data, "technicians.1.skills", {"paint": 1})
        set_in(data, "technicians.1.phone", "12345")
        set_in(data, f"{NODES}.dispatching.skills", {"paint": 1})

    assert [p.path for p in _problems(plant)] == ["technicians.t-two.phone"]


def test_a_missing_section_does_not_cascade() -> None:
    problems = _problems(_drop("ticket_types"))

    assert [(p.path, p.message) for p in problems] == [
        ("ticket_types", "required key 'ticket_types' is missing; add it")
    ]


def test_a_price_in_a_bad_format_is_not_also_missing() -> None:
    problems = _problems(_set("catalog.service_items.0.price.T1", 12.3))

    assert [p.path for p in problems] == ["catalog.service_items.SVC-REPAIR.price.T1"]


def test_not_a_mapping() -> None:
    config, problems = validate_tenant_data(["tenant"], file="x.yaml")

    assert config is None
    assert (
        problems[0].path == ""
        and "expected a mapping with the sections tenant, regions" in problems[0].message
    )


def test_data_path_names_items_by_id() -> None:
    data = {
        "technicians": [{"id": "t-a"}, {"name": "no id"}, "plain"],
        "channels": [{"id": "c", "platform": "shopify"}],
    }

    assert data_path(data, ("technicians", 0, "regions", 1)) == "technicians.t-a.regions.1"
    assert data_path(data, ("technicians", 2)) == "technicians.2"
    assert data_path(data, ("technicians", 1)) == "technicians.no id"
    assert data_path(data, ("channels", 0, "shopify", "secret", "ssm")) == "channels.c.secret.ssm"
    assert data_path(data, ("calendars", "x", "[key]")) == "calendars.x"


# --------------------------------------------------------------------------- files


def test_yaml_and_json_files_load(tmp_path: Path) -> None:
    for name in ("tenant.yaml", "tenant.yml", "tenant.json"):
        assert load_tenant_file(_write(tmp_path, name, tenant_dict())).tenant.id == "test-co"


def test_keys_given_twice_are_reported(tmp_path: Path) -> None:
    text = yaml.safe_dump(tenant_dict(), sort_keys=False)
    text = text.replace("  name: Test Co\n", "  name: Test Co\n  name: Other Co\n", 1)
    path = tmp_path / "twice.yaml"
    path.write_text(text + "dispatch: {}\n", encoding="utf-8")

    problems = validate_tenant_files([path])

    assert {(p.path, p.is_error) for p in problems} == {("tenant.name", True), ("dispatch", True)}
    assert "appears more than once" in problems[0].message


def test_json_keys_given_twice_are_reported(tmp_path: Path) -> None:
    text = json.dumps(tenant_dict())
    path = tmp_path / "twice.json"
    path.write_text(text[:-1] + ', "channels": []}', encoding="utf-8")

    assert [p.path for p in validate_tenant_files([path])] == ["channels"]


@pytest.mark.parametrize(
    ("name", "text", "fragment"),
    [
        ("bad.yaml", "tenant: {id: x\nregions: [", "YAML syntax error at line"),
        ("bad.json", '{"tenant": ', "JSON syntax error at line 1"),
        ("bad.txt", "tenant: {}", "unsupported file type '.txt'"),
        ("empty.yaml", "", "the file is empty"),
    ],
)
def test_unreadable_files(tmp_path: Path, name: str, text: str, fragment: str) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")

    with pytest.raises(TenantConfigError) as caught:
        load_tenant_file(path)

    assert fragment in caught.value.problems[0].message


def test_missing_file() -> None:
    assert validate_tenant_files(["nowhere/none.yaml"]) == [
        Problem("nowhere/none.yaml", "", "file not found; check the path")
    ]


def test_tenant_ids_must_be_unique_across_files(tmp_path: Path) -> None:
    first = _write(tmp_path, "a.yaml", tenant_dict())
    second = _write(tmp_path, "b.yaml", tenant_dict())

    problems = validate_tenant_files([first, second])

    assert [(p.file, p.path) for p in problems] == [(str(second), "tenant.id")]
    assert f"already the id of {first}" in problems[0].message
    with pytest.raises(TenantConfigError):
        load_tenant_files([first, second])


def test_load_tenant_files() -> None:
    configs = load_tenant_files([EXAMPLES / "acme-home.yaml", EXAMPLES / "bright-clean.yaml"])

    assert [cfg.tenant.id for cfg in configs] == ["acme-home", "bright-clean"]


# --------------------------------------------------------------------------- secrets files


def test_example_secrets_cover_every_reference() -> None:
    for name in ("acme-home", "bright-clean"):
        config = load_tenant_file(EXAMPLES / f"{name}.yaml")
        secrets = load_secrets_file(EXAMPLES / f"{name}.secrets.yaml")
        assert set(secrets) == set(config.secret_refs())


def test_a_missing_secret_is_a_warning(tmp_path: Path) -> None:
    tenant = tmp_path / "acme-home.yaml"
    shutil.copy(EXAMPLES / "acme-home.yaml", tenant)
    secrets = yaml.safe_load((EXAMPLES / "acme-home.secrets.yaml").read_text(encoding="utf-8"))
    del secrets["/scrm/acme-home/woo-main"]
    secrets["/scrm/acme-home/partner-api"] = "not-whsec"
    _write(tmp_path, "acme-home.secrets.yaml", secrets)

    problems = validate_tenant_files([tenant])

    assert {(p.path, p.severity) for p in problems} == {
        ("/scrm/acme-home/woo-main", "warning"),
        ("/scrm/acme-home/partner-api", "warning"),
    }
    assert all(p.file == str(tmp_path / "acme-home.secrets.yaml") for p in problems)


def test_a_secrets_file_alone_is_checked_for_its_shape(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.secrets.yaml", {"/scrm/x/a": ["not", "text"], "relative": "v"})

    problems = validate_tenant_files([path])

    assert sorted(p.path for p in problems if p.is_error) == ["/scrm/x/a", "relative"]
    with pytest.raises(TenantConfigError):
        load_secrets_file(path)


# --------------------------------------------------------------------------- the command


def test_run_validate_clean_files() -> None:
    out = io.StringIO()

    code = run_validate([str(EXAMPLES / "acme-home.yaml"), str(EXAMPLES / "bright-clean.yaml")], out=out)

    lines = out.getvalue().splitlines()
    assert code == 0
    assert lines[0].startswith(
        f"OK: {EXAMPLES / 'acme-home.yaml'} (tenant acme-home, 3 ticket types, 14 nodes,"
    )
    assert lines[1].startswith(f"OK: {EXAMPLES / 'bright-clean.yaml'} (tenant bright-clean, 2 ticket types,")
    assert lines[-1] == "2 files checked: 2 OK, 0 failed"


def test_run_validate_prints_file_path_message() -> None:
    out = io.StringIO()

    code = run_validate([str(BROKEN)], out=out)

    lines = out.getvalue().splitlines()
    assert code == 1
    assert f"{BROKEN}: technicians.t-li.regions: unknown region 'CN-GZ'" in "\n".join(lines)
    assert sum(line.startswith(f"{BROKEN}: ") for line in lines) == 5
    assert lines[-2:] == [f"FAILED: {BROKEN} (5 errors)", "1 file checked: 0 OK, 1 failed"]


def test_run_validate_passes_with_warnings(tmp_path: Path) -> None:
    path = _write(tmp_path, "w.yaml", set_in(tenant_dict(), "dispatch.weights.distance", "0.3"))
    out = io.StringIO()

    assert run_validate([str(path)], out=out) == 0
    assert f"{path}: dispatch.weights: warning: the weights add up to 0.9" in out.getvalue()
    assert (
        "(tenant test-co, 1 ticket type, 6 nodes, 2 regions, 2 users, 2 technicians, 2 channels, 1 warning)"
        in (out.getvalue())
    )


def test_run_validate_without_files() -> None:
    out = io.StringIO()

    assert run_validate([], out=out) == 1
    assert "no files given" in out.getvalue()
