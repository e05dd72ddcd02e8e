'use strict';
// Shared harness for the interop tests: runs hcrelay over TLS, builds URLs and SAS tokens, and wraps hyco-ws
// (the official Azure Relay Node SDK; it bundles ws 1.1.5) and ws 8 clients in promises with deadlines.
//
// Every test file calls run(title, async (t) => { ... }). run() arms a watchdog, turns any exception, unhandled
// rejection or watchdog expiry into exit code 1 (printing hcrelay's stderr), and on success tears everything down
// (registered cleanups, then SIGTERM to every relay, asserting exit code 0) and exits 0.
//
// hyco-ws 1.0.5 traps this code works around (see docs in /work/shared/reference, build-and-interop-notes §3):
//  - never pass `id` to createRelayedServer (ReferenceError);
//  - a listener whose control channel fails reconnects at once, forever: start the relay first and always
//    server.close() (every listener made here is closed by the cleanup list, failed ones at once);
//  - createRelayToken(uri, keyName, key, expirySeconds) keeps only scheme/host/path of `uri`.

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const assert = require('node:assert/strict');

const HycoWS = require('hyco-ws'); // the SDK; its WebSocket is ws 1.1.5
const WS8 = require('ws'); // ws 8 (tests/interop/node_modules/ws), for hand-driven control channels

const KEY_NAME = 'root';

// ---------------------------------------------------------------------------------------------------------------
// Environment. NODE_EXTRA_CA_CERTS is read only at process start, and hyco-ws offers no other way to trust the test
// certificate on its rendezvous sockets; when a test is started by hand without it, re-run ourselves with it set.

function ensureEnvironment() {
  const certDir = process.env.HCB_TEST_CERT_DIR;
  if (!process.env.HCRELAY_BIN) bail('HCRELAY_BIN is not set (run through ctest, or export the hcrelay path)');
  if (!certDir) bail('HCB_TEST_CERT_DIR is not set (directory with cert.pem and key.pem)');
  for (const f of ['cert.pem', 'key.pem']) {
    if (!fs.existsSync(path.join(certDir, f))) bail(`${path.join(certDir, f)} is missing (tests/support/make-test-cert.sh)`);
  }
  if (!fs.existsSync(process.env.HCRELAY_BIN)) bail(`HCRELAY_BIN=${process.env.HCRELAY_BIN} does not exist`);
  const ca = path.join(certDir, 'cert.pem');
  if (process.env.NODE_EXTRA_CA_CERTS !== ca && !process.env.HCB_INTEROP_REEXEC) {
    // Node reads NODE_EXTRA_CA_CERTS only at start-up: run the test again with it. Asynchronously, so that a signal
    // to this process (ctest's timeout, ^C) is passed on and the child's own clean-up runs (see run()).
    const child = spawn(process.execPath, process.argv.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ca, HCB_INTEROP_REEXEC: '1' },
    });
    for (const sig of STOP_SIGNALS) process.on(sig, () => child.kill(sig));
    child.on('exit', (code, signal) => process.exit(code === null ? (signal ? 128 + os.constants.signals[signal] : 1) : code));
    return false;
  }
  return true;
}

// Every process spawned here (through keepLogs: hcrelay, hcbridge, and the tests' own short-lived ones) until it
// exits. Whatever way the test ends (failure, watchdog, signal, process.exit anywhere), those still running are
// killed, so no relay or daemon outlives its test.
const STOP_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGHUP'];
const liveChildren = new Set();
function track(proc) {
  if (!proc || !proc.pid || proc.exitCode !== null || proc.signalCode !== null) return proc;
  liveChildren.add(proc);
  proc.on('exit', () => liveChildren.delete(proc));
  return proc;
}
process.on('exit', () => {
  for (const proc of liveChildren) {
    try {
      proc.kill('SIGKILL');
    } catch (e) {
      // already gone
    }
  }
});

// ---------------------------------------------------------------------------------------------------------------
// The suite-wide secrets check (tests/secrets/check_logs.sh, the last ctest test) greps every process's output for
// every secret the suite used. With HCB_TEST_LOG_DIR set (ctest sets it), each process spawned here gets its stdout
// and stderr copied into that directory, and every key and token made here is listed in <test>.secrets there.

const LOG_DIR = process.env.HCB_TEST_LOG_DIR || '';
const TEST_NAME = path.basename(process.argv[1] || 'node').replace(/(\.test)?\.js$/, '');

function registerSecret(secret) {
  if (!LOG_DIR || !secret) return secret;
  fs.appendFileSync(path.join(LOG_DIR, `${TEST_NAME}.secrets`), `${secret}\n`);
  return secret;
}

