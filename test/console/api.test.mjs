// The console's API client (operator/hub/console/api.js) without a browser:
// sessionStorage and fetch are stand-ins that record what would have been
// sent. Run by ctest (console_api_test) with Node's own test runner.
import { test } from 'node:test';
import assert from 'node:assert/strict';

const storage = new Map();
globalThis.sessionStorage = {
  getItem: (k) => (storage.has(k) ? storage.get(k) : null),
  setItem: (k, v) => storage.set(k, String(v)),
  removeItem: (k) => storage.delete(k),
};

// Every request the console sends: method, path and Authorization header.
let sent = [];
// What the hub answers, by method and path.
let answer = () => ({ status: 200, body: {} });
globalThis.fetch = async (path, init) => {
  sent.push({ method: init.method, path, auth: init.headers.Authorization });
  const { status, body } = answer(init.method, path);
  return { status, ok: status >= 200 && status < 300, statusText: '', text: async () => JSON.stringify(body) };
};

// A request that is never stopped would poll for ever; the two tests that
// stop one fail after 5 s instead (and ctest's TIMEOUT bounds the process).
const api = await import('../../operator/hub/console/api.js');

// An asynchronous request the agent never finishes: the hub accepts it, and
// its record stays "running".
function neverFinishing() {
  sent = [];
  answer = (method) => (method === 'POST'
    ? { status: 202, body: { location: '/api/v1/clusters/demo/requests/r1' } }
    : { status: 200, body: { state: 'running' } });
}

const until = async (pred) => {
  for (let i = 0; i < 200 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
};

test('a request being polled stops at logout and sends nothing without a token', { timeout: 5000 }, async () => {
  neverFinishing();
  api.setToken('tok-operator');
  const pending = api.request('demo', 'agent.info', {});
  await until(() => sent.some((s) => s.method === 'GET'));
  api.clearToken();
  await assert.rejects(pending, (err) => err instanceof api.ApiError && /logged out/.test(err.message));
  assert.ok(sent.length >= 2);
  for (const s of sent) assert.equal(s.auth, 'Bearer tok-operator');
});

test('a request begun by one user is not polled with the next user\'s token', { timeout: 5000 }, async () => {
  neverFinishing();
  api.setToken('tok-operator');
  const pending = api.request('demo', 'agent.info', {});
  await until(() => sent.length === 1);
  api.clearToken();
  api.setToken('tok-viewer');
  await assert.rejects(pending, /logged out/);
  for (const s of sent) assert.equal(s.auth, 'Bearer tok-operator');
});

test('logged out, a call fails at once without reaching the hub', async () => {
  sent = [];
  api.clearToken();
  await assert.rejects(api.get('/api/v1/clusters'), (err) => err.status === 401);
  assert.equal(sent.length, 0);
});

test('a request that finishes resolves with its record', async () => {
  sent = [];
  answer = (method) => (method === 'POST'
    ? { status: 202, body: { location: '/api/v1/clusters/demo/requests/r2' } }
    : { status: 200, body: { state: 'done', httpStatus: 200, result: { ok: true, payload: {} } } });
  api.setToken('tok-operator');
  const record = await api.request('demo', 'agent.info', {});
  assert.equal(record.state, 'done');
  assert.equal(api.outcome(record).ok, true);
});
