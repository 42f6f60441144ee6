// The hub's REST API (docs/hub.md), called with the token the user typed in.
// The token lives in sessionStorage (gone with the tab) and travels only in
// the Authorization header: no cookie, so no request can be forged from
// another site.

const KEY = 'srexpert.hub.token';

export function token() { return sessionStorage.getItem(KEY) || ''; }
export function setToken(value) { sessionStorage.setItem(KEY, value); }
export function clearToken() { sessionStorage.removeItem(KEY); }

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

let unauthorized = () => {};
// Called when the hub answers 401 (token revoked, or a new tab).
export function onUnauthorized(fn) { unauthorized = fn; }

export async function call(method, path, body) {
  // Logged out: nothing to ask the hub (a page's last poll may still run).
  if (!token()) throw new ApiError(401, 'not logged in');
  const headers = { Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, {
      method, headers, cache: 'no-store', credentials: 'omit',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new ApiError(0, `the hub cannot be reached (${e.message})`);
  }
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  if (res.status === 401) {
    unauthorized();
    throw new ApiError(401, (json && json.error) || 'not authorized', json);
  }
  if (!res.ok) throw new ApiError(res.status, (json && json.error) || text || res.statusText, json);
  return json;
}

export const get = (path) => call('GET', path);

export function clusterPath(cluster, rest) {
  return `/api/v1/clusters/${encodeURIComponent(cluster)}/${rest}`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Sends a request to the cluster's agent as an asynchronous request, so that
// progress reports (a drain's pods) show while it runs. Resolves with the
// record once done: {httpStatus, result, progress}.
export async function request(cluster, kind, payload, { timeoutMs = 30000, onProgress } = {}) {
  // A request outlives its page: once its user has logged out, it must not
  // be polled without a token (a 401 the user never caused) or with the next
  // user's (whom the hub refuses to show another user's request).
  const owner = token();
  const accepted = await call('POST', clusterPath(cluster, 'requests'),
    { kind, payload, timeoutMs, async: true });
  for (;;) {
    await sleep(400);
    if (token() !== owner) throw new ApiError(0, 'logged out before the request finished');
    const record = await get(accepted.location);
    if (onProgress && record.progressTotal) onProgress(record.progress, record.progressTotal);
    if (record.state === 'done') return record;
  }
}

// What a finished request's record means, for people: {ok, title, detail,
// payload}. The agent's own refusals (docs/protocol.md, error codes) and the
// hub's (not connected, timeout) each get a clear title.
export function outcome(record) {
  const r = record.result || {};
  if (record.httpStatus === 200 && r.ok) return { ok: true, title: 'Done', payload: r.payload };
  if (record.httpStatus === 200) {
    const code = (r.error && r.error.code) || 'error';
    const message = (r.error && r.error.message) || '';
    if (code === 'forbidden' && /is disabled/.test(message)) {
      return { ok: false, title: 'Action disabled in the AgentConfig', detail: message, code };
    }
    if (code === 'forbidden') return { ok: false, title: 'Forbidden', detail: message, code };
    if (code === 'timeout') return { ok: false, title: 'Timed out in the agent', detail: message, code };
    if (code === 'conflict') return { ok: false, title: 'Conflict', detail: message, code };
    if (code === 'not_found') return { ok: false, title: 'Not found', detail: message, code };
    if (code === 'invalid') return { ok: false, title: 'Refused as invalid', detail: message, code };
    return { ok: false, title: `Failed (${code})`, detail: message, code };
  }
  const message = r.error || '';
  const titles = {
    404: 'Agent disconnected', 502: 'Agent disconnected during the request',
    504: 'Timed out: no answer from the agent', 429: 'The agent is busy', 400: 'Refused by the hub',
  };
  return { ok: false, title: titles[record.httpStatus] || `Hub error ${record.httpStatus}`, detail: message };
}
