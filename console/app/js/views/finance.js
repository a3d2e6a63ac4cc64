// Finance (#/finance): a month's revenue as a tier × region heat map, by item and by channel, each with
// its CSV; installer statements and staff shares (#/statements). Finance and admin only: the API's
// 403 decides. The month is the picker's, by default the API's own (this month in the tenant's zone).
//
// The heat map's cells are the revenue report grouped by tier × region (GET /reports/revenue?
// group_by=tier_region, keys "<tier>|<region>"); they are checked against the by-tier and by-region
// reports (each row adds up to its tier, each column to its region), and a difference is said.
import { html, useEffect, useRef, useState } from "../lib.js";
import { api } from "../api.js";
import { extend, t, when } from "../i18n.js";
import { ErrorMessage, Loading, useLoad } from "../ui.js";

extend({
  "zh-CN": {
    fin_tier: "等级", fin_region: "区域", fin_item: "项目", fin_count: "单数", fin_earnings: "师傅收入",
    fin_row_total: "合计", fin_checked: "单元格为按等级 × 区域的收入，已与按等级、按区域报表核对一致。",
    fin_mismatch: "单元格与报表合计暂不一致（报表由结算流汇总，稍后刷新）。",
    fin_no_revenue: "本期暂无收入", fin_csv_ready: "已生成",
    fin_who: "对象", fin_installers: "安装师傅", fin_staff: "员工分成", fin_ticket: "工单", fin_kind: "类型",
    fin_party: "分成方", fin_ticket_total: "工单金额", fin_completed: "完工", fin_settlement: "结算",
    fin_adjustment: "调整", fin_installer_party: "安装", fin_creator: "创建人", fin_channel_owner: "渠道负责人",
    fin_unknown_region: "未知区域", fin_surcharge: "附加费",
  },
  en: {
    fin_tier: "Tier", fin_region: "Region", fin_item: "Item", fin_count: "Tickets", fin_earnings: "Installer earnings",
    fin_row_total: "Total",
    fin_checked: "Cells: revenue by tier × region; they add up to the by-tier and by-region reports.",
    fin_mismatch: "The cells do not add up to the reports yet (the reports fold the settlements as they come): refresh in a moment.",
    fin_no_revenue: "No revenue in this period", fin_csv_ready: "ready",
    fin_who: "Who", fin_installers: "Installers", fin_staff: "Staff shares", fin_ticket: "Ticket", fin_kind: "Kind",
    fin_party: "Party", fin_ticket_total: "Ticket total", fin_completed: "Completed", fin_settlement: "settlement",
    fin_adjustment: "adjustment", fin_installer_party: "installer", fin_creator: "creator", fin_channel_owner: "channel owner",
    fin_unknown_region: "unknown region", fin_surcharge: "surcharge",
  },
});

const GROUPS = ["tier", "region", "tier_region", "item", "channel"];
const HEAT_STEPS = 5;

// ---------------------------------------------------------------- money as integers of minor units

function digitsOf(text) {
  const part = String(text).split(".")[1];
  return part ? part.length : 0;
}

/** "12.34" -> 1234 (at `digits` decimals): sums without floating-point drift. */
function minor(text, digits) {
  const s = String(text).trim();
  const negative = s.startsWith("-");
  const [whole, frac = ""] = s.replace(/^[-+]/, "").split(".");
  const value = Number(whole) * 10 ** digits + Number((frac + "0".repeat(digits)).slice(0, digits) || 0);
  return negative ? -value : value;
}

function money(units, digits) {
  return (units / 10 ** digits).toFixed(digits);
}

// ---------------------------------------------------------------- loading

function revenuePath(group, period, format) {
  const q = new URLSearchParams({ group_by: group });
  if (period) q.set("period", period);
  if (format) q.set("format", format);
  return `/reports/revenue?${q}`;
}

