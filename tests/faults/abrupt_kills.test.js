'use strict';
// Fault case: TOTAL tunnels opened and killed abruptly at random points, CONCURRENCY at a time, through
// hcbridge -L -> FaultProxy -> hcrelay -> hcbridge -T. Each client is one of (at random):
//   clean       echoes its random payload (1 B..64 KiB) and ends;
//   client RST  writes part of its payload, then resets, after 0..30 ms (often before the tunnel is even up);
//   server RST  talks to a target that resets after reading a random 0..16 KiB;
//   relay drop  like clean, but 0..50 ms after connecting a random live relay connection of the -L daemon is cut
//               with a TCP reset (the proxy's `cut`: the relay dropping it, from the daemon's point of view).
// Asserted:
//  - every client finishes (no hang) within its deadline; every echo client received exactly a prefix of its own
//    payload (SHA-256), and the whole payload unless its own relay connection was cut: each echo client (clean or
//    relay drop) that missed part of its echo must have its tunnel aborted or never set up by -L (its log says so),
//    and there are at most as many of them as connections the proxy cut (a -L relay connection carries one tunnel);
//  - afterwards, with nothing in flight: /metrics of both daemons shows 0 open tunnels and opened == closed (all
//    reasons), the relay reports 0 tunnels and 0 pending senders (GET /faults), and the open fds of both daemons and
//    of hcrelay (/proc/PID/fd) are back at their warm-up baselines: no leaked socket, tunnel or timer holding one;
//  - both daemons are healthy (/healthz, /readyz 200) and a new tunnel echoes byte-exact.
const crypto = require('node:crypto');
const net = require('node:net');
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const TOTAL = f.soak(2000, 20000);
const CONCURRENCY = 40;
const CLIENT_MS = 20000;

