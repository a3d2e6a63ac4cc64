// One ticket (#/tickets/<id>): fields (PATCH to fill in or correct), SLA state, the current node's actions
// with their forms, the dispatch explanation, reassignment, cancel, retry and the history (oldest first).
// What a role cannot do is hidden; the API's 403/404 decide and are shown as their message.
import { html, useEffect, useState } from "../lib.js";
import { api, hasRole } from "../api.js";
import { extend, t, when } from "../i18n.js";
import { cleaned, ErrorMessage, Fields, labelOf, Loading, SlaBadge, useLoad } from "../ui.js";
import {
  assigneeText, At, isTechnicianNode, nodeName, pause, personName, statusText, StatusTag, technicianField, typeName,
} from "../desk-ui.js";

extend({
  "zh-CN": {
    tk_version: "版本", tk_channel: "来源", tk_created_by: "创建人", tk_incomplete: "缺少或无效的字段",
    tk_edit_fields: "修改字段", tk_save_fields: "保存字段", tk_paused: "已暂停", tk_breached: "已超时",
    tk_level: "等级", tk_no_sla: "此节点无时效", tk_considered: "参与评估", tk_eligible: "符合条件",
    tk_filtered: "被过滤", tk_declined: "已拒单", tk_manual: "人工指派", tk_by: "由", tk_no_candidates: "没有候选技师",
    tk_actor: "操作人", tk_kind: "事件", tk_changes: "变更", tk_at: "时间", tk_cancel_reason: "取消原因",
    tk_cancel_ticket: "取消工单", tk_not_yours: "当前节点由 {who} 处理", tk_system_node: "系统正在处理此节点",
    tk_offer: "接单截止", tk_accepted_at: "已接单于", tk_reassign_go: "改派", tk_reassign_done: "已改派给 {who}",
    tk_failure: "失败", tk_retried: "已重试", tk_criteria: "评分项（归一化×权重）",
    tk_not_shown: "未显示", tk_moved: "已提交", tk_primary: "主操作：表单必填", tk_offer_none: "—",
    tk_weights: "权重", tk_parent: "来源工单", tk_children: "关联工单",
  },
  en: {
    tk_version: "Version", tk_channel: "Channel", tk_created_by: "Created by", tk_incomplete: "Missing or invalid fields",
    tk_edit_fields: "Edit fields", tk_save_fields: "Save fields", tk_paused: "paused", tk_breached: "breached",
    tk_level: "Level", tk_no_sla: "No SLA at this node", tk_considered: "considered", tk_eligible: "eligible",
    tk_filtered: "filtered out", tk_declined: "declined", tk_manual: "assigned by hand", tk_by: "by",
    tk_no_candidates: "No candidate", tk_actor: "Actor", tk_kind: "Event", tk_changes: "Changes", tk_at: "At",
    tk_cancel_reason: "Reason to cancel", tk_cancel_ticket: "Cancel ticket", tk_not_yours: "This node is worked by {who}",
    tk_system_node: "The system is working on this node", tk_offer: "Accept by", tk_accepted_at: "Accepted at",
    tk_reassign_go: "Reassign", tk_reassign_done: "Reassigned to {who}",
    tk_failure: "Failure",
    tk_retried: "Retried", tk_criteria: "Criteria (normalized × weight)", tk_not_shown: "not shown", tk_moved: "Done",
    tk_primary: "primary action: the form is required", tk_offer_none: "—", tk_weights: "Weights",
    tk_parent: "Parent ticket", tk_children: "Linked tickets",
  },
});

const fill = (text, values) => text.replace(/\{(\w+)\}/g, (_, k) => values[k] ?? "");
const path = (id, rest = "") => `/tickets/${encodeURIComponent(id)}${rest}`;

