// The console is a client of the admin REST API and nothing else.

const API = "/api/v1";
const TOKEN_KEY = "dpoloop.token";  // shared with the labeling UI: one login for both

export class Unauthorized extends Error {}
export class Forbidden extends Error {}

export const session = {
  token: localStorage.getItem(TOKEN_KEY),
  onUnauthorized: () => {},
  onForbidden: () => {},
  save(token) { this.token = token; localStorage.setItem(TOKEN_KEY, token); },
  clear() { this.token = null; localStorage.removeItem(TOKEN_KEY); },
};

export async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${session.token}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(API + path, {
    ...options, headers, body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  if (response.status === 401) { session.onUnauthorized(); throw new Unauthorized("not logged in"); }
  if (response.status === 403) { session.onForbidden(); throw new Forbidden("admins only"); }
  return response;
}

// The API's reason for a refusal, readable: FastAPI's string detail, or its list of field errors.
export async function reason(response) {
  try {
    const { detail } = await response.json();
    if (typeof detail === "string") return detail;
    return detail.map((d) => `${(d.loc || []).filter((x) => x !== "body").join(".") || "request"}: ${d.msg}`).join("; ");
  } catch {
    return `HTTP ${response.status}`;
  }
}

export async function getJSON(path) {
  const response = await api(path);
  if (!response.ok) throw new Error(await reason(response));
  return response.json();
}

// A write: resolves to the answer's JSON, or throws an Error carrying the API's reason.
export async function send(method, path, body) {
  const response = await api(path, { method, body });
  if (!response.ok) throw new Error(await reason(response));
  return response.status === 204 ? null : response.json();
}
