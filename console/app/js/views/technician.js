// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function TechnicianHome() { return html`<p class="muted">TechnicianHome</p>`; }
export function TechnicianTicket() { return html`<p class="muted">TechnicianTicket</p>`; }