function show(value) {
  if (value === null || value === undefined) return "";
  if (Array.isArray(value) && value.length === 0) return "—";
  if (Array.isArray(value)) return value.map((v) => (v && typeof v === "object" ? show(v) : String(v))).join(", ");
  if (typeof value === "object") {
    if ("lat" in value && "lon" in value) return `${value.lat}, ${value.lon}`;
    if ("quantity" in value) return `${value.code || value.sku || ""} × ${value.quantity}`;
    return Object.entries(value).map(([k, v]) => `${k}: ${show(v)}`).join("; ");
  }
  return String(value);
}

/** May the signed-in person act on the ticket's current assignee (the API's 403 still decides)? */
function mayAct(session, assignee) {
  if (hasRole("admin")) return true;
  if (!assignee) return false;
  if (assignee.kind === "role") return hasRole(assignee.id);
  if (assignee.kind === "user" || assignee.kind === "technician") return session.sub === assignee.id;
  return false;
}

/** Poll the ticket until it waits for a person (or is no longer open), up to `seconds`. */
async function untilSettled(id, seconds = 20, stop = () => false) {
  const end = Date.now() + seconds * 1000;
  let last = await api("GET", path(id));
  while (Date.now() < end && last.status === "open" && !last.ready && !stop(last)) {
    await pause(400);
    last = await api("GET", path(id));
  }
  return last;
}

/** The label a node's form gives a field the ticket gathered on the way (else its name). */
function formLabel(spec, name) {
  for (const node of Object.values(spec.nodes || {})) {
    const def = (node.form || []).find((f) => f.name === name);
    if (def) return labelOf(def);
  }
  return name;
}

function FieldsCard({ ticket, definition, onSaved }) {
  const spec = definition.ticket_types[ticket.type] || { fields: [] };
  const editor = hasRole("agent", "dispatcher", "supervisor");
  const [editing, setEditing] = useState(!!ticket.incomplete && editor);
  const [values, setValues] = useState(ticket.fields);
  const [error, setError] = useState(null);
  const known = new Set(spec.fields.map((f) => f.name));
  const extra = Object.keys(ticket.fields).filter((k) => !known.has(k));
  async function save(e) {
    e.preventDefault();
    setError(null);
    const out = cleaned(values);
    for (const f of spec.fields) if (!(f.name in out) && f.name in ticket.fields && !f.required) out[f.name] = null;
    try {
      await api("PATCH", path(ticket.id, "/fields"), { fields: out, version: ticket.version });
      setEditing(false);
      onSaved();
    } catch (err) { setError(err); }
  }
  return html`<section class="card" data-section="fields">
    <h2>${t("fields")}</h2>
    ${ticket.incomplete && html`<div class="error" data-incomplete>${t("tk_incomplete")}: ${show(ticket.incomplete)}</div>`}
    ${editing ? html`<form onSubmit=${save} noValidate data-edit-fields>
        <${Fields} defs=${spec.fields} values=${values} setValues=${setValues}
          errors=${error && error.fieldErrors ? error.fieldErrors() : {}} definition=${definition} />
        <${ErrorMessage} error=${error} />
        <div class="actions"><button class="primary" type="submit" data-save-fields>${t("tk_save_fields")}</button>
          <button type="button" onClick=${() => { setEditing(false); setError(null); setValues(ticket.fields); }}>${t("cancel")}</button></div>
      </form>` : html`<dl class="kv">
        ${spec.fields.map((f) => html`<dt>${labelOf(f)}</dt><dd data-value=${f.name}>${f.type === "region"
          ? show(((definition.regions.find((r) => r.code === ticket.fields[f.name]) || {}).name || "") + (ticket.fields[f.name] ? ` (${ticket.fields[f.name]})` : ""))
          : f.type === "technician" ? personName(definition, ticket.fields[f.name]) : show(ticket.fields[f.name])}</dd>`)}
        ${extra.map((k) => html`<dt>${formLabel(spec, k)}</dt><dd data-value=${k}>${definition.technicians.some((p) => p.id === ticket.fields[k])
          ? personName(definition, ticket.fields[k]) : show(ticket.fields[k])}</dd>`)}
      </dl>
      ${editor && ticket.status !== "closed" && ticket.status !== "cancelled" && html`<div class="actions">
        <button type="button" class="link" data-edit=${ticket.id} onClick=${() => setEditing(true)}>${t("tk_edit_fields")}</button></div>`}`}
  </section>`;
}

