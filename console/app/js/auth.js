// Sign-in. On the local twin (config.auth.mode "local"): a picker of the tenants' people
// (GET /_local/people) and a token from POST /_local/token. In AWS (mode "cognito"): Cognito's hosted
// UI with the authorization-code flow and PKCE; the ID token carries sub, custom:tenant, cognito:groups.
import { html, useEffect, useState } from "./lib.js";
import { getConfig, setSession } from "./api.js";
import { extend, t, toggleLang } from "./i18n.js";

extend({
  "zh-CN": { signin_hint: "本地孪生环境：选择租户文件中的一个人登录（POST /_local/token）" },
  en: { signin_hint: "Local twin: sign in as a person of a tenant file (POST /_local/token)" },
});

function b64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** The console's own URL (its folder, never index.html): the app client's callback and logout URL. */
function redirectUri() {
  return location.origin + location.pathname.replace(/index\.html$/, "");
}

function claimsOf(jwt) {
  const part = jwt.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(decodeURIComponent(escape(atob(part))));
}

async function cognitoStart(auth) {
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  sessionStorage.setItem("scrm.pkce", verifier);
  const challenge = b64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const redirect = redirectUri();
  location.href = `${auth.domain}/oauth2/authorize?response_type=code&client_id=${auth.clientId}` +
    `&redirect_uri=${encodeURIComponent(redirect)}&scope=openid&code_challenge_method=S256&code_challenge=${challenge}`;
}

/** After the hosted UI's redirect (?code=...): the session, or null when there is no code. */
export async function cognitoFinish() {
  const auth = getConfig().auth || {};
  const code = new URLSearchParams(location.search).get("code");
  if (auth.mode !== "cognito" || !code) return null;
  const answer = await fetch(`${auth.domain}/oauth2/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({
      grant_type: "authorization_code", client_id: auth.clientId, code,
      redirect_uri: redirectUri(), code_verifier: sessionStorage.getItem("scrm.pkce") || "",
    }),
  });
  const tokens = await answer.json();
  if (!answer.ok || !tokens.id_token) throw new Error(`sign-in failed: ${tokens.error || answer.status}`);
  const claims = claimsOf(tokens.id_token);
  history.replaceState(null, "", location.pathname + "#/");
  const session = {
    token: tokens.id_token, sub: claims["custom:user"] || claims.sub, tenant: claims["custom:tenant"],
    roles: claims["cognito:groups"] || [], name: claims.name || claims.email || claims.sub,
  };
  setSession(session);
  return session;
}

/** Where signing out goes: Cognito's hosted UI logout (ends its session too), or the picker locally. */
export function signOutUrl() {
  const auth = getConfig().auth || {};
  if (auth.mode !== "cognito") return "#/signin";
  return `${auth.domain}/logout?client_id=${auth.clientId}&logout_uri=${encodeURIComponent(redirectUri())}`;
}

export function SignIn({ onSignedIn }) {
  const auth = getConfig().auth || { mode: "local" };
  const [people, setPeople] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (auth.mode !== "local") return;
    fetch("/_local/people").then((r) => r.json()).then((d) => setPeople(d.tenants)).catch((e) => setError(String(e)));
  }, []);
  if (auth.mode === "cognito") {
    return html`<main class="signin"><h1>${t("app")}</h1>
      <button class="primary" onClick=${() => cognitoStart(auth)}>${t("signin")}</button></main>`;
  }
  async function pick(tenant, person) {
    const answer = await fetch("/_local/token", {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ tenant, sub: person.id, roles: person.roles }),
    });
    const body = await answer.json();
    if (!answer.ok) return setError(body.message);
    const session = { token: body.token, tenant, sub: person.id, roles: person.roles, name: person.name };
    setSession(session);
    onSignedIn(session);
  }
  const [, setTick] = useState(0);
  return html`<main class="signin">
    <h1>${t("app")} <button class="link" data-lang onClick=${() => { toggleLang(); setTick((n) => n + 1); }}>${t("language")}</button></h1>
    <p class="hint">${t("signin_hint")}</p>
    ${error && html`<p class="error" role="alert">${error}</p>`}
    ${!people && !error && html`<p>${t("loading")}</p>`}
    ${(people || []).map((tenant) => html`<section class="tenant-people">
      <h2>${tenant.name} <small>${tenant.id}</small></h2>
      <ul class="people">${tenant.people.map((p) => html`<li>
        <button data-tenant=${tenant.id} data-person=${p.id} onClick=${() => pick(tenant.id, p)}>
          ${p.name} <small>${p.id} · ${p.roles.join(", ")}</small></button></li>`)}</ul>
    </section>`)}
  </main>`;
}