h.run(`faults.abrupt_kills: ${TOTAL} tunnels killed at random points (client RST, server RST, relay drop)`, async (t) => {
  const relay = await f.faultyRelay(t, { logLevel: process.env.HCB_KILLS_LOG || 'warn' });
  const proxy = await new f.FaultProxy(t, relay.port, 'relay proxy of -L').start();
  const hc = h.uniqueName('kills');
  const echo = await t.tcpEchoServer('echo target');
  const resetter = await t.tcpServer((sock) => {
    const after = crypto.randomInt(0, 16 * 1024 + 1);
    let n = 0;
    if (after === 0) return sock.resetAndDestroy();
    sock.on('data', (b) => {
      n += b.length;
      if (n >= after && !sock.destroyed) sock.resetAndDestroy();
    });
  }, 'resetting target');
  const [tAdmin, lAdmin, echoPort, rstPort] = [await h.freePort(), await h.freePort(), await h.freePort(), await h.freePort()];
  const tD = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${tAdmin}`, '--log-level', process.env.HCB_KILLS_LOG || 'warn', '-T',
                                  `${hc}:echo/127.0.0.1:${echo.port};rst/127.0.0.1:${resetter.port}`],
                                 { name: 'hcbridge -T', ready: [] });
  await until('-T ready', 10000, async () => (await f.readyz(tAdmin).catch(() => 0)) === 200);
  const lD = await t.startDaemon(['-e', `wss://127.0.0.1:${proxy.port}/`, ...relay.daemonArgs().slice(2), '--admin', `127.0.0.1:${lAdmin}`,
                                  // info: the per-tunnel close lines are what proves an abort reset the client (below).
                                  '--log-level', process.env.HCB_KILLS_LOG || 'info', '-L', `${echoPort}/echo;${rstPort}/rst:${hc}`],
                                 { name: 'hcbridge -L', ready: [] });
  await until('-L ready', 10000, async () => (await f.readyz(lAdmin).catch(() => 0)) === 200);
  for (let i = 0; i < 3; i++) await f.echoOnce(echoPort, { what: `warm-up echo ${i}` });
  const quiet = async () => {
    const [tm, lm, rs] = [await f.metrics(tAdmin), await f.metrics(lAdmin), await relay.faultState()];
    return tm.sum('hcbridge_tunnels_open') === 0 && lm.sum('hcbridge_tunnels_open') === 0 && rs.tunnels === 0 && rs.pending_senders === 0;
  };
  await until('warm-up tunnels closed everywhere', 5000, quiet);
  const base = { T: await f.steadyFds(tD.pid), L: await f.steadyFds(lD.pid), relay: await f.steadyFds(relay.proc.pid) };

  const counts = { truncatedEnds: [], partial: [], clean: 0, cleanWhole: 0, clientRst: 0, serverRst: 0, relayDrop: 0, cutsDone: 0, prefixes: 0 };
  const client = async (i) => {
    const kind = ['clean', 'clientRst', 'serverRst', 'relayDrop'][crypto.randomInt(0, 4)];
    counts[kind] += 1;
    const payload = crypto.randomBytes(kind === 'serverRst' ? crypto.randomInt(17 * 1024, 64 * 1024) : crypto.randomInt(1, 64 * 1024 + 1));
    const logFrom = lD.lineCount(); // this client's tunnel is logged after this point (ports get reused)
    const sock = net.connect({ host: '127.0.0.1', port: kind === 'serverRst' ? rstPort : echoPort, allowHalfOpen: true });
    const chunks = [];
    let received = 0;
    let error = null;
    let ended = false;
    const closed = h.deferred();
    sock.on('data', (b) => { chunks.push(b); received += b.length; });
    sock.on('end', () => { ended = true; if (!sock.destroyed) sock.end(); });
    sock.on('error', (e) => { error = e.code || e.message; });
    sock.on('close', () => closed.resolve());
    let localPort = 0;
    sock.on('connect', () => {
      localPort = sock.localPort;
      if (kind === 'clientRst') {
        sock.write(payload.subarray(0, crypto.randomInt(0, payload.length + 1)));
        setTimeout(() => { if (!sock.destroyed) sock.resetAndDestroy(); }, crypto.randomInt(0, 31));
        return;
      }
      sock.write(payload);
      if (kind !== 'serverRst') sock.end();
      if (kind === 'relayDrop') {
        setTimeout(() => {
          const live = proxy.live();
          if (live.length) {
            proxy.cut(live[crypto.randomInt(0, live.length)]);
            counts.cutsDone += 1;
          }
        }, crypto.randomInt(0, 51));
      }
    });
    await h.withDeadline(closed.promise, CLIENT_MS, `client ${i} (${kind}) finished`);
    if (kind === 'serverRst' || kind === 'clientRst') return;
    // Echo clients: what came back is exactly the start of what was sent, and all of it when nothing cut it.
    const got = Buffer.concat(chunks);
    assert.ok(got.length <= payload.length, `client ${i}: ${got.length} bytes back for ${payload.length} sent`);
    assert.equal(h.sha256(got), h.sha256(payload.subarray(0, got.length)), `client ${i} (${kind}): echoed bytes differ`);
    counts.prefixes += 1;
    if (got.length !== payload.length || error || !ended) {
      counts.partial.push({ what: `client ${i} (${kind}, port ${localPort}): ${error || (ended ? 'EOF' : 'closed')} after ` +
                                  `${got.length}/${payload.length}`, port: localPort, logFrom });
    }
    if (!error && ended) {
      // A clean end must mean the whole echo: a tunnel that was aborted, or never set up, resets the client. Node
      // (libuv) turns a reset that arrives while received bytes are still unread into a plain end of stream (a
      // Python client sees ECONNRESET on the same server), so a truncated end is checked against the daemon's own
      // account below: the -L daemon must have aborted that client's tunnel, never closed it cleanly.
      if (got.length !== payload.length) {
        counts.truncatedEnds.push({ what: `client ${i} (${kind}, port ${localPort}): EOF after ${got.length}/${payload.length}`,
                                    port: localPort, logFrom });
      } else if (kind === 'clean') {
        counts.cleanWhole += 1;
      }
    }
  };

  const started = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < TOTAL) await client(next++);
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const tookS = (Date.now() - started) / 1000;
  // Every truncated end must belong to a tunnel the -L daemon aborted (it resets the client) or could not set up.
  const notAborted = ({ port, logFrom }) => {
    const lLog = lD.linesSince(logFrom).join('\n');
    // The first line about that port after the client connected is its own: a tunnel opened or one that could not
    // be (ports are reused, so a later client's tunnel from the same port may follow).
    const open = new RegExp(`tunnel (t\\d+) open: .* peer=127\\.0\\.0\\.1:${port} `).exec(lLog);
    const failed = new RegExp(`client 127\\.0\\.0\\.1:${port}: cannot open a tunnel`).exec(lLog);
    if (failed && (!open || failed.index < open.index)) return false;
    if (!open) return true;
    const closed = new RegExp(`tunnel ${open[1]} closed: [^\\n]* reason="([^"]*)"`).exec(lLog);
    return !closed || closed[1] === 'closed';
  };
  const cleanlyClosed = counts.truncatedEnds.filter(notAborted);
  assert.equal(cleanlyClosed.length, 0, `truncated echoes whose tunnel -L did not abort: ${cleanlyClosed.map((c) => c.what).join('; ')}`);
  // A correct forwarder loses an echo client's bytes only when that client's relay connection was cut.
  const unexplained = counts.partial.filter(notAborted);
  assert.equal(unexplained.length, 0, `echo clients without their whole echo whose tunnel -L did not abort: ${unexplained.map((c) => c.what).join('; ')}`);
  assert.ok(counts.partial.length <= counts.cutsDone,
            `${counts.partial.length} echo clients missed part of their echo but only ${counts.cutsDone} relay connections were cut: ` +
            counts.partial.slice(0, 10).map((c) => c.what).join('; '));

  await until('nothing open in the daemons or the relay', 15000, quiet);
  await f.fdsBackTo(tD.pid, base.T, '-T fds back to baseline', 10000);
  await f.fdsBackTo(lD.pid, base.L, '-L fds back to baseline', 10000);
  await f.fdsBackTo(relay.proc.pid, base.relay, 'hcrelay fds back to baseline', 10000);
  const tm = await f.metrics(tAdmin);
  const lm = await f.metrics(lAdmin);
  for (const [name, m] of [['-T', tm], ['-L', lm]]) {
    assert.equal(m.sum('hcbridge_tunnels_opened_total'), m.sum('hcbridge_tunnels_closed_total'), `${name}: opened == closed`);
  }
  for (const port of [tAdmin, lAdmin]) {
    assert.equal((await h.httpGet(port, '/healthz')).status, 200, 'healthz');
    assert.equal(await f.readyz(port), 200, 'readyz');
  }
  await f.echoOnce(echoPort, { size: 256 * 1024, what: 'echo afterwards' });
  const reasons = (m) => [...m.samples].filter(([k, v]) => k.startsWith('hcbridge_tunnels_closed_total') && v > 0)
    .map(([k, v]) => `${/reason="([^"]+)"/.exec(k)[1]} ${v}`).join(', ');
  ok(`${TOTAL} clients in ${tookS.toFixed(1)} s: ${counts.clean} clean (${counts.cleanWhole} whole echoes), ${counts.clientRst} client RST, ` +
     `${counts.serverRst} server RST, ${counts.relayDrop} relay drops (${counts.cutsDone} connections cut); ` +
     `${counts.prefixes} echoes checked byte-exact (SHA-256 of the prefix), ${counts.partial.length} of them partial ` +
     `(each a tunnel -L aborted; at most one per cut); truncated echoes ending in a clean EOF: ` +
     `${counts.truncatedEnds.length} (each one a tunnel -L aborted with a reset, read by Node as an end)`);
  ok(`afterwards: 0 tunnels open (-T closed: ${reasons(tm)}; -L closed: ${reasons(lm)}; failed -L ${lm.sum('hcbridge_tunnels_failed_total')}, ` +
     `-T ${tm.sum('hcbridge_tunnels_failed_total')}), relay 0 tunnels / 0 pending; fds -T ${base.T}, -L ${base.L}, hcrelay ${base.relay} (baselines)`);
}, { timeoutMs: f.soak(110000, 1500000) });
