// Deliveries (#/deliveries?status=failed&channel=...): what the channels sent and what became of it
// (GET /deliveries), a replay for the replayable ones (POST /deliveries/{channel}/{id}/replay).
import { html, useState } from "../lib.js";
import { api, hasRole } from "../api.js";
import { extend, t } from "../i18n.js";
import { ErrorMessage, Loading, useLoad } from "../ui.js";
import { At, hashFilters, hashWith, Pager } from "../desk-ui.js";

extend({
  "zh-CN": {
    dl_queued: "排队中", dl_ticket_created: "已建工单", dl_unmatched: "未匹配", dl_failed: "失败",
    dl_id: "推送编号", dl_topic: "主题", dl_replays: "重放次数", dl_ticket: "工单", dl_replayed: "已重新排队",
    dl_platform: "平台",
  },
  en: {
    dl_queued: "queued", dl_ticket_created: "ticket created", dl_unmatched: "unmatched", dl_failed: "failed",
    dl_id: "Delivery", dl_topic: "Topic", dl_replays: "Replays", dl_ticket: "Ticket", dl_replayed: "Queued again",
    dl_platform: "Platform",
  },
});

const STATUSES = ["queued", "ticket_created", "unmatched", "failed"];
const REPLAYABLE = ["failed", "unmatched", "queued"];

function Row({ d, definition }) {
  const [error, setError] = useState(null);
  const [replayed, setReplayed] = useState(null);
  const [busy, setBusy] = useState(false);
  async function replay() {
    setBusy(true); setError(null);
    try {
      setReplayed(await api("POST", `/deliveries/${encodeURIComponent(d.channel)}/${encodeURIComponent(d.delivery_id)}/replay`));
    } catch (err) { setError(err); }
    setBusy(false);
  }
  return html`<tr data-delivery=${d.delivery_id} data-channel=${d.channel} data-status=${d.status}>
    <td><${At} iso=${d.received_at} definition=${definition} /></td>
    <td>${d.channel}<br /><small>${d.platform}</small></td>
    <td class="mono wrap">${d.delivery_id}${d.topic ? html`<br /><small>${d.topic}</small>` : ""}</td>
    <td><span class=${`status dl-${d.status}`}>${t(`dl_${d.status}`)}</span></td>
    <td class="wrap">${d.reason || ""}</td>
    <td>${d.ticket_id ? html`<a href=${`#/tickets/${encodeURIComponent(d.ticket_id)}`} data-ticket-link=${d.ticket_id} class="mono">${d.ticket_id}</a>` : ""}</td>
    <td class="num">${d.replays}</td>
    <td>${REPLAYABLE.includes(d.status) && hasRole("dispatcher") && !replayed
      && html`<button type="button" data-replay=${d.delivery_id} disabled=${busy} onClick=${replay}>${t("replay")}</button>`}
      ${replayed && html`<span class="notice inline" data-replayed=${d.delivery_id}>${t("dl_replayed")}</span>`}
      <${ErrorMessage} error=${error} /></td>
  </tr>`;
}

export function Deliveries({ route, definition, go }) {
  const filters = hashFilters(route, ["status", "channel"]);
  const key = `${filters.status}|${filters.channel}`;
  const [cursors, setCursors] = useState({ key, list: [null] });
  const list = cursors.key === key ? cursors.list : [null];
  const index = list.length - 1;
  const [page, error, reload] = useLoad(() => {
    const q = new URLSearchParams({ limit: "50" });
    if (filters.status) q.set("status", filters.status);
    if (filters.channel) q.set("channel", filters.channel);
    if (list[index]) q.set("next", list[index]);
    return api("GET", `/deliveries?${q}`);
  }, [key, index]);
  const [channel, setChannel] = useState(filters.channel);
  const set = (name, value) => go(hashWith("#/deliveries", { ...filters, [name]: value }));
  return html`<section class="desk-deliveries" data-view="deliveries">
    <h1>${t("deliveries")}</h1>
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); set("channel", channel.trim()); }}>
      <select name="status" data-filter="status" aria-label=${t("status")} value=${filters.status} onChange=${(e) => set("status", e.target.value)}>
        <option value="">${t("status")}: ${t("all")}</option>
        ${STATUSES.map((s) => html`<option value=${s}>${t(`dl_${s}`)}</option>`)}
      </select>
      <input name="channel" data-filter="channel" placeholder=${t("channel")} aria-label=${t("channel")} value=${channel}
        onInput=${(e) => setChannel(e.target.value)} onChange=${(e) => set("channel", e.target.value.trim())} />
      <button type="button" class="link" data-refresh onClick=${reload}>${t("refresh")}</button>
    </form>
    ${!page ? html`<${Loading} error=${error} />` : html`
      ${error && html`<${ErrorMessage} error=${error} />`}
      <div class="table-wrap"><table class="deliveries" data-rows=${page.items.length}>
        <thead><tr><th>${t("received")}</th><th>${t("channel")}</th><th>${t("dl_id")}</th><th>${t("status")}</th>
          <th>${t("reason")}</th><th>${t("dl_ticket")}</th><th class="num">${t("dl_replays")}</th><th></th></tr></thead>
        <tbody>${page.items.map((d) => html`<${Row} key=${`${d.channel}/${d.delivery_id}`} d=${d} definition=${definition} />`)}</tbody>
      </table></div>
      ${page.items.length === 0 && html`<p class="muted" data-empty>${t("no_items")}</p>`}
      <${Pager} index=${index} hasNext=${!!page.next}
        onPrev=${() => setCursors({ key, list: list.slice(0, -1) })}
        onNext=${() => setCursors({ key, list: [...list, page.next] })} />`}
  </section>`;
}
