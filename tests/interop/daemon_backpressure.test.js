'use strict';
// Proof: backpressure end to end. A client pushes 1 GiB as fast as the pipeline accepts it through hcbridge -L ->
// hcrelay -> hcbridge -T into a sink that reads at most SINK_RATE (far slower than the pipeline can carry) and
// stalls completely for STALL_MS every STALL_EVERY_MS. While the bytes flow, the resident memory (VmRSS) of both
// daemons and of hcrelay is sampled every 50 ms. Asserted:
//  - all 1 GiB arrives, byte-exact (count + SHA-256, both computed incrementally);
//  - the source really was held back: its writes waited for 'drain' and its lead over the sink (the bytes buffered
//    anywhere in the pipeline, kernel socket buffers included) stayed under MAX_LEAD;
//  - every process's peak RSS stays under RSS_BOUND, and its peak over the last three quarters of the transfer is
//    at most RSS_GROWTH above its peak over the first quarter: memory does not grow with the amount pushed.
const crypto = require('node:crypto');
const h = require('./lib/harness');
const { assert, ok } = h;

const MiB = 1024 * 1024;
const TOTAL = Number(process.env.HCB_BACKPRESSURE_MIB || 1024) * MiB;
const SINK_RATE = 40 * MiB; // bytes per second the sink reads at most (the pipeline itself carries ~110 MiB/s here)
const STALL_EVERY_MS = 3000; // ... and every so often it stops reading altogether
const STALL_MS = 700;
const RSS_BOUND_KIB = 32 * 1024; // per process
const RSS_GROWTH_KIB = 4 * 1024; // late peak minus early peak, per process
const MAX_LEAD = 64 * MiB;
const SAMPLE_MS = 50;

const fmtMiB = (kib) => `${(kib / 1024).toFixed(1)} MiB`;

