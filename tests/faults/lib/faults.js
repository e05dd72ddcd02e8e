'use strict';
// Pieces the fault-injection tests share on top of tests/interop/lib/harness.js:
//  - faultyRelay(): hcrelay with its test-only fault-control endpoint (--fault-control 127.0.0.1:0) and a client for it;
//  - FaultProxy: a TCP proxy between a daemon and the relay that can pass, delay, throttle, stall, black-hole or cut
//    the connections it carries, and refuse or black-hole new ones;
//  - the daemon's admin endpoint (/metrics parsed into samples), /proc facts, echo checks with SHA-256;
//  - soak(): the scale of a test (the suite runs short versions; HCB_SOAK=1, from scripts/soak.sh, the long ones).
const crypto = require('node:crypto');
const http = require('node:http');
const net = require('node:net');
const h = require('../../interop/lib/harness');
const { assert, ok } = h;

const SOAK = process.env.HCB_SOAK === '1';
// `short` in the suite, `long` under scripts/soak.sh.
function soak(short, long) {
  return SOAK ? long : short;
}

// ---------------------------------------------------------------------------------------------------------------
// hcrelay with fault control.

// Starts hcrelay (TLS, harness defaults) with --fault-control on a random loopback port and adds to the relay:
//   relay.fault(command, query) -> POST /faults/<command>?<query>, asserts 200, resolves the state JSON;
//   relay.faultState() -> GET /faults ({listeners, tunnels, pending_senders, held, ...}).
async function faultyRelay(t, opts = {}) {
  const relay = await t.startRelay({ ...opts, extraArgs: [...(opts.extraArgs || []), '--fault-control', '127.0.0.1:0'] });
  const m = await h.pollUntil(() => /FAULT CONTROL ENABLED on http:\/\/127\.0\.0\.1:(\d+)\/faults/.exec(relay.stderr), 5000,
                              'hcrelay fault-control line');
  relay.faultPort = Number(m[1]);
  relay.fault = async (command, query = '') => {
    const res = await httpRequest('POST', relay.faultPort, `/faults/${command}${query ? '?' + query : ''}`);
    assert.equal(res.status, 200, `fault ${command}?${query}: ${res.status} ${res.body}`);
    return JSON.parse(res.body);
  };
  relay.faultState = async () => {
    const res = await httpRequest('GET', relay.faultPort, '/faults');
    assert.equal(res.status, 200, `GET /faults: ${res.status} ${res.body}`);
    return JSON.parse(res.body);
  };
  // Resolves once the relay's state satisfies pred (polled every 50 ms), with that state.
  relay.waitState = (pred, ms, what) => h.pollUntil(async () => {
    const s = await relay.faultState();
    return pred(s) ? s : null;
  }, ms, what);
  return relay;
}

function httpRequest(method, port, path, { ms = 5000 } = {}) {
  const d = h.deferred();
  const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers: { Connection: 'close' } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (s) => { body += s; });
    res.on('end', () => d.resolve({ status: res.statusCode, body }));
    res.on('error', (e) => d.reject(e));
  });
  req.on('error', (e) => d.reject(new Error(`${method} 127.0.0.1:${port}${path}: ${e.message}`)));
  req.end();
  return h.withDeadline(d.promise, ms, `${method} ${path}`).finally(() => req.destroy());
}

// ---------------------------------------------------------------------------------------------------------------
// The daemon's admin endpoint.

// GET /metrics, parsed: a Map from `name{sorted labels}` to the value, with .get(name, labels) (missing: 0).
async function metrics(adminPort) {
  const res = await h.httpGet(adminPort, '/metrics');
  assert.equal(res.status, 200, `/metrics: ${res.status}`);
  const samples = new Map();
  for (const line of res.body.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] || '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    samples.set(sampleKey(m[1], labels), Number(m[3]));
  }
  return {
    samples,
    get(name, labels = {}) {
      return samples.get(sampleKey(name, labels)) || 0;
    },
    // Sum over every sample of `name` whose labels include `labels`.
    sum(name, labels = {}) {
      let total = 0;
      for (const [k, v] of samples) {
        if (!k.startsWith(`${name}{`) && k !== name) continue;
        const inner = k.slice(name.length);
        if (Object.entries(labels).every(([ln, lv]) => inner.includes(`${ln}="${lv}"`))) total += v;
      }
      return total;
    },
  };
}

function sampleKey(name, labels) {
  const keys = Object.keys(labels).sort();
  return keys.length ? `${name}{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}` : name;
}

