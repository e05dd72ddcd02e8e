'use strict';
// Fault case: the daemon is stopped under load, and killed under supervision.
// A. SIGTERM during heavy traffic. hcbridge -L (--grace-period GRACE) -> hcrelay -> hcbridge -T -> a target that
//    hashes what it reads and answers with the SHA-256 at EOF. FINISHED clients have written their random 2..6 MiB
//    and half-closed before the signal; STREAMING clients keep writing for another second after it, then half-close.
//    Asserted: the -L daemon stops accepting at once (a new connection is refused), every client gets back the
//    SHA-256 of exactly what it wrote (nothing lost, nothing truncated), the daemon exits 0 once the last tunnel is
//    done and within the grace period, logging no abort.
// B. SIGKILL + restart under a systemd-like supervisor (restart on unexpected exit after RESTART_MS, like
//    Restart=on-failure / RestartSec=): the -T daemon is SIGKILLed KILLS times with a tunnel streaming through it.
//    Asserted each time: the streaming client sees its connection end (reset or close) within 10 s, the supervisor
//    restarts the daemon, its control channel is back, the relay is down to one listener again (the dead one was
//    dropped), /readyz answers 200 and a new tunnel echoes byte-exact.
const crypto = require('node:crypto');
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const GRACE = 5;
const FINISHED = 8;
const STREAMING = 4;
const KILLS = 3;
const RESTART_MS = 300;
const MiB = 1024 * 1024;

// Restarts an hcbridge whenever it exits without being asked to (a tiny systemd).
class Supervisor {
  constructor(t, args, name) {
    this.t = t;
    this.args = args;
    this.name = name;
    this.starts = 0;
    this.exits = [];
    this.stopped = false;
    this.started = h.deferred();
  }

  start() {
    this.starts += 1;
    const owner = { fail: (err) => this.onExit(err) }; // the harness reports an unexpected exit here
    this.daemon = new h.Daemon(owner, this.args, { name: `${this.name} #${this.starts}` });
    this.t.daemons.push(this.daemon); // its stderr is printed if the test fails; stopped at the end
    this.daemon.start();
    const current = this.started;
    current.resolve(this.daemon);
    return this.daemon;
  }

  onExit(err) {
    const d = this.daemon;
    this.t.daemons.splice(this.t.daemons.indexOf(d), 1);
    this.exits.push({ at: Date.now(), why: err.message });
    if (this.stopped) return;
    this.started = h.deferred();
    setTimeout(() => this.start(), RESTART_MS); // RestartSec
  }

  // Resolves with the next daemon started after the current one exits.
  next() {
    return this.started.promise;
  }
}