function SlaCard({ ticket, definition }) {
  const sla = ticket.sla;
  const tz = definition.tenant.timezone;
  return html`<section class="card" data-section="sla">
    <h2>${t("sla")}</h2>
    ${!sla ? html`<p class="muted">${t("tk_no_sla")}</p>` : html`
      <p><${SlaBadge} ticket=${ticket} levels=${(definition.ticket_types[ticket.type] || {}).sla_levels} timezone=${tz} />
        ${sla.paused && html` <span class="tag" data-paused>${t("tk_paused")}</span>`}
        ${sla.breached && html` <span class="tag tag-red" data-breached>${t("tk_breached")}</span>`}</p>
      <dl class="kv">
        <dt>${t("node")}</dt><dd>${nodeName(definition, ticket.type, sla.node)} · ${sla.priority || ""}</dd>
        <dt>${t("deadline")}</dt><dd data-deadline>${when(sla.deadline, tz)}</dd>
        <dt>${t("tk_level")}</dt><dd data-level>${sla.level || "—"}</dd>
      </dl>
      <ol class="levels">${(sla.levels || []).map((lv) => html`<li class=${lv.fired ? "fired" : ""} data-level-name=${lv.name}>
        ${lv.name} · ${when(lv.at, tz)}${lv.fired ? " ✓" : ""}</li>`)}</ol>`}
  </section>`;
}

function Explanation({ ticket, definition }) {
  const d = ticket.dispatch;
  if (!d) return null;
  const x = d.explanation || {};
  const top = x.top || [];
  const criteria = Object.keys(x.weights || (top[0] || {}).criteria || {});
  const filtered = Object.entries(x.filtered || {});
  return html`<section class="card" data-section="explanation">
    <h2>${t("explanation")}</h2>
    <p class="muted">
      ${x.considered ?? "—"} ${t("tk_considered")} · ${x.eligible ?? "—"} ${t("tk_eligible")}
      ${filtered.length > 0 && html` · ${t("tk_filtered")}: ${filtered.map(([k, v]) => `${k} ${v}`).join(", ")}`}
      ${(d.declined || []).length > 0 && html` · ${t("tk_declined")}: ${d.declined.map((p) => personName(definition, p)).join(", ")}`}
    </p>
    ${d.technician && html`<p data-dispatched=${d.technician}>${t("technician")}: <strong>${personName(definition, d.technician)}</strong>
      ${d.manual && html` · ${t("tk_manual")} ${t("tk_by")} ${personName(definition, d.by)}`}
      ${d.offer_expires_at && !d.accepted_at && html` · ${t("tk_offer")} ${when(d.offer_expires_at, definition.tenant.timezone)}`}
      ${d.accepted_at && html` · ${t("tk_accepted_at")} ${when(d.accepted_at, definition.tenant.timezone)}`}</p>`}
    ${top.length === 0 ? html`<p class="muted" data-no-candidates>${t("tk_no_candidates")}</p>` : html`<div class="table-wrap">
      <table class="explanation">
        <thead><tr><th class="num">${t("rank")}</th><th>${t("technician")}</th>
          ${criteria.map((c) => html`<th class="num" title=${t("tk_criteria")}>${c}${x.weights ? html`<br /><small>×${x.weights[c]}</small>` : ""}</th>`)}
          <th class="num">${t("score")}</th></tr></thead>
        <tbody>${top.map((c) => html`<tr data-candidate=${c.technician} class=${c.technician === d.technician ? "chosen" : ""}>
          <td class="num">${c.rank}</td><td>${personName(definition, c.technician)}</td>
          ${criteria.map((name) => {
            const v = (c.criteria || {})[name] || {};
            return html`<td class="num" data-criterion=${name} title=${`${name}: ${show(v.raw)}`}>
              ${v.normalized ?? "—"}×${v.weight ?? "—"}<br /><small>${show(v.raw)} → ${v.contribution ?? ""}</small></td>`;
          })}
          <td class="num total" data-total>${c.total}</td></tr>`)}</tbody>
      </table></div>
      ${x.not_shown > 0 && html`<p class="muted">+${x.not_shown} ${t("tk_not_shown")}</p>`}`}
  </section>`;
}