async function readyz(adminPort) {
  return (await h.httpGet(adminPort, '/readyz')).status;
}

// ---------------------------------------------------------------------------------------------------------------
// Traffic.

// Sends `size` random bytes through 127.0.0.1:port to an echo target and checks the echo (length + SHA-256).
async function echoOnce(port, { size = 64 * 1024, ms = 15000, what = 'echo' } = {}) {
  const payload = crypto.randomBytes(size);
  const sock = await h.tcpConnect(port, `${what}: connect`);
  const rx = h.readToEnd(sock, { ms, what });
  await h.writeAll(sock, payload, { end: true });
  const got = await rx;
  assert.equal(got.length, payload.length, `${what}: echo length`);
  assert.equal(got.sha256, h.sha256(payload), `${what}: echo SHA-256`);
  sock.destroy();
}

// A TCP server that hashes everything it reads and, at the peer's EOF, answers with the 32-byte SHA-256 of it and
// ends: a client can prove every byte it wrote arrived, with one round trip.
async function hashServer(t, what = 'hash target') {
  const received = [];
  const server = await t.tcpServer((sock) => {
    const hash = crypto.createHash('sha256');
    const rec = { length: 0, sha256: null };
    received.push(rec);
    sock.on('data', (b) => {
      rec.length += b.length;
      hash.update(b);
    });
    sock.on('end', () => {
      rec.sha256 = hash.digest();
      sock.end(rec.sha256);
    });
  }, what);
  return { ...server, received };
}

function fdCount(pid) {
  return h.procStats(pid).fds;
}

// ---------------------------------------------------------------------------------------------------------------
// FaultProxy: 127.0.0.1:<port> -> 127.0.0.1:<targetPort>.
//
// Per direction, every chunk read is scheduled for release at max(now + delayMs, previous release + its size / rate);
// reading pauses while more than HIGH_WATER bytes wait or the far side's buffer is full, so the proxy itself never
// buffers much (backpressure crosses it). Faults on existing connections:
//   delay(ms) / throttle(bytesPerSecond | 0)   shape all traffic, existing and new connections;
//   stall(true|false)                          stop reading both ways (bytes wait in kernel buffers), then resume;
//   blackhole()                                stop forwarding both ways for good: bytes are read and discarded, no FIN
//                                              and no RST is passed on, whatever either side does;
//   cut(pair?)                                 TCP reset to both sides (one connection, or all);
//   release()                                  close (FIN) what black-holed connections are left, like a middlebox
//                                              finally forgetting a flow.
// For new connections: newConnections = 'pass' | 'refuse' (accept, then reset) | 'blackhole' (accept, never
// connect onwards, never answer).
const HIGH_WATER = 256 * 1024;

class FaultProxy {
  constructor(t, targetPort, what = 'fault proxy') {
    this.t = t;
    this.targetPort = targetPort;
    this.what = what;
    this.pairs = new Set();
    this.accepted = 0;
    this.delayMs = 0;
    this.rate = 0;
    this.stalled = false;
    this.newConnections = 'pass';
    this.held = new Set();
  }

