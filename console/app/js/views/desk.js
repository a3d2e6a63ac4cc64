// The desk's lists: tickets with filters kept in the hash (#/tickets?type=install&status=open...), and
// the failed tickets with their reason and a retry (POST /tickets/{id}/retry).
import { html, useState } from "../lib.js";
import { api, hasRole } from "../api.js";
import { extend, t } from "../i18n.js";
import { ErrorMessage, Loading, SlaBadge, slaLevel, useLoad } from "../ui.js";
import {
  assigneeText, At, hashFilters, hashWith, nodeName, Pager, STATUSES, statusText, StatusTag, typeName,
} from "../desk-ui.js";

extend({
  "zh-CN": {
    desk_sla_note: "时效等级在本页已加载的工单中筛选（接口不按时效筛选）。",
    desk_sla_none: "未触发", desk_failed_reason: "失败原因", desk_retried: "已重试，工单重新开始",
    desk_failed_at: "失败节点", desk_retries: "重试次数", desk_clear: "清除筛选",
  },
  en: {
    desk_sla_note: "The SLA level is filtered on this page's loaded tickets (the API does not filter by it).",
    desk_sla_none: "none reached", desk_failed_reason: "Failure", desk_retried: "Retried: the ticket started again",
    desk_failed_at: "Failed at", desk_retries: "Retries", desk_clear: "Clear filters",
  },
});

const FILTERS = ["type", "node", "status", "assignee", "sla"];

function query(filters, next) {
  const q = new URLSearchParams({ limit: "50" });
  for (const k of ["type", "node", "status", "assignee"]) if (filters[k]) q.set(k, filters[k]);
  if (next) q.set("next", next);
  return `/tickets?${q}`;
}

function assigneeOptions(definition) {
  const roles = [...new Set(definition.users.flatMap((u) => u.roles))];
  return [
    ...definition.users.map((u) => [u.id, `${u.name} (${u.id})`]),
    ...definition.technicians.map((p) => [p.id, `${p.name} (${p.id})`]),
    ...roles.map((r) => [`role:${r}`, `role:${r}`]),
  ];
}

