'use strict';
// Fault case: the listener's target misbehaves. hcbridge -T has four targets chosen by port name, hcbridge -L one
// binding per name (both with admin endpoints):
//   down    nothing listens on the port (connection refused);
//   refuses accepts, then at once closes its sending side (FIN) without a byte, while still reading what comes;
//   resets  accepts, reads RESET_AFTER bytes, then resets (RST);
//   echo    a working echo server.
// PER_KIND clients per kind run at once, each writing its own random payload. Asserted:
//  - down: the client is closed within PROMPT_MS; -T counts tunnels_failed{target_unreachable}, -L
//    tunnels_failed{preamble_refused};
//  - refuses: the client sees the end of the stream (0 bytes) within PROMPT_MS, can still finish writing, and the
//    target received exactly its payload (length + SHA-256);
//  - resets: the client sees a reset or close within PROMPT_MS of the target's reset; what the target read before
//    resetting is exactly the start of the client's payload (SHA-256 of the prefix);
//  - the daemons stay healthy: /healthz and /readyz 200, 0 tunnels open, fds back to the warm-up baseline, and an
//    echo of 256 KiB is byte-exact afterwards.
const crypto = require('node:crypto');
const net = require('node:net');
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const PER_KIND = f.soak(10, 200);
const PAYLOAD = 256 * 1024;
const RESET_AFTER = 64 * 1024;
const PROMPT_MS = 3000;