/** The node's actions as buttons; the chosen one opens the node's form (required for the primary). */
function ActionsCard({ ticket, definition, session, onMoved }) {
  const spec = definition.ticket_types[ticket.type] || { nodes: {} };
  const node = spec.nodes[ticket.node] || {};
  const [chosen, setChosen] = useState(null);
  const [values, setValues] = useState({});
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  if (ticket.status !== "open") return null;
  if (node.kind !== "human") {
    return html`<section class="card" data-section="actions"><h2>${t("actions")}</h2>
      <p class="muted" data-system-node>${t("tk_system_node")} (${node.kind || "?"})</p></section>`;
  }
  const actions = node.actions || [];
  const mine = mayAct(session, ticket.assignee);
  async function submit(e) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      await api("POST", path(ticket.id, "/actions"), { action: chosen, fields: cleaned(values), version: ticket.version });
      setChosen(null); setValues({});
      onMoved();
    } catch (err) { setError(err); }
    setBusy(false);
  }
  return html`<section class="card" data-section="actions">
    <h2>${t("actions")} · ${nodeName(definition, ticket.type, ticket.node)}</h2>
    ${!ticket.ready && html`<p class="muted" data-waiting>${t("waiting")}</p>`}
    ${!mine ? html`<p class="muted" data-not-yours>${fill(t("tk_not_yours"), { who: assigneeText(definition, ticket.assignee) })}</p>`
      : html`<div class="actions">${actions.map(([label, target], i) => html`<button type="button" data-action=${label}
          class=${chosen === label ? "primary" : ""} disabled=${!ticket.ready || busy}
          title=${`→ ${nodeName(definition, ticket.type, target)}`}
          onClick=${() => { setChosen(label); setError(null); }}>${label}${i === 0 ? " *" : ""} → ${nodeName(definition, ticket.type, target)}</button>`)}</div>
        ${chosen && html`<form class="action-form" data-form-for=${chosen} onSubmit=${submit} noValidate>
          ${(node.form || []).length > 0 && html`<${Fields} defs=${chosen === actions[0][0] ? node.form : node.form.map((f) => ({ ...f, required: false }))}
            values=${values} setValues=${setValues} errors=${error && error.fieldErrors ? error.fieldErrors() : {}} definition=${definition} />`}
          ${error && error.fieldErrors && error.fieldErrors().action && html`<p class="field-error" data-error-for="action">${error.fieldErrors().action}</p>`}
          <${ErrorMessage} error=${error} />
          <div class="actions"><button type="submit" class="primary" data-submit-action=${chosen} disabled=${busy}>${t("submit")}: ${chosen}</button>
            <button type="button" onClick=${() => { setChosen(null); setError(null); }}>${t("cancel")}</button></div>
        </form>`}`}
  </section>`;
}

/** Reassign a ticket at a technician's node to another technician (POST /tickets/{id}/reassign,
 * dispatcher or admin): the ticket stays at its node; the candidates are listed by their rank in the
 * dispatch explanation, then the others. */
