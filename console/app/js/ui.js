// Shared pieces of the views: the form rendered from the tenant file's field definitions (GET /tenant),
// error messages next to the field the API names, the SLA level badge, loading and error states.
import { html, useEffect, useState } from "./lib.js";
import { ApiError } from "./api.js";
import { t, when } from "./i18n.js";

/** The label of a field definition: its `label`, else its name. */
export function labelOf(def) {
  return def.label || def.name;
}

/** A number while typing: the number once the text is one ("22.5"), else the text itself ("22.", "-")
 * so the input keeps what was typed; "" is no value. The API names a text left over. */
function numeric(text) {
  if (text === "") return undefined;
  return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
}

function lines(value) {
  return Array.isArray(value) ? value : [];
}

function LineItems({ def, value, onChange, choices, by }) {
  const rows = lines(value);
  const set = (i, patch) => onChange(rows.map((row, j) => (i === j ? { ...row, ...patch } : row)));
  return html`<div class="lines" id=${`f-${def.name}`}>
    ${rows.map((row, i) => html`<div class="line">
      <select name=${`${def.name}.${i}.${by}`} value=${row[by] || ""} onChange=${(e) => set(i, { [by]: e.target.value })}>
        <option value="">—</option>
        ${choices.map((c) => html`<option value=${c[by]}>${c.name} (${c[by]})</option>`)}
      </select>
      <input name=${`${def.name}.${i}.quantity`} class="qty" inputmode="decimal" value=${row.quantity ?? ""}
        aria-label=${t("quantity")} onInput=${(e) => set(i, { quantity: e.target.value })} />
      <button type="button" class="link" onClick=${() => onChange(rows.filter((_, j) => j !== i))}>✕</button>
    </div>`)}
    <button type="button" class="link" data-add=${def.name}
      onClick=${() => onChange([...rows, { [by]: (choices[0] || {})[by] || "", quantity: "1" }])}>+ ${t("add_line")}</button>
  </div>`;
}

/** One input for one field definition (`def`), of the tenant `definition`. */
export function Input({ def, value, onChange, definition }) {
  const name = def.name;
  const common = { id: `f-${name}`, name, required: !!def.required };
  switch (def.type) {
    case "select":
    case "region":
    case "technician": {
      const options = def.type === "select" ? def.options.map((o) => ({ value: o, text: o }))
        : def.type === "region" ? definition.regions.map((r) => ({ value: r.code, text: `${r.name} (${r.code})` }))
        : definition.technicians.map((p) => ({ value: p.id, text: `${p.name} (${p.id})` }));
      return html`<select ...${common} value=${value ?? ""} onChange=${(e) => onChange(e.target.value || undefined)}>
        <option value="">—</option>${options.map((o) => html`<option value=${o.value}>${o.text}</option>`)}</select>`;
    }
    case "multiselect": {
      const chosen = lines(value);
      return html`<div class="choices" id=${common.id}>${def.options.map((o) => html`<label class="choice">
        <input type="checkbox" name=${name} value=${o} checked=${chosen.includes(o)}
          onChange=${(e) => onChange(e.target.checked ? [...chosen, o] : chosen.filter((c) => c !== o))} /> ${o}</label>`)}</div>`;
    }
    case "number":
    case "money":
      return html`<input ...${common} inputmode="decimal" value=${value ?? ""}
        onInput=${(e) => onChange(def.type === "number" ? numeric(e.target.value) : e.target.value || undefined)} />`;
    case "date":
      return html`<input ...${common} type="date" value=${value ?? ""} onInput=${(e) => onChange(e.target.value || undefined)} />`;
    case "datetime":
      return html`<input ...${common} type="datetime-local" value=${value ? String(value).slice(0, 16) : ""}
        onInput=${(e) => onChange(e.target.value ? new Date(e.target.value).toISOString() : undefined)} />`;
    case "phone":
      return html`<input ...${common} type="tel" value=${value ?? ""} onInput=${(e) => onChange(e.target.value || undefined)} />`;
    case "email":
      return html`<input ...${common} type="email" value=${value ?? ""} onInput=${(e) => onChange(e.target.value || undefined)} />`;
    case "geo": {
      const geo = value || {};
      const set = (patch) => {
        const next = { ...geo, ...patch };
        for (const k of ["lat", "lon"]) if (next[k] === undefined) delete next[k];
        onChange(Object.keys(next).length ? next : undefined); // both emptied: no location at all
      };
      const locate = () => navigator.geolocation && navigator.geolocation.getCurrentPosition(
        (p) => onChange({ lat: p.coords.latitude, lon: p.coords.longitude }));
      return html`<div class="geo" id=${common.id}>
        <input name=${`${name}.lat`} inputmode="decimal" placeholder="lat" value=${geo.lat ?? ""} onInput=${(e) => set({ lat: numeric(e.target.value) })} />
        <input name=${`${name}.lon`} inputmode="decimal" placeholder="lon" value=${geo.lon ?? ""} onInput=${(e) => set({ lon: numeric(e.target.value) })} />
        <button type="button" class="link" onClick=${locate}>${t("locate")}</button></div>`;
    }
    case "photos": {
      const files = lines(value);
      // The photo's object key; the bytes go to the tenant's storage (not part of this API yet).
      return html`<div class="photos" id=${common.id}>
        <input type="file" name=${name} accept="image/*" multiple capture="environment"
          onChange=${(e) => onChange([...e.target.files].map((f) => `photos/${Date.now()}-${f.name}`))} />
        ${files.length > 0 && html`<small>${files.length} ✓</small>`}</div>`;
    }
    case "service_items":
      return html`<${LineItems} def=${def} value=${value} onChange=${onChange} choices=${definition.catalog.service_items} by="code" />`;
    case "parts":
      return html`<${LineItems} def=${def} value=${value} onChange=${onChange} choices=${definition.catalog.parts} by="sku" />`;
    default:
      return html`<input ...${common} value=${value ?? ""} onInput=${(e) => onChange(e.target.value || undefined)} />`;
  }
}

