// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function Deliveries() { return html`<p class="muted">Deliveries</p>`; }