  async start() {
    this.server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => this.onConnection(client));
    this.server.listen(0, '127.0.0.1');
    await h.waitFor(this.server, 'listening', 5000, this.what);
    this.port = this.server.address().port;
    this.t.defer(`close ${this.what}`, async () => {
      for (const p of this.pairs) this.destroyPair(p);
      for (const s of this.held) s.destroy();
      await new Promise((resolve) => this.server.close(resolve));
    });
    return this;
  }

  onConnection(client) {
    this.accepted += 1;
    client.on('error', () => {});
    if (this.newConnections === 'refuse') return client.resetAndDestroy();
    if (this.newConnections === 'blackhole') {
      this.held.add(client);
      client.on('close', () => this.held.delete(client));
      return undefined;
    }
    const upstream = net.connect({ host: '127.0.0.1', port: this.targetPort, allowHalfOpen: true });
    upstream.on('error', () => {});
    upstream.pause();
    const pair = { client, upstream, blackholed: false, closed: false, id: this.accepted, bytes: { up: 0, down: 0 } };
    this.pairs.add(pair);
    upstream.on('connect', () => {
      this.pipe(pair, client, upstream, 'up');
      this.pipe(pair, upstream, client, 'down');
      if (!this.stalled) {
        client.resume();
        upstream.resume();
      }
    });
    upstream.on('error', () => {
      if (!upstream.connecting) return;
      client.resetAndDestroy();
      this.pairs.delete(pair);
    });
    return undefined;
  }

  pipe(pair, src, dst, dir) {
    const queue = [];
    let queued = 0;
    let lastRelease = 0;
    let timer = null;
    let ended = false;
    const canRead = () => !this.stalled && queued <= HIGH_WATER && !dst.writableNeedDrain;
    const flush = () => {
      timer = null;
      const now = Date.now();
      while (queue.length && queue[0].at <= now) {
        const { chunk } = queue.shift();
        queued -= chunk.length;
        if (!pair.blackholed && !dst.destroyed) dst.write(chunk);
      }
      if (queue.length) timer = setTimeout(flush, queue[0].at - now);
      else if (ended && !pair.blackholed && !dst.destroyed) dst.end();
      if (canRead() && src.isPaused() && !src.destroyed) src.resume();
    };
    src.on('data', (chunk) => {
      if (pair.blackholed) return; // read and discarded
      pair.bytes[dir] += chunk.length;
      const now = Date.now();
      if (this.delayMs === 0 && this.rate === 0 && queue.length === 0) {
        dst.write(chunk);
      } else {
        const at = Math.max(now + this.delayMs, lastRelease + (this.rate ? (chunk.length * 1000) / this.rate : 0));
        lastRelease = at;
        queue.push({ at, chunk });
        queued += chunk.length;
        if (!timer) timer = setTimeout(flush, Math.max(0, at - now));
      }
      if (!canRead()) src.pause();
    });
    dst.on('drain', () => {
      if (canRead() && src.isPaused() && !src.destroyed) src.resume();
    });
    src.on('end', () => {
      ended = true;
      if (!timer && !pair.blackholed && !dst.destroyed) dst.end();
    });
    src.on('close', (hadError) => {
      if (timer) clearTimeout(timer);
      if (pair.blackholed) return; // nothing is passed on
      if (hadError && !dst.destroyed) dst.resetAndDestroy();
      else if (!ended && !dst.destroyed) dst.destroy();
      if (src === pair.client || dst === pair.client) {
        if (pair.client.destroyed && pair.upstream.destroyed) this.pairs.delete(pair);
      }
    });
    pair[`resume_${dir}`] = () => {
      if (canRead() && !src.destroyed) src.resume();
    };
    pair[`pause_${dir}`] = () => src.pause();
  }

  delay(ms) {
    this.delayMs = ms;
  }

  throttle(bytesPerSecond) {
    this.rate = bytesPerSecond;
  }

  stall(on) {
    this.stalled = on;
    for (const p of this.pairs) {
      for (const dir of ['up', 'down']) {
        if (on && p[`pause_${dir}`]) p[`pause_${dir}`]();
        if (!on && p[`resume_${dir}`]) p[`resume_${dir}`]();
      }
    }
  }

  // Black-holes every connection open now; returns how many.
  blackhole() {
    let n = 0;
    for (const p of this.pairs) {
      if (p.blackholed) continue;
      p.blackholed = true;
      n += 1;
      // Keep reading (and discarding) so neither side is ever pushed back: the path is simply dead.
      p.client.resume();
      p.upstream.resume();
    }
    return n;
  }

  release() {
    for (const p of this.pairs) if (p.blackholed) this.destroyPair(p, false);
    for (const s of this.held) s.destroy();
  }

  // TCP reset towards both sides of one connection (or of every connection).
  cut(pair) {
    const victims = pair ? [pair] : [...this.pairs];
    for (const p of victims) this.destroyPair(p, true);
    return victims.length;
  }

  destroyPair(p, reset = true) {
    this.pairs.delete(p);
    for (const s of [p.client, p.upstream]) {
      if (s.destroyed) continue;
      if (reset) s.resetAndDestroy();
      else s.destroy();
    }
  }

  live() {
    return [...this.pairs].filter((p) => !p.client.destroyed && !p.upstream.destroyed);
  }
}

// Polls until `fn()` is truthy (harness pollUntil, shorter to call).
function until(what, ms, fn, intervalMs = 50) {
  return h.pollUntil(fn, ms, what, { intervalMs });
}

module.exports = { SOAK, soak, faultyRelay, httpRequest, metrics, readyz, echoOnce, hashServer, fdCount, FaultProxy, until,
                   h, assert, ok };

// ---------------------------------------------------------------------------------------------------------------
// Config files in a temporary directory (mode 600: they may hold the key); removed at the end of the test.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

