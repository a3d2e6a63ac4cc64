// The console: sign-in, the tenant's definition (GET /tenant), a hash router and the views by role.
// It uses only the public HTTP API; what a role cannot do is hidden, and the API's 403/404 decide.
import { html, render, useEffect, useState } from "./lib.js";
import { api, getSession, hasRole, loadConfig, setSession } from "./api.js";
import { cognitoFinish, SignIn, signOutUrl } from "./auth.js";
import { setDefaultLang, t, toggleLang } from "./i18n.js";
import { Loading } from "./ui.js";
import { TechnicianHome, TechnicianTicket } from "./views/technician.js";
import { FailedList, TicketList } from "./views/desk.js";
import { TicketPage } from "./views/ticket.js";
import { CreateTicket } from "./views/create.js";
import { Deliveries } from "./views/deliveries.js";
import { Finance, Statements } from "./views/finance.js";
import { Workflows } from "./views/workflow.js";

const STAFF = ["agent", "dispatcher", "supervisor", "admin", "finance"];

/** The views a session may open, in the navigation's order: [hash, label, roles or null for any]. */
export const NAV = [
  ["#/tech", "my_tickets", ["technician"]],
  ["#/tickets", "tickets", ["agent", "dispatcher", "supervisor"]],
  ["#/new", "new_ticket", ["agent", "dispatcher", "supervisor"]],
  ["#/failed", "failed", ["dispatcher"]],
  ["#/deliveries", "deliveries", ["dispatcher"]],
  ["#/finance", "finance", ["finance"]],
  ["#/statements", "statements", ["finance"]],
  ["#/workflows", "workflows", ["agent", "dispatcher", "supervisor", "finance"]],
];

function home() {
  if (!getSession()) return "#/signin";
  const first = NAV.find(([, , roles]) => hasRole(...roles));
  return first ? first[0] : "#/tickets";
}

function parse(hash) {
  const [path, query] = (hash || "").replace(/^#/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { hash, parts, query: new URLSearchParams(query || "") };
}

function View({ route, definition, session, go }) {
  const props = { route, definition, session, go };
  const [page, id] = route.parts;
  switch (page) {
    case "tech": return id ? html`<${TechnicianTicket} ...${props} id=${id} />` : html`<${TechnicianHome} ...${props} />`;
    case "tickets": return id ? html`<${TicketPage} ...${props} id=${id} />` : html`<${TicketList} ...${props} />`;
    case "new": return html`<${CreateTicket} ...${props} />`;
    case "failed": return html`<${FailedList} ...${props} />`;
    case "deliveries": return html`<${Deliveries} ...${props} />`;
    case "finance": return html`<${Finance} ...${props} />`;
    case "statements": return html`<${Statements} ...${props} />`;
    case "workflows": return html`<${Workflows} ...${props} />`;
    default: return html`<p class="muted">${t("none")}</p>`;
  }
}

function App() {
  const [session, setCurrent] = useState(getSession());
  const [route, setRoute] = useState(parse(location.hash));
  const [definition, setDefinition] = useState(null);
  const [error, setError] = useState(null);
  const [, setLangTick] = useState(0);
  const go = (hash) => { location.hash = hash; };
  useEffect(() => {
    const moved = () => setRoute(parse(location.hash));
    addEventListener("hashchange", moved);
    return () => removeEventListener("hashchange", moved);
  }, []);
  useEffect(() => {
    if (!session) return;
    setDefinition(null);
    api("GET", "/tenant").then((d) => { setDefaultLang(d.tenant.locale); setDefinition(d); }, setError);
  }, [session && session.token]);
  useEffect(() => {
    if (!session && route.parts[0] !== "signin") go("#/signin");
    else if (session && (route.parts.length === 0 || route.parts[0] === "signin")) go(home());
  }, [session, route.hash]);

  if (!session || route.parts[0] === "signin") {
    return html`<${SignIn} onSignedIn=${(s) => { setCurrent(s); go(home()); }} />`;
  }
  const signOut = () => {
    const next = signOutUrl();
    setSession(null); setCurrent(null);
    if (next.startsWith("#")) go(next); else location.href = next;
  };
  const nav = NAV.filter(([, , roles]) => hasRole(...roles));
  return html`<div class="shell">
    <header class="top">
      <strong class="brand">${definition ? definition.tenant.name : t("app")}</strong>
      <nav>${nav.map(([hash, label]) => html`<a href=${hash} data-nav=${hash.slice(2)}
        class=${route.hash.startsWith(hash) ? "active" : ""}>${t(label)}</a>`)}</nav>
      <span class="who" data-user=${session.sub}>${session.name || session.sub}</span>
      <button class="link" data-lang onClick=${() => { toggleLang(); setLangTick((n) => n + 1); }}>${t("language")}</button>
      <button class="link" data-signout onClick=${signOut}>${t("signout")}</button>
    </header>
    <main class="page">${definition ? html`<${View} route=${route} definition=${definition} session=${session} go=${go} />`
      : html`<${Loading} error=${error} />`}</main>
  </div>`;
}

async function boot() {
  await loadConfig();
  await cognitoFinish().catch((err) => console.warn(String(err)));
  const root = document.getElementById("app");
  root.textContent = ""; // the boot placeholder: Preact renders beside what it did not render
  render(html`<${App} />`, root);
}

boot();
export { STAFF };