h.run('faults.sigterm_supervised: SIGTERM under load, SIGKILL + restart under supervision', async (t) => {
  const relay = await f.faultyRelay(t, { logLevel: 'info' });
  const hc = h.uniqueName('term');
  const target = await f.hashServer(t);
  const echo = await t.tcpEchoServer('echo target');
  const tAdmin = await h.freePort();
  const sup = new Supervisor(t, [...relay.daemonArgs(), '--admin', `127.0.0.1:${tAdmin}`,
                                 '-T', `${hc}:hash/127.0.0.1:${target.port};echo/127.0.0.1:${echo.port}`], 'hcbridge -T (supervised)');
  let tD = sup.start();
  await tD.waitForLog(/control channel connected/, 10000);
  const [lHash, lEcho] = [await h.freePort(), await h.freePort()];
  const lD = await t.startDaemon([...relay.daemonArgs(), '--grace-period', String(GRACE), '-L', `${lHash}/hash;${lEcho}/echo:${hc}`],
                                 { name: 'hcbridge -L (A)' });

  // ---- A. SIGTERM under load. ----
  const clients = [];
  const start = async (kind) => {
    const sock = await h.tcpConnect(lHash, `${kind} client`);
    const c = { kind, sock, hash: crypto.createHash('sha256'), written: 0, reply: h.deferred() };
    const got = [];
    sock.on('data', (b) => got.push(b));
    sock.on('end', () => c.reply.resolve(Buffer.concat(got)));
    sock.on('error', (e) => c.reply.reject(new Error(`${kind} client: ${e.message} after writing ${c.written} bytes`)));
    c.write = async (buf) => {
      c.hash.update(buf);
      c.written += buf.length;
      if (!sock.write(buf)) await h.waitFor(sock, 'drain', 20000, `${kind} drain`, ['error', 'close']);
    };
    clients.push(c);
    return c;
  };
  const finished = [];
  for (let i = 0; i < FINISHED; i++) finished.push(await start('finished'));
  const streaming = [];
  for (let i = 0; i < STREAMING; i++) streaming.push(await start('streaming'));
  let signalled = false;
  const streams = streaming.map(async (c) => {
    let stopAt = Infinity;
    while (Date.now() < stopAt) {
      await c.write(crypto.randomBytes(64 * 1024));
      if (signalled && stopAt === Infinity) stopAt = Date.now() + 1000;
    }
    c.sock.end();
  });
  await Promise.all(finished.map(async (c) => {
    const ks = h.keystream();
    const total = crypto.randomInt(2 * MiB, 6 * MiB);
    for (let n = 0; n < total; n += 256 * 1024) await c.write(ks.next(Math.min(256 * 1024, total - n)));
    c.sock.end();
  }));
  // Every finished client has written everything and half-closed: now the signal, with bytes still in flight.
  const inFlight = finished.filter((c) => !c.reply.settled).length;
  const signalledAt = Date.now();
  lD.stopping = true;
  process.kill(lD.pid, 'SIGTERM');
  signalled = true;
  await lD.waitForLog(/shutting down/, 3000);
  const refused = await h.tcpConnect(lHash, 'connect after SIGTERM').then((s) => { s.destroy(); return false; }, () => true);
  assert.ok(refused, 'a new connection after SIGTERM must be refused');
  await h.withDeadline(Promise.all(streams), 20000, 'streaming clients finished writing');
  for (const c of clients) {
    const reply = await h.withDeadline(c.reply.promise, GRACE * 1000 + 5000, `${c.kind} client's reply`);
    assert.equal(reply.toString('hex'), c.hash.digest('hex'), `${c.kind} client: SHA-256 of ${c.written} bytes`);
  }
  const lastReplyAt = Date.now();
  const { code, signal } = await h.withDeadline(lD.exit.promise, GRACE * 1000 + 5000, '-L exit after SIGTERM');
  assert.ok(code === 0 && signal === null, `-L must exit 0 after SIGTERM (code ${code}, signal ${signal})`);
  const exitMs = lD.exitedAt - signalledAt;
  assert.ok(exitMs <= GRACE * 1000 + 1000, `-L took ${exitMs} ms to exit (grace ${GRACE} s)`);
  assert.equal(lD.matches(/grace period over|aborting/).length, 0, 'no tunnel aborted');
  lD.assertNoCrash();
  const mib = (clients.reduce((a, c) => a + c.written, 0) / MiB).toFixed(1);
  ok(`SIGTERM with ${inFlight}/${FINISHED} finished clients still waiting for their reply and ${STREAMING} still writing: ` +
     `new connection refused, all ${clients.length} replies byte-exact (${mib} MiB), last reply ${lastReplyAt - signalledAt} ms ` +
     `after the signal, exit 0 after ${exitMs} ms (grace ${GRACE} s)`);

  // ---- B. SIGKILL under supervision. ----
  const lEcho2 = await h.freePort();
  await t.startDaemon([...relay.daemonArgs(), '-L', `${lEcho2}/echo;${lHash}/hash:${hc}`], { name: 'hcbridge -L (B)' });
  const figures = [];
  for (let k = 1; k <= KILLS; k++) {
    const sock = await h.tcpConnect(lHash, `kill ${k}: streaming client`);
    const gone = f.peerGone(sock);
    let writing = true;
    const writer = (async () => {
      while (writing && !sock.destroyed) {
        if (!sock.write(crypto.randomBytes(32 * 1024))) {
          await h.waitFor(sock, 'drain', 10000, 'drain', ['error', 'close']).catch(() => { writing = false; });
        }
        await new Promise((r) => setImmediate(r));
      }
    })();
    await until(`kill ${k}: bytes reach the target`, 5000, () => target.received.length >= k + FINISHED + STREAMING &&
      target.received[target.received.length - 1].length > 0);
    const killedAt = Date.now();
    const nextDaemon = (async () => { await until('supervisor noticed', 5000, () => sup.exits.length === k); return sup.next(); })();
    process.kill(tD.pid, 'SIGKILL');
    const end = await h.withDeadline(gone, 10000, `kill ${k}: the streaming client's connection ends`);
    writing = false;
    await writer;
    sock.destroy();
    tD = await nextDaemon;
    await tD.waitForLog(/control channel connected/, 10000);
    const backMs = Date.now() - killedAt;
    await relay.waitState((s) => s.listeners === 1, 5000, `kill ${k}: relay back to one listener`);
    await until(`kill ${k}: /readyz 200`, 5000, async () => (await f.readyz(tAdmin).catch(() => 0)) === 200);
    await f.echoOnce(lEcho2, { size: 128 * 1024, what: `kill ${k}: echo through the restarted daemon` });
    figures.push(`client ${end.how} ${end.ms} ms, back ${backMs} ms`);
  }
  assert.equal(sup.starts, KILLS + 1, 'one restart per kill');
  ok(`SIGKILL x${KILLS} under supervision (RestartSec ${RESTART_MS} ms): ${figures.join('; ')}; relay back to 1 listener, ` +
     `/readyz 200 and echo byte-exact after each`);
  sup.stopped = true;
}, { timeoutMs: 90000 });
