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
    const child = require('node:child_process').spawnSync(process.execPath, process.argv.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, NODE_EXTRA_CA_CERTS: ca, HCB_INTEROP_REEXEC: '1' },
    });
    process.exit(child.status === null ? 1 : child.status);
  }
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
  return crypto.randomBytes(32).toString('base64');
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
    this.key = opts.key || randomKey();
    this.keyName = KEY_NAME;
    this.stderr = '';
    this.stdoutLines = [];
    this.stopping = false;
    this.exit = deferred();
    const certDir = process.env.HCB_TEST_CERT_DIR;
    this.args = [
      '--bind', '127.0.0.1:0',
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
    return HycoWS.createRelayToken(`http://${host}/${name}`, keyName, key, seconds);
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
    if (this.proc && !this.exit.settled) this.proc.kill('SIGKILL');
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Test context and runner.

class TestContext {
  constructor() {
    this.relays = [];
    this.cleanups = [];
    this.failure = null;
    this.failHandler = null;
  }

  async startRelay(opts) {
    const relay = new Relay(this, opts);
    this.relays.push(relay);
    return relay.start();
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

function indent(text) {
  if (!text) return '';
  return text.replace(/\n$/, '').replace(/^/gm, '#   ') + '\n';
}

// Runs a test: main(t) with a watchdog of timeoutMs; exits the process with 0 (pass) or 1 (fail).
function run(title, main, { timeoutMs = 55000 } = {}) {
  ensureEnvironment();
  const t = new TestContext();
  const started = Date.now();
  let finished = false;
  log(`# ${title}`);

  const failNow = (error) => {
    if (finished) return;
    finished = true;
    console.log(`not ok - ${title}: ${error && error.stack ? error.stack : error}`);
    for (const relay of t.relays) {
      const state = relay.proc && (relay.proc.exitCode !== null || relay.proc.signalCode !== null)
        ? `had exited: code ${relay.proc.exitCode}, signal ${relay.proc.signalCode}`
        : 'was running';
      console.log(`# ---- hcrelay stderr (pid ${relay.proc && relay.proc.pid}, port ${relay.port}, ${state}; ` +
                  `args ${relay.args.join(' ')}) ----`);
      const text = relay.stderr.length > 200000 ? '...(truncated)...\n' + relay.stderr.slice(-200000) : relay.stderr;
      process.stdout.write(indent(text));
      console.log('# ---- end of hcrelay stderr ----');
      relay.kill();
    }
    console.log(`# FAIL ${title} (${elapsed(started)})`);
    // Reap the killed relays (briefly) so no zombie outlives the test.
    const reaped = Promise.all(t.relays.map((r) => r.exit.promise));
    withDeadline(reaped, 2000, 'reaping hcrelay').then(() => process.exit(1), () => process.exit(1));
  };
  t.failHandler = failNow;

  const watchdog = setTimeout(() => failNow(new Error(`watchdog: the test did not finish within ${timeoutMs} ms`)), timeoutMs);
  process.on('uncaughtException', failNow);
  process.on('unhandledRejection', failNow);

  (async () => {
    await main(t);
    for (const { what, fn } of t.cleanups.reverse()) {
      try {
        await fn();
      } catch (e) {
        throw new Error(`cleanup '${what}' failed: ${e.message}`);
      }
    }
    for (const relay of t.relays) await relay.stop();
  })().then(
    () => {
      if (finished) return;
      finished = true;
      clearTimeout(watchdog);
      if (process.env.HCB_TEST_VERBOSE) for (const r of t.relays) process.stdout.write(indent(r.stderr));
      console.log(`# PASS ${title} (${elapsed(started)})`);
      process.exit(0);
    },
    failNow,
  );
}

module.exports = {
  HycoWS,
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