/** The tier × region cells of the period (the report's groups), checked against the two reports. */
function crossTab(reports, digits) {
  const cells = new Map(reports.tier_region.groups.map((g) => [g.key, minor(g.total, digits)]));
  const sums = (index) => {
    const out = new Map();
    for (const [key, v] of cells) {
      const k = key.split("|")[index];
      out.set(k, (out.get(k) || 0) + v);
    }
    return out;
  };
  const agrees = (report, got) => {
    const want = new Map(report.groups.map((g) => [g.key, minor(g.total, digits)]));
    const keys = new Set([...want.keys(), ...got.keys()]);
    return [...keys].every((k) => (want.get(k) || 0) === (got.get(k) || 0));
  };
  return { cells, ok: agrees(reports.tier, sums(0)) && agrees(reports.region, sums(1)) };
}

// ---------------------------------------------------------------- pieces

function Period({ value, onChange }) {
  return html`<label class="fin-period">${t("period")}
    <input type="month" data-period value=${value} onChange=${(e) => e.target.value && onChange(e.target.value)} /></label>`;
}

/** Fetch the report's CSV (format=csv) and save it through a Blob link (kept, to save it again). */
function Download({ group, period, label }) {
  const [link, setLink] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const anchor = useRef(null);
  useEffect(() => {
    if (link && anchor.current) anchor.current.click();
    return () => link && URL.revokeObjectURL(link.href);
  }, [link]);
  async function save() {
    setBusy(true); setError(null);
    try {
      const text = await api("GET", revenuePath(group, period, "csv"), undefined, { raw: true });
      setLink({ href: URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" })), name: `revenue-${period}-${group}.csv` });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }
  return html`<span class="fin-download">
    <button type="button" data-download=${group} disabled=${busy} onClick=${save}>⬇ ${t("download_csv")}${label ? ` · ${label}` : ""}</button>
    ${link && html`<a ref=${anchor} href=${link.href} download=${link.name} data-csv=${group}>${link.name}</a>`}
    <${ErrorMessage} error=${error} />
  </span>`;
}

function regionName(definition, code) {
  if (code === "?") return t("fin_unknown_region");
  const region = definition.regions.find((r) => r.code === code);
  return region ? region.name : code;
}

function itemName(definition, code) {
  if (code.startsWith("surcharge:")) return `${t("fin_surcharge")} ${code.slice("surcharge:".length)}`;
  const { service_items: items, parts } = definition.catalog;
  const found = items.find((i) => i.code === code) || parts.find((p) => p.sku === code);
  return found ? found.name : code;
}

function HeatMap({ definition, reports, period, digits }) {
  const tab = crossTab(reports, digits);
  const tierKeys = [...new Set([...definition.catalog.tiers, ...reports.tier.groups.map((g) => g.key)])];
  const regionKeys = [...new Set([...definition.regions.map((r) => r.code), ...reports.region.groups.map((g) => g.key)])];
  if (tab) for (const k of tab.cells.keys()) { const r = k.split("|")[1]; if (!regionKeys.includes(r)) regionKeys.push(r); }
  const tierTotal = new Map(reports.tier.groups.map((g) => [g.key, g.total]));
  const regionTotal = new Map(reports.region.groups.map((g) => [g.key, g.total]));
  const max = tab ? Math.max(0, ...tab.cells.values()) : 0;
  const level = (v) => (v > 0 && max > 0 ? Math.max(1, Math.ceil((HEAT_STEPS * v) / max)) : 0);
  return html`<section class="card fin-heat" data-heatmap data-checked=${tab ? (tab.ok ? "yes" : "no") : ""}>
    <div class="fin-head"><h2>${t("heat_map")} <small>${t("by_tier_region")}</small></h2>
      <span class="fin-downloads"><${Download} group="tier_region" period=${period} label=${t("by_tier_region")} /><${Download} group="tier" period=${period} label=${t("fin_tier")} /><${Download} group="region" period=${period} label=${t("fin_region")} /></span></div>
    <div class="fin-scroll"><table class="fin-grid">
      <thead><tr><th>${t("fin_tier")} \\ ${t("fin_region")}</th>
        ${regionKeys.map((r) => html`<th class="num" data-region=${r}>${regionName(definition, r)}<br /><small>${r === "?" ? "" : r}</small></th>`)}
        <th class="num">${t("fin_row_total")}</th></tr></thead>
      <tbody>${tierKeys.map((tier) => html`<tr data-tier=${tier}><th>${tier}</th>
        ${regionKeys.map((r) => {
          const v = tab ? tab.cells.get(`${tier}|${r}`) || 0 : null;
          return html`<td class=${`num heat heat-${v === null ? 0 : level(v)}`} data-cell=${`${tier}|${r}`} data-heat=${v === null ? 0 : level(v)}
            data-amount=${v === null ? "" : money(v, digits)} title=${`${tier} × ${regionName(definition, r)}`}>
            ${v ? money(v, digits) : v === 0 ? "·" : ""}</td>`;
        })}
        <td class="num fin-total" data-tier-total=${tier}>${tierTotal.get(tier) || money(0, digits)}</td></tr>`)}</tbody>
      <tfoot><tr><th>${t("fin_row_total")}</th>
        ${regionKeys.map((r) => html`<td class="num fin-total" data-region-total=${r}>${regionTotal.get(r) || (r === "?" ? "" : money(0, digits))}</td>`)}
        <td class="num fin-total" data-grand-total>${reports.tier.total}</td></tr></tfoot>
    </table></div>
    ${tab && html`<p class=${tab.ok ? "muted fin-note" : "notice fin-note fin-warn"} data-crosstab=${tab.ok ? "checked" : "mismatch"}>
      ${tab.ok ? t("fin_checked") : t("fin_mismatch")}</p>`}
    <div class="fin-legend" aria-hidden="true">${Array.from({ length: HEAT_STEPS + 1 }, (_, i) => html`<span class=${`heat heat-${i}`}></span>`)}
      <small>0 → ${money(max, digits)} ${reports.tier.currency}</small></div>
  </section>`;
}

function Bars({ title, group, report, period, name }) {
  const max = Math.max(0, ...report.groups.map((g) => Number(g.total)));
  return html`<section class="card fin-bars" data-report=${group}>
    <div class="fin-head"><h2>${title}</h2><${Download} group=${group} period=${period} /></div>
    ${report.groups.length === 0 ? html`<p class="muted">${t("fin_no_revenue")}</p>` : html`<div class="fin-scroll"><table>
      <thead><tr><th>${group === "item" ? t("fin_item") : t("channel")}</th><th class="num">${t("amount")}</th>
        <th class="num">${t("fin_count")}</th></tr></thead>
      <tbody>${report.groups.map((g) => html`<tr data-group=${g.key}>
        <td><div>${name(g.key)} <small class="muted">${g.key}</small></div>
          <div class="fin-bar"><span style=${`width: ${max > 0 ? Math.max(0, (100 * Number(g.total)) / max).toFixed(1) : 0}%`}></span></div></td>
        <td class="num">${g.total}</td><td class="num">${g.count}</td></tr>`)}</tbody>
      <tfoot><tr><th>${t("total")}</th><td class="num">${report.total} ${report.currency}</td><td></td></tr></tfoot>
    </table></div>`}
  </section>`;
}

export function Finance({ route, definition, go }) {
  const asked = route.query.get("period") || "";
  const [reports, error] = useLoad(async () => {
    const answers = await Promise.all(GROUPS.map((g) => api("GET", revenuePath(g, asked))));
    return Object.fromEntries(GROUPS.map((g, i) => [g, answers[i]]));
  }, [asked]);
  if (!reports) return html`<section class="fin" data-view="finance"><h1>${t("finance")}</h1><${Loading} error=${error} /></section>`;
  const period = reports.tier.period;
  const digits = Math.max(...GROUPS.map((g) => digitsOf(reports[g].total)));
  return html`<section class="fin" data-view="finance" data-period=${period}>
    <div class="fin-top"><h1>${t("finance")}</h1>
      <${Period} value=${period} onChange=${(p) => go(`#/finance?period=${p}`)} />
      <span class="fin-sum">${t("total")} <strong data-revenue-total>${reports.tier.total}</strong> ${reports.tier.currency}
        · ${t("fin_earnings")} ${reports.tier.earnings}</span></div>
    <${HeatMap} definition=${definition} reports=${reports} period=${period} digits=${digits} />
    <div class="fin-two">
      <${Bars} title=${t("by_item")} group="item" report=${reports.item} period=${period} name=${(k) => itemName(definition, k)} />
      <${Bars} title=${t("by_channel")} group="channel" report=${reports.channel} period=${period} name=${(k) => k} />
    </div>
  </section>`;
}

// ---------------------------------------------------------------- statements

function StatementTable({ statement, definition }) {
  const tz = definition.tenant.timezone;
  const party = (p) => t(p === "installer" ? "fin_installer_party" : `fin_${p}`);
  if (statement.lines.length === 0) return html`<p class="muted" data-statement-empty>${t("no_items")}</p>`;
  return html`<div class="fin-scroll"><table class="fin-statement">
    <thead><tr><th>${t("fin_completed")}</th><th>${t("fin_ticket")}</th><th>${t("fin_kind")}</th><th>${t("fin_tier")}</th>
      <th>${t("fin_party")}</th><th class="num">${t("fin_ticket_total")}</th><th class="num">${t("amount")}</th></tr></thead>
    <tbody>${statement.lines.map((line) => html`<tr data-line=${line.ticket_id} data-kind=${line.kind}>
      <td>${when(line.completed_at, tz)}</td><td>${line.ticket_id}</td><td>${t(`fin_${line.kind}`)}</td><td>${line.tier}</td>
      <td>${party(line.party || "installer")}${line.region ? ` · ${regionName(definition, line.region)}` : ""}</td>
      <td class="num">${line.ticket_total}</td><td class="num">${line.amount}</td></tr>`)}</tbody>
    <tfoot><tr><th colspan="6">${t("total")}</th><td class="num" data-statement-total>${statement.total} ${statement.currency}</td></tr></tfoot>
  </table></div>`;
}

export function Statements({ route, definition, go }) {
  const first = definition.technicians[0] ? `t:${definition.technicians[0].id}` : definition.users[0] ? `u:${definition.users[0].id}` : "";
  const who = route.query.get("who") || first;
  const asked = route.query.get("period") || "";
  const [kind, id] = [who.slice(0, 1), who.slice(2)];
  const set = (patch) => {
    const q = new URLSearchParams({ who, ...(asked ? { period: asked } : {}), ...patch });
    go(`#/statements?${q}`);
  };
  const [statement, error] = useLoad(() => {
    if (!id) return Promise.resolve(null);
    const base = kind === "u" ? `/staff/${encodeURIComponent(id)}/earnings` : `/technicians/${encodeURIComponent(id)}/earnings`;
    return api("GET", asked ? `${base}?period=${asked}` : base);
  }, [who, asked]);
  const period = (statement && statement.period) || asked;
  return html`<section class="fin" data-view="statements">
    <div class="fin-top"><h1>${t("statements")}</h1>
      <label class="fin-who">${t("fin_who")}
        <select data-who value=${who} onChange=${(e) => set({ who: e.target.value })}>
          <optgroup label=${t("fin_installers")}>${definition.technicians.map((p) => html`<option value=${`t:${p.id}`}>${p.name} (${p.id})</option>`)}</optgroup>
          <optgroup label=${t("fin_staff")}>${definition.users.map((u) => html`<option value=${`u:${u.id}`}>${u.name} (${u.id})</option>`)}</optgroup>
        </select></label>
      <${Period} value=${period} onChange=${(p) => set({ period: p })} /></div>
    <section class="card" data-statement=${id} data-statement-kind=${kind === "u" ? "staff" : "technician"}>
      <h2>${kind === "u" ? t("fin_staff") : t("installer")} · ${(definition.technicians.find((p) => p.id === id)
        || definition.users.find((u) => u.id === id) || { name: id }).name} <small>${period}</small></h2>
      ${statement ? html`<${StatementTable} statement=${statement} definition=${definition} />` : html`<${Loading} error=${error} />`}
    </section>
  </section>`;
}