function tempDir(t, prefix = 'hcb-faults-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.defer('remove temp dir', async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeConfig(dir, name, obj) {
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify(obj, null, 1), { mode: 0o600 });
  return file;
}

const logTime = (line) => Date.parse(line.slice(0, 24)); // "2026-12-02T05:51:46.423Z ..."
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

module.exports.tempDir = tempDir;
module.exports.writeConfig = writeConfig;
module.exports.logTime = logTime;
module.exports.sleep = sleep;

// Resolves with the ms from now until the peer ends or closes the connection (end, close or error, whichever comes
// first; the harness's sockets allow half-open, so a peer's FIN alone never closes them).
function peerGone(sock) {
  const started = Date.now();
  const d = h.deferred();
  const done = (how) => () => { if (!d.settled) d.resolve({ ms: Date.now() - started, how }); };
  sock.on('end', done('end'));
  sock.on('close', done('close'));
  sock.on('error', (e) => done(e.code || e.message)());
  return d.promise;
}
module.exports.peerGone = peerGone;

// What a process's descriptors point to, for failure messages ("socket:[123]" entries are the interesting ones),
// with the TCP state of each socket from /proc/net/tcp (01 established, 08 close-wait, 0A listen...).
function fdReport(pid) {
  const states = new Map();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
        const c = line.trim().split(/\s+/);
        if (c.length > 9) states.set(c[9], `${c[1]}->${c[2]} st ${c[3]}`);
      }
    } catch (e) { /* not available */ }
  }
  return fs.readdirSync(`/proc/${pid}/fd`).map((fd) => {
    let target;
    try { target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`); } catch (e) { return `${fd}: gone`; }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    return `${fd}: ${target}${m && states.has(m[1]) ? ` (${states.get(m[1])})` : ''}`;
  }).join('; ');
}

// Waits until pid's descriptor count is `expected`; on failure the message lists what the descriptors are.
async function fdsBackTo(pid, expected, what, ms = 5000) {
  try {
    await until(what, ms, () => fdCount(pid) === expected);
  } catch (e) {
    throw new Error(`${e.message}: ${fdCount(pid)} fds, expected ${expected}: ${fdReport(pid)}`);
  }
}
module.exports.fdReport = fdReport;
module.exports.fdsBackTo = fdsBackTo;

// A process's descriptor count once it is steady (the same in 3 readings 100 ms apart, within `ms`): the baseline
// for leak checks, taken when nothing is in flight. A request to the admin endpoint that just finished can hold a
// descriptor for a moment, which a single reading would count.
async function steadyFds(pid, ms = 5000) {
  const seen = [];
  return until(`pid ${pid}: steady fd count`, ms, () => {
    seen.push(fdCount(pid));
    const last = seen.slice(-3);
    return last.length === 3 && last.every((n) => n === last[0]) ? last[0] : null;
  }, 100);
}
module.exports.steadyFds = steadyFds;

// ---------------------------------------------------------------------------------------------------------------
// The set-up the control-channel fault tests share: an echo target; hcbridge -T from a config file (a test may rewrite
// it and reload), its admin endpoint on tAdmin, waiting for its control channel; hcbridge -L from arguments with its
// admin endpoint on lAdmin, forwarding lport. `settings` are more top-level config keys of -T (backoff, keepalive,
// log, ...), `relayConfig` overrides fields of its `relay` section (e.g. the endpoint of a FaultProxy), `lArgs` are
// more arguments of -L.
async function tunnelPair(t, relay, { name, settings = {}, relayConfig = {}, lArgs = [] }) {
  const hc = h.uniqueName(name);
  const echo = await t.tcpEchoServer('echo target');
  const dir = tempDir(t);
  const [tAdmin, lAdmin, lport] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const cfg = writeConfig(dir, 'listener.json', {
    relay: { ...relay.daemonRelayConfig(), ...relayConfig }, admin: { bind: `127.0.0.1:${tAdmin}` },
    log: { level: 'info' }, ...settings, remote_forward: [{ hc, target: `127.0.0.1:${echo.port}` }],
  });
  const tD = await t.startDaemon(['-c', cfg], { name: 'hcbridge -T', ready: [/control channel connected/] });
  const lD = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${lAdmin}`, ...lArgs, '-L', `${lport}:${hc}`],
                                 { name: 'hcbridge -L' });
  return { hc, fwd: `T:${hc}`, echo, dir, cfg, tAdmin, lAdmin, lport, tD, lD };
}
module.exports.tunnelPair = tunnelPair;