function Reassign({ ticket, definition, onMoved }) {
  const spec = definition.ticket_types[ticket.type] || { nodes: {} };
  const node = spec.nodes[ticket.node] || {};
  const current = (ticket.dispatch || {}).technician;
  const candidates = ((ticket.dispatch || {}).explanation || {}).top || [];
  const rankOf = (id) => (candidates.find((c) => c.technician === id) || { rank: 1e9 }).rank;
  const ranked = definition.technicians.filter((p) => p.id !== current).sort((a, b) => rankOf(a.id) - rankOf(b.id));
  const [who, setWho] = useState((ranked[0] || {}).id || "");
  const [error, setError] = useState(null);
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  if (ticket.status !== "open" || !ticket.ready || !isTechnicianNode(node) || !hasRole("dispatcher")) return null;
  const chosen = ranked.some((p) => p.id === who) ? who : (ranked[0] || {}).id || "";
  async function reassign() {
    setBusy(true); setError(null); setResult(null);
    try {
      const moved = await api("POST", path(ticket.id, "/reassign"), { technician: chosen, version: ticket.version });
      setResult({ ok: true, who: (moved.dispatch || {}).technician });
      onMoved();
    } catch (err) { setError(err); }
    setBusy(false);
  }
  return html`<section class="card reassign" data-section="reassign">
    <h2>${t("reassign")}</h2>
    <div class="filters">
      <label class="inline">${t("assign_to")}
        <select name="reassign" data-reassign-to value=${chosen} onChange=${(e) => setWho(e.target.value)}>
          ${ranked.map((p) => {
            const c = candidates.find((x) => x.technician === p.id);
            return html`<option value=${p.id}>${p.name} (${p.id})${c ? ` · #${c.rank} ${c.total}` : ""}</option>`;
          })}
        </select></label>
      <button type="button" class="primary" data-reassign disabled=${busy || !chosen} onClick=${reassign}>${t("tk_reassign_go")}</button>
    </div>
    <${ErrorMessage} error=${error} />
    ${result && html`<p class="notice" data-reassigned=${result.who || ""}>
      ${fill(t("tk_reassign_done"), { who: personName(definition, result.who) })}</p>`}
  </section>`;
}

function StaffCard({ ticket, onMoved }) {
  const [reason, setReason] = useState("");
  const [error, setError] = useState(null);
  const canCancel = ticket.status === "open" && hasRole("agent", "dispatcher", "supervisor");
  const canRetry = ticket.status === "failed" && hasRole("dispatcher");
  if (!canCancel && !canRetry) return null;
  async function run(method, rest, body) {
    setError(null);
    try { await api(method, path(ticket.id, rest), body); onMoved(); } catch (err) { setError(err); }
  }
  return html`<section class="card" data-section="staff">
    ${canRetry && html`<div>
      <p class="failure" data-failure>${t("tk_failure")}: ${show((ticket.failure || {}).reason || ticket.reason)}</p>
      <button class="primary" data-retry=${ticket.id} onClick=${() => run("POST", "/retry")}>${t("retry")}</button></div>`}
    ${canCancel && html`<form class="cancel-form" noValidate onSubmit=${(e) => { e.preventDefault(); run("POST", "/cancel", { reason, version: ticket.version }); }}>
      <div class=${`field ${error && error.fieldErrors().reason ? "invalid" : ""}`} data-field="reason">
        <label for="cancel-reason">${t("tk_cancel_reason")}</label>
        <input id="cancel-reason" name="reason" value=${reason} onInput=${(e) => setReason(e.target.value)} />
        ${error && error.fieldErrors().reason && html`<p class="field-error" data-error-for="reason">${error.fieldErrors().reason}</p>`}
      </div>
      <div class="actions"><button type="submit" data-cancel=${ticket.id}>${t("tk_cancel_ticket")}</button></div>
    </form>`}
    <${ErrorMessage} error=${error} />
  </section>`;
}

