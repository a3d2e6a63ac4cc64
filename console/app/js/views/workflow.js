// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function Workflows() { return html`<p class="muted">Workflows</p>`; }
