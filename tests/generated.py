"""Random VALID tenant files, for the generated-tenant suites (issue 14).

A tenant writes its file in its own words and its own order. Nothing in the platform may depend
on the alphabetical order of node or action names, nor on what they are called: a human node's
FIRST action in the file is its primary one (the form must be complete for it, and it is the
Task's ``Next`` in the ASL), whatever its name.

- ``random_tenant(rng, tenant_id)``: one tenant file as a plain mapping (what ``yaml.safe_load``
  of the file gives), from a seeded ``random.Random``: deterministic per seed;
- ``tenants()``: the same as a hypothesis strategy (``st.randoms(use_true_random=False)``);
- ``to_yaml(data)``: the file's text, keys in the generated order.

What the generated files contain:

- 1-3 ticket types, each with 2-8 nodes, in a random order in the file (the start node is not
  necessarily the first one); names from a mixed pool (pinyin such as ``paidan``, ``zhuandan``,
  English such as ``abandon``, YAML traps such as ``no`` or ``on``, capitalised and suffixed
  variants). Node and action names must match ``[A-Za-z][A-Za-z0-9_-]*`` (``models.NodeName``),
  so CJK goes where the format allows any text: type and node labels, select options, region,
  user and technician names, text values;
- about half of the human nodes are "adversarial": the primary action's name starts with ``z``
  and the others' with ``a`` (or a capital), so it sorts LAST, and a transport or a lookup that
  sorts keys picks the wrong action;
- intake nodes (role, user or department assignees) with forms whose required fields bind the
  primary action only, loops (actions going back, self-loops), several ways out per human node,
  sometimes two actions to the same target (the second is then taken by success, not a Catch);
- a field-service bundle in most types: a ``dispatch`` node (``next`` the technician's node,
  ``on_no_candidate`` a manual-dispatch node whose form picks a ``technician``), a node worked by
  ``{technician: assigned}`` whose form fills ``service_items`` (and photos, parts), optional
  review / waiting-for-parts / after-settlement nodes, and a ``settlement`` node. Nodes that need
  a technician are only entered after a dispatch (or a manual dispatch) chose one;
- ``create_ticket`` nodes opening a linked ticket of a type that has no settlement and no
  ``create_ticket`` of its own (so linked tickets do not multiply), 1-2 ``end`` nodes;
- regions, users holding every role a node is assigned to, technicians covering every region and
  every skill a dispatch node asks for (with room for many tickets), a catalog with a price per
  tier and a catch-all tier rule and installer share, calendars, sometimes an SLA policy and a
  web form channel.

Every generated file passes ``shared.tenant.validate.validate_tenant_data`` with no problem at
all (no warning either); the unit suite checks that on every example it draws.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml
from hypothesis import strategies as st

from shared.tenant.checks.workflow import resource_name

__all__ = [
    "RESERVED_NODE_NAMES",
    "random_tenant",
    "tenants",
    "to_yaml",
]

RESERVED_NODE_NAMES: frozenset[str] = frozenset()
"""Valid node names the generator leaves out (none: the compiler's own states have names no node can
have, e.g. ``Loop limit exceeded``; ``test_generated_tenants`` checks it)."""

_PINYIN = (
    "paidan",
    "shangmen",
    "zhuandan",
    "wancheng",
    "fanggong",
    "guanbi",
    "shenhe",
    "huifang",
    "jiedan",
    "daijian",
    "quxiao",
    "bohui",
    "tuihui",
    "genjin",
    "zhipai",
    "zhuan",
    "anzhuang",
    "weixiu",
    "zixun",
    "zhongzhi",
    "anpai",
)
_LATIN = (
    "abandon",
    "approve",
    "assign",
    "answer",
    "accept",
    "close",
    "complete",
    "confirm",
    "decline",
    "escalate",
    "reopen",
    "review",
    "zap",
    "zone",
    "zulu",
    "alpha",
    "omega",
    "hold",
    "next",
    "done",
    "start",
    "end",
    "retry",
    "skip",
    "on_site",
    "kind",
    "actions",
)
_YAML_TRAPS = ("no", "yes", "on", "off", "null", "true")
_WORDS = _PINYIN + _LATIN + _YAML_TRAPS
_Z_WORDS = tuple(w for w in _WORDS if w.startswith("z"))
_A_WORDS = tuple(w for w in _WORDS if w.startswith("a"))
_SUFFIXES = ("-2", "_x", "2", "-b", "_z", "-zz", "_0")

_CJK_LABELS = (
    "派单",
    "上门",
    "转单",
    "完工",
    "返工",
    "审核",
    "回访",
    "关闭",
    "待件",
    "结算",
    "咨询",
    "人工派单",
)
_CJK_TYPE_NAMES = ("售中安装", "售后维修", "售前咨询", "投诉", "保养", "Reinigung", "Beschwerde", "巡检")
_CJK_TEXT = ("陈先生", "空调不制冷", "请尽快上门", "Küche reinigen", "ok", "王女士 / Ms Wang", "二楼右手边")
_PEOPLE = ("林客服", "赵主管", "钱会计", "Anna Schmidt", "Jonas Weber", "孙调度", "周质检", "Mia")
_TECH_NAMES = ("王师傅", "李师傅", "张师傅", "Lukas Becker", "Sofia Wagner", "刘师傅")
_REGIONS = (
    ("CN-BJ", "北京", 39.90, 116.40),
    ("CN-SH", "上海", 31.23, 121.47),
    ("CN-CD", "成都", 30.57, 104.07),
    ("CN-MY", "绵阳", 31.47, 104.68),
    ("CN-GZ", "广州", 23.13, 113.26),
    ("DE-BE", "Berlin", 52.52, 13.40),
    ("DE-BB", "Brandenburg", 52.39, 13.06),
    ("US-NY", "New York", 40.71, -74.01),
)
_REGION_CLASSES = ("tier1", "tier2", "tier3", "city", "rural")
_ZONES = ("Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC")
_CURRENCIES = ("CNY", "EUR", "USD")
_SKILLS = ("ac-install", "ac-repair", "deep-clean", "windows", "z-skill", "anzhuang")
_CUSTOM_ROLES = ("qa-lead", "zhuguan", "ops_2", "kefu")
_DEPARTMENTS = ("ops", "shouhou", "field-1")
_FORM_TYPES = (
    "text",
    "number",
    "money",
    "select",
    "multiselect",
    "date",
    "datetime",
    "phone",
    "email",
    "region",
)
_TICKET_FIELD_TYPES = ("text", "number", "money", "select", "date", "email", "geo", "multiselect")
_SELECT_OPTIONS = (["1", "2", "3", "4", "5"], ["yes", "no"], ["满意", "一般", "不满意"], ["A", "b", "Z"])


def to_yaml(data: dict[str, Any]) -> str:
    """The file's text: keys in the generated order (never sorted), non-ASCII kept."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)


