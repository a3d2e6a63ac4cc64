// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function Finance() { return html`<p class="muted">Finance</p>`; }
export function Statements() { return html`<p class="muted">Statements</p>`; }
