'use strict';
// Fault case: a slow consumer on either end, both at once. Through hcbridge -L -> hcrelay -> hcbridge -T:
//   upload:   a client pushes TOTAL bytes as fast as it may into a target that reads at most SINK_RATE, with full
//             stalls of STALL_MS every STALL_EVERY_MS;
//   download: a target pushes TOTAL bytes as fast as it may to a client that reads the same way.
// Asserted, for each direction: every byte arrives (count + incremental SHA-256 of a random keystream); the fast
// side is slowed, not buffered: it waited for 'drain' and its lead over the slow side (bytes buffered anywhere in the
// pipeline, kernel buffers included) stayed under MAX_LEAD; and, sampled every 50 ms, the VmRSS of both daemons and
// of hcrelay stays under RSS_BOUND. The suite pushes 512 MiB each way (1 GiB in all); scripts/soak.sh pushes
// 2 GiB each way.
const crypto = require('node:crypto');
const f = require('./lib/faults');
const { h, assert, ok } = f;

const MiB = 1024 * 1024;
const TOTAL = f.soak(512, 2048) * MiB;
const SINK_RATE = 48 * MiB;
const STALL_EVERY_MS = 2000;
const STALL_MS = 500;
const RSS_BOUND_KIB = 32 * 1024;
const MAX_LEAD = 64 * MiB;
const CHUNK = 256 * 1024;

// Reads `sock` slowly (token bucket at SINK_RATE plus periodic full stalls); resolves {length, sha256}.
function slowReader(sock, progress) {
  const hash = crypto.createHash('sha256');
  const started = Date.now();
  let nextStall = started + STALL_EVERY_MS;
  let paused = false;
  const d = h.deferred();
  sock.on('data', (b) => {
    progress.consumed += b.length;
    hash.update(b);
    const now = Date.now();
    let waitMs = (progress.consumed / SINK_RATE) * 1000 - (now - started);
    if (now >= nextStall) {
      waitMs = Math.max(waitMs, STALL_MS);
      nextStall = now + STALL_MS + STALL_EVERY_MS;
    }
    if (waitMs > 1 && !paused) {
      paused = true;
      sock.pause();
      setTimeout(() => { paused = false; sock.resume(); }, waitMs);
    }
  });
  sock.on('end', () => d.resolve({ length: progress.consumed, sha256: hash.digest('hex') }));
  sock.on('error', (e) => d.reject(new Error(`slow reader: ${e.message} after ${progress.consumed} bytes`)));
  return d.promise;
}

// Writes TOTAL keystream bytes as fast as `sock` takes them, then ends; resolves {length, sha256, drainWaits}.
async function fastWriter(sock, progress, other) {
  const ks = h.keystream();
  const hash = crypto.createHash('sha256');
  let drainWaits = 0;
  while (progress.written < TOTAL) {
    const n = Math.min(CHUNK, TOTAL - progress.written);
    const buf = ks.next(n);
    hash.update(buf);
    progress.written += n;
    progress.maxLead = Math.max(progress.maxLead, progress.written - other.consumed);
    if (!sock.write(buf)) {
      drainWaits += 1;
      await h.waitFor(sock, 'drain', 60000, 'fast writer drain', ['error', 'close']);
    }
  }
  sock.end();
  return { length: progress.written, sha256: hash.digest('hex'), drainWaits };
}

h.run(`faults.slow_consumer: ${TOTAL / MiB} MiB each way into slow readers at both ends`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hc = h.uniqueName('slow');
  const up = { written: 0, consumed: 0, maxLead: 0 };
  const down = { written: 0, consumed: 0, maxLead: 0 };
  const upResult = h.deferred();
  const downResult = h.deferred();
  const target = await t.tcpServer((sock) => {
    // The first connection is the upload (the target reads slowly), the second the download (the target writes fast).
    if (!upResult.started) {
      upResult.started = true;
      slowReader(sock, up).then((r) => { sock.end(); upResult.resolve(r); }, upResult.reject);
    } else {
      sock.resume();
      fastWriter(sock, down, down).then(downResult.resolve, downResult.reject);
    }
  }, 'target');
  const lport = await h.freePort();
  const tD = await t.startDaemon([...relay.daemonArgs(), '-T', `${hc}:127.0.0.1:${target.port}`], { name: 'hcbridge -T' });
  const lD = await t.startDaemon([...relay.daemonArgs(), '-L', `${lport}:${hc}`], { name: 'hcbridge -L' });
  const procs = [{ name: 'hcbridge -L', pid: lD.pid }, { name: 'hcrelay', pid: relay.proc.pid }, { name: 'hcbridge -T', pid: tD.pid }];
  for (const p of procs) {
    p.baseline = h.procStats(p.pid).rssKiB;
    p.peak = p.baseline;
  }
  const sampler = setInterval(() => {
    for (const p of procs) p.peak = Math.max(p.peak, h.procStats(p.pid).rssKiB);
  }, 50);
  t.defer('stop the RSS sampler', async () => clearInterval(sampler));

  const started = Date.now();
  // Upload client: writes fast, reads nothing but the end.
  const upSock = await h.tcpConnect(lport, 'upload client');
  await f.until('the upload reaches the target', 10000, () => upResult.started);
  upSock.on('data', () => {});
  const upWriter = fastWriter(upSock, up, up);
  // Download client: reads slowly, writes nothing.
  const downSock = await h.tcpConnect(lport, 'download client');
  const downReader = slowReader(downSock, down);
  downSock.end();

  const [upW, upR] = await h.withDeadline(Promise.all([upWriter, upResult.promise]), f.soak(60000, 300000), 'upload');
  const [downW, downR] = await h.withDeadline(Promise.all([downResult.promise, downReader]), f.soak(60000, 300000), 'download');
  const tookS = (Date.now() - started) / 1000;
  clearInterval(sampler);
  for (const p of procs) p.peak = Math.max(p.peak, h.procStats(p.pid).rssKiB);

  for (const [name, w, r, prog] of [['upload', upW, upR, up], ['download', downW, downR, down]]) {
    assert.equal(r.length, TOTAL, `${name}: length`);
    assert.equal(r.sha256, w.sha256, `${name}: SHA-256`);
    assert.ok(w.drainWaits > 0, `${name}: the fast side never had to wait: it was buffered, not slowed`);
    assert.ok(prog.maxLead <= MAX_LEAD, `${name}: the fast side got ${(prog.maxLead / MiB).toFixed(1)} MiB ahead`);
  }
  for (const p of procs) assert.ok(p.peak <= RSS_BOUND_KIB, `${p.name}: peak RSS ${p.peak} KiB over ${RSS_BOUND_KIB} KiB`);
  const mib = (kib) => (kib / 1024).toFixed(1);
  ok(`${TOTAL / MiB} MiB each way in ${tookS.toFixed(1)} s, byte-exact (SHA-256); fast side waited for drain ` +
     `${upW.drainWaits} (up) / ${downW.drainWaits} (down) times, max lead ${(up.maxLead / MiB).toFixed(1)} / ` +
     `${(down.maxLead / MiB).toFixed(1)} MiB (bound ${MAX_LEAD / MiB})`);
  ok(`peak RSS (bound ${RSS_BOUND_KIB / 1024} MiB): ${procs.map((p) => `${p.name} ${mib(p.baseline)} -> ${mib(p.peak)} MiB`).join(', ')}`);
}, { timeoutMs: f.soak(100000, 900000) });
