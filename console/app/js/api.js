// The public HTTP API, and nothing else: every call goes through `api()` with the signed-in token.
// An error answer ({"error", "message", "details": [{"field", "message"}]}) becomes an ApiError,
// whose per-field messages the forms show next to their fields.

let config = { apiBase: "", auth: { mode: "local" } };
let session = JSON.parse(sessionStorage.getItem("scrm.session") || "null");

export async function loadConfig() {
  const answer = await fetch("config.json", { cache: "no-store" });
  if (answer.ok) config = await answer.json();
  return config;
}

export function getConfig() {
  return config;
}

export function getSession() {
  return session;
}

/** {token, tenant, sub, roles, name} after sign-in; null signs out. */
export function setSession(value) {
  session = value;
  if (value) sessionStorage.setItem("scrm.session", JSON.stringify(value));
  else sessionStorage.removeItem("scrm.session");
}

export function hasRole(...roles) {
  const mine = (session && session.roles) || [];
  return mine.includes("admin") || roles.some((r) => mine.includes(r));
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.error) || "error";
    this.details = (body && body.details) || [];
  }

  /** field name -> message, for the errors the API tied to a field. */
  fieldErrors() {
    const out = {};
    for (const d of this.details) {
      if (d && d.field) out[String(d.field).replace(/^fields\./, "")] = d.message;
    }
    return out;
  }
}

/** The API's answer to `method path` (JSON in and out); raises ApiError on a 4xx/5xx. */
export async function api(method, path, body, { raw = false } = {}) {
  const headers = { accept: raw ? "text/csv" : "application/json" };
  if (session && session.token) headers.authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  const answer = await fetch(`${config.apiBase || ""}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (answer.status === 401 && session) {
    setSession(null);
    location.hash = "#/signin";
  }
  if (raw && answer.ok) return answer.text();
  const text = await answer.text();
  const data = text ? JSON.parse(text) : null;
  if (!answer.ok) throw new ApiError(answer.status, data);
  return data;
}

/** Every page of a listing (`items` and `next`), up to `max` items. */
export async function all(path, max = 500) {
  const items = [];
  let next = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api("GET", next ? `${path}${sep}next=${encodeURIComponent(next)}` : path);
    items.push(...(page.items || []));
    next = page.next || page.cursor || null;
  } while (next && items.length < max);
  return items;
}
