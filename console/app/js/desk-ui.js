// Helpers the desk views share (ticket list, ticket page, create, failed, deliveries, workflows):
// names from the tenant definition (GET /tenant), the hash query as filters, and the tenant file's
// shapes read without depending on node or field names.
import { html } from "./lib.js";
import { extend, t, when } from "./i18n.js";

extend({
  "zh-CN": {
    desk_status_open: "处理中", desk_status_closed: "已完成", desk_status_cancelled: "已取消", desk_status_failed: "失败",
    desk_prev: "上一页", desk_next: "下一页", desk_id: "编号", desk_waiting_system: "系统处理中",
  },
  en: {
    desk_status_open: "open", desk_status_closed: "closed", desk_status_cancelled: "cancelled", desk_status_failed: "failed",
    desk_prev: "Previous", desk_next: "Next page", desk_id: "ID", desk_waiting_system: "in progress",
  },
});

export const STATUSES = ["open", "closed", "cancelled", "failed"];

export function typeName(definition, type) {
  const spec = definition.ticket_types[type];
  return spec ? spec.name || type : type;
}

/** The node's label from the tenant file, else its name. */
export function nodeName(definition, type, node) {
  const spec = ((definition.ticket_types[type] || {}).nodes || {})[node];
  return spec && spec.label ? spec.label : node;
}

export function personName(definition, id) {
  if (!id) return "";
  const found = definition.users.find((u) => u.id === id) || definition.technicians.find((p) => p.id === id);
  return found ? `${found.name} (${id})` : id;
}

/** "role:dispatcher", "王师傅 (t-wang)", ... for an assignee {kind, id}. */
export function assigneeText(definition, assignee) {
  if (!assignee) return "";
  return assignee.kind === "user" || assignee.kind === "technician"
    ? personName(definition, assignee.id) : `${assignee.kind}:${assignee.id}`;
}

export function statusText(status) {
  return t(`desk_status_${status}`);
}

export function StatusTag({ ticket }) {
  return html`<span class=${`status status-${ticket.status}`} data-status-of=${ticket.id}>${statusText(ticket.status)}</span>`;
}

/** The technician field of a node's form (a manual-dispatch node), else null. */
export function technicianField(nodeSpec) {
  return ((nodeSpec && nodeSpec.form) || []).find((f) => f.type === "technician") || null;
}

/** The node is worked by a technician (the dispatched one or a named one). */
export function isTechnicianNode(nodeSpec) {
  return !!(nodeSpec && nodeSpec.assignee && nodeSpec.assignee.technician);
}

/** Every way out of a node as [label, target, kind]: actions, next, decision rules and default,
 * dispatch's on_no_candidate. `kind` is "action", "next", "rule", "default" or "no_candidate". */
export function edgesOf(nodeSpec) {
  const out = [];
  for (const [label, target] of nodeSpec.actions || []) out.push([label, target, "action"]);
  (nodeSpec.rules || []).forEach((rule, i) => out.push([ruleText(rule.when, i), rule.next, "rule"]));
  if (nodeSpec.default) out.push(["default", nodeSpec.default, "default"]);
  if (nodeSpec.next) out.push(["", nodeSpec.next, "next"]);
  if (nodeSpec.on_no_candidate) out.push(["no candidate", nodeSpec.on_no_candidate, "no_candidate"]);
  return out;
}

function short(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 14 ? `${text.slice(0, 13)}…` : text;
}

/** A short text of a rule's `when` (the tenant file's condition language; GET /tenant may name
 * `all`/`any`/`not`/`in` with a trailing underscore). */
export function ruleText(when, i = 0) {
  const key = (c, k) => (k in c ? c[k] : c[`${k}_`]);
  const SIGNS = {
    equals: "=", not_equals: "≠", in: "∈", not_in: "∉", contains: "∋", gt: ">", gte: "≥", lt: "<", lte: "≤",
    matches: "~", exists: "?",
  };
  const one = (c) => {
    if (!c || typeof c !== "object") return String(c);
    if (Array.isArray(c)) return c.map(one).join(" & ");
    if (key(c, "any")) return key(c, "any").map(one).join(" | ");
    if (key(c, "all")) return key(c, "all").map(one).join(" & ");
    if (key(c, "not")) return `!(${one(key(c, "not"))})`;
    const path = c.path ? String(c.path).split(".").slice(-1)[0] : "";
    for (const [op, sign] of Object.entries(SIGNS)) {
      const v = key(c, op);
      if (v !== undefined && v !== null) return `${path}${sign}${short(v)}`;
    }
    return short(c);
  };
  const text = one(when);
  return text ? text : `rule ${i + 1}`;
}

/** The filters in the hash query (#/tickets?type=..&status=..) as an object, and a setter that
 * writes them back to the hash so a link reproduces them. */
export function hashFilters(route, names) {
  const values = {};
  for (const n of names) values[n] = route.query.get(n) || "";
  return values;
}

export function hashWith(base, values) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(values)) if (v) q.set(k, v);
  const s = q.toString();
  return s ? `${base}?${s}` : base;
}

export function At({ iso, definition }) {
  return html`<time datetime=${iso || ""}>${when(iso, definition.tenant.timezone)}</time>`;
}

export function Pager({ pages, index, hasNext, onPrev, onNext }) {
  return html`<div class="pager actions">
    <button type="button" disabled=${index === 0} data-page="prev" onClick=${onPrev}>${t("desk_prev")}</button>
    <span class="muted">${index + 1}${pages ? ` / ${pages}` : ""}</span>
    <button type="button" disabled=${!hasNext} data-page="next" onClick=${onNext}>${t("desk_next")}</button>
  </div>`;
}

/** Sleep (for polling while the workflow moves the ticket). */
export const pause = (ms) => new Promise((r) => setTimeout(r, ms));
