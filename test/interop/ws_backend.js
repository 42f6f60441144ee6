// An SRExpert backend written from docs/protocol.md alone, on the npm `ws`
// library — not on our code — so that the agent is tested against the
// document. It serves wss:// (the test's certificate) and plays one scripted
// session per connection, checking every message the agent sends against the
// document's rules.
//
// Usage: node ws_backend.js <cert.pem> <key.pem> <token>
// Output: JSON lines on stdout —
//   {"listening":<port>}
//   {"check":"<name>","ok":true|false,"detail":"..."}   one per rule checked
//   {"session":<n>,"event":"..."}                         progress
// and on SIGTERM {"done":true,"failed":<checks failed>}.
'use strict';
const fs = require('fs');
const https = require('https');
const WebSocket = require('ws');
const { Deflater, Inflater, print } = require('./protocol_peer');

const [certFile, keyFile, token] = process.argv.slice(2);
let failed = 0;
function check(name, ok, detail) {
  if (!ok) failed++;
  print({ check: name, ok: !!ok, detail: detail === undefined ? '' : String(detail) });
}
function finish() {
  print({ done: true, failed });
  process.exit(0);
}
process.on('SIGTERM', finish);

const MAX_MESSAGE = 65536;  // offered in every welcome: the floor
const MAX_IN_FLIGHT = 4;

// Session scripts, by connection number. A connection refused at the
// upgrade counts too.
const scripts = [
  happyPlain,        // 1: srexpert.v1 (+ permessage-deflate), requests, then a bad ack
  resumeDeflate,     // 2: srexpert.v1.deflate: resume from lastAck, a change streamed
  welcomeBadVersion, // 3: a welcome with a version the agent did not offer
  welcomeSmallLimit, // 4: limits below the floor
  refuseToken,       // 5: 401 at the upgrade
  invalidJson,       // 6: a message that is not JSON
  supersede,         // 7: 4409
  finalSession,      // 8: stays open
];
let connections = 0;
let lastAccepted = 0;  // the highest seq this backend accepted, across sessions

const server = https.createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
const wss = new WebSocket.Server({
  noServer: true,
  perMessageDeflate: true,
  handleProtocols: (offered) => (server.nextProtocol && offered.has(server.nextProtocol) ? server.nextProtocol : false),
});

