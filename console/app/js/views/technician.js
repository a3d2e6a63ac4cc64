// The technician's pages, mobile first (360 px): my open tickets by SLA urgency with my earnings of
// this month (#/tech), and one ticket (#/tech/<id>): its fields, Accept for an offer, the node's form
// from the tenant file with one button per action.
import { html, useEffect, useState } from "../lib.js";
import { all, api, ApiError } from "../api.js";
import { extend, t, when } from "../i18n.js";
import { byUrgency, cleaned, ErrorMessage, Fields, labelOf, Loading, SlaBadge, useLoad } from "../ui.js";

extend({
  "zh-CN": {
    tech_no_tickets: "暂无在途工单", tech_customer: "客户", tech_address: "地址", tech_offer: "新派单，请接单",
    tech_accept_by: "请在此前接单", tech_accepted_now: "已接单", tech_done: "已提交",
    tech_stale: "工单已被更新，已重新加载，请检查后再提交。", tech_fix: "请修改标出的字段后再提交。",
    tech_not_yours: "此节点不由你处理", tech_kind_settlement: "结算", tech_kind_adjustment: "调整",
    tech_no_earnings: "本月暂无收入", tech_back_list: "返回我的工单",
  },
  en: {
    tech_no_tickets: "No open tickets", tech_customer: "Customer", tech_address: "Address",
    tech_offer: "New job offered: accept it", tech_accept_by: "Accept by", tech_accepted_now: "Accepted",
    tech_done: "Submitted", tech_stale: "The ticket changed meanwhile: reloaded, check and submit again.",
    tech_fix: "Correct the marked fields and submit again.", tech_not_yours: "This step is not yours",
    tech_kind_settlement: "settlement", tech_kind_adjustment: "adjustment", tech_no_earnings: "No earnings this month yet",
    tech_back_list: "Back to my tickets",
  },
});

/** A notice carried from the ticket page back to the list (after a successful action). */
let flash = null;

function typeOf(definition, ticket) {
  return definition.ticket_types[ticket.type] || { name: ticket.type, nodes: {}, fields: [], sla_levels: [] };
}

function nodeLabel(definition, ticket, node = ticket.node) {
  const spec = typeOf(definition, ticket).nodes[node];
  return (spec && spec.label) || node;
}

/** " → <node>" when the answer's node is one a person sees (a person's or the end), else "": a
 * decision or settlement node is passed through in a moment and means nothing to a technician. */
function whereNow(definition, ticket) {
  const spec = typeOf(definition, ticket).nodes[ticket.node] || {};
  return spec.kind === "human" || spec.kind === "end" ? ` → ${nodeLabel(definition, ticket)}` : "";
}

/** The ticket waits for this technician: ready at a node they work. */
function waitsForMe(ticket, session) {
  const a = ticket.assignee || {};
  return ticket.status === "open" && !!ticket.ready && a.kind === "technician" && a.id === session.sub;
}

/** An offer to accept: the node is worked by the dispatched technician, not yet accepted. */
function offerPending(definition, ticket) {
  const spec = typeOf(definition, ticket).nodes[ticket.node] || {};
  const d = ticket.dispatch || {};
  return ticket.status === "open" && (spec.assignee || {}).technician === "assigned"
    && !!d.offer_expires_at && !d.accepted_at;
}

function show(value, def, definition) {
  if (value === null || value === undefined || value === "") return "—";
  const type = def && def.type;
  if (type === "region") {
    const region = definition.regions.find((r) => r.code === value);
    return region ? `${region.name} (${value})` : String(value);
  }
  if (type === "technician") {
    const person = definition.technicians.find((p) => p.id === value);
    return person ? `${person.name} (${value})` : String(value);
  }
  if (Array.isArray(value)) {
    return value.map((v) => (v && typeof v === "object" ? `${v.code || v.sku || ""} × ${v.quantity ?? 1}` : String(v))).join(", ");
  }
  if (typeof value === "object") {
    if ("lat" in value && "lon" in value) return `${value.lat}, ${value.lon}`;
    return JSON.stringify(value);
  }
  return String(value);
}