export function TicketList({ route, definition, go }) {
  const filters = hashFilters(route, FILTERS);
  const key = FILTERS.map((k) => filters[k]).join("|");
  const [cursors, setCursors] = useState({ key, list: [null] });
  const list = cursors.key === key ? cursors.list : [null];
  const index = list.length - 1;
  const asked = query(filters, list[index]);
  const [page, error] = useLoad(() => api("GET", asked).then((p) => ({ ...p, asked })), [key, index]);
  const set = (name, value) => {
    const next = { ...filters, [name]: value };
    if (name === "type") next.node = ""; // nodes belong to a type
    go(hashWith("#/tickets", next));
  };
  const types = Object.entries(definition.ticket_types);
  const nodes = filters.type ? Object.keys(definition.ticket_types[filters.type]?.nodes || {}) : [];
  const rows = ((page && page.items) || []).filter((tk) => !filters.sla
    || slaLevel(tk, (definition.ticket_types[tk.type] || {}).sla_levels).colour === filters.sla);
  const tz = definition.tenant.timezone;
  return html`<section class="desk-list" data-view="tickets" data-loaded=${page && page.asked === asked ? asked : ""}>
    <h1>${t("tickets")}</h1>
    <form class="filters" onSubmit=${(e) => e.preventDefault()}>
      <select name="type" data-filter="type" aria-label=${t("type")} value=${filters.type} onChange=${(e) => set("type", e.target.value)}>
        <option value="">${t("type")}: ${t("all")}</option>
        ${types.map(([id, spec]) => html`<option value=${id}>${spec.name || id}</option>`)}
      </select>
      <select name="node" data-filter="node" aria-label=${t("node")} value=${filters.node} disabled=${!filters.type}
        onChange=${(e) => set("node", e.target.value)}>
        <option value="">${t("node")}: ${t("all")}</option>
        ${nodes.map((n) => html`<option value=${n}>${nodeName(definition, filters.type, n)}</option>`)}
      </select>
      <select name="status" data-filter="status" aria-label=${t("status")} value=${filters.status} onChange=${(e) => set("status", e.target.value)}>
        <option value="">${t("status")}: ${t("all")}</option>
        ${STATUSES.map((s) => html`<option value=${s}>${statusText(s)}</option>`)}
      </select>
      <select name="assignee" data-filter="assignee" aria-label=${t("assignee")} value=${filters.assignee} onChange=${(e) => set("assignee", e.target.value)}>
        <option value="">${t("assignee")}: ${t("all")}</option>
        ${assigneeOptions(definition).map(([v, text]) => html`<option value=${v}>${text}</option>`)}
      </select>
      <select name="sla" data-filter="sla" aria-label=${t("sla")} value=${filters.sla} onChange=${(e) => set("sla", e.target.value)}>
        <option value="">${t("sla")}: ${t("all")}</option>
        <option value="none">${t("desk_sla_none")}</option>
        ${["yellow", "orange", "red"].map((c) => html`<option value=${c}>${t(`level_${c}`)}</option>`)}
      </select>
      ${FILTERS.some((k) => filters[k]) && html`<button type="button" class="link" data-clear onClick=${() => go("#/tickets")}>${t("desk_clear")}</button>`}
    </form>
    ${filters.sla && html`<p class="muted small-note" data-sla-note>${t("desk_sla_note")}</p>`}
    ${!page ? html`<${Loading} error=${error} />` : html`
      ${error && html`<${ErrorMessage} error=${error} />`}
      <div class="table-wrap"><table class="tickets" data-rows=${rows.length}>
        <thead><tr><th>${t("desk_id")}</th><th>${t("type")}</th><th>${t("node")}</th><th>${t("status")}</th>
          <th>${t("assignee")}</th><th>${t("sla")}</th><th>${t("updated")}</th></tr></thead>
        <tbody>${rows.map((tk) => html`<tr data-ticket=${tk.id} data-type=${tk.type} data-node=${tk.node}>
          <td><a href=${`#/tickets/${encodeURIComponent(tk.id)}`} data-ticket-link=${tk.id} class="mono">${tk.id}</a></td>
          <td>${typeName(definition, tk.type)}</td>
          <td>${nodeName(definition, tk.type, tk.node)}</td>
          <td><${StatusTag} ticket=${tk} /></td>
          <td>${assigneeText(definition, tk.assignee)}</td>
          <td><${SlaBadge} ticket=${tk} levels=${(definition.ticket_types[tk.type] || {}).sla_levels} timezone=${tz} /></td>
          <td><${At} iso=${tk.updated_at} definition=${definition} /></td>
        </tr>`)}</tbody>
      </table></div>
      ${rows.length === 0 && html`<p class="muted" data-empty>${t("no_items")}</p>`}
      <${Pager} index=${index} hasNext=${!!page.next}
        onPrev=${() => setCursors({ key, list: list.slice(0, -1) })}
        onNext=${() => setCursors({ key, list: [...list, page.next] })} />`}
  </section>`;
}

function FailedRow({ ticket, definition, onRetried }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState(null);
  const failure = ticket.failure || {};
  async function retry() {
    setBusy(true); setError(null);
    try {
      const moved = await api("POST", `/tickets/${encodeURIComponent(ticket.id)}/retry`);
      setDone(moved);
      onRetried();
    } catch (e) { setError(e); }
    setBusy(false);
  }
  return html`<article class="card failed-ticket" data-ticket=${ticket.id}>
    <header class="row-head">
      <a href=${`#/tickets/${encodeURIComponent(ticket.id)}`} class="mono">${ticket.id}</a>
      <span>${typeName(definition, ticket.type)}</span>
      <span class="muted">${t("desk_failed_at")}: ${nodeName(definition, ticket.type, failure.node || ticket.node)}</span>
      <span class="muted">${t("desk_retries")}: ${ticket.retries || 0}</span>
      <${At} iso=${ticket.updated_at} definition=${definition} />
    </header>
    <p class="failure-reason" data-reason>${t("desk_failed_reason")}: ${failure.reason || ticket.reason || failure.error || "—"}</p>
    ${(failure.error || failure.cause) && html`<p class="muted small-note">${[failure.status, failure.error, failure.cause].filter(Boolean).join(" · ")}</p>`}
    <${ErrorMessage} error=${error} />
    ${done ? html`<p class="notice" data-retried=${ticket.id}>${t("desk_retried")} (${statusText(done.status)} · ${nodeName(definition, done.type, done.node)})</p>`
      : hasRole("dispatcher") && html`<div class="actions"><button class="primary" data-retry=${ticket.id} disabled=${busy} onClick=${retry}>${t("retry")}</button></div>`}
  </article>`;
}

export function FailedList({ definition }) {
  const [cursor, setCursor] = useState([null]);
  const index = cursor.length - 1;
  const [page, error, reload] = useLoad(() => api("GET", `/tickets?status=failed&limit=50${cursor[index] ? `&next=${encodeURIComponent(cursor[index])}` : ""}`), [index]);
  return html`<section class="desk-failed" data-view="failed">
    <h1>${t("failed")}</h1>
    ${!page ? html`<${Loading} error=${error} />` : html`
      ${page.items.length === 0 && html`<p class="muted" data-empty>${t("no_items")}</p>`}
      ${page.items.map((tk) => html`<${FailedRow} key=${tk.id} ticket=${tk} definition=${definition} onRetried=${() => {}} />`)}
      <${Pager} index=${index} hasNext=${!!page.next} onPrev=${() => setCursor(cursor.slice(0, -1))}
        onNext=${() => setCursor([...cursor, page.next])} />
      <div class="actions"><button type="button" class="link" data-refresh onClick=${reload}>${t("refresh")}</button></div>`}
  </section>`;
}