function History({ ticket, definition, tick }) {
  const [data, error] = useLoad(() => api("GET", path(ticket.id, "/history")), [ticket.id, ticket.version, tick]);
  const events = data ? [...data.events].sort((a, b) => (a.version - b.version) || (a.at < b.at ? -1 : a.at > b.at ? 1 : 0)) : [];
  return html`<section class="card" data-section="history">
    <h2>${t("history")}</h2>
    ${!data ? html`<${Loading} error=${error} />` : html`<div class="table-wrap"><table class="history">
      <thead><tr><th>${t("tk_at")}</th><th>${t("tk_actor")}</th><th>${t("tk_kind")}</th><th>${t("node")}</th>
        <th>${t("actions")}</th><th>${t("tk_changes")}</th></tr></thead>
      <tbody>${events.map((e) => html`<tr data-event=${e.version} data-kind=${e.kind}>
        <td><${At} iso=${e.at} definition=${definition} /></td><td>${personName(definition, e.actor)}</td><td>${e.kind}</td>
        <td>${e.node ? nodeName(definition, ticket.type, e.node) : ""}</td><td>${e.action || ""}</td>
        <td class="changes">${show(e.changes)}</td></tr>`)}</tbody></table></div>`}
  </section>`;
}

export function TicketPage({ id, definition, session }) {
  const [tick, setTick] = useState(0);
  const [ticket, error] = useLoad(() => api("GET", path(id)), [id, tick]);
  const reload = () => setTick((n) => n + 1);
  // While the workflow moves the ticket (no person's node yet), read it again shortly.
  useEffect(() => {
    if (!ticket || ticket.status !== "open" || ticket.ready) return undefined;
    const timer = setTimeout(reload, 700);
    return () => clearTimeout(timer);
  }, [ticket]);
  if (!ticket || ticket.id !== id) return html`<${Loading} error=${error} />`;
  return html`<section class="desk-ticket" data-view="ticket" data-ticket-page=${ticket.id}
      data-node=${ticket.node} data-status=${ticket.status} data-version=${ticket.version} data-ready=${String(!!ticket.ready)}>
    <p><a href="#/tickets" data-back>← ${t("tickets")}</a></p>
    <h1><span class="mono">${ticket.id}</span> · ${typeName(definition, ticket.type)}</h1>
    <p class="summary">${[
      html`<${StatusTag} ticket=${ticket} />`,
      html`${t("node")}: <strong data-current-node>${nodeName(definition, ticket.type, ticket.node)}</strong>`,
      html`${t("assignee")}: <span data-assignee=${(ticket.assignee || {}).id || ""}>${assigneeText(definition, ticket.assignee) || "—"}</span>`,
      html`${t("tk_version")} ${ticket.version}`,
      html`${t("tk_channel")} ${ticket.channel || "—"}`,
      html`${t("tk_created_by")} ${personName(definition, ticket.created_by)}`,
      html`${t("created")} <${At} iso=${ticket.created_at} definition=${definition} />`,
      ticket.parent_id && html`${t("tk_parent")} <a href=${`#/tickets/${ticket.parent_id}`}>${ticket.parent_id}</a>`,
      (ticket.children || []).length > 0 && html`${t("tk_children")} ${ticket.children.map((c) => html`<a href=${`#/tickets/${c}`}>${c} </a>`)}`,
    ].filter(Boolean).map((part) => html`<span class="part">${part}</span>`)}</p>
    ${ticket.status === "cancelled" && ticket.reason && html`<p class="muted">${t("reason")}: ${ticket.reason}</p>`}
    ${error && html`<${ErrorMessage} error=${error} />`}
    <div class="two">
      <div>
        <${ActionsCard} key=${`${ticket.node}-${ticket.version}`} ticket=${ticket} definition=${definition} session=${session} onMoved=${reload} />
        <${FieldsCard} key=${`f-${ticket.version}`} ticket=${ticket} definition=${definition} onSaved=${reload} />
        <${Explanation} ticket=${ticket} definition=${definition} />
      </div>
      <div>
        <${SlaCard} ticket=${ticket} definition=${definition} />
        <${Reassign} key=${`r-${ticket.node}`} ticket=${ticket} definition=${definition} onMoved=${reload} />
        <${StaffCard} ticket=${ticket} onMoved=${reload} />
      </div>
    </div>
    <${History} ticket=${ticket} definition=${definition} tick=${tick} />
  </section>`;
}

export { statusText };
