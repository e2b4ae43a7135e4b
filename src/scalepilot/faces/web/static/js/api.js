// The API client: JSON over fetch, with the token (if any) in the Authorization header.
// A 401 from any call tells the page to ask for a token (see auth.js).

const TOKEN_KEY = "scalepilot.token";
const listeners = new Set();

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

export function getToken() {
  try {
    return localStorage.getItem(TOKEN_KEY) || "";
  } catch {
    return "";
  }
}

export function setToken(token) {
  try {
    if (token) localStorage.setItem(TOKEN_KEY, token);
    else localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* private mode: the token lives only as long as the page */
  }
}

/** Tell every listener that the server asked for a token. */
export function unauthorized() {
  for (const fn of listeners) fn();
}

/** Called with no argument whenever an answer is 401. */
export function onUnauthorized(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  const token = getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  return headers;
}

async function detailOf(res) {
  try {
    const body = await res.json();
    if (typeof body.detail === "string") return body.detail;
    if (Array.isArray(body.detail)) {
      return body.detail.map((d) => [d.loc ? d.loc.slice(1).join(".") : "", d.msg].filter(Boolean).join(": ")).join("; ");
    }
    return JSON.stringify(body);
  } catch {
    return res.statusText || `HTTP ${res.status}`;
  }
}

/** fetch() with the token; answers the Response when ok, throws ApiError otherwise. */
export async function request(path, { method = "GET", body, signal, accept = "application/json" } = {}) {
  const headers = authHeaders({ Accept: accept });
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: "no-store",
    });
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, String((err && err.message) || err));
  }
  if (res.status === 401) unauthorized();
  if (!res.ok) throw new ApiError(res.status, await detailOf(res));
  return res;
}

export async function api(path, options = {}) {
  const res = await request(path, options);
  if (res.status === 204) return null;
  return res.json();
}

export const get = (path, options) => api(path, options);
export const post = (path, body, options = {}) => api(path, { ...options, method: "POST", body });
export const del = (path, options = {}) => api(path, { ...options, method: "DELETE" });

export function qs(params) {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === null || value === undefined || value === "") continue;
    for (const v of Array.isArray(value) ? value : [value]) search.append(key, String(v));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
