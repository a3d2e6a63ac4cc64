// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function TicketList() { return html`<p class="muted">TicketList</p>`; }
export function FailedList() { return html`<p class="muted">FailedList</p>`; }
