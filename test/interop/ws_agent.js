// A fake agent written from docs/protocol.md alone, on the npm `ws` library
// (and raw TLS sockets for frames `ws` refuses to produce), run against
// srexpert-hub: the upgrade outcomes, the handshake, the sequenced stream
// with acks, gaps, duplicates and malformed payloads, requests from the
// hub's REST API, compression, supersede, and every close code the document
// promises for hostile input. The hub must be started with
// --max-message-bytes 65536 --handshake-timeout 1s.
//
// Usage: node ws_agent.js <tunnelPort> <apiPort> <ca.pem> <token> <cluster>
// Output: JSON lines {"check":"<name>","ok":...,"detail":...}, then
// {"done":true,"failed":<n>}. Exit status 0 when it ran to the end.
'use strict';
const fs = require('fs');
const http = require('http');
const tls = require('tls');
const crypto = require('crypto');
const WebSocket = require('ws');
const { Deflater, Inflater, print } = require('./protocol_peer');

const [tunnelPort, apiPort, caFile, token, cluster] = process.argv.slice(2);
const ca = fs.readFileSync(caFile);
const URL_ = `wss://localhost:${tunnelPort}/api/v1/tunnel`;
const LIMIT = 65536;
let failed = 0;
function check(name, ok, detail) {
  if (!ok) failed++;
  print({ check: name, ok: !!ok, detail: detail === undefined ? '' : String(detail) });
}

function hello(extra = {}) {
  return Object.assign({ v: 1, type: 'hello', agentVersion: 'interop-0.0.1', protocolVersions: [1],
                         cluster: { uid: 'interop-uid', name: 'interop', kubernetesVersion: 'v1.26.0' },
                         node: 'node-js', pod: 'agent-js', capabilities: ['snapshot', 'delta'] }, extra);
}

// A ws client session with a message queue, optional srexpert.v1.deflate.
function connect({ protocols = ['srexpert.v1'], auth = `Bearer ${token}`, path = '/api/v1/tunnel', perMessageDeflate = false } = {}) {
  return new Promise((resolve) => {
    const headers = auth ? { Authorization: auth } : {};
    const ws = new WebSocket(`wss://localhost:${tunnelPort}${path}`, protocols, { ca, headers, perMessageDeflate });
    const s = { ws, queue: [], waiter: null, close: null, deflater: new Deflater(), inflater: new Inflater() };
    s.deflate = () => ws.protocol === 'srexpert.v1.deflate';
    s.send = (msg, { compress = s.deflate() } = {}) => {
      const text = typeof msg === 'string' ? msg : JSON.stringify(msg);
      if (compress) ws.send(s.deflater.compress(Buffer.from(text)), { binary: true });
      else ws.send(text);
    };
    s.next = (ms = 5000) => {
      if (s.queue.length) return Promise.resolve(s.queue.shift());
      if (s.close) return Promise.resolve(null);
      return new Promise((res) => {
        const t = setTimeout(() => { s.waiter = null; res({ timeout: true }); }, ms);
        s.waiter = (m) => { clearTimeout(t); s.waiter = null; res(m); };
      });
    };
    s.closed = (ms = 5000) => (s.close ? Promise.resolve(s.close) : new Promise((res) => {
      const t = setTimeout(() => res({ code: 'none (timeout)' }), ms);
      ws.once('close', (code, reason) => { clearTimeout(t); res({ code, reason: String(reason) }); });
    }));
    ws.on('message', (data, isBinary) => {
      let m;
      try { m = JSON.parse(isBinary ? s.inflater.inflate(data).toString('utf8') : data.toString('utf8')); } catch (e) {
        check('every hub message decodes', false, e.message); return;
      }
      if (s.waiter) s.waiter(m); else s.queue.push(m);
    });
    ws.on('unexpected-response', (req, res) => { resolve({ status: res.statusCode, headers: res.headers }); });
    ws.on('error', () => {});
    ws.on('close', (code, reason) => { s.close = { code, reason: String(reason) }; if (s.waiter) s.waiter(null); });
    ws.on('open', () => resolve(s));
  });
}

