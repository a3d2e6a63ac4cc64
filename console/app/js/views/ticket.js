// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function TicketPage() { return html`<p class="muted">TicketPage</p>`; }