h.run(`daemon_backpressure: ${TOTAL / MiB} MiB into a slow sink, bounded memory everywhere`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hc = h.uniqueName('bp');

  // ---- The slow sink. ---------------------------------------------------------------------------------------------
  const sinkDone = h.deferred();
  const sink = { received: 0, started: 0, pauses: 0 };
  const target = await t.tcpServer((sock) => {
    const hash = crypto.createHash('sha256');
    sink.started = Date.now();
    let throttle = null;
    const nextStall = { at: sink.started + STALL_EVERY_MS };
    sock.on('data', (b) => {
      sink.received += b.length;
      hash.update(b);
      const now = Date.now();
      // Token bucket: pause until the bytes so far are allowed at SINK_RATE; plus a full stall now and then.
      let waitMs = (sink.received / SINK_RATE) * 1000 - (now - sink.started);
      if (now >= nextStall.at) {
        waitMs = Math.max(waitMs, STALL_MS);
        nextStall.at = now + STALL_MS + STALL_EVERY_MS;
      }
      if (waitMs > 1 && !throttle) {
        sink.pauses += 1;
        sock.pause();
        throttle = setTimeout(() => {
          throttle = null;
          sock.resume();
        }, waitMs);
      }
    });
    sock.on('end', () => {
      sock.end();
      sinkDone.resolve({ length: sink.received, sha256: hash.digest('hex') });
    });
    sock.on('error', (e) => sinkDone.reject(new Error(`sink: ${e.message} after ${sink.received} bytes`)));
  }, 'slow sink');

  const lport = await h.freePort();
  const tDaemon = await t.startDaemon([...relay.daemonArgs(), '-T', `${hc}:127.0.0.1:${target.port}`], { name: 'hcbridge -T' });
  const lDaemon = await t.startDaemon([...relay.daemonArgs(), '-L', `${lport}:${hc}`], { name: 'hcbridge -L' });
  const procs = [
    { name: 'hcbridge -L', pid: lDaemon.pid },
    { name: 'hcrelay', pid: relay.proc.pid },
    { name: 'hcbridge -T', pid: tDaemon.pid },
  ];
  for (const p of procs) {
    p.baseline = h.procStats(p.pid).rssKiB;
    p.early = 0;
    p.late = 0;
    p.peak = 0;
  }
  ok(`RSS before the transfer: ${procs.map((p) => `${p.name} ${fmtMiB(p.baseline)}`).join(', ')}`);

  // ---- The fast source. -------------------------------------------------------------------------------------------
  const started = Date.now();
  const sock = await h.tcpConnect(lport);
  const src = { written: 0, drains: 0, drainMs: 0, maxLead: 0 };
  const sampler = setInterval(() => {
    const early = src.written < TOTAL / 4;
    for (const p of procs) {
      let rss;
      try {
        rss = h.procStats(p.pid).rssKiB;
      } catch (e) {
        continue; // the process is gone; the test fails elsewhere
      }
      p.peak = Math.max(p.peak, rss);
      if (early) p.early = Math.max(p.early, rss);
      else p.late = Math.max(p.late, rss);
    }
    src.maxLead = Math.max(src.maxLead, src.written - sink.received);
  }, SAMPLE_MS);
  t.defer('stop the RSS sampler', async () => clearInterval(sampler));

  const ks = h.keystream();
  const srcHash = crypto.createHash('sha256');
  const closedEarly = h.deferred();
  sock.on('close', () => closedEarly.resolve());
  sock.on('error', (e) => t.fail(new Error(`source socket: ${e.message} after ${src.written} bytes`)));
  const CHUNK = 256 * 1024;
  while (src.written < TOTAL) {
    const chunk = ks.next(Math.min(CHUNK, TOTAL - src.written));
    srcHash.update(chunk);
    src.written += chunk.length;
    if (!sock.write(chunk)) {
      const t0 = Date.now();
      src.drains += 1;
      await h.waitFor(sock, 'drain', 20000, `source drain after ${src.written} bytes (sink has ${sink.received})`, ['error', 'close']);
      src.drainMs += Date.now() - t0;
    }
  }
  sock.end();
  const writeSecs = (Date.now() - started) / 1000;
  const sent = srcHash.digest('hex');
  const got = await h.withDeadline(sinkDone.promise, 40000, `sink end (${sink.received}/${TOTAL} bytes)`);
  clearInterval(sampler);
  const secs = (Date.now() - started) / 1000;
  sock.destroy();

  assert.equal(got.length, TOTAL, 'bytes that reached the sink');
  assert.equal(got.sha256, sent, 'SHA-256 at the sink');
  ok(`${TOTAL / MiB} MiB arrived byte-exact in ${secs.toFixed(1)} s (${(TOTAL / MiB / secs).toFixed(0)} MiB/s; sink limit ` +
     `${SINK_RATE / MiB} MiB/s with ${STALL_MS} ms stalls every ${STALL_EVERY_MS} ms; the sink paused ${sink.pauses} times)`);
  ok(`source: ${src.drains} writes waited for 'drain', ${(src.drainMs / 1000).toFixed(1)} s of ${writeSecs.toFixed(1)} s ` +
     `spent waiting; largest lead over the sink ${(src.maxLead / MiB).toFixed(1)} MiB`);
  assert.ok(src.drains > 100, `the source must have been held back by backpressure (${src.drains} drains)`);
  assert.ok(src.drainMs > writeSecs * 1000 * 0.5, `the source must have spent most of its time waiting (${src.drainMs} ms)`);
  assert.ok(src.maxLead < MAX_LEAD, `bytes in flight must stay under ${MAX_LEAD / MiB} MiB (got ${(src.maxLead / MiB).toFixed(1)} MiB)`);

  for (const p of procs) {
    ok(`${p.name}: RSS baseline ${fmtMiB(p.baseline)}, peak ${fmtMiB(p.peak)} (first quarter ${fmtMiB(p.early)}, ` +
       `rest ${fmtMiB(p.late)})`);
  }
  for (const p of procs) {
    assert.ok(p.peak < RSS_BOUND_KIB, `${p.name}: peak RSS ${fmtMiB(p.peak)} must stay under ${fmtMiB(RSS_BOUND_KIB)}`);
    assert.ok(p.late <= p.early + RSS_GROWTH_KIB,
              `${p.name}: RSS must not grow with the bytes pushed (first quarter ${fmtMiB(p.early)}, rest ${fmtMiB(p.late)})`);
  }
  ok(`every process stayed under ${fmtMiB(RSS_BOUND_KIB)} and grew by at most ${fmtMiB(RSS_GROWTH_KIB)} after the first quarter`);

  const m = await tDaemon.waitForLog(/tunnel t1 closed: .*reason="([^"]*)".* bytes_from_relay=(\d+)/, 5000);
  assert.deepEqual([m[1], Number(m[2])], ['closed', TOTAL], '-T tunnel summary');
  await lDaemon.waitForLog(/tunnel t1 closed: .*reason="closed".* bytes_to_relay=(\d+)/, 5000);
}, { timeoutMs: 90000 });