async function handshake(s, name) {
  s.send(hello(), { compress: false });
  const w = await s.next();
  const ok = w && w.type === 'welcome';
  check(`${name}: hello is answered with welcome`, ok, JSON.stringify(w));
  if (!ok) return null;
  check(`${name}: welcome.sessionId 1..128`, typeof w.sessionId === 'string' && w.sessionId.length >= 1 && w.sessionId.length <= 128);
  check(`${name}: welcome.version 1`, w.version === 1);
  check(`${name}: welcome.lastAck an integer ≥ 0`, Number.isInteger(w.lastAck) && w.lastAck >= 0);
  check(`${name}: welcome.limits.maxMessageBytes as configured`, w.limits && w.limits.maxMessageBytes === LIMIT, JSON.stringify(w.limits));
  check(`${name}: welcome.limits.maxInFlightRequests 1..65535`, w.limits && w.limits.maxInFlightRequests >= 1 && w.limits.maxInFlightRequests <= 65535);
  return w;
}

function api(method, path, body) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port: apiPort, method, path, headers: { 'Content-Type': 'application/json' } }, (res) => {
      let data = '';
      res.on('data', (c) => { data += c; });
      res.on('end', () => { let j = null; try { j = JSON.parse(data); } catch (e) { /* text */ } resolve({ status: res.statusCode, body: data, json: j }); });
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

// Raw TLS: the upgrade by hand, then frames exactly as given.
function rawSession(protocol = 'srexpert.v1') {
  return new Promise((resolve) => {
    const sock = tls.connect({ host: '127.0.0.1', servername: 'localhost', port: Number(tunnelPort), ca });
    let buf = Buffer.alloc(0);
    let upgraded = false;
    const r = { sock, frames: [], ended: false };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (!upgraded) {
        const i = buf.indexOf('\r\n\r\n');
        if (i < 0) return;
        r.status = Number(buf.subarray(9, 12).toString());
        buf = buf.subarray(i + 4);
        upgraded = true;
        resolve(r);
      }
      // Server frames (unmasked, small): opcode and payload.
      while (buf.length >= 2) {
        let len = buf[1] & 0x7f;
        let off = 2;
        if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
        if (buf.length < off + len) return;
        r.frames.push({ opcode: buf[0] & 0x0f, payload: buf.subarray(off, off + len) });
        buf = buf.subarray(off + len);
      }
    });
    sock.on('close', () => { r.ended = true; if (!upgraded) resolve(r); });
    sock.on('error', () => {});
    const key = crypto.randomBytes(16).toString('base64');
    sock.write(`GET /api/v1/tunnel HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
               `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocol}\r\n` +
               `Authorization: Bearer ${token}\r\n\r\n`);
  });
}
function frame(opcode, payload, { fin = true, rsv1 = false, mask = true } = {}) {
  const p = Buffer.from(payload);
  const head = [(fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | opcode];
  if (p.length < 126) head.push((mask ? 0x80 : 0) | p.length);
  else head.push((mask ? 0x80 : 0) | 126, p.length >> 8, p.length & 0xff);
  if (!mask) return Buffer.concat([Buffer.from(head), p]);
  const key = crypto.randomBytes(4);
  const masked = Buffer.from(p.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), key, masked]);
}
async function rawCloseCode(r, ms = 3000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const c = r.frames.find((f) => f.opcode === 0x8);
    if (c) return c.payload.length >= 2 ? c.payload.readUInt16BE(0) : 'empty close';
    if (r.ended) return 'connection ended without close';
    await new Promise((res) => setTimeout(res, 20));
  }
  return 'none (timeout)';
}

const sleep = (ms) => new Promise((res) => setTimeout(res, ms));

async function upgradeOutcomes() {
  let r = await connect({ path: '/nope' });
  check('upgrade: wrong path is 404', r.status === 404, r.status);
  r = await connect({ auth: null });
  check('upgrade: no token is 401', r.status === 401, r.status);
  check('upgrade: 401 carries WWW-Authenticate: Bearer', r.headers && /^Bearer/.test(r.headers['www-authenticate'] || ''), JSON.stringify(r.headers));
  r = await connect({ auth: 'Bearer not-the-token' });
  check('upgrade: an unknown token is 401', r.status === 401, r.status);
  r = await connect({ protocols: ['something.else'] });
  check('upgrade: no srexpert subprotocol is 400', r.status === 400, r.status);
  const plain = await new Promise((resolve) => {
    const req = require('https').get({ host: '127.0.0.1', servername: 'localhost', port: tunnelPort, path: '/api/v1/tunnel', ca }, (res) => { res.resume(); resolve(res.statusCode); });
    req.on('error', (e) => resolve(e.message));
  });
  check('upgrade: a plain GET of the tunnel path is 400', plain === 400, plain);
}

async function streamSession() {
  const s = await connect();
  check('session: srexpert.v1 agreed', s.ws && s.ws.protocol === 'srexpert.v1');
  const w = await handshake(s, 'session');
  if (!w) return;
  let seq = w.lastAck + 1;
  const cm = { metadata: { name: 'interop-cm', namespace: 'default', uid: 'u-cm' }, data: { a: 'b' } };
  s.send({ v: 1, type: 'snapshot', seq, final: true, payload: { snapshot: 'snap-1', part: 0,
    kinds: [{ apiVersion: 'v1', kind: 'ConfigMap', available: true }, { apiVersion: 'v1', kind: 'Pod', available: true }],
    objects: [{ kind: 'ConfigMap', namespace: 'default', name: 'interop-cm', object: cm }] } });
  let m = await s.next();
  check('stream: a snapshot is acked with its seq', m && m.type === 'ack' && m.seq === seq, JSON.stringify(m));
  seq++;
  const delta = { v: 1, type: 'delta', seq, payload: { changes: [{ op: 'added', kind: 'Pod', namespace: 'default', name: 'p1',
    object: { metadata: { name: 'p1', namespace: 'default' }, status: { phase: 'Pending' } } }] } };
  s.send(delta);
  m = await s.next();
  check('stream: a delta is acked', m && m.type === 'ack' && m.seq === seq, JSON.stringify(m));
  s.send(delta);
  m = await s.next();
  check('stream: a duplicate seq is acked again, not applied twice', m && m.type === 'ack' && m.seq === seq, JSON.stringify(m));
  s.send({ v: 1, type: 'delta', seq: seq + 2, payload: { changes: [{ op: 'deleted', kind: 'Pod', namespace: 'default', name: 'p1' }] } });
  m = await s.next();
  check('stream: a gap is answered sequence_gap', m && m.type === 'error' && m.code === 'sequence_gap', JSON.stringify(m));
  s.send({ v: 1, type: 'delta', seq: seq + 1, payload: { changes: [{ op: 'modified', kind: 'Pod', namespace: 'default', name: 'never-sent', patch: { a: 1 } }] } });
  m = await s.next();
  check('stream: a patch for an unknown object is invalid_payload with ref = seq', m && m.type === 'error' && m.code === 'invalid_payload' && m.ref === String(seq + 1), JSON.stringify(m));
  s.send({ v: 1, type: 'delta', seq: seq + 1, payload: { changes: [{ op: 'modified', kind: 'Pod', namespace: 'default', name: 'p1', patch: { status: { phase: 'Running' } } }] } });
  m = await s.next();
  check('stream: the seq did not advance after invalid_payload', m && m.type === 'ack' && m.seq === seq + 1, JSON.stringify(m));
  seq++;
  const res = await api('GET', `/api/v1/clusters/${cluster}/resources?kind=Pod`);
  check('stream: the hub serves what was streamed (merge patch applied)', res.status === 200 && /"Running"/.test(res.body), res.body.slice(0, 200));
  s.send({ v: 1, type: 'interop-unknown', data: [1] });
  m = await s.next();
  check('stream: an unknown type is error unsupported with ref', m && m.type === 'error' && m.code === 'unsupported' && m.ref === 'interop-unknown', JSON.stringify(m));

  // A request from the hub's REST API, answered by us.
  const pending = api('POST', `/api/v1/clusters/${cluster}/requests`, { kind: 'interop.echo', payload: { x: 1 }, timeoutMs: 5000 });
  m = await s.next();
  const okReq = m && m.type === 'request';
  check('request: the REST call arrives as a request', okReq, JSON.stringify(m));
  if (okReq) {
    check('request: id 1..128 printable ASCII', typeof m.id === 'string' && /^[\x20-\x7e]{1,128}$/.test(m.id));
    check('request: kind and payload as sent', m.kind === 'interop.echo' && m.payload && m.payload.x === 1);
    check('request: timeoutMs 1..86400000', Number.isInteger(m.timeoutMs) && m.timeoutMs >= 1 && m.timeoutMs <= 86400000, m.timeoutMs);
    s.send({ v: 1, type: 'response', id: m.id, ok: true, payload: { echo: m.payload } });
  }
  const r = await pending;
  check('request: the REST call returns our response', r.status === 200 && r.json && r.json.ok === true && r.json.payload.echo.x === 1, r.body);
  // progress (docs/protocol.md): offered in the welcome; the reports of an
  // asynchronous REST request (docs/hub.md) reach its record before the
  // response, and one for no outstanding request is ignored.
  check('welcome: capabilities offer progress', Array.isArray(w.capabilities) && w.capabilities.includes('progress'), JSON.stringify(w.capabilities));
  const accepted = await api('POST', `/api/v1/clusters/${cluster}/requests`, { kind: 'interop.slow', async: true, payload: {}, timeoutMs: 5000 });
  check('progress: an async REST request is accepted with 202 and a location', accepted.status === 202 && accepted.json && typeof accepted.json.location === 'string', accepted.body);
  m = await s.next();
  if (m && m.type === 'request' && accepted.json) {
    s.send({ v: 1, type: 'progress', id: m.id, payload: { step: 1 } });
    s.send({ v: 1, type: 'progress', id: 'no-such-request', payload: {} });
    let rec = null;
    for (let i = 0; i < 100; i++) {
      rec = await api('GET', accepted.json.location);
      if (rec.json && rec.json.progressTotal === 1) break;
      await sleep(20);
    }
    check('progress: the report is on the request record while it runs', rec.json && rec.json.state === 'running' && rec.json.progress.length === 1 && rec.json.progress[0].step === 1, rec.body);
    s.send({ v: 1, type: 'response', id: m.id, ok: true, payload: { done: true } });
    for (let i = 0; i < 100; i++) {
      rec = await api('GET', accepted.json.location);
      if (rec.json && rec.json.state === 'done') break;
      await sleep(20);
    }
    check('progress: the record ends with the response', rec.json && rec.json.state === 'done' && rec.json.httpStatus === 200 && rec.json.result.payload.done === true, rec.body);
  } else {
    check('progress: the async REST call arrives as a request', false, JSON.stringify(m));
  }
  // A response to no outstanding request is ignored; the session stays.
  s.send({ v: 1, type: 'response', id: 'no-such-request', ok: true, payload: {} });
  s.send({ v: 1, type: 'delta', seq: seq + 1, payload: { events: [{ uid: 'e1', namespace: 'default', name: 'e1', type: 'Warning', reason: 'Test', message: 'm', count: 1 }] } });
  m = await s.next();
  check('stream: a response for no request is ignored', m && m.type === 'ack' && m.seq === seq + 1, JSON.stringify(m));
  return s;
}

async function deflateAndSupersede(older) {
  const s = await connect({ protocols: ['srexpert.v1.deflate', 'srexpert.v1'] });
  check('deflate: srexpert.v1.deflate agreed', s.ws && s.ws.protocol === 'srexpert.v1.deflate');
  const w = await handshake(s, 'deflate');
  if (!w) return;
  const c = await older.closed();
  check('supersede: the older session is closed 4409', c.code === 4409, JSON.stringify(c));
  // Compressed messages sharing the window: the second repeats the first.
  const objects = [];
  for (let i = 0; i < 50; i++) objects.push({ kind: 'ConfigMap', namespace: 'default', name: `c${i}`, object: { metadata: { name: `c${i}`, namespace: 'default' }, data: { k: 'x'.repeat(200) } } });
  const seq = w.lastAck + 1;
  s.send({ v: 1, type: 'snapshot', seq, final: false, payload: { snapshot: 'snap-2', part: 0, kinds: [{ apiVersion: 'v1', kind: 'ConfigMap', available: true }], objects: objects.slice(0, 25) } });
  s.send({ v: 1, type: 'snapshot', seq: seq + 1, final: true, payload: { snapshot: 'snap-2', part: 1, objects: objects.slice(25) } });
  let m = await s.next();
  let m2 = await s.next();
  check('deflate: compressed snapshot parts are acked', m && m2 && m.type === 'ack' && m2.type === 'ack' && m2.seq === seq + 1, JSON.stringify([m, m2]));
  const res = await api('GET', `/api/v1/clusters/${cluster}/resources?kind=ConfigMap`);
  check('deflate: the hub holds all 50 objects of the snapshot', res.status === 200 && (res.body.match(/"name":"c\d+"/g) || []).length >= 50, res.body.length);
  // A bomb: a small frame that inflates past the limit → 4413.
  s.send(JSON.stringify({ v: 1, type: 'interop-unknown', pad: 'a'.repeat(LIMIT * 4) }));
  const c2 = await s.closed();
  check('deflate: a message inflating past maxMessageBytes is closed 4413', c2.code === 4413, JSON.stringify(c2));
}

// One violation per fresh session (after a proper hello/welcome unless
// `before` is set): the expected close code.
async function violation(name, { before = false, protocols, send, expect, expectError }) {
  const s = await connect(protocols ? { protocols } : {});
  if (!s.ws) { check(name, false, `upgrade failed: ${JSON.stringify(s)}`); return; }
  if (!before && !(await handshake(s, name))) return;
  send(s);
  let err = null;
  if (expectError) {
    const m = await s.next();
    err = m;
    check(`${name}: error ${expectError} first`, m && m.type === 'error' && m.code === expectError, JSON.stringify(m));
  }
  const c = await s.closed();
  check(`${name}: closed ${expect}`, c.code === expect, JSON.stringify(c));
  return err;
}

function nested(depth) {
  // A member whose value makes the message `depth` levels deep, the
  // envelope object counting as one (docs/protocol.md, "Limits").
  let v = 0;
  for (let i = 0; i < depth - 1; i++) v = [v];
  return v;
}

async function violations() {
  await violation('a snapshot before hello', { before: true, send: (s) => s.send({ v: 1, type: 'snapshot', seq: 1, payload: { snapshot: 'x', part: 0, objects: [] } }), expect: 4400 });
  await violation('a second hello', { send: (s) => s.send(hello()), expect: 4400, expectError: 'invalid' });
  await violation('nesting of 65 levels', { send: (s) => s.send({ v: 1, type: 'interop-unknown', deep: nested(65) }), expect: 4400, expectError: 'invalid' });
  // 64 levels are allowed: the unknown type is answered, the session stays.
  {
    const s = await connect();
    if (await handshake(s, 'nesting of 64 levels')) {
      s.send({ v: 1, type: 'interop-unknown', deep: nested(64) });
      const m = await s.next();
      check('nesting of 64 levels is allowed (unknown type answered unsupported)', m && m.type === 'error' && m.code === 'unsupported', JSON.stringify(m));
      s.ws.close(1000);
    }
  }
  await violation('duplicate member names', { send: (s) => s.send('{"v":1,"type":"ack","type":"ack","seq":1}'), expect: 4400, expectError: 'invalid' });
  await violation('a fractional seq', { send: (s) => s.send('{"v":1,"type":"delta","seq":1.5,"payload":{"events":[]}}'), expect: 4400, expectError: 'invalid' });
  await violation('a binary frame on srexpert.v1', { send: (s) => s.ws.send(Buffer.from('{"v":1}'), { binary: true }), expect: 4400 });
  await violation('a binary frame that does not inflate', { protocols: ['srexpert.v1.deflate'], send: (s) => s.ws.send(Buffer.from([0xff, 0xff, 0xff, 0x00, 0x13]), { binary: true }), expect: 4400 });
  await violation('a text message above maxMessageBytes', { send: (s) => s.send(JSON.stringify({ v: 1, type: 'interop-unknown', pad: 'a'.repeat(LIMIT) })), expect: 4413 });
  {
    const s = await connect();
    const t0 = Date.now();
    const c = await s.closed(5000);
    check('no hello within the handshake timeout: closed 4408', c.code === 4408, `${JSON.stringify(c)} after ${Date.now() - t0} ms`);
  }
  // Frames ws will not produce, on raw sockets.
  const raw = async (name, bytes, expect) => {
    const r = await rawSession();
    if (r.status !== 101) { check(name, false, `upgrade status ${r.status}`); return; }
    r.sock.write(frame(0x1, JSON.stringify(hello())));
    await sleep(100);
    r.sock.write(bytes);
    const code = await rawCloseCode(r);
    check(`${name}: closed ${expect}`, code === expect, code);
    r.sock.destroy();
  };
  await raw('an unmasked frame', frame(0x1, '{"v":1,"type":"ack","seq":1}', { mask: false }), 1002);
  await raw('RSV1 without permessage-deflate', frame(0x1, 'x', { rsv1: true }), 1002);
  await raw('a reserved opcode', frame(0x3, 'x'), 1002);
  await raw('a fragmented control frame', frame(0x9, 'x', { fin: false }), 1002);
  await raw('a text frame that is not UTF-8', frame(0x1, Buffer.from([0x7b, 0xc3, 0x28, 0x7d])), 1007);
}

(async () => {
  try {
    await upgradeOutcomes();
    const older = await streamSession();
    if (older) await deflateAndSupersede(older);
    await violations();
    // After all that, the hub still serves and a clean session still works.
    const h = await new Promise((resolve) => {
      const req = require('https').get({ host: '127.0.0.1', servername: 'localhost', port: tunnelPort, path: '/healthz', ca }, (res) => { res.resume(); resolve(res.statusCode); });
      req.on('error', (e) => resolve(e.message));
    });
    check('after the abuse: /healthz is 200', h === 200, h);
    const s = await connect();
    const w = await handshake(s, 'after the abuse');
    check('after the abuse: a clean session resumes from the accepted seq', w && w.lastAck > 0, w && w.lastAck);
    if (s.ws) s.ws.close(1000);
    const cl = await api('GET', '/api/v1/clusters');
    const entry = cl.json && (cl.json.clusters || cl.json).find ? (cl.json.clusters || cl.json).find((c) => c.name === cluster) : null;
    check('the hub lists the cluster', !!entry, cl.body.slice(0, 200));
  } catch (e) {
    check('script ran to the end', false, e.stack);
  }
  print({ done: true, failed });
  process.exit(0);
})();
