// Stub: replaced by the view's real module.
import { html } from "../lib.js";
export function CreateTicket() { return html`<p class="muted">CreateTicket</p>`; }
