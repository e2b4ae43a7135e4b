// Live updates. /api/v1/stream (Server-Sent Events) is read with fetch() and a
// ReadableStream, because EventSource cannot send the Authorization header. It is
// parsed here (event:/data: lines, blank line ends a message), and reconnected with
// exponential back-off. While the stream cannot be opened (a proxy that refuses long
// responses, say) the overview is polled instead.

import { ApiError, authHeaders, get, unauthorized } from "./api.js";

const POLL_MS = 5000;
const MIN_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30000;

const overviewListeners = new Set();
const eventListeners = new Set();
const stateListeners = new Set();

let latest = null;
let state = "connecting";
let controller = null;
let timer = null;
let generation = 0;

export const overview = () => latest;
export const connection = () => state;

export function onOverview(fn) {
  overviewListeners.add(fn);
  return () => overviewListeners.delete(fn);
}
export function onEvent(fn) {
  eventListeners.add(fn);
  return () => eventListeners.delete(fn);
}
export function onState(fn) {
  stateListeners.add(fn);
  return () => stateListeners.delete(fn);
}

function setState(next) {
  if (state === next) return;
  state = next;
  for (const fn of stateListeners) fn(next);
}

function publish(body) {
  if (!body || body.generated_at_ms === null || body.generated_at_ms === undefined) {
    // The server has not computed its first snapshot yet: ask for one (computed on demand).
    if (!latest) setTimeout(refresh, 500);
    return;
  }
  latest = body;
  for (const fn of overviewListeners) fn(body);
}

/** Parse one SSE message block into {event, data}; comments (": keep-alive") are skipped. */
export function parseMessage(block) {
  let event = "message";
  const data = [];
  for (const line of block.split("\n")) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
  }
  return data.length ? { event, data: data.join("\n") } : null;
}

function dispatch(message) {
  let body;
  try {
    body = JSON.parse(message.data);
  } catch {
    return;
  }
  if (message.event === "overview") publish(body);
  else if (message.event === "event") for (const fn of eventListeners) fn(body);
}

/** Stop everything (used before a restart, e.g. after a new token). */
export function stop() {
  generation += 1;
  if (controller) controller.abort();
  controller = null;
  clearTimeout(timer);
  timer = null;
}

/** (Re)start: the stream if the server has one, else polling. */
export function start() {
  stop();
  const mine = generation;
  setState("connecting");
  connect(mine, MIN_BACKOFF_MS);
}

/** Fetch the overview once now (after a write, say), whatever the transport. */
export async function refresh() {
  try {
    publish(await fetchOverview());
  } catch {
    /* the next update will tell */
  }
}

async function connect(mine, backoff) {
  controller = new AbortController();
  let res;
  try {
    res = await fetch("/api/v1/stream", {
      headers: authHeaders({ Accept: "text/event-stream" }),
      signal: controller.signal,
      cache: "no-store",
    });
  } catch (err) {
    if (mine !== generation) return;
    return retry(mine, backoff);
  }
  if (mine !== generation) return;
  if (res.status === 404 || res.status === 405 || res.status === 502 || res.status === 504) {
    // Something in between refuses the stream: poll the overview instead.
    return poll(mine);
  }
  if (res.status === 401) {
    setState("offline");
    unauthorized(); // the page asks for a token, then calls start() again
    return;
  }
  if (!res.ok || !res.body) return retry(mine, backoff);
  setState("live");
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done || mine !== generation) break;
      buffer += value.replace(/\r\n?/g, "\n");
      let end;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const message = parseMessage(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (message) dispatch(message);
      }
    }
  } catch {
    /* connection dropped: reconnect below */
  }
  if (mine !== generation) return;
  retry(mine, MIN_BACKOFF_MS);
}

function retry(mine, backoff) {
  setState("reconnecting");
  const wait = Math.min(MAX_BACKOFF_MS, backoff) * (0.8 + Math.random() * 0.4);
  timer = setTimeout(() => connect(mine, Math.min(MAX_BACKOFF_MS, backoff * 2)), wait);
}

async function poll(mine) {
  try {
    publish(await fetchOverview());
    if (mine !== generation) return;
    setState("polling");
  } catch (err) {
    if (mine !== generation) return;
    setState(err instanceof ApiError && err.status === 401 ? "offline" : "reconnecting");
  }
  timer = setTimeout(() => poll(mine), POLL_MS);
}

/** The overview snapshot, once. */
export async function fetchOverview() {
  return get("/api/v1/overview");
}