def random_tenant(rng: random.Random, tenant_id: str) -> dict[str, Any]:
    """One valid tenant file as a mapping (YAML-able: str, int, float, bool, list, dict only)."""
    return _Tenant(rng, tenant_id).build()


def tenants(tenant_ids: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[dict[str, Any]]:
    """Hypothesis strategy of valid tenant files (``random_tenant`` driven by hypothesis)."""
    ids = tenant_ids if tenant_ids is not None else st.from_regex(r"[a-z0-9][a-z0-9-]{2,31}", fullmatch=True)
    return st.builds(random_tenant, st.randoms(use_true_random=False, note_method_calls=False), ids)


# --------------------------------------------------------------------------- names


def _decorate(rng: random.Random, word: str, *, keep_case: bool = False) -> str:
    if not keep_case:
        style = rng.random()
        if style < 0.12:
            word = word.capitalize()
        elif style < 0.18:
            word = word.upper()
    if rng.random() < 0.3:
        word += rng.choice(_SUFFIXES)
    return word


def _fresh(rng: random.Random, taken: set[str], words: Iterable[str], *, keep_case: bool = False) -> str:
    pool = tuple(words)
    for _ in range(60):
        name = _decorate(rng, rng.choice(pool), keep_case=keep_case)
        if name not in taken and name not in RESERVED_NODE_NAMES:
            taken.add(name)
            return name
    n = len(taken)
    while f"{pool[0]}-{n}" in taken:
        n += 1
    taken.add(f"{pool[0]}-{n}")
    return f"{pool[0]}-{n}"


def _field_name(rng: random.Random, taken: set[str]) -> str:
    # Field names: letters, digits and '_' only (models.FieldName).
    return _fresh(rng, taken, (w.replace("-", "_") for w in _WORDS if w not in _YAML_TRAPS)).replace("-", "_")


# --------------------------------------------------------------------------- the tenant


@dataclass
class _Plan:
    """What one ticket type will contain, decided before the nodes are written."""

    type_id: str
    dispatch: bool = False
    settle: bool = False
    linked_type: str | None = None
    """The type a create_ticket node opens."""
    priority: bool = False
    targeted: bool = False
    """Another type's create_ticket opens this one: it must not open one itself."""
    start: str = ""
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)


