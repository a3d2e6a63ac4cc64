// Create a ticket of any type (#/new?type=...): the type's fields from the tenant file, POST /tickets;
// a 422 puts each message next to its field, a 201 opens the ticket.
import { html, useState } from "../lib.js";
import { api } from "../api.js";
import { extend, t } from "../i18n.js";
import { cleaned, ErrorMessage, Fields } from "../ui.js";

extend({
  "zh-CN": { create_choose_type: "选择工单类型", create_submit: "创建工单" },
  en: { create_choose_type: "Choose the ticket type", create_submit: "Create ticket" },
});

function defaults(spec) {
  const values = {};
  for (const f of (spec && spec.fields) || []) if (f.default !== undefined) values[f.name] = f.default;
  return values;
}

export function CreateTicket({ route, definition, go }) {
  const types = Object.entries(definition.ticket_types);
  const type = route.query.get("type") || (types[0] || [])[0];
  const spec = definition.ticket_types[type];
  const [state, setState] = useState({ type, values: defaults(spec) });
  const values = state.type === type ? state.values : defaults(spec);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const setValues = (v) => setState({ type, values: v });

  async function submit(e) {
    e.preventDefault();
    setBusy(true); setError(null);
    try {
      const created = await api("POST", "/tickets", { type, fields: cleaned(values) });
      go(`#/tickets/${encodeURIComponent(created.id)}`);
    } catch (err) {
      setError(err);
    }
    setBusy(false);
  }

  return html`<section class="desk-create" data-view="new">
    <h1>${t("new_ticket")}</h1>
    <div class="type-picker" role="radiogroup" aria-label=${t("create_choose_type")}>
      ${types.map(([id, s]) => html`<button type="button" role="radio" aria-checked=${id === type}
        class=${id === type ? "primary" : ""} data-type=${id}
        onClick=${() => { setError(null); go(`#/new?type=${encodeURIComponent(id)}`); }}>${s.name || id}</button>`)}
    </div>
    ${spec && html`<form class="card" data-create=${type} onSubmit=${submit} noValidate>
      <${Fields} defs=${spec.fields} values=${values} setValues=${setValues}
        errors=${error && error.fieldErrors ? error.fieldErrors() : {}} definition=${definition} />
      <${ErrorMessage} error=${error} />
      <div class="actions"><button type="submit" class="primary" data-submit disabled=${busy}>${t("create_submit")}</button></div>
    </form>`}
  </section>`;
}