/** A form of field definitions with each field's error (from the API's 422 details) next to it. */
export function Fields({ defs, values, setValues, errors, definition }) {
  return html`<div class="fields">${defs.map((def) => html`<div class=${`field ${errors[def.name] ? "invalid" : ""}`} data-field=${def.name}>
    <label for=${`f-${def.name}`}>${labelOf(def)}${def.required ? html` <span class="req" title=${t("required")}>*</span>` : ""}</label>
    <${Input} def=${def} value=${values[def.name]} definition=${definition}
      onChange=${(v) => setValues({ ...values, [def.name]: v })} />
    ${errors[def.name] && html`<p class="field-error" role="alert" data-error-for=${def.name}>${errors[def.name]}</p>`}
  </div>`)}</div>`;
}

/** The values worth sending: empty ones left out, quantities as numbers where they are. */
export function cleaned(values) {
  const out = {};
  for (const [k, v] of Object.entries(values)) {
    if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) continue;
    out[k] = Array.isArray(v) ? v.map((row) => (row && typeof row === "object" && "quantity" in row
      ? { ...row, quantity: /^\d+$/.test(String(row.quantity)) ? Number(row.quantity) : row.quantity } : row)) : v;
  }
  return out;
}

/** An API error as a message, plus the per-field messages it names (for `Fields`). */
export function ErrorMessage({ error }) {
  if (!error) return null;
  const text = error instanceof ApiError ? `${error.status} ${error.message}` : String(error.message || error);
  const rest = error instanceof ApiError ? error.details.filter((d) => !d.field) : [];
  return html`<div class="error" role="alert" data-status=${error.status || ""}>${text}
    ${rest.length > 0 && html`<ul>${rest.map((d) => html`<li>${d.message}</li>`)}</ul>`}</div>`;
}

/** Load `load()` once (again when `deps` change): [data, error, reload]. */
export function useLoad(load, deps = []) {
  const [state, setState] = useState({ data: null, error: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    let live = true;
    setState((s) => ({ data: s.data, error: null }));
    load().then((data) => live && setState({ data, error: null }), (error) => live && setState({ data: null, error }));
    return () => { live = false; };
  }, [...deps, n]);
  return [state.data, state.error, () => setN(n + 1)];
}

export function Loading({ error }) {
  if (error && error.status === 403) return html`<p class="muted" data-forbidden>${t("forbidden")}</p>`;
  if (error) return html`<${ErrorMessage} error=${error} />`;
  return html`<p class="muted">${t("loading")}</p>`;
}

/** The SLA level a ticket reached (``ticket.sla.level``, the last fired) and its colour by its place
 * among the policy's levels (``ticket.sla.levels``, in order): first yellow, last red, orange between. */
export function slaLevel(ticket, levels = []) {
  const sla = ticket.sla || {};
  const order = (sla.levels || []).map((lv) => lv.name);
  const names = order.length ? order : levels;
  const name = sla.level || null;
  if (!name) return { name: null, colour: "none", rank: -1 };
  const i = names.indexOf(name);
  const last = names.length - 1;
  const colour = i < 0 || i === last || sla.breached ? "red" : i === 0 ? "yellow" : "orange";
  return { name, colour, rank: i < 0 ? names.length : i };
}

/** Most urgent first: the higher level reached, then the earlier deadline. */
export function byUrgency(a, b) {
  const la = slaLevel(a).rank, lb = slaLevel(b).rank;
  if (la !== lb) return lb - la;
  const da = (a.sla || {}).deadline || "9999", db = (b.sla || {}).deadline || "9999";
  return da < db ? -1 : da > db ? 1 : 0;
}

export function SlaBadge({ ticket, levels, timezone }) {
  const level = slaLevel(ticket, levels);
  const deadline = (ticket.sla || {}).deadline;
  return html`<span class=${`sla sla-${level.colour}`} data-sla=${level.colour}>
    ${level.name ? t(`level_${level.colour}`) + " · " + level.name : ""}${deadline ? ` ${t("deadline")} ${when(deadline, timezone)}` : ""}</span>`;
}