class _Tenant:
    def __init__(self, rng: random.Random, tenant_id: str) -> None:
        self.rng = rng
        self.tenant_id = tenant_id
        self.reserved_fields = {"region", "area", "quyu", "Chengshi", "priority", "location"}

    # -- sections ---------------------------------------------------------------

    def build(self) -> dict[str, Any]:
        rng = self.rng
        zone = rng.choice(_ZONES)
        info = {
            "id": self.tenant_id,
            "name": rng.choice(("安美家电服务", "Bright Clean GmbH", "闪电维修", "Acme 服务")),
            "timezone": zone,
            "currency": rng.choice(_CURRENCIES),
        }
        self.regions = self._regions()
        self.calendars = self._calendars(zone)
        self.roles = ["agent", "dispatcher", "supervisor", *rng.sample(_CUSTOM_ROLES, rng.randint(0, 2))]
        self.users = self._users()
        self.skills: dict[str, int] = {}
        self.technicians = self._technicians()
        self.plans = self._plans()
        self.catalog = self._catalog()
        for plan in self.plans:
            plan.nodes = self._nodes(plan)
        types = {plan.type_id: self._ticket_type(plan) for plan in self.plans}
        self.types = types
        data: dict[str, Any] = {
            "tenant": info,
            "regions": self.regions,
            "calendars": self.calendars,
            "users": self.users,
            "technicians": self.technicians,
            "catalog": self.catalog,
        }
        policies = self._sla_policies()
        if policies:
            data["sla_policies"] = policies
        data["dispatch"] = self._dispatch()
        data["ticket_types"] = types
        if rng.random() < 0.4:
            data["channels"] = [
                {
                    "id": f"form-{rng.randint(1, 99)}",
                    "platform": "webform",
                    "ticket_type": rng.choice(list(types)),
                }
            ]
        # Sections in the tenant's order too (ticket_types before regions, ...): nothing may care.
        if rng.random() < 0.3:
            keys = list(data)
            rng.shuffle(keys)
            data = {key: data[key] for key in keys}
        return data

    def _regions(self) -> list[dict[str, Any]]:
        rng = self.rng
        picked = rng.sample(_REGIONS, rng.randint(1, 4))
        regions = []
        for code, name, _lat, _lon in picked:
            region: dict[str, Any] = {"code": code, "name": name, "class": rng.choice(_REGION_CLASSES)}
            if rng.random() < 0.7:
                region["coefficient"] = f"{rng.randint(80, 130) / 100:.2f}"
            regions.append(region)
        self.region_points = {code: (lat, lon) for code, _name, lat, lon in picked}
        return regions

    def _calendars(self, zone: str) -> dict[str, Any]:
        rng = self.rng
        calendars: dict[str, Any] = {}
        for name in rng.sample(("default", "day-shift", "z-night", "all-week"), rng.randint(1, 2)):
            hours = rng.choice(
                (
                    {"mon-fri": ["09:00-12:00", "13:00-18:00"], "sat": ["09:00-12:00"]},
                    {"mon-sun": ["00:00-24:00"]},
                    {"sat,sun": ["10:00-16:00"], "mon-fri": ["08:00-20:00"]},
                    {"mon,wed-fri": ["00:00-12:00", "12:00-24:00"]},
                )
            )
            calendar: dict[str, Any] = {"timezone": rng.choice((zone, *_ZONES)), "working_hours": hours}
            if rng.random() < 0.6:
                calendar["holidays"] = rng.choice(("CN", "DE", "DE-BE", "US"))
            if rng.random() < 0.5:
                calendar["days_off"] = ["2026-12-31"]
            if rng.random() < 0.3:
                calendar["workdays"] = ["2026-10-11"]
            calendars[name] = calendar
        return calendars

    def _users(self) -> list[dict[str, Any]]:
        rng = self.rng
        ids: set[str] = set()
        users: list[dict[str, Any]] = []
        for _ in range(rng.randint(2, 5)):
            uid = "u-" + _fresh(rng, ids, _PINYIN, keep_case=True)
            user: dict[str, Any] = {"id": uid, "name": rng.choice(_PEOPLE), "roles": []}
            if rng.random() < 0.6:
                user["email"] = f"{uid}@example.com"
            if rng.random() < 0.5:
                user["phone"] = f"+86138{rng.randint(10_000_000, 99_999_999)}"
            users.append(user)
        for role in [*self.roles, *rng.sample(("admin", "finance"), rng.randint(0, 2))]:
            holders = rng.sample(users, rng.randint(1, min(2, len(users))))
            for user in holders:
                user["roles"].append(role)
        for user in users:
            if rng.random() < 0.4:
                user["department"] = rng.choice(_DEPARTMENTS)
        self.departments = sorted({u["department"] for u in users if "department" in u})
        self.user_ids = ids
        return users

    def _technicians(self) -> list[dict[str, Any]]:
        rng = self.rng
        ids: set[str] = set()
        codes = [r["code"] for r in self.regions]
        technicians: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 4)):
            tid = "t-" + _fresh(rng, ids, _PINYIN, keep_case=True)
            skills = {skill: rng.randint(1, 3) for skill in rng.sample(_SKILLS, rng.randint(0, 3))}
            tech: dict[str, Any] = {
                "id": tid,
                "name": rng.choice(_TECH_NAMES),
                "phone": f"+86139{rng.randint(10_000_000, 99_999_999)}",
                "partner_type": rng.choice(("direct", "dealer")),
                "regions": rng.sample(codes, rng.randint(1, len(codes))),
                "skills": skills,
                "capacity": rng.randint(30, 60),  # room for every ticket a walk opens
                "rating": f"{rng.randint(30, 50) / 10:.1f}",
            }
            if rng.random() < 0.5:
                lat, lon = self.region_points[tech["regions"][0]]
                tech["location"] = {"lat": round(lat + rng.uniform(-0.1, 0.1), 4), "lon": round(lon, 4)}
            if rng.random() < 0.5:
                tech["calendar"] = rng.choice(list(self.calendars))
            if rng.random() < 0.5:
                tech["supervisor"] = rng.choice(self.users)["id"]
            if rng.random() < 0.3:
                tech["email"] = f"{tid}@example.com"
            technicians.append(tech)
            for skill, level in skills.items():
                self.skills[skill] = max(level, self.skills.get(skill, 0))
        for code in codes:  # every region has someone
            if not any(code in t["regions"] for t in technicians):
                rng.choice(technicians)["regions"].append(code)
        return technicians

    def _catalog(self) -> dict[str, Any]:
        rng = self.rng
        tiers = rng.choice((["T1", "T2", "T3"], ["CITY", "RURAL"], ["std"], ["Z9", "A1"]))
        items = []
        for code in rng.sample(
            ("SVC-AC-INSTALL", "SVC-REPAIR", "SVC-VISIT", "SVC-CLEAN", "svc.z"), rng.randint(1, 4)
        ):
            price = {tier: f"{rng.randint(1, 30000) / 100:.2f}" for tier in tiers}
            items.append(
                {
                    "code": code,
                    "name": rng.choice(_CJK_LABELS),
                    "unit": rng.choice(("台", "次", "m²")),
                    "price": price,
                }
            )
        parts = []
        for sku in rng.sample(("PRT-PIPE", "PRT-BRACKET", "prt-z"), rng.randint(0, 2)):
            parts.append({"sku": sku, "name": "铜管", "unit": "米", "price": {t: "12.50" for t in tiers}})
        classes = sorted({r["class"] for r in self.regions})
        tier_rules: list[dict[str, Any]] = []
        for _ in range(rng.randint(0, 2)):
            when = rng.choice(
                ({"region_class": rng.choice(classes)}, {"partner_type": rng.choice(("direct", "dealer"))})
            )
            tier_rules.append({"when": when, "tier": rng.choice(tiers)})
        tier_rules.append({"when": {}, "tier": rng.choice(tiers)})  # pricing needs a rule for every ticket
        surcharges: list[dict[str, Any]] = []
        if rng.random() < 0.5:
            surcharges.append(
                {"code": "night", "when": {"completed_between": ["20:00", "08:00"]}, "percent": "20"}
            )
        if rng.random() < 0.4:
            surcharges.append(
                {"code": "remote", "when": {"region_class": rng.choice(classes)}, "fixed": "50.00"}
            )
        if rng.random() < 0.5 and any(plan.priority for plan in self.plans):
            surcharges.append({"code": "urgent", "when": {"priority": "urgent"}, "percent": "30"})
        catalog: dict[str, Any] = {
            "version": f"2026-{rng.randint(1, 12):02d}",
            "tiers": tiers,
            "service_items": items,
        }
        if parts:
            catalog["parts"] = parts
        catalog["tier_rules"] = tier_rules
        if surcharges:
            catalog["surcharges"] = surcharges
        if rng.random() < 0.8:
            shares = [{"when": {"partner_type": "direct"}, "percent": str(rng.randint(40, 70))}]
            shares.append({"when": {}, "percent": str(rng.randint(60, 90))})
            catalog["installer_share"] = shares
        catalog["rounding"] = rng.choice(("half_up", "half_even", "down"))
        self.item_codes = [i["code"] for i in items]
        self.part_skus = [p["sku"] for p in parts]
        return catalog

    def _dispatch(self) -> dict[str, Any]:
        rng = self.rng
        factors = rng.sample(("distance", "skill", "load", "rating", "fairness"), rng.randint(1, 5))
        cuts = sorted(rng.sample(range(1, 100), len(factors) - 1))
        shares = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
        return {
            "weights": {f: f"{s / 100:.2f}" for f, s in zip(factors, shares, strict=True)},
            "max_distance_km": rng.choice((50, 80, 500)),
            "offer_timeout": rng.choice(("20m", "30m", "1h", "1h30m")),
        }

    def _sla_policies(self) -> dict[str, Any]:
        rng = self.rng
        if rng.random() < 0.5:
            return {}
        name = rng.choice(("standard", "z-sla", "kuaisu"))
        users = rng.sample(self.plans, rng.randint(1, len(self.plans)))
        human = [
            node_name for plan in users for node_name, node in plan.nodes.items() if node["kind"] == "human"
        ]
        for plan in users:
            self.types[plan.type_id]["sla"] = name
        targets: dict[str, Any] = {}
        for node_name in rng.sample(human, min(len(human), rng.randint(1, 3))):
            budgets = {"normal": rng.choice(("2h", "1bd", "30m"))}
            if all(p.priority for p in users) and rng.random() < 0.5:
                budgets["urgent"] = "20m"
            targets[node_name] = budgets
        levels = []
        roles = self.roles
        for share in sorted(rng.sample((50, 75, 80, 100, 120), rng.randint(1, 3))):
            notify = rng.sample(
                [
                    "assignee",
                    "supervisor",
                    f"role:{rng.choice(roles)}",
                    f"user:{rng.choice(self.users)['id']}",
                ],
                rng.randint(1, 2),
            )
            channels = rng.choice((["sms"], ["email"], ["sms", "email"]))
            levels.append({"name": f"l{share}", "at": f"{share}%", "notify": notify, "channels": channels})
        policy: dict[str, Any] = {
            "calendar": rng.choice(list(self.calendars)),
            "targets": targets,
            "levels": levels,
        }
        if rng.random() < 0.3 and human:
            policy["pause_on_nodes"] = [rng.choice(human)]
        return {name: policy}

    # -- ticket types -------------------------------------------------------------

    def _plans(self) -> list[_Plan]:
        rng = self.rng
        taken: set[str] = set()
        plans: list[_Plan] = []
        resources: set[str] = set()  # ids must differ in their resource names too (the validator says so)
        for _ in range(rng.randint(1, 3)):
            type_id = _fresh(rng, taken, (*_PINYIN, "complaint", "z-install", "Repair", "a1"))
            while resource_name(type_id) in resources:
                type_id = _fresh(rng, taken, (*_PINYIN, "complaint", "z-install", "Repair", "a1"))
            resources.add(resource_name(type_id))
            plans.append(_Plan(type_id=type_id))
        for plan in plans:
            plan.dispatch = rng.random() < 0.65
            plan.settle = plan.dispatch and rng.random() < 0.85
            plan.priority = rng.random() < 0.5
        for plan in rng.sample(plans, len(plans)):
            if plan.targeted or rng.random() < 0.4:
                continue
            candidates = [p for p in plans if p is not plan and not p.settle and p.linked_type is None]
            if candidates:
                target = rng.choice(candidates)
                target.targeted = True
                plan.linked_type = target.type_id
        return plans

    def _ticket_type(self, plan: _Plan) -> dict[str, Any]:
        rng = self.rng
        taken: set[str] = set()
        fields: list[dict[str, Any]] = []
        name_field = _field_name(rng, taken)
        fields.append({"name": name_field, "type": "text", "required": True})
        if rng.random() < 0.7:
            fields.append({"name": _field_name(rng, taken), "type": "phone", "required": rng.random() < 0.5})
        if plan.dispatch:
            # dispatch and settlement find the region by its type, whatever it is called
            region_name = rng.choice(("region", "area", "quyu", "Chengshi"))
            taken.add(region_name)
            fields.append({"name": region_name, "type": "region", "required": True})
        if plan.priority:
            taken.add("priority")
            options = rng.choice((["normal", "urgent"], ["urgent", "normal", "加急"]))
            fields.append({"name": "priority", "type": "select", "options": options, "default": "normal"})
        for _ in range(rng.randint(0, 3)):
            kind = rng.choice(_TICKET_FIELD_TYPES)
            if kind == "geo" and any(f["type"] == "geo" for f in fields):
                continue
            name = "location" if kind == "geo" and rng.random() < 0.5 and "location" not in taken else None
            if name:
                taken.add(name)
            fields.append(self._field(kind, name or _field_name(rng, taken), rng.random() < 0.4))
        rng.shuffle(fields)
        spec: dict[str, Any] = {"name": rng.choice(_CJK_TYPE_NAMES), "fields": fields}
        spec["start"] = plan.start
        if rng.random() < 0.35:
            self._decision(plan, fields)
        spec["nodes"] = plan.nodes
        if rng.random() < 0.25:
            spec["follow_ups"] = [self._follow_up(plan)]
        return spec

    def _follow_up(self, plan: _Plan) -> dict[str, Any]:
        """A follow-up (回访) of another (or the same) type a while after the ticket closes or enters
        one of its human nodes; business days on a calendar when the tenant has one."""
        rng = self.rng
        humans = [name for name, node in plan.nodes.items() if node["kind"] == "human"]
        event = "closed" if rng.random() < 0.6 or not humans else f"entered:{rng.choice(humans)}"
        follow_up: dict[str, Any] = {
            "id": rng.choice(("huifang", "callback", "check-1")),
            "event": event,
            "ticket_type": rng.choice([p.type_id for p in self.plans]),
        }
        if self.calendars and rng.random() < 0.6:
            follow_up["after"] = rng.choice(("1bd", "3bd", "4h"))
            follow_up["calendar"] = rng.choice(list(self.calendars))
        else:
            follow_up["after"] = rng.choice(("2h", "3d", "180d"))
        return _shuffled(rng, follow_up)

    def _decision(self, plan: _Plan, fields: list[dict[str, Any]]) -> None:
        """Put a decision node on one way out of a human node: its default is where that way led (the
        workflow means the same), its rules may send the ticket to an end instead."""
        rng = self.rng
        nodes = plan.nodes
        hosts = [
            name
            for name, node in nodes.items()
            if node["kind"] == "human"
            and not any(f.get("type") == "technician" for f in node.get("form", []))
        ]
        ends = [name for name, node in nodes.items() if node["kind"] == "end"]
        if not hosts or not ends:
            return
        host = rng.choice(hosts)
        label = rng.choice(list(nodes[host]["actions"]))
        target = nodes[host]["actions"][label]
        name = _fresh(rng, set(nodes), _WORDS)
        choices: list[dict[str, Any]] = [
            {"path": "customer.tier", "equals": "VIP"},
            {"path": "customer.orders", "gte": rng.randint(1, 5)},
            {"path": "ticket.channel", "exists": rng.random() < 0.5},
            {"path": "ticket.priority", "in": ["urgent", "加急"]},
        ]
        for spec in fields:
            if spec["type"] == "select":
                option = rng.choice(spec["options"])
                choices.append({"path": f"ticket.fields.{spec['name']}", "equals": option})
            elif spec["type"] == "number":
                choices.append({"path": f"ticket.fields.{spec['name']}", "gt": rng.randint(0, 10)})
        rules = []
        for _ in range(rng.randint(1, 2)):
            picked = rng.sample(choices, rng.randint(1, 2))
            when: Any = picked[0] if len(picked) == 1 else {rng.choice(("all", "any")): picked}
            rules.append({"when": when, "next": rng.choice([*ends, target])})
        nodes[host]["actions"][label] = name
        nodes[name] = _shuffled(rng, {"kind": "decision", "rules": rules, "default": target})

    def _field(self, kind: str, name: str, required: bool) -> dict[str, Any]:
        rng = self.rng
        spec: dict[str, Any] = {"name": name, "type": kind}
        if required:
            spec["required"] = True
        if kind in ("select", "multiselect"):
            spec["options"] = list(rng.choice(_SELECT_OPTIONS))
            if kind == "multiselect" and rng.random() < 0.3:
                spec["min"] = 1
        elif kind == "number" and rng.random() < 0.5:
            spec["min"], spec["max"] = 0, 1000
        elif kind == "text" and rng.random() < 0.3:
            spec["min"] = 2
        elif kind == "money" and rng.random() < 0.3:
            spec["min"] = 1
        if rng.random() < 0.3:
            spec["label"] = rng.choice(_CJK_LABELS)
        return spec

    def _form(self, taken: set[str], *, most: int = 3) -> list[dict[str, Any]]:
        rng = self.rng
        form = []
        for _ in range(rng.randint(0, most)):
            kind = rng.choice(_FORM_TYPES)
            form.append(self._field(kind, "f_" + _field_name(rng, taken), rng.random() < 0.5))
        return form

    def _assignee(self) -> dict[str, str]:
        rng = self.rng
        roll = rng.random()
        if roll < 0.6:
            return {"role": rng.choice(self.roles)}
        if roll < 0.8 or not self.departments:
            return {"user": rng.choice(self.users)["id"]}
        return {"department": rng.choice(self.departments)}

    def _actions(self, edges: list[str], primary: str) -> dict[str, str]:
        """Action name -> target, the primary (to ``primary``) first, the others shuffled.

        ``edges`` lists the other targets (repeats allowed). Half the time the primary's name sorts
        after every other one (``z...`` against ``a...`` or capitals).
        """
        rng = self.rng
        taken: set[str] = set()
        adversarial = rng.random() < 0.5 and edges
        if adversarial:
            first = _fresh(rng, taken, _Z_WORDS, keep_case=True)
            others = [
                _fresh(
                    rng,
                    taken,
                    _A_WORDS if rng.random() < 0.7 else (w.upper() for w in _PINYIN),
                    keep_case=True,
                )
                for _ in edges
            ]
        else:
            first = _fresh(rng, taken, _WORDS)
            others = [_fresh(rng, taken, _WORDS) for _ in edges]
        pairs = list(zip(others, edges, strict=True))
        rng.shuffle(pairs)
        return {first: primary, **dict(pairs)}

    def _nodes(self, plan: _Plan) -> dict[str, dict[str, Any]]:
        rng = self.rng
        taken: set[str] = set()

        def new() -> str:
            return _fresh(rng, taken, _WORDS)

        nodes: dict[str, dict[str, Any]] = {}
        ends = [new() for _ in range(1 if rng.random() < 0.6 else 2)]
        d = m = w = s = None
        extras: dict[str, str] = {}
        if plan.dispatch:
            d, m, w = new(), new(), new()
            if plan.settle:
                s = new()
                for role in ("review", "parts", "after"):
                    if rng.random() < 0.4:
                        extras[role] = new()
            elif rng.random() < 0.4:
                extras["parts"] = new()
        c = new() if plan.linked_type else None
        fixed = len(ends) + sum(x is not None for x in (d, m, w, s, c)) + len(extras)
        while fixed > 8 and extras:  # at most 8 nodes
            taken.discard(extras.pop(next(iter(extras))))
            fixed -= 1
        low = 0 if plan.dispatch else 1
        intake = [new() for _ in range(rng.randint(low, max(low, min(rng.choice((2, 3, 4)), 8 - fixed))))]

        # Nodes safe to enter at any time (no technician needed); the others come after a dispatch.
        safe = [*intake, *[x for x in (d, m, c) if x], *ends]
        start = intake[0] if intake else d
        assert start is not None

        def pick(pool: list[str]) -> str:
            return rng.choice(pool)

        def human(
            name: str,
            forward: str,
            pool: list[str],
            *,
            assignee: dict[str, str] | None = None,
            form: list[dict[str, Any]] | None = None,
            forced: Iterable[str] = (),
            primary_forward: float = 0.6,
        ) -> None:
            others = [*forced]
            for _ in range(rng.randint(0, 2)):
                others.append(pick(pool))
            if rng.random() < 0.15 and primary_forward < 1:
                others.append(forward)  # a second action to the same node: taken by success
            if rng.random() < 0.6 or primary_forward >= 1 or not others:
                primary = forward
            else:
                index = rng.randrange(len(others))
                primary = others.pop(index)
                others.append(forward)
            node: dict[str, Any] = {"kind": "human", "assignee": assignee or self._assignee()}
            if form is None:
                form = self._form(set(self.reserved_fields))
            if form:
                node["form"] = form
            node["actions"] = self._actions(others, primary)
            if rng.random() < 0.3:
                node["label"] = rng.choice(_CJK_LABELS)
            nodes[name] = _shuffled(rng, node)

        exit_ = d or c or ends[0]
        to_link = c
        for i, name in enumerate(intake):
            forward = intake[i + 1] if i + 1 < len(intake) else exit_
            forced = []
            if to_link and (rng.random() < 0.5 or i == len(intake) - 1) and forward != to_link:
                forced.append(to_link)
                to_link = None
            if len(ends) > 1 and i == 0:
                forced.append(ends[1])
            human(name, forward, [*safe, name], forced=forced)
        if d and m and w:
            skills_pool = list(self.skills)
            wanted = {
                k: rng.randint(1, self.skills[k])
                for k in rng.sample(skills_pool, min(len(skills_pool), rng.randint(0, 2)))
            }
            dispatch_node: dict[str, Any] = {"kind": "dispatch"}
            if wanted:
                dispatch_node["skills"] = wanted
            dispatch_node["next"] = w
            dispatch_node["on_no_candidate"] = m
            nodes[d] = _shuffled(rng, dispatch_node)
            technician_field = {
                "name": "f_" + _field_name(rng, set(self.reserved_fields)),
                "type": "technician",
                "required": True,
            }
            forced_m = [to_link] if to_link else []
            to_link = None
            if len(ends) > 1 and not intake:
                forced_m.append(ends[1])
            # Manual dispatch: only its primary action may lead to the technician's node (the
            # others do not need the technician field, so they must go somewhere safe).
            human(
                m,
                w,
                [x for x in safe if x != m] or [d],
                form=[technician_field],
                forced=forced_m,
                primary_forward=1.0,
            )
            review, parts_node, after = extras.get("review"), extras.get("parts"), extras.get("after")
            finish = review or s or ends[0]
            work_form: list[dict[str, Any]] = []
            photos = {"name": "photos", "type": "photos", "required": rng.random() < 0.7}
            if rng.random() < 0.6:
                photos["min"] = rng.randint(1, 2)
            work_form.append(photos)
            if s:
                work_form.append({"name": "service_items", "type": "service_items", "required": True})
            if self.part_skus and rng.random() < 0.6:
                work_form.append({"name": "parts", "type": "parts"})
            work_form += self._form({"photos", "service_items", "parts", *self.reserved_fields}, most=1)
            rng.shuffle(work_form)
            forced_w = [parts_node] if parts_node else []
            if rng.random() < 0.7:
                forced_w.append(d)  # the technician declines: dispatch again
            tech_pool = [d, m, w, *ends, *intake]
            human(w, finish, tech_pool, assignee={"technician": "assigned"}, form=work_form, forced=forced_w)
            if parts_node:
                human(parts_node, w, [d, *ends])
            if review:
                human(review, s or ends[0], [w, d, *ends, *intake])
            if s:
                settle_next = after or ends[0]
                nodes[s] = {"kind": "settlement", "next": settle_next}
                if after:
                    human(after, ends[0], [w, *ends, *intake])
        if c:
            assert plan.linked_type is not None
            # The intake chain ends here when there is no dispatch: then only an end is sure to finish.
            choices = (
                [x for x in (*intake, *(x for x in (d,) if x), *ends) if x != c] if exit_ != c else ends[:1]
            )
            nodes[c] = _shuffled(
                rng, {"kind": "create_ticket", "ticket_type": plan.linked_type, "next": pick(choices)}
            )
            if to_link:  # nothing leads there yet: a way out of a node that is entered anyway
                hosts = [n for n, node in nodes.items() if node["kind"] == "human" and n != c]
                host = rng.choice(hosts)
                label = _fresh(rng, set(nodes[host]["actions"]), _WORDS)
                nodes[host]["actions"][label] = c
        if len(ends) > 1 and not any(ends[1] in n.get("actions", {}).values() for n in nodes.values()):
            hosts = [n for n, node in nodes.items() if node["kind"] == "human"]
            host = rng.choice(hosts)
            label = _fresh(rng, set(nodes[host]["actions"]), _WORDS)
            nodes[host]["actions"][label] = ends[1]
        for end in ends:
            nodes[end] = (
                {"kind": "end"} if rng.random() < 0.8 else {"kind": "end", "label": rng.choice(_CJK_LABELS)}
            )
        plan.start = start
        order = list(nodes)
        rng.shuffle(order)
        return {name: nodes[name] for name in order}


def _shuffled(rng: random.Random, mapping: dict[str, Any]) -> dict[str, Any]:
    keys = list(mapping)
    rng.shuffle(keys)
    return {key: mapping[key] for key in keys}