function keepLogs(proc, what) {
  track(proc);
  if (!LOG_DIR || !proc || !proc.pid) return;
  const file = path.join(LOG_DIR, `${TEST_NAME}.${what}.${proc.pid}.log`);
  const fd = fs.openSync(file, 'a');
  let open = 2;
  for (const s of [proc.stdout, proc.stderr]) {
    if (!s) {
      open--;
      continue;
    }
    s.on('data', (chunk) => fs.writeSync(fd, chunk));
    s.on('close', () => {
      if (--open === 0) fs.closeSync(fd);
    });
  }
  if (open === 0) fs.closeSync(fd);
}

function bail(message) {
  console.error(`not ok - setup: ${message}`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------------------------
// Small async helpers. Nothing here sleeps to "let things settle": every wait is for an event, with a deadline.

function log(message) {
  console.log(message);
}

function ok(message) {
  console.log(`ok - ${message}`);
}

function elapsed(since) {
  return `${((Date.now() - since) / 1000).toFixed(2)} s`;
}

// Resolves/rejects like `promise`, or rejects with "<what>: no result within <ms> ms".
function withDeadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// Waits for `event` on `emitter`; rejects on any of `failOn` events or after `ms`.
function waitFor(emitter, event, ms, what, failOn = ['error']) {
  return withDeadline(
    new Promise((resolve, reject) => {
      const handlers = [];
      const done = () => handlers.forEach(([e, h]) => emitter.removeListener(e, h));
      const onEvent = (...args) => {
        done();
        resolve(args);
      };
      handlers.push([event, onEvent]);
      for (const e of failOn) {
        const h = (arg) => {
          done();
          reject(new Error(`${what}: '${e}' before '${event}': ${describe(arg)}`));
        };
        handlers.push([e, h]);
      }
      handlers.forEach(([e, h]) => emitter.on(e, h));
    }),
    ms,
    what,
  );
}

function describe(x) {
  if (x instanceof Error) return x.message;
  if (x && typeof x === 'object' && 'code' in x && 'reason' in x) return `code ${x.code} ${x.reason}`;
  return String(x);
}

// A promise that can be settled from outside; `settled` tells whether it has been.
function deferred() {
  let resolve, reject;
  const p = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d = { promise: p, settled: false };
  d.resolve = (v) => {
    d.settled = true;
    resolve(v);
  };
  d.reject = (e) => {
    d.settled = true;
    reject(e);
  };
  p.catch(() => {}); // a rejection is observed where it is awaited
  return d;
}

function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function uniqueName(prefix) {
  return `${prefix}-${crypto.randomBytes(4).toString('hex')}`;
}

function randomKey() {
  return registerSecret(crypto.randomBytes(32).toString('base64'));
}

// Cuts `total` random bytes into messages of random sizes in [minSize, maxSize] (the last may be shorter).
function randomMessages(total, minSize, maxSize) {
  const data = crypto.randomBytes(total);
  const sizes = [];
  let left = total;
  while (left > 0) {
    const n = Math.min(left, crypto.randomInt(minSize, maxSize + 1));
    sizes.push(n);
    left -= n;
  }
  const messages = [];
  let off = 0;
  for (const n of sizes) {
    messages.push(data.subarray(off, off + n));
    off += n;
  }
  return { data, sizes, messages };
}

// Collects binary messages on a ws 1.1.5 socket until `total` bytes arrived; resolves {data, sizes}.
// Rejects on a text message, on more bytes than expected, or if the socket closes first.
function collectBinary(socket, total, what) {
  const d = deferred();
  const chunks = [];
  const sizes = [];
  let received = 0;
  socket.on('message', (data, flags) => {
    if (d.settled) return;
    if (!flags || !flags.binary || !Buffer.isBuffer(data)) return d.reject(new Error(`${what}: got a non-binary message`));
    chunks.push(Buffer.from(data));
    sizes.push(data.length);
    received += data.length;
    if (received > total) d.reject(new Error(`${what}: received ${received} bytes, more than the ${total} sent`));
    else if (received === total) d.resolve({ data: Buffer.concat(chunks), sizes });
  });
  socket.on('close', (code, reason) => {
    if (!d.settled) d.reject(new Error(`${what}: socket closed (${code} ${reason}) after ${received}/${total} bytes`));
  });
  socket.on('error', (e) => {
    if (!d.settled) d.reject(new Error(`${what}: socket error after ${received}/${total} bytes: ${describe(e)}`));
  });
  d.progress = () => `${received}/${total} bytes in ${sizes.length} messages`;
  return d;
}

// Sends messages one after another on a ws 1.1.5 socket, each as one binary message, waiting for each write.
async function sendAll(socket, messages) {
  for (const m of messages) {
    await new Promise((resolve, reject) =>
      socket.send(m, { binary: true }, (err) => (err ? reject(err) : resolve())),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------------
// hcrelay process.

class Relay {
  constructor(t, opts = {}) {
    this.t = t;
    this.key = registerSecret(opts.key || randomKey());
    this.keyName = KEY_NAME;
    this.stderr = '';
    this.stdoutLines = [];
    this.stopping = false;
    this.exit = deferred();
    const certDir = process.env.HCB_TEST_CERT_DIR;
    this.args = [
      '--bind', `127.0.0.1:${opts.port || 0}`,
      '--tls-cert', path.join(certDir, 'cert.pem'),
      '--tls-key', path.join(certDir, 'key.pem'),
      '--sas', `${this.keyName}=${this.key}`,
      '--log-level', opts.logLevel || 'debug',
      ...(opts.extraArgs || []),
    ];
  }

  async start() {
    const started = Date.now();
    this.proc = spawn(process.env.HCRELAY_BIN, this.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    keepLogs(this.proc, 'hcrelay');
    const listening = deferred();
    let partial = '';
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (s) => {
      partial += s;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        this.stdoutLines.push(line);
        const m = /^hcrelay listening on (wss?):\/\/127\.0\.0\.1:(\d+)$/.exec(line);
        if (m && !listening.settled) listening.resolve({ scheme: m[1], port: Number(m[2]) });
        else if (!listening.settled) listening.reject(new Error(`unexpected first stdout line from hcrelay: ${line}`));
      }
    });
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (s) => {
      this.stderr += s;
      if (this.stderr.length > 4 << 20) this.stderr = this.stderr.slice(-(2 << 20)); // keep the tail
    });
    this.proc.on('error', (e) => {
      if (!listening.settled) listening.reject(new Error(`cannot start hcrelay: ${e.message}`));
    });
    this.proc.on('exit', (code, signal) => {
      this.exit.resolve({ code, signal });
      if (!listening.settled) listening.reject(new Error(`hcrelay exited (code ${code}, signal ${signal}) before listening`));
      else if (!this.stopping) this.t.fail(new Error(`hcrelay exited unexpectedly (code ${code}, signal ${signal})`));
    });
    const { scheme, port } = await withDeadline(listening.promise, 10000, 'hcrelay startup');
    assert.equal(scheme, 'wss', 'hcrelay must speak TLS when given --tls-cert/--tls-key');
    this.port = port;
    this.base = `wss://127.0.0.1:${port}`;
    ok(`hcrelay listening on ${this.base} (pid ${this.proc.pid}, started in ${elapsed(started)})`);
    return this;
  }

  // URL of the HC `name` for `action` (listen|connect), with optional extra query text.
  url(name, action, extraQuery = '') {
    return `${this.base}/$hc/${name}?sb-hc-action=${action}${extraQuery ? '&' + extraQuery : ''}`;
  }

  // A SAS token made by the SDK's own createRelayToken, for http://127.0.0.1/<name> by default.
  token(name, { key = this.key, keyName = this.keyName, seconds, host = '127.0.0.1' } = {}) {
    return registerSecret(HycoWS.createRelayToken(`http://${host}/${name}`, keyName, key, seconds));
  }

  async stop() {
    if (this.stopping) return this.exit.promise;
    this.stopping = true;
    const started = Date.now();
    if (this.exit.settled) {
      const { code, signal } = await this.exit.promise;
      throw new Error(`hcrelay had already exited (code ${code}, signal ${signal})`);
    }
    this.proc.kill('SIGTERM');
    const { code, signal } = await withDeadline(this.exit.promise, 10000, 'hcrelay exit after SIGTERM');
    assert.ok(code === 0 && signal === null, `hcrelay must exit 0 after SIGTERM, got code ${code} signal ${signal}`);
    assert.equal(this.stdoutLines.length, 1, `hcrelay must print exactly one stdout line, got: ${JSON.stringify(this.stdoutLines)}`);
    ok(`hcrelay exited 0 after SIGTERM in ${elapsed(started)}`);
  }

  kill() {
    this.stopping = true;
    this.killed = true;
    if (this.proc && !this.exit.settled) this.proc.kill('SIGKILL');
    return this.exit.promise;
  }

  // hcbridge options that reach this relay with its SAS key: -e wss://127.0.0.1:PORT/ --ca-file ... -K root -k KEY.
  daemonArgs() {
    return ['-e', `${this.base}/`, '--ca-file', path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'),
            '-K', this.keyName, '-k', this.key];
  }

  // The `relay` object of an hcbridge config file that reaches this relay.
  daemonRelayConfig() {
    return { endpoint: `${this.base}/`, ca_file: path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'),
             key_name: this.keyName, key: this.key };
  }
}

// ---------------------------------------------------------------------------------------------------------------
// hcbridge process (the daemon under test), and what the tests read about a process from /proc.

// Resident set size (VmRSS, KiB) and the number of open file descriptors of a live process.
function procStats(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return { rssKiB: m ? Number(m[1]) : NaN, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

// Signs of a crash that must never appear in a daemon's stderr.
const CRASH_PATTERNS = [/terminate called/, /AddressSanitizer/, /LeakSanitizer/, /runtime error:/, /Segmentation fault/,
                        /core dumped/, /Assertion .* failed/];

function crashSign(text) {
  for (const re of CRASH_PATTERNS) {
    const m = re.exec(text);
    if (m) return m[0];
  }
  return null;
}

// The default ready lines: the daemon's "running:" line, logged once every listener is bound (a config file's
// forwards included, which the arguments do not show), plus one line per -L binding and -T/-R/-H forward named on
// the command line.
function readyPatternsFor(args) {
  const ready = [/hcbridge \S+ running: /];
  for (let i = 0; i < args.length - 1; i++) {
    if (args[i] === '-L') {
      const expr = args[i + 1];
      const hc = expr.slice(expr.lastIndexOf(':') + 1);
      const n = expr.slice(0, expr.lastIndexOf(':')).split(';').length;
      for (let k = 0; k < n; k++) ready.push(new RegExp(`L:${escapeRe(hc)}: listening on `));
    } else if (args[i] === '-T' || args[i] === '-R' || args[i] === '-H') {
      const hc = args[i + 1].split(':')[0];
      ready.push(new RegExp(`T:${escapeRe(hc)}: control channel connected`));
    }
  }
  return ready;
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

class Daemon {
  constructor(t, args, { name = 'hcbridge', env } = {}) {
    this.t = t;
    this.args = args;
    this.name = name;
    this.env = env;
    this.lines = []; // stderr, one entry per line
    this.dropped = 0; // lines dropped from the front of `lines` to bound memory
    this.watchers = [];
    this.stdout = '';
    this.stopping = false;
    this.exit = deferred();
  }

  start() {
    this.startedAt = Date.now();
    this.proc = spawn(process.env.HCBRIDGE_BIN, this.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: this.env || process.env,
    });
    keepLogs(this.proc, this.name.replace(/[^A-Za-z0-9_-]/g, '_'));
    let partial = '';
    this.proc.stderr.setEncoding('utf8');
    this.proc.stderr.on('data', (s) => {
      partial += s;
      let nl;
      while ((nl = partial.indexOf('\n')) >= 0) {
        this.addLine(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
    });
    this.proc.stderr.on('end', () => {
      if (partial) this.addLine(partial);
    });
    this.proc.stdout.setEncoding('utf8');
    this.proc.stdout.on('data', (s) => {
      this.stdout += s;
    });
    const exited = deferred();
    this.proc.on('error', (e) => {
      if (!this.exit.settled) this.exit.resolve({ code: null, signal: null, error: e });
    });
    this.proc.on('exit', (code, signal) => {
      this.exitedAt = Date.now();
      exited.resolve();
      // Let the pipes drain so the last log lines are in `lines` before anyone looks at them.
      const pipesClosed = new Promise((resolve) => this.proc.on('close', resolve));
      withDeadline(pipesClosed, 2000, 'hcbridge pipes').catch(() => {}).then(() => {
        this.exit.resolve({ code, signal });
        for (const w of this.watchers.splice(0)) w.reject(new Error(`${this.name} exited (code ${code}, signal ${signal}) while waiting for ${w.re}`));
        if (!this.stopping) this.t.fail(new Error(`${this.name} exited unexpectedly (code ${code}, signal ${signal})`));
      });
    });
    return this;
  }

  get pid() {
    return this.proc.pid;
  }

  addLine(line) {
    this.lines.push(line);
    if (this.lines.length > 200000) {
      this.lines.splice(0, 100000);
      this.dropped += 100000;
    }
    for (const w of this.watchers.slice()) {
      const m = w.re.exec(line);
      if (m && this.lineCount() > w.from && !(w.skip && w.skip.has(this.lineCount() - 1))) {
        m.lineIndex = this.lineCount() - 1;
        this.watchers.splice(this.watchers.indexOf(w), 1);
        w.resolve(m);
      }
    }
  }

  // Number of stderr lines so far (a position for waitForLog's `from`).
  lineCount() {
    return this.dropped + this.lines.length;
  }

  // Stderr lines from position `from` on.
  linesSince(from = 0) {
    return this.lines.slice(Math.max(0, from - this.dropped));
  }

  // Resolves with the match of the first stderr line at position >= from that matches `re`; rejects after `ms` or
  // when the daemon exits first.
  // Lines whose index is in the set `skip` do not count.
  waitForLog(re, ms, { from = 0, what, skip } = {}) {
    const seen = this.linesSince(from);
    const base = Math.max(from, this.dropped);
    for (let i = 0; i < seen.length; i++) {
      if (skip && skip.has(base + i)) continue;
      const m = re.exec(seen[i]);
      if (m) {
        m.lineIndex = base + i;
        return Promise.resolve(m);
      }
    }
    if (this.exit.settled) return Promise.reject(new Error(`${this.name} has exited; waiting for ${re}`));
    const d = deferred();
    const w = { re, from, skip, resolve: d.resolve, reject: d.reject };
    this.watchers.push(w);
    return withDeadline(d.promise, ms, what || `${this.name}: log line ${re}`).finally(() => {
      const i = this.watchers.indexOf(w);
      if (i >= 0) this.watchers.splice(i, 1);
    });
  }

  // Every match of `re` in the stderr lines from position `from` on.
  matches(re, from = 0) {
    const out = [];
    for (const line of this.linesSince(from)) {
      const m = re.exec(line);
      if (m) out.push(m);
    }
    return out;
  }

  stats() {
    return procStats(this.proc.pid);
  }

  // SIGTERM; asserts exit code 0 within `ms` and a clean stderr. Resolves with the time it took (ms).
  async stop({ ms = 15000 } = {}) {
    if (this.stopping) return this.exit.promise;
    this.stopping = true;
    if (this.exit.settled) {
      const { code, signal } = await this.exit.promise;
      throw new Error(`${this.name} had already exited (code ${code}, signal ${signal})`);
    }
    const started = Date.now();
    this.proc.kill('SIGTERM');
    const { code, signal } = await withDeadline(this.exit.promise, ms, `${this.name} exit after SIGTERM`);
    const took = this.exitedAt - started;
    assert.ok(code === 0 && signal === null, `${this.name} must exit 0 after SIGTERM, got code ${code} signal ${signal}`);
    this.assertNoCrash();
    ok(`${this.name} exited 0 after SIGTERM in ${(took / 1000).toFixed(2)} s`);
    return took;
  }

  assertNoCrash() {
    const sign = crashSign(this.linesSince(0).join('\n'));
    assert.equal(sign, null, `${this.name} stderr shows a crash: ${sign}`);
  }

  kill() {
    this.stopping = true;
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Test context and runner.

class TestContext {
  constructor() {
    this.relays = [];
    this.daemons = [];
    this.cleanups = [];
    this.failure = null;
    this.failHandler = null;
  }

  async startRelay(opts) {
    const relay = new Relay(this, opts);
    this.relays.push(relay);
    return relay.start();
  }

  // Starts hcbridge with `args` and waits (up to readyMs) for its ready lines: `ready` (regexps), by default the
  // "running:" line, one "listening on" per -L binding and one "control channel connected" per -T/-R/-H. The daemon
  // is stopped with SIGTERM at the end of the test (exit code 0 asserted), before the relays.
  async startDaemon(args, { name, ready, readyMs = 15000, env } = {}) {
    if (!process.env.HCBRIDGE_BIN) throw new Error('HCBRIDGE_BIN is not set (run through ctest, or export the hcbridge path)');
    const daemon = new Daemon(this, args, { name: name || `hcbridge#${this.daemons.length + 1}`, env });
    this.daemons.push(daemon);
    daemon.start();
    const patterns = ready || readyPatternsFor(args);
    // Several identical patterns (one per binding) must match distinct lines.
    const used = new Set();
    for (const re of patterns) {
      const m = await daemon.waitForLog(re, readyMs, { skip: used, what: `${daemon.name} start-up: ${re}` });
      used.add(m.lineIndex);
    }
    ok(`${daemon.name} ready in ${elapsed(daemon.startedAt)} (pid ${daemon.pid}; ${describeArgs(args)})`);
    return daemon;
  }

  // A TCP server on 127.0.0.1 (random port). onConnection(socket) gets each client. Resolves {server, port,
  // sockets}; at the end of the test the server is closed and every socket it accepted destroyed.
  async tcpServer(onConnection, what = 'tcp server') {
    const sockets = new Set();
    // allowHalfOpen: a peer's EOF must not end our side (the tests check half-close semantics).
    const server = net.createServer({ allowHalfOpen: true }, (sock) => {
      sockets.add(sock);
      sock.on('close', () => sockets.delete(sock));
      sock.on('error', () => {}); // resets are expected in some tests; the test code watches what it cares about
      onConnection(sock);
    });
    server.listen(0, '127.0.0.1');
    await waitFor(server, 'listening', 5000, what);
    this.defer(`close ${what}`, async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    });
    return { server, port: server.address().port, sockets };
  }

  // A TCP echo server (echoes until the client half-closes, then half-closes too, after the echo).
  async tcpEchoServer(what = 'tcp echo server') {
    return this.tcpServer((sock) => sock.pipe(sock), what);
  }

  // Registers fn to run (newest first) when the test ends, before the relays are stopped.
  defer(what, fn) {
    this.cleanups.push({ what, fn });
  }

  fail(error) {
    if (this.failHandler) this.failHandler(error);
  }

  // hyco-ws listener (createRelayedServer) on HC `name`; resolves once its control channel is open.
  // onConnection(ws) gets each rendezvous socket (ws 1.1.5, still connecting). The listener is closed at the end.
  async hycoListener(relay, name, onConnection, { token = relay.token(name), what = `hyco-ws listener '${name}'` } = {}) {
    const server = HycoWS.createRelayedServer({ server: relay.url(name, 'listen'), token }, onConnection);
    const closed = deferred();
    server.on('close', () => closed.resolve());
    let listening = false;
    server.on('error', (e) => {
      // The SDK reconnects at once after an error; stop it so a failing listener cannot storm the relay.
      if (!server.closeRequested) server.close(() => {});
      const err = new Error(`${what}: control channel error: ${describe(e)}`);
      if (listening) this.fail(err);
    });
    this.defer(`close ${what}`, async () => {
      if (!server.closeRequested) server.close(() => {});
      await withDeadline(closed.promise, 5000, `${what} close`);
    });
    await waitFor(server, 'listening', 10000, what, ['error']);
    listening = true;
    return server;
  }

  // hyco-ws listener that is expected to be refused: resolves with the SDK's error message.
  async hycoListenerRefused(relay, name, token, what) {
    const server = HycoWS.createRelayedServer({ server: relay.url(name, 'listen'), token }, () => {});
    const result = deferred();
    const closed = deferred();
    let errors = 0;
    server.on('close', () => closed.resolve());
    server.on('error', (e) => {
      // Closing here, inside the SDK's error callback, stops its immediate reconnect. The control socket was still
      // connecting, so ws 1.1.5 just marks it closed and the server emits no 'close' event.
      errors += 1;
      if (!server.closeRequested) server.close(() => {});
      if (!result.settled) result.resolve(describe(e));
    });
    server.on('listening', () => {
      server.close(() => {});
      if (!result.settled) result.reject(new Error(`${what}: the relay accepted the listener`));
    });
    this.defer(`close ${what}`, async () => {
      if (!server.closeRequested) server.close(() => {});
      if (errors === 0) await withDeadline(closed.promise, 5000, `${what} close`);
      assert.equal(errors, 1, `${what}: the SDK must not have retried after close()`);
      assert.equal(server.controlChannel.readyState, HycoWS.CLOSED, `${what}: control socket state`);
    });
    return withDeadline(result.promise, 10000, what);
  }

  // hyco-ws sender (relayedConnect); resolves with the open socket (ws 1.1.5). Closed at the end if still open.
  async hycoSender(relay, name, { token = relay.token(name), extraQuery = '', what = `hyco-ws sender '${name}'` } = {}) {
    const socket = HycoWS.relayedConnect(relay.url(name, 'connect', extraQuery), token);
    this.trackWs1(socket, what);
    socket.on('unexpected-response', (req, res) => {
      req.abort();
      socket.emit('error', new Error(`HTTP ${res.statusCode} ${res.statusMessage}`));
    });
    await waitFor(socket, 'open', 15000, what, ['error', 'close']);
    return socket;
  }

  // hyco-ws sender that must be refused at the HTTP upgrade: resolves {status, reason}.
  async hycoSenderRefused(relay, name, { token, extraQuery = '', what }) {
    const socket = HycoWS.relayedConnect(relay.url(name, 'connect', extraQuery), token);
    const result = deferred();
    socket.on('unexpected-response', (req, res) => {
      result.resolve({ status: res.statusCode, reason: res.statusMessage || '' });
      res.resume();
      req.abort();
    });
    socket.on('open', () => {
      socket.terminate();
      result.reject(new Error(`${what}: the relay accepted the sender`));
    });
    socket.on('error', (e) => result.reject(new Error(`${what}: error instead of an HTTP status: ${describe(e)}`)));
    return withDeadline(result.promise, 10000, what);
  }

  // Makes sure a ws 1.1.5 socket is closed when the test ends (close handshake, then terminate).
  trackWs1(socket, what) {
    const closed = deferred();
    socket.on('close', () => closed.resolve());
    this.defer(`close ${what}`, async () => {
      if (socket.readyState === socket.CLOSED || closed.settled) return;
      if (socket.readyState === socket.OPEN) socket.close(1000);
      else socket.terminate();
      try {
        await withDeadline(closed.promise, 5000, `${what} close`);
      } catch (e) {
        socket.terminate();
        throw e;
      }
    });
  }

  // ws 8 client. Resolves with the open socket; rejects on refusal with the HTTP status in the message.
  async ws8(url, { headers = {}, what, trackClose = true } = {}) {
    const socket = new WS8(url, { headers, perMessageDeflate: false, handshakeTimeout: 10000 });
    const closed = deferred();
    socket.on('close', () => closed.resolve());
    socket.on('unexpected-response', (req, res) => {
      req.destroy();
      socket.emit('error', new Error(`HTTP ${res.statusCode} ${res.statusMessage}`));
    });
    if (trackClose) {
      this.defer(`close ${what}`, async () => {
        if (socket.readyState === WS8.CLOSED) return;
        if (socket.readyState === WS8.OPEN) socket.close(1000);
        else socket.terminate();
        try {
          await withDeadline(closed.promise, 5000, `${what} close`);
        } catch (e) {
          socket.terminate();
          throw e;
        }
      });
    }
    await waitFor(socket, 'open', 15000, what, ['error', 'close']);
    return socket;
  }
}

// Command-line arguments with the value of -k / -s shown as ***.
function maskArgs(args) {
  return args.map((a, i) => (i > 0 && ['-k', '--key', '-s', '--sas'].includes(args[i - 1]) ? '***' : a));
}

function describeArgs(args) {
  const parts = [];
  for (let i = 0; i < args.length; i++) if (['-L', '-T', '-R', '-H', '-c'].includes(args[i])) parts.push(`${args[i]} ${args[i + 1]}`);
  return parts.join(' ');
}

// A free TCP port on 127.0.0.1 (bound and released at once, so another process could still take it before use).
async function freePort() {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await waitFor(server, 'listening', 5000, 'free port');
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

// Connects to 127.0.0.1:port; resolves with the connected socket (half-open allowed: the peer's EOF does not end
// our side; end() it yourself).
async function tcpConnect(port, what = `tcp connect to ${port}`) {
  const sock = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  await waitFor(sock, 'connect', 10000, what, ['error', 'close']);
  return sock;
}

// Reads a socket to its end: resolves {length, sha256, data (if keep)} when it ends; rejects on error or `ms`.
function readToEnd(sock, { ms = 30000, keep = false, what = 'read to end' } = {}) {
  const hash = crypto.createHash('sha256');
  const chunks = [];
  let length = 0;
  const d = deferred();
  sock.on('data', (b) => {
    length += b.length;
    hash.update(b);
    if (keep) chunks.push(b);
  });
  sock.on('end', () => d.resolve({ length, sha256: hash.digest('hex'), data: keep ? Buffer.concat(chunks) : null }));
  sock.on('error', (e) => d.reject(new Error(`${what}: ${e.message} after ${length} bytes`)));
  sock.on('close', () => { if (!d.settled) d.reject(new Error(`${what}: closed without an end after ${length} bytes`)); });
  return withDeadline(d.promise, ms, what);
}

// Sends `text` through a local port, half-closes, and resolves with everything that came back (an echo check).
async function echoText(port, text) {
  const sock = await tcpConnect(port, `client on ${port}`);
  const reply = readToEnd(sock, { ms: 10000, keep: true, what: `echo through ${port}` });
  sock.end(text);
  const { data } = await reply;
  sock.destroy();
  return data.toString();
}

// Writes buf in pieces of random sizes, waiting for 'drain' when asked to; optionally half-closes after it.
async function writeAll(sock, buf, { end = false, maxPiece = 256 * 1024 } = {}) {
  let off = 0;
  while (off < buf.length) {
    const n = Math.min(buf.length - off, crypto.randomInt(1, maxPiece + 1));
    if (!sock.write(buf.subarray(off, off + n))) await waitFor(sock, 'drain', 30000, 'socket drain', ['error', 'close']);
    off += n;
  }
  if (end) sock.end();
}

// A deterministic, non-repeating byte stream (AES-128-CTR keystream): next(n) returns the next n bytes.
// Fast enough (GB/s) to push gigabytes without holding them; two streams with the same seed are identical.
function keystream(seed = crypto.randomBytes(16)) {
  const cipher = crypto.createCipheriv('aes-128-ctr', seed, Buffer.alloc(16));
  let zeros = Buffer.alloc(0);
  return {
    seed,
    next(n) {
      if (zeros.length < n) zeros = Buffer.alloc(n);
      return cipher.update(zeros.subarray(0, n));
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// HTTP GET (e.g. hcbridge's admin endpoint) and polling with a deadline.

// GET http://host:port<path>: resolves {status, headers, body (text)}; rejects on a connection error or after `ms`.
function httpGet(port, path, { ms = 5000, host = '127.0.0.1' } = {}) {
  const http = require('node:http');
  const d = deferred();
  const req = http.get({ host, port, path, agent: false, headers: { Connection: 'close' } }, (res) => {
    let body = '';
    res.setEncoding('utf8');
    res.on('data', (s) => { body += s; });
    res.on('end', () => d.resolve({ status: res.statusCode, headers: res.headers, body }));
    res.on('error', (e) => d.reject(e));
  });
  req.on('error', (e) => d.reject(new Error(`GET http://${host}:${port}${path}: ${e.message}`)));
  return withDeadline(d.promise, ms, `GET http://${host}:${port}${path}`).finally(() => req.destroy());
}

// The value of one Prometheus series in a /metrics text: `name` with exactly `labels` (any order); undefined if absent.
function metric(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue;
    const inner = line.slice(name.length + 1, line.indexOf('}'));
    const have = inner.split(',');
    if (want.every((w) => have.includes(w)) && have.length === want.length) return Number(line.slice(line.indexOf('}') + 2));
  }
  return undefined;
}

// Calls fn() (may be async) every intervalMs until it returns a truthy value, which is resolved; rejects after `ms`
// with `what` and the last value or error fn produced.
async function pollUntil(fn, ms, what, { intervalMs = 50 } = {}) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`${what}: not reached within ${ms} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

function indent(text) {
  if (!text) return '';
  return text.replace(/\n$/, '').replace(/^/gm, '#   ') + '\n';
}

// Runs a test: main(t) with a watchdog of timeoutMs; exits the process with 0 (pass) or 1 (fail).
function run(title, main, { timeoutMs = 55000 } = {}) {
  if (!ensureEnvironment()) return; // the re-run child runs the test; this process waits for it
  const t = new TestContext();
  const started = Date.now();
  let finished = false;
  log(`# ${title}`);

  const failNow = (error) => {
    if (finished) return;
    finished = true;
    console.log(`not ok - ${title}: ${error && error.stack ? error.stack : error}`);
    const stateOf = (proc) => (proc && (proc.exitCode !== null || proc.signalCode !== null)
      ? `had exited: code ${proc.exitCode}, signal ${proc.signalCode}`
      : 'was running');
    const daemonStates = t.daemons.map((d) => stateOf(d.proc));
    const relayStates = t.relays.map((r) => stateOf(r.proc));
    // Kill everything first, then let the pipes drain (briefly) so the last log lines are printed too, and no
    // zombie outlives the test.
    for (const d of t.daemons) d.kill();
    for (const relay of t.relays) relay.kill();
    const pipeClosed = (proc) => (proc && proc.stderr && !proc.stderr.destroyed
      ? new Promise((resolve) => proc.stderr.on('close', resolve)) : Promise.resolve());
    const reaped = Promise.all([...t.relays.map((r) => r.exit.promise), ...t.relays.map((r) => pipeClosed(r.proc)),
                                ...t.daemons.map((d) => d.exit.promise)]);
    const report = () => {
      t.daemons.forEach((d, i) => {
        console.log(`# ---- ${d.name} stderr (pid ${d.proc && d.proc.pid}, ${daemonStates[i]}; args ${maskArgs(d.args).join(' ')}) ----`);
        const lines = d.linesSince(0);
        const tail = lines.length > 3000 ? ['...(truncated)...', ...lines.slice(-3000)] : lines;
        process.stdout.write(indent(tail.join('\n')));
        console.log(`# ---- end of ${d.name} stderr ----`);
      });
      t.relays.forEach((relay, i) => {
        console.log(`# ---- hcrelay stderr (pid ${relay.proc && relay.proc.pid}, port ${relay.port}, ${relayStates[i]}; ` +
                    `args ${relay.args.join(' ')}) ----`);
        const text = relay.stderr.length > 200000 ? '...(truncated)...\n' + relay.stderr.slice(-200000) : relay.stderr;
        process.stdout.write(indent(text));
        console.log('# ---- end of hcrelay stderr ----');
      });
      console.log(`# FAIL ${title} (${elapsed(started)})`);
      process.exit(1);
    };
    withDeadline(reaped, 2000, 'reaping').then(report, report);
  };
  t.failHandler = failNow;

  const watchdog = setTimeout(() => failNow(new Error(`watchdog: the test did not finish within ${timeoutMs} ms`)), timeoutMs);
  process.on('uncaughtException', failNow);
  process.on('unhandledRejection', failNow);
  for (const sig of STOP_SIGNALS) process.on(sig, () => failNow(new Error(`${sig} received: stopping`)));

  (async () => {
    await main(t);
    for (const { what, fn } of t.cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        throw new Error(`cleanup '${what}' failed: ${e.message}`);
      }
    }
    for (const daemon of t.daemons) if (!daemon.stopping) await daemon.stop();
    for (const daemon of t.daemons) daemon.assertNoCrash();
    for (const relay of t.relays) if (!relay.killed) await relay.stop();
  })().then(
    () => {
      if (finished) return;
      finished = true;
      clearTimeout(watchdog);
      if (process.env.HCB_TEST_VERBOSE) {
        for (const r of t.relays) process.stdout.write(indent(r.stderr));
        for (const d of t.daemons) process.stdout.write(indent(d.linesSince(0).join('\n')));
      }
      console.log(`# PASS ${title} (${elapsed(started)})`);
      process.exit(0);
    },
    failNow,
  );
}

module.exports = {
  registerSecret,
  keepLogs,
  HycoWS,
  Daemon,
  procStats,
  crashSign,
  freePort,
  tcpConnect,
  readToEnd,
  echoText,
  writeAll,
  keystream,
  httpGet,
  metric,
  pollUntil,
  maskArgs,
  WS8,
  KEY_NAME,
  assert,
  run,
  log,
  ok,
  elapsed,
  withDeadline,
  waitFor,
  deferred,
  describe,
  sha256,
  uniqueName,
  randomKey,
  randomMessages,
  collectBinary,
  sendAll,
};
