'use strict';
// Proof: SIGTERM drains, then exits 0.
//  A. Drain (--grace-period 5): a client has sent its whole 1 MiB request and half-closed; the target answers with
//     8 MiB at ~REPLY_RATE. When the client has part of the reply, BOTH daemons (-L and -T) get SIGTERM. The -L
//     daemon stops accepting at once (a new connection is refused), the open tunnel keeps flowing, the client gets
//     the complete reply byte-exact and a clean end, and both daemons exit 0 as soon as the tunnel is done — well
//     within the grace period, without "grace period over".
//  B/C. Grace period: a tunnel that never ends (client and target both silent, nobody closes), SIGTERM to both
//     daemons at once. The daemon with --grace-period 1 (B: the -L one, C: the -T one) exits 0 once its grace period
//     has elapsed (measured: 1 s .. 1 s + SLACK_MS) and logs "grace period over: aborting 1 tunnel(s)"; the abort
//     reaches the other daemon (--grace-period 3) through the relay, which then exits 0 at once, its tunnel gone;
//     the aborted tunnel's client and target see a TCP reset.
// A, B and C run at the same time, on separate daemon pairs and hybrid connections.
const crypto = require('node:crypto');
const net = require('node:net');
const h = require('./lib/harness');
const { assert, ok } = h;

const MiB = 1024 * 1024;
const REQUEST = MiB;
const REPLY = 8 * MiB;
const REPLY_RATE = 4 * MiB; // bytes/s: the reply takes ~2 s, so SIGTERM lands mid-transfer
const SLACK_MS = 1500; // how much later than the grace period a daemon may exit (scheduling on a busy machine)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function connectRefused(port) {
  const sock = net.connect({ host: '127.0.0.1', port });
  return new Promise((resolve) => {
    sock.on('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.on('error', (e) => resolve(e.code));
  });
}