function TicketCard({ ticket, definition, session }) {
  const spec = typeOf(definition, ticket);
  const f = ticket.fields || {};
  const mine = waitsForMe(ticket, session);
  const offer = offerPending(definition, ticket);
  return html`<a class="card tech-card" href=${`#/tech/${encodeURIComponent(ticket.id)}`} data-ticket=${ticket.id}
      data-ready=${mine ? "yes" : "no"}>
    <div class="tech-card-top">
      <strong class="tech-type">${spec.name}</strong>
      ${mine && html`<span class="tech-ready" data-ready-marker>${offer ? t("tech_offer") : t("ready")}</span>`}
    </div>
    <div class="tech-node"><span class="muted">${t("node")}</span> ${nodeLabel(definition, ticket)}</div>
    ${f.customer_name && html`<div class="tech-customer">${f.customer_name}</div>`}
    ${f.address && html`<div class="tech-address muted">${f.address}</div>`}
    <${SlaBadge} ticket=${ticket} levels=${spec.sla_levels} timezone=${definition.tenant.timezone} />
    <small class="tech-id">${ticket.id}</small>
  </a>`;
}

/** My earnings statement of this month: line by line, with the total. The month is the API's own
 * default (this month in the tenant's time zone, on the API's clock), shown from the answer. */
function Earnings({ definition, session }) {
  const [statement, error] = useLoad(() => api("GET", `/technicians/${encodeURIComponent(session.sub)}/earnings`), []);
  const tz = definition.tenant.timezone;
  return html`<section class="tech-earnings" data-earnings>
    <h2>${t("earnings")}${statement ? html` <small data-period=${statement.period}>${statement.period}</small>` : ""}</h2>
    ${!statement ? html`<${Loading} error=${error} />` : html`<div class="card">
      ${statement.lines.length === 0 && html`<p class="muted">${t("tech_no_earnings")}</p>`}
      <ul class="tech-lines">${statement.lines.map((line) => html`<li data-earning=${line.ticket_id} data-kind=${line.kind}>
        <span class="tech-line-what">${line.ticket_id}<br /><small>${when(line.completed_at, tz)} ·
          ${t(`tech_kind_${line.kind}`)}${line.region ? ` · ${line.region}` : ""}</small></span>
        <span class="num">${line.amount}</span></li>`)}</ul>
      <div class="tech-total"><span>${t("total")}</span><strong class="num" data-total>${statement.total} ${statement.currency}</strong></div>
    </div>`}
  </section>`;
}

export function TechnicianHome({ definition, session }) {
  const [tickets, error, reload] = useLoad(() => all("/tickets?status=open"), []);
  const [notice] = useState(() => { const n = flash; flash = null; return n; });
  useEffect(() => {
    // When the list is first shown (the first load's "usable" moment, read by the browser test).
    if (tickets && performance.getEntriesByName("tech-list-shown").length === 0) performance.mark("tech-list-shown");
  }, [tickets]);
  const sorted = tickets ? [...tickets].sort(byUrgency) : [];
  return html`<section class="tech" data-view="tech">
    ${notice && html`<p class="notice" role="status" data-notice>${notice}</p>`}
    <div class="tech-head"><h1>${t("my_tickets")}</h1>
      <button class="link" data-refresh onClick=${reload}>${t("refresh")}</button></div>
    ${!tickets ? html`<${Loading} error=${error} />` : html`<div class="tech-list" data-tech-list data-count=${sorted.length}>
      ${sorted.length === 0 && html`<p class="muted">${t("tech_no_tickets")}</p>`}
      ${sorted.map((tk) => html`<${TicketCard} key=${tk.id} ticket=${tk} definition=${definition} session=${session} />`)}
    </div>`}
    <${Earnings} definition=${definition} session=${session} />
  </section>`;
}

export function TechnicianTicket({ id, definition, session, go }) {
  const [ticket, setTicket] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [values, setValues] = useState({});
  const [errors, setErrors] = useState({});
  const [error, setError] = useState(null);
  const [notice, setNotice] = useState(null);
  const [busy, setBusy] = useState(false);

  async function load(message = null) {
    try {
      const fresh = await api("GET", `/tickets/${encodeURIComponent(id)}`);
      setTicket(fresh);
      setLoadError(null);
      if (message) setNotice(message);
    } catch (e) {
      setLoadError(e);
    }
  }
  useEffect(() => { setTicket(null); setValues({}); setErrors({}); setError(null); setNotice(null); load(); }, [id]);

  useEffect(() => { // after a 422: the first field with a message, in view (the form is below the fields)
    const first = document.querySelector(".tech-form [data-error-for]");
    if (first) first.closest("[data-field]").scrollIntoView({ block: "center" });
  }, [errors]);

  if (!ticket) return html`<section class="tech" data-view="tech-ticket"><${Loading} error=${loadError} /></section>`;

  const spec = typeOf(definition, ticket);
  const node = spec.nodes[ticket.node] || {};
  const mine = waitsForMe(ticket, session);
  const offer = offerPending(definition, ticket);
  const tz = definition.tenant.timezone;

  async function act(action) {
    setBusy(true); setError(null); setNotice(null);
    const body = { action, version: ticket.version };
    if (action !== "accept") body.fields = cleaned(values);
    try {
      const after = await api("POST", `/tickets/${encodeURIComponent(ticket.id)}/actions`, body);
      setErrors({});
      if (action === "accept") {
        setTicket(after);
        setNotice(t("tech_accepted_now"));
      } else if (waitsForMe(after, session)) { // the ticket came back to me at another node
        setTicket(after); setValues({});
        setNotice(`${t("tech_done")}${whereNow(definition, after)}`);
      } else {
        flash = `${ticket.id}: ${t("tech_done")}${whereNow(definition, after)}`;
        go("#/tech");
      }
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        await load(t("tech_stale"));
        setError(e);
      } else {
        setErrors(e instanceof ApiError ? e.fieldErrors() : {});
        setError(e);
      }
    } finally {
      setBusy(false);
    }
  }

  const fieldDefs = spec.fields || [];
  const known = new Set(fieldDefs.map((d) => d.name));
  const shown = [
    ...fieldDefs.filter((d) => ticket.fields[d.name] !== undefined).map((d) => [labelOf(d), ticket.fields[d.name], d]),
    ...Object.entries(ticket.fields).filter(([k]) => !known.has(k)).map(([k, v]) => [k, v, { name: k }]),
  ];
  const actions = node.actions || [];
  const invalid = Object.keys(errors).length > 0;
  return html`<section class="tech tech-ticket" data-view="tech-ticket" data-ticket=${ticket.id} data-node=${ticket.node}
      data-version=${ticket.version}>
    <a class="tech-back" href="#/tech">‹ ${t("my_tickets")}</a>
    <h1>${spec.name} <small class="tech-node-name" data-node-label>${nodeLabel(definition, ticket)}</small></h1>
    <p class="tech-meta"><${SlaBadge} ticket=${ticket} levels=${spec.sla_levels} timezone=${tz} />
      <small class="muted">${ticket.id} · ${t(ticket.status === "failed" ? "failed_status" : ticket.status)}</small></p>
    ${notice && html`<p class="notice" role="status" data-notice>${notice}</p>`}
    <${ErrorMessage} error=${error} />
    ${invalid && html`<p class="field-error">${t("tech_fix")}</p>`}

    ${offer && html`<div class="card tech-offer" data-offer>
      <p>${t("tech_offer")}<br /><small>${t("tech_accept_by")} ${when(ticket.dispatch.offer_expires_at, tz)}</small></p>
      <button class="primary tech-wide" data-action="accept" disabled=${busy} onClick=${() => act("accept")}>${t("accept")}</button>
    </div>`}

    <dl class="card tech-fields">${shown.map(([label, value, def]) => html`<div data-value=${def.name}>
      <dt>${label}</dt><dd>${show(value, def, definition)}</dd></div>`)}</dl>

    ${mine && !offer && actions.length > 0 && html`<form class="card tech-form" data-form=${ticket.node}
        onSubmit=${(e) => { e.preventDefault(); act(actions[0][0]); }}>
      ${(node.form || []).length > 0 && html`<${Fields} defs=${node.form} values=${values} setValues=${setValues}
        errors=${errors} definition=${definition} />`}
      <div class="actions tech-actions">${actions.map(([label], i) => html`<button type=${i === 0 ? "submit" : "button"}
        class=${i === 0 ? "primary" : ""} data-action=${label} disabled=${busy}
        onClick=${i === 0 ? undefined : () => act(label)}>${label}</button>`)}</div>
    </form>`}
    ${!mine && ticket.status === "open" && html`<p class="muted" data-not-mine>${ticket.ready ? t("tech_not_yours") : t("waiting")}</p>`}
  </section>`;
}