server.on('upgrade', (req, socket, head) => {
  const n = ++connections;
  const script = scripts[Math.min(n, scripts.length) - 1];
  check(`upgrade ${n}: path is /api/v1/tunnel`, req.url.split('?')[0] === '/api/v1/tunnel', req.url);
  check(`upgrade ${n}: bearer token`, req.headers.authorization === `Bearer ${token}`,
        req.headers.authorization ? 'wrong token' : 'no Authorization header');
  const offered = (req.headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim());
  check(`upgrade ${n}: offers srexpert.v1.deflate, srexpert.v1`,
        offered[0] === 'srexpert.v1.deflate' && offered.includes('srexpert.v1'), offered.join(','));
  check(`upgrade ${n}: User-Agent srexpert-agent/<version>`,
        /^srexpert-agent\/\S+$/.test(req.headers['user-agent'] || ''), req.headers['user-agent']);
  if (script.refuse) {
    socket.end(`HTTP/1.1 ${script.refuse}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
    print({ session: n, event: `refused ${script.refuse}` });
    return;
  }
  server.nextProtocol = script.deflate ? 'srexpert.v1.deflate' : 'srexpert.v1';
  wss.handleUpgrade(req, socket, head, (ws) => runSession(n, ws, script));
});

server.listen(0, '127.0.0.1', () => print({ listening: server.address().port }));

// A session: decodes frames into messages (checking framing rules), hands
// them to the script one by one through `next()`.
function runSession(n, ws, script) {
  const deflate = ws.protocol === 'srexpert.v1.deflate';
  const inflater = new Inflater();
  const deflater = new Deflater();
  const queue = [];
  let waiter = null;
  let closed = null;
  const s = {
    n, ws, deflate, sentTypes: [],
    send(msg, { compress = deflate } = {}) {
      const text = JSON.stringify(msg);
      if (compress) ws.send(deflater.compress(Buffer.from(text)), { binary: true });
      else ws.send(text);
    },
    // The next message (decoded object), or null when the session closed.
    next(timeoutMs = 15000) {
      if (queue.length) return Promise.resolve(queue.shift());
      if (closed) return Promise.resolve(null);
      return new Promise((resolve) => {
        const t = setTimeout(() => { waiter = null; resolve({ timeout: true }); }, timeoutMs);
        waiter = (m) => { clearTimeout(t); waiter = null; resolve(m); };
      });
    },
    closed() {
      if (closed) return Promise.resolve(closed);
      return new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    },
  };
  ws.on('message', (data, isBinary) => {
    let text;
    if (isBinary) {
      if (!deflate) {
        check(`session ${n}: no binary frame without srexpert.v1.deflate`, false);
        return;
      }
      try { text = inflater.inflate(data).toString('utf8'); } catch (e) {
        check(`session ${n}: every binary frame inflates`, false, e.message);
        return;
      }
    } else {
      text = data.toString('utf8');
    }
    const bytes = Buffer.byteLength(text);
    check(`session ${n}: message within the welcome's maxMessageBytes`, bytes <= MAX_MESSAGE || !s.welcomed, `${bytes} bytes`);
    let m;
    try { m = JSON.parse(text); } catch (e) {
      check(`session ${n}: every message is JSON`, false, text.slice(0, 80));
      return;
    }
    m.__binary = isBinary;
    if (waiter) waiter(m); else queue.push(m);
  });
  ws.on('close', (code, reason) => {
    closed = { code, reason: String(reason) };
    if (waiter) waiter(null);
  });
  script(s).catch((e) => check(`session ${n}: script`, false, e.stack));
}

// hello: the document's table, member by member.
async function expectHello(s) {
  const m = await s.next();
  const n = s.n;
  if (!m || m.timeout) { check(`session ${n}: hello arrives`, false); return null; }
  check(`session ${n}: first message is hello`, m.type === 'hello', m.type);
  check(`session ${n}: hello in a text frame`, !m.__binary);
  check(`session ${n}: hello.v is 1`, m.v === 1);
  check(`session ${n}: hello.agentVersion 1..64 bytes`, typeof m.agentVersion === 'string' && m.agentVersion.length >= 1 && m.agentVersion.length <= 64);
  check(`session ${n}: hello.protocolVersions holds 1`, Array.isArray(m.protocolVersions) && m.protocolVersions.includes(1) &&
        m.protocolVersions.length <= 16, JSON.stringify(m.protocolVersions));
  check(`session ${n}: hello.cluster.uid 1..128 bytes`, m.cluster && typeof m.cluster.uid === 'string' && m.cluster.uid.length >= 1 && m.cluster.uid.length <= 128);
  check(`session ${n}: hello.cluster.kubernetesVersion a string`, m.cluster && typeof m.cluster.kubernetesVersion === 'string');
  check(`session ${n}: hello.capabilities strings`, Array.isArray(m.capabilities) && m.capabilities.every((c) => typeof c === 'string'));
  return m;
}

function welcome(s, extra = {}) {
  s.welcomed = true;
  s.send(Object.assign({ v: 1, type: 'welcome', sessionId: `interop-${s.n}`, version: 1, lastAck: lastAccepted,
                         limits: { maxMessageBytes: MAX_MESSAGE, maxInFlightRequests: MAX_IN_FLIGHT } }, extra),
         { compress: false });
}

// Reads sequenced messages, checking seq and payload rules, acking each,
// until `until(m)` says stop or `ms` pass without one. Returns what it saw.
async function stream(s, { until = () => false, ms = 3000, firstSeq } = {}) {
  const seen = { snapshots: 0, deltas: 0, objects: new Map(), last: null, other: [] };
  let expected = firstSeq;
  for (;;) {
    const m = await s.next(ms);
    if (!m || m.timeout) return seen;
    if (m.type !== 'snapshot' && m.type !== 'delta') { seen.other.push(m); if (until(m)) return seen; continue; }
    if (expected !== undefined) {
      check(`session ${s.n}: seq ${expected} follows`, m.seq === expected, `got ${m.seq}`);
    }
    expected = m.seq + 1;
    check(`session ${s.n}: ${m.type} payload is an object`, m.payload && typeof m.payload === 'object' && !Array.isArray(m.payload));
    if (m.type === 'snapshot') {
      seen.snapshots++;
      const p = m.payload;
      check(`session ${s.n}: snapshot id 1..128`, typeof p.snapshot === 'string' && p.snapshot.length >= 1 && p.snapshot.length <= 128);
      check(`session ${s.n}: snapshot part is an integer ≥ 0`, Number.isInteger(p.part) && p.part >= 0);
      if (p.part === 0) check(`session ${s.n}: first part lists kinds`, Array.isArray(p.kinds));
      for (const o of p.objects || []) seen.objects.set(`${o.kind}/${o.namespace}/${o.name}`, o.object);
    } else {
      seen.deltas++;
      const p = m.payload;
      check(`session ${s.n}: delta carries changes, events, metrics or a scan report`, p.changes || p.events || p.metrics || p.scan);
      for (const c of p.changes || []) {
        check(`session ${s.n}: change op is added|modified|deleted`, ['added', 'modified', 'deleted'].includes(c.op), c.op);
        const key = `${c.kind}/${c.namespace}/${c.name}`;
        if (c.op === 'deleted') seen.objects.delete(key);
        else if (c.object) seen.objects.set(key, c.object);
        else check(`session ${s.n}: a patch names an object the backend holds`, true);
      }
    }
    lastAccepted = m.seq;
    s.send({ v: 1, type: 'ack', seq: m.seq });
    seen.last = m;
    if (until(m)) return seen;
  }
}

async function request(s, id, kind, payload = {}) {
  s.send({ v: 1, type: 'request', id, kind, timeoutMs: 10000, payload });
  for (;;) {
    const m = await s.next(10000);
    if (!m || m.timeout) return null;
    if (m.type === 'response' && m.id === id) return m;
    if (m.type === 'snapshot' || m.type === 'delta') { lastAccepted = Math.max(lastAccepted, m.seq); s.send({ v: 1, type: 'ack', seq: m.seq }); }
  }
}

async function happyPlain(s) {
  if (!(await expectHello(s))) return;
  welcome(s);
  const seen = await stream(s, { firstSeq: lastAccepted + 1, until: (m) => m.type === 'snapshot' && m.final !== false, ms: 10000 });
  check('session 1: a whole snapshot starts the stream', seen.snapshots >= 1 && seen.last && seen.last.final !== false);
  check('session 1: the snapshot holds the namespace of the agent', seen.objects.has('Namespace//srexpert-system'),
        [...seen.objects.keys()].slice(0, 5).join(' '));
  let r = await request(s, 'r-1', 'agent.info');
  check('session 1: agent.info answered ok with the same id', r && r.ok === true && r.payload && typeof r.payload === 'object', JSON.stringify(r));
  r = await request(s, 'r-2', 'no.such.kind');
  check('session 1: an unknown kind is answered unsupported', r && r.ok === false && r.error && r.error.code === 'unsupported', JSON.stringify(r));
  check('session 1: a failed response carries no payload', r && r.payload === undefined);
  // An unknown message type: error unsupported naming it; the session stays.
  s.send({ v: 1, type: 'interop-unknown', extra: { nested: [1, 2, 3] } });
  let m;
  do { m = await s.next(5000); } while (m && (m.type === 'delta' || m.type === 'snapshot'));
  check('session 1: an unknown type gets error unsupported with ref', m && m.type === 'error' && m.code === 'unsupported' && m.ref === 'interop-unknown', JSON.stringify(m));
  r = await request(s, 'r-3', 'agent.info', { unknownMember: true });
  check('session 1: the session stays open after an unknown type', r && r.ok === true);
  // An ack beyond anything sent: error invalid (ref "ack"), then 4400.
  s.send({ v: 1, type: 'ack', seq: lastAccepted + 1000 });
  do { m = await s.next(5000); } while (m && (m.type === 'delta' || m.type === 'snapshot'));
  check('session 1: a bad ack gets error invalid with ref "ack"', m && m.type === 'error' && m.code === 'invalid' && m.ref === 'ack', JSON.stringify(m));
  const c = await s.closed();
  check('session 1: the agent closes 4400 after the bad ack', c.code === 4400, c.code);
  print({ session: 1, event: 'done' });
}

resumeDeflate.deflate = true;
async function resumeDeflate(s) {
  if (!(await expectHello(s))) return;
  check('session 2: srexpert.v1.deflate agreed', s.deflate);
  const resumeFrom = lastAccepted;
  welcome(s);
  print({ session: 2, event: 'welcomed', lastAck: resumeFrom });
  const seen = await stream(s, { firstSeq: resumeFrom + 1, ms: 4000 });
  const r = await request(s, 'r-4', 'agent.info');
  check('session 2: agent.info over srexpert.v1.deflate', r && r.ok === true, JSON.stringify(r && r.error));
  print({ session: 2, event: 'waiting for interop-cm' });
  // The test creates ConfigMap default/interop-cm now; it must arrive.
  const more = await stream(s, {
    ms: 20000,
    until: (m) => m.type === 'delta' && (m.payload.changes || []).some((c) => c.kind === 'ConfigMap' && c.name === 'interop-cm'),
  });
  check('session 2: a new ConfigMap arrives as a delta', more.last && (more.last.payload.changes || []).some((c) => c.name === 'interop-cm'));
  print({ session: 2, event: 'saw interop-cm', deltas: seen.deltas + more.deltas });
  s.ws.close(1001, 'going away');
}

async function welcomeBadVersion(s) {
  if (!(await expectHello(s))) return;
  welcome(s, { version: 2 });
  const c = await s.closed();
  check('session 3: a welcome with a version not offered is closed 4400', c.code === 4400, c.code);
}

async function welcomeSmallLimit(s) {
  if (!(await expectHello(s))) return;
  welcome(s, { limits: { maxMessageBytes: 1000, maxInFlightRequests: 1 } });
  const c = await s.closed();
  check('session 4: a welcome offering less than 64 KiB is closed 4400', c.code === 4400, c.code);
}

refuseToken.refuse = '401 Unauthorized';
async function refuseToken() {}

async function invalidJson(s) {
  if (!(await expectHello(s))) return;
  welcome(s);
  s.ws.send('{"v":1,"type":"ack","seq":');
  const c = await s.closed();
  check('session 6: a message that is not JSON is closed 4400', c.code === 4400, c.code);
}

async function supersede(s) {
  if (!(await expectHello(s))) return;
  welcome(s);
  await stream(s, { firstSeq: lastAccepted + 1, ms: 1500 });
  s.ws.close(4409, 'superseded');
  print({ session: 7, event: 'superseded' });
}

finalSession.deflate = true;
async function finalSession(s) {
  if (!(await expectHello(s))) return;
  welcome(s);
  await stream(s, { firstSeq: lastAccepted + 1, ms: 2000 });
  print({ session: s.n, event: 'final session open' });
  // Keeps acking whatever comes until the test ends us.
  for (;;) {
    const m = await s.next(60000);
    if (m === null) return;
    if (m.type === 'snapshot' || m.type === 'delta') { lastAccepted = m.seq; s.send({ v: 1, type: 'ack', seq: m.seq }); }
  }
}