h.run(`faults.target_faults: targets down, refusing and resetting (${PER_KIND} clients each)`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hc = h.uniqueName('targets');
  const downPort = await h.freePort(); // nothing listens there
  const refusals = [];
  const refuses = await t.tcpServer((sock) => {
    const hash = crypto.createHash('sha256');
    const rec = { length: 0, done: h.deferred() };
    refusals.push(rec);
    sock.end(); // FIN at once, no byte
    sock.on('data', (b) => { rec.length += b.length; hash.update(b); });
    sock.on('end', () => rec.done.resolve({ length: rec.length, sha256: hash.digest('hex') }));
  }, 'refusing target');
  const resets = [];
  const resetting = await t.tcpServer((sock) => {
    const chunks = [];
    let n = 0;
    const rec = { at: 0, data: null };
    resets.push(rec);
    sock.on('data', (b) => {
      if (rec.data) return;
      chunks.push(b);
      n += b.length;
      if (n >= RESET_AFTER) {
        rec.data = Buffer.concat(chunks);
        rec.at = Date.now();
        sock.resetAndDestroy();
      }
    });
  }, 'resetting target');
  const echo = await t.tcpEchoServer('echo target');
  const [tAdmin, lAdmin] = [await h.freePort(), await h.freePort()];
  const ports = { down: await h.freePort(), refuses: await h.freePort(), resets: await h.freePort(), echo: await h.freePort() };
  const tD = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${tAdmin}`, '-T',
                                  `${hc}:down/127.0.0.1:${downPort};refuses/127.0.0.1:${refuses.port};resets/127.0.0.1:${resetting.port};echo/127.0.0.1:${echo.port}`],
                                 { name: 'hcbridge -T' });
  const lD = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${lAdmin}`, '-L',
                                  `${ports.down}/down;${ports.refuses}/refuses;${ports.resets}/resets;${ports.echo}/echo:${hc}`],
                                 { name: 'hcbridge -L' });
  await f.echoOnce(ports.echo, { what: 'warm-up echo' });
  const openTunnels = async () => (await f.metrics(tAdmin)).sum('hcbridge_tunnels_open') + (await f.metrics(lAdmin)).sum('hcbridge_tunnels_open');
  await until('warm-up closed', 5000, async () => (await openTunnels()) === 0);
  const base = { T: await f.steadyFds(tD.pid), L: await f.steadyFds(lD.pid) };

  // One client: writes its payload (ending it unless told not to), records what it sees and when.
  const client = async (kind) => {
    const payload = crypto.randomBytes(PAYLOAD);
    // A 'down' client is reset by -L as soon as its tunnel is refused, which on a fast path can come before Node has
    // reported 'connect' (the connect then fails with ECONNRESET): what counts for it is how soon it is closed and
    // that it gets no bytes, so it does not wait for 'connect'. The others must connect.
    const sock = kind === 'down' ? net.connect({ host: '127.0.0.1', port: ports[kind], allowHalfOpen: true })
                                 : await h.tcpConnect(ports[kind], `${kind} client`);
    const c = { kind, payload, received: 0, error: null, ended: null, closed: h.deferred(), started: Date.now() };
    sock.on('data', (b) => { c.received += b.length; });
    sock.on('end', () => { c.ended = Date.now(); });
    sock.on('error', (e) => { c.error = e.code || e.message; });
    sock.on('close', () => c.closed.resolve(Date.now()));
    c.writing = h.writeAll(sock, payload, { end: true, maxPiece: 16 * 1024 }).catch((e) => { c.writeError = e.message; });
    return c;
  };

  const clients = [];
  for (let i = 0; i < PER_KIND; i++) for (const kind of ['down', 'refuses', 'resets']) clients.push(await client(kind));
  await h.withDeadline(Promise.all(clients.map((c) => c.closed.promise)), 20000, 'every faulty client closed');
  const figures = { down: [], refuses: [], resets: [] };

  for (const c of clients.filter((x) => x.kind === 'down')) {
    const ms = (await c.closed.promise) - c.started;
    assert.ok(ms <= PROMPT_MS, `down: closed after ${ms} ms`);
    assert.equal(c.received, 0, 'down: no bytes');
    figures.down.push(ms);
  }
  for (const c of clients.filter((x) => x.kind === 'refuses')) {
    assert.ok(c.ended, `refuses: the client must see the end of the stream (error ${c.error})`);
    assert.ok(c.ended - c.started <= PROMPT_MS, `refuses: end after ${c.ended - c.started} ms`);
    assert.equal(c.received, 0, 'refuses: no bytes');
    assert.equal(c.writeError, undefined, 'refuses: the client could finish writing');
    figures.refuses.push(c.ended - c.started);
  }
  await h.withDeadline(Promise.all(refusals.map((r) => r.done.promise)), 10000, 'refusing targets got every payload');
  const got = await Promise.all(refusals.map((r) => r.done.promise));
  const sent = new Set(clients.filter((c) => c.kind === 'refuses').map((c) => `${c.payload.length}:${h.sha256(c.payload)}`));
  assert.equal(got.length, PER_KIND, 'one refusing-target connection per client');
  for (const g of got) assert.ok(sent.has(`${g.length}:${g.sha256}`), `refuses: the target got a payload no client sent (${g.length} bytes)`);
  const resetClients = clients.filter((x) => x.kind === 'resets');
  assert.equal(resets.length, PER_KIND, 'one resetting-target connection per client');
  for (const r of resets) {
    assert.ok(r.data, 'resets: the target read enough to reset');
    const owner = resetClients.find((c) => h.sha256(c.payload.subarray(0, r.data.length)) === h.sha256(r.data));
    assert.ok(owner, `resets: the ${r.data.length} bytes the target read are not the start of any client's payload`);
    const ms = (await owner.closed.promise) - r.at;
    assert.ok(ms <= PROMPT_MS, `resets: the client closed ${ms} ms after the target's reset`);
    assert.ok(owner.error || owner.ended, 'resets: the client saw a reset or an end');
    figures.resets.push(`${ms}${owner.error ? ` ${owner.error}` : ' end'}`);
  }

  const tm = await f.metrics(tAdmin);
  const lm = await f.metrics(lAdmin);
  assert.equal(tm.sum('hcbridge_tunnels_failed_total', { reason: 'target_unreachable' }), PER_KIND, '-T target_unreachable');
  assert.equal(lm.sum('hcbridge_tunnels_failed_total', { reason: 'preamble_refused' }), PER_KIND, '-L preamble_refused');
  await until('no tunnels open', 5000, async () => (await openTunnels()) === 0);
  await f.fdsBackTo(tD.pid, base.T, '-T fds back to baseline');
  await f.fdsBackTo(lD.pid, base.L, '-L fds back to baseline');
  for (const port of [tAdmin, lAdmin]) {
    assert.equal((await h.httpGet(port, '/healthz')).status, 200, 'healthz');
    assert.equal(await f.readyz(port), 200, 'readyz');
  }
  await f.echoOnce(ports.echo, { size: 256 * 1024, what: 'echo afterwards' });
  const fmt = (a) => a.join(', ');
  ok(`down: clients closed after [${fmt(figures.down)}] ms; refuses: EOF after [${fmt(figures.refuses)}] ms, payloads arrived ` +
     `byte-exact; resets: client closed [${fmt(figures.resets)}] ms after the target's RST, prefixes byte-exact`);
  ok(`daemons healthy: healthz/readyz 200, 0 tunnels open, fds at baseline (-T ${base.T}, -L ${base.L}), echo works`);
}, { timeoutMs: f.soak(50000, 300000) });
