// The public /v1 API, as the dashboard reads it: JSON answers, NDJSON streams, long polls.
// Every path is relative to the node that served the page; that node answers for the
// whole cluster. Requests carry the API token the user signed in with.

export class ApiError extends Error {
  constructor(path, status, message) {
    super(`${path}: ${status ? status + ' ' : ''}${message}`);
    this.status = status;
  }
}

// The API token the dashboard sends (docs/security.md), kept in this browser's storage for
// this node's origin until "sign out". A 401 calls the handler set by onUnauthorized().
const TOKEN_KEY = 'shoal-token';
export const token = () => localStorage.getItem(TOKEN_KEY) || '';
export function setToken(t) {
  if (t) localStorage.setItem(TOKEN_KEY, t); else localStorage.removeItem(TOKEN_KEY);
}
let unauthorized = () => {};
export function onUnauthorized(fn) { unauthorized = fn; }

function headers(extra) {
  const h = {...extra};
  if (token()) h.Authorization = 'Bearer ' + token();
  return h;
}

function refused(path, res, message) {
  if (res.status === 401) unauthorized(message);
  return new ApiError(path, res.status, message);
}

export async function getJSON(path, signal) {
  let res;
  try {
    res = await fetch(path, {signal, headers: headers({Accept: 'application/json'})});
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(path, 0, 'the agent did not answer');
  }
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { /* an error page, not JSON */ }
  if (!res.ok) throw refused(path, res, (body && body.error) || res.statusText);
  return body;
}

// Reads an NDJSON stream (a log follow) and hands each object to onItem, until the stream
// ends or `signal` aborts. Resolves when it ends; aborting is not an error.
export async function streamNDJSON(path, onItem, signal) {
  const res = await fetch(path, {signal, headers: headers({})});
  if (!res.ok) {
    let msg = res.statusText;
    try { msg = (await res.json()).error || msg; } catch { /* keep the status text */ }
    throw refused(path, res, msg);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let pending = '';
  try {
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      pending += decoder.decode(value, {stream: true});
      let nl;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (!line) continue;
        try { onItem(JSON.parse(line)); } catch { /* a partial or foreign line: skip */ }
      }
    }
  } catch (e) {
    if (e.name !== 'AbortError') throw e;
  }
}

export const sleep = (ms, signal) => new Promise(resolve => {
  const t = setTimeout(resolve, ms);
  signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, {once: true});
});
