'use strict';
// Proof: two real hcbridge daemons (-L sender, -T listener) and hcrelay, all over TLS, carry
//  - 64 MiB each way at the same time over ONE connection, byte-exact (length + SHA-256 on both ends), with the
//    client's half-close reaching the target as EOF while the target's data keeps flowing;
//  - 200 concurrent connections, each with its own random payload of 32..128 KiB echoed by the target, every one
//    byte-exact;
// and both daemons then exit 0 on SIGTERM, after logging one clean close per tunnel.
const crypto = require('node:crypto');
const h = require('./lib/harness');
const { assert, ok } = h;

const MiB = 1024 * 1024;
const BULK = 64 * MiB;
const CONNS = 200;

// Pushes `total` bytes of keystream `ks` into sock (honouring backpressure), hashing as it goes; ends the socket
// when `end`. Resolves with the SHA-256 of what was written.
async function pushStream(sock, ks, total, { end = true, what = 'push' } = {}) {
  const hash = crypto.createHash('sha256');
  let left = total;
  while (left > 0) {
    const n = Math.min(left, crypto.randomInt(16 * 1024, 512 * 1024));
    const chunk = ks.next(n);
    hash.update(chunk);
    left -= n;
    if (!sock.write(chunk)) await h.waitFor(sock, 'drain', 30000, `${what}: drain after ${total - left} bytes`, ['error', 'close']);
  }
  if (end) sock.end();
  return hash.digest('hex');
}

h.run('daemon_tls_bulk: 64 MiB each way on one connection and 200 concurrent connections through two daemons', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hc = h.uniqueName('bulk');

  // Two targets, picked by port name: 'bulk' sends 64 MiB of its own and hashes what it gets; 'echo' echoes.
  const bulkSeen = h.deferred();
  const bulkTarget = await t.tcpServer((sock) => {
    const rx = h.readToEnd(sock, { ms: 50000, what: 'target reading the bulk upload' });
    const sent = pushStream(sock, h.keystream(), BULK, { end: false, what: 'target push' });
    Promise.all([rx, sent]).then(([got, sha]) => {
      sock.end();
      bulkSeen.resolve({ got, sentSha: sha });
    }, (e) => bulkSeen.reject(e));
  }, 'bulk target');
  const echoTarget = await t.tcpEchoServer('echo target');

  const [lBulk, lEcho] = [await h.freePort(), await h.freePort()];
  const tDaemon = await t.startDaemon([...relay.daemonArgs(),
    '-T', `${hc}:bulk/127.0.0.1:${bulkTarget.port};echo/127.0.0.1:${echoTarget.port}`], { name: 'hcbridge -T' });
  const lDaemon = await t.startDaemon([...relay.daemonArgs(), '-L', `${lBulk}/bulk;${lEcho}/echo:${hc}`], { name: 'hcbridge -L' });

  // ---- 64 MiB each way over one connection. -------------------------------------------------------------------
  {
    const started = Date.now();
    const sock = await h.tcpConnect(lBulk);
    const rx = h.readToEnd(sock, { ms: 50000, what: 'client reading the bulk download' });
    const upSha = await pushStream(sock, h.keystream(), BULK, { end: true, what: 'client push' });
    const [down, target_] = await Promise.all([rx, h.withDeadline(bulkSeen.promise, 50000, 'target bulk')]);
    const secs = (Date.now() - started) / 1000;
    assert.equal(target_.got.length, BULK, 'target received byte count');
    assert.equal(target_.got.sha256, upSha, 'client -> target SHA-256');
    assert.equal(down.length, BULK, 'client received byte count');
    assert.equal(down.sha256, target_.sentSha, 'target -> client SHA-256');
    ok(`64 MiB each way over one connection, byte-exact, in ${secs.toFixed(2)} s ` +
       `(${((2 * BULK) / MiB / secs).toFixed(0)} MiB/s both directions together)`);
    const m = await tDaemon.waitForLog(/tunnel t1 closed: .*reason="([^"]*)".* bytes_to_relay=(\d+) bytes_from_relay=(\d+)/, 5000);
    assert.deepEqual([m[1], Number(m[2]), Number(m[3])], ['closed', BULK, BULK], '-T tunnel summary');
    const l = await lDaemon.waitForLog(/tunnel t1 closed: .*reason="([^"]*)".* bytes_to_relay=(\d+) bytes_from_relay=(\d+)/, 5000);
    assert.deepEqual([l[1], Number(l[2]), Number(l[3])], ['closed', BULK, BULK], '-L tunnel summary');
    ok(`daemons logged the byte counts: -T "${m[0]}"`);
  }

  // ---- 200 concurrent connections, each its own payload, echoed. ----------------------------------------------
  {
    const started = Date.now();
    const payloads = Array.from({ length: CONNS }, () => crypto.randomBytes(crypto.randomInt(32 * 1024, 128 * 1024 + 1)));
    const results = await Promise.all(payloads.map(async (p, i) => {
      const sock = await h.tcpConnect(lEcho, `client ${i}`);
      const rx = h.readToEnd(sock, { ms: 40000, what: `client ${i}` });
      await h.writeAll(sock, p, { end: true, maxPiece: 16 * 1024 });
      const got = await rx;
      return { i, ok: got.length === p.length && got.sha256 === h.sha256(p), got: got.length, want: p.length };
    }));
    const bad = results.filter((r) => !r.ok);
    assert.equal(bad.length, 0, `connections with wrong echoes: ${JSON.stringify(bad.slice(0, 5))}`);
    const total = payloads.reduce((a, p) => a + p.length, 0);
    ok(`${CONNS} concurrent connections (${(total / MiB).toFixed(1)} MiB in all, 32..128 KiB each) echoed byte-exact ` +
       `in ${h.elapsed(started)}`);
  }

  // Every tunnel closed cleanly on both sides: 1 bulk + CONNS echo tunnels.
  for (const d of [tDaemon, lDaemon]) {
    const want = CONNS + 1;
    const deadline = Date.now() + 10000;
    while (d.matches(/tunnel t\d+ closed:/).length < want && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const closed = d.matches(/tunnel t\d+ closed: .*reason="([^"]*)"/);
    assert.equal(d.matches(/tunnel t\d+ open:/).length, want, `${d.name}: tunnels opened`);
    assert.equal(closed.length, want, `${d.name}: tunnels closed`);
    const unclean = closed.filter((m) => m[1] !== 'closed');
    assert.equal(unclean.length, 0, `${d.name}: unclean closes: ${unclean.slice(0, 3).map((m) => m[0]).join(' | ')}`);
    // The open-file-limit warning depends on the machine's hard limit, not on the tunnels under test.
    const bad = d.matches(/^\S+ (warning|warn|error|critical) /).filter((m) => !/the open-file limit is/.test(m.input));
    assert.equal(bad.length, 0, `${d.name}: no warnings or errors: ${bad.slice(0, 3).map((m) => m.input).join(' | ')}`);
    ok(`${d.name}: ${want} tunnels opened, ${want} closed with reason "closed", no warnings`);
  }

  await lDaemon.stop();
  await tDaemon.stop();
}, { timeoutMs: 90000 });