h.run('daemon_shutdown: SIGTERM drains open tunnels, and aborts them after --grace-period', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hcA = h.uniqueName('drain');
  const hcB = h.uniqueName('grace-l');
  const hcC = h.uniqueName('grace-t');

  // ---- Targets. ----
  const replyData = crypto.randomBytes(REPLY);
  const targetA = { request: h.deferred() };
  const slow = await t.tcpServer((sock) => {
    h.readToEnd(sock, { ms: 20000, what: 'target A reading the request' }).then(async (req) => {
      targetA.request.resolve(req);
      // The reply, paced at REPLY_RATE in 64 KiB pieces.
      const piece = 64 * 1024;
      const started = Date.now();
      for (let off = 0; off < REPLY; off += piece) {
        const due = started + (off / REPLY_RATE) * 1000;
        if (due > Date.now()) await sleep(due - Date.now());
        if (!sock.write(replyData.subarray(off, off + piece))) await h.waitFor(sock, 'drain', 10000, 'target A drain', ['error', 'close']);
      }
      sock.end();
    }, (e) => targetA.request.reject(e));
  }, 'slow reply target');
  const lA = await h.freePort();
  const grace = (sec) => ['--grace-period', String(sec), '--log-level', 'debug'];
  const tA = await t.startDaemon([...relay.daemonArgs(), ...grace(5), '-T', `${hcA}:127.0.0.1:${slow.port}`], { name: 'A: hcbridge -T' });
  const lDA = await t.startDaemon([...relay.daemonArgs(), ...grace(5), '-L', `${lA}:${hcA}`], { name: 'A: hcbridge -L' });

  // ---- A: drain. ----
  const scenarioA = (async () => {
    const request = crypto.randomBytes(REQUEST);
    const sock = await h.tcpConnect(lA, 'A: client');
    let got = 0;
    sock.on('data', (b) => { got += b.length; });
    const reply = h.readToEnd(sock, { ms: 20000, keep: true, what: 'A: client reading the reply' });
    await h.writeAll(sock, request, { end: true });
    const req = await h.withDeadline(targetA.request.promise, 10000, 'A: target got the request');
    assert.equal(req.sha256, h.sha256(request), 'A: request SHA-256 at the target');
    // Wait until the reply is flowing but far from done.
    const deadline = Date.now() + 10000;
    while (got < MiB && Date.now() < deadline) await sleep(10);
    assert.ok(got >= MiB && got < REPLY / 2, `A: SIGTERM must land mid-reply (client has ${got} bytes)`);
    const gotAtTerm = got;
    const terminating = [lDA.stop({ ms: 10000 }), tA.stop({ ms: 10000 })];
    await lDA.waitForLog(/signal 15: stopping/, 5000);
    const refused = await connectRefused(lA);
    assert.equal(refused, 'ECONNREFUSED', 'A: a new client during the drain must be refused');
    const [lTook, tTook] = await Promise.all(terminating);
    const r = await reply;
    assert.equal(r.length, REPLY, 'A: reply length at the client');
    assert.ok(r.data.equals(replyData), 'A: reply bytes at the client');
    for (const d of [lDA, tA]) {
      await d.waitForLog(/shutting down: waiting up to 5 s for 1 open tunnel\(s\) to finish/, 1000);
      const closed = await d.waitForLog(/tunnel t1 closed: .*reason="([^"]*)"/, 1000);
      assert.equal(closed[1], 'closed', `${d.name}: the drained tunnel closed cleanly`);
      assert.equal(d.matches(/grace period over/).length, 0, `${d.name}: no abort during the drain`);
    }
    assert.ok(lTook < 5000 && tTook < 5000, `A: both daemons exit before the grace period ends (-L ${lTook} ms, -T ${tTook} ms)`);
    ok(`A: SIGTERM at ${(gotAtTerm / MiB).toFixed(1)} MiB of the 8 MiB reply; a new client was refused (${refused}); ` +
       `the reply completed byte-exact; -L exited 0 after ${lTook} ms, -T after ${tTook} ms (grace 5 s)`);
  })();

  // ---- B and C: grace period over. ----
  // A tunnel that never ends; SIGTERM to both daemons at once. The one with --grace-period 1 aborts the tunnel when
  // its grace period is over; the abort travels through the relay and ends the tunnel in the other daemon (grace
  // 3 s), which then exits at once too, its tunnel drained. B: the -L daemon has the short grace; C: the -T daemon.
  const graceScenario = async (label, hc, graceL, graceT) => {
    const target = { conn: h.deferred(), error: h.deferred() };
    const silent = await t.tcpServer((sock) => {
      sock.once('data', () => target.conn.resolve(sock));
      sock.on('error', (e) => target.error.resolve(e.code));
      sock.on('close', () => target.error.resolve(target.error.settled ? undefined : 'closed without error'));
    }, `${label}: silent target`);
    const lport = await h.freePort();
    const tD = await t.startDaemon([...relay.daemonArgs(), ...grace(graceT), '-T', `${hc}:127.0.0.1:${silent.port}`],
                                   { name: `${label}: hcbridge -T (grace ${graceT} s)` });
    const lD = await t.startDaemon([...relay.daemonArgs(), ...grace(graceL), '-L', `${lport}:${hc}`],
                                   { name: `${label}: hcbridge -L (grace ${graceL} s)` });
    const sock = await h.tcpConnect(lport, `${label}: client`);
    const clientErr = h.deferred();
    sock.on('error', (e) => clientErr.resolve(e.code));
    sock.on('close', () => clientErr.resolve(clientErr.settled ? undefined : 'closed without error'));
    sock.write('hello, then silence');
    await h.withDeadline(target.conn.promise, 10000, `${label}: the target got the client`);
    await tD.waitForLog(/tunnel t1 open:/, 5000);
    await lD.waitForLog(/tunnel t1 open:/, 5000);
    const [lTook, tTook] = await Promise.all([lD.stop({ ms: 10000 }), tD.stop({ ms: 10000 })]);
    const [short, shortTook, other, otherTook] = graceL < graceT ? [lD, lTook, tD, tTook] : [tD, tTook, lD, lTook];
    assert.ok(shortTook >= 950 && shortTook <= 1000 + SLACK_MS,
              `${short.name}: must exit 0 once its 1 s grace period is over (took ${shortTook} ms)`);
    await short.waitForLog(/shutting down: waiting up to 1 s for 1 open tunnel\(s\) to finish/, 1000);
    await short.waitForLog(/grace period over: aborting 1 tunnel\(s\)/, 1000);
    const closed = await short.waitForLog(/tunnel t1 closed: .*reason="([^"]*)"/, 1000);
    assert.equal(closed[1], 'shutdown', `${short.name}: the aborted tunnel's reason`);
    assert.ok(otherTook <= shortTook + SLACK_MS, `${other.name}: exits as soon as its tunnel is gone (took ${otherTook} ms)`);
    assert.equal(other.matches(/grace period over/).length, 0, `${other.name}: its own grace period did not run out`);
    const otherClosed = await other.waitForLog(/tunnel t1 closed: .*reason="([^"]*)"/, 1000);
    const cErr = await h.withDeadline(clientErr.promise, 5000, `${label}: client sees the abort`);
    const tErr = await h.withDeadline(target.error.promise, 5000, `${label}: target sees the abort`);
    assert.equal(cErr, 'ECONNRESET', `${label}: the client of an aborted tunnel gets a reset`);
    assert.equal(tErr, 'ECONNRESET', `${label}: the target of an aborted tunnel gets a reset`);
    ok(`${label}: a tunnel that never ends: ${short.name} exited 0 after ${shortTook} ms ("grace period over"), ` +
       `${other.name} after ${otherTook} ms (its tunnel aborted from the far side: "${otherClosed[1]}"); ` +
       `client and target got ${cErr}`);
  };
  const scenarioB = graceScenario('B', hcB, 1, 3);
  const scenarioC = graceScenario('C', hcC, 3, 1);

  await Promise.all([scenarioA, scenarioB, scenarioC]);
}, { timeoutMs: 40000 });
