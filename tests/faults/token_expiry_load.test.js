'use strict';
// Fault case: tokens expire all the time while tunnels keep opening. Both daemons issue tokens with the shortest
// lifetime (--token-ttl TTL); for DURATION seconds RATE new tunnels per second are opened through -L -> hcrelay -> -T,
// each echoing its own random payload (1..16 KiB). Asserted:
//  - zero failed tunnels: every echo is byte-exact (length + SHA-256), both daemons count 0 tunnels_failed, -L and -T
//    count every tunnel opened;
//  - the control channel never drops (no "control channel lost", one "connected") and renews its token about every
//    0.8 TTL (token_renewals_total{ok} at least DURATION / (0.8 TTL) - 1, none failed);
//  - the relay logs no 401, no rejected renewal and no expiry close.
// The suite runs 36 s with a 10 s TTL; scripts/soak.sh 5 minutes with a 15 s TTL.
const crypto = require('node:crypto');
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const DURATION_S = f.soak(36, 300);
const TTL = f.soak(10, 15);
const RATE = 50;
const MAX_IN_FLIGHT = 400;

h.run(`faults.token_expiry_load: ${RATE} tunnels/s for ${DURATION_S} s with ${TTL} s tokens`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'debug' });
  const hc = h.uniqueName('ttl');
  const fwd = `T:${hc}`;
  const echo = await t.tcpEchoServer('echo target');
  const [tAdmin, lAdmin, lport] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const tD = await t.startDaemon([...relay.daemonArgs(), '--token-ttl', String(TTL), '--admin', `127.0.0.1:${tAdmin}`,
                                  '--log-level', 'info', '-T', `${hc}:127.0.0.1:${echo.port}`], { name: 'hcbridge -T' });
  const lD = await t.startDaemon([...relay.daemonArgs(), '--token-ttl', String(TTL), '--admin', `127.0.0.1:${lAdmin}`,
                                  '-L', `${lport}:${hc}`], { name: 'hcbridge -L' });
  await f.echoOnce(lport, { what: 'warm-up echo' });

  const stats = { started: 0, done: 0, failed: [], maxInFlight: 0, latencies: [] };
  const one = async (i) => {
    const t0 = Date.now();
    try {
      await f.echoOnce(lport, { size: crypto.randomInt(1024, 16 * 1024 + 1), ms: 20000, what: `tunnel ${i}` });
      stats.latencies.push(Date.now() - t0);
      stats.done += 1;
    } catch (e) {
      stats.failed.push(`${i}: ${e.message}`);
    }
  };
  const began = Date.now();
  const running = new Set();
  // One tunnel every 1000/RATE ms on a schedule (a late tick starts the ones it owes at once).
  for (let i = 0; i < DURATION_S * RATE; i++) {
    const due = began + (i * 1000) / RATE;
    if (due > Date.now()) await f.sleep(due - Date.now()); // pacing the load, not waiting for a result
    assert.ok(running.size < MAX_IN_FLIGHT, `over ${MAX_IN_FLIGHT} tunnels in flight: the pipeline does not keep up`);
    const p = one(i).finally(() => running.delete(p));
    running.add(p);
    stats.started += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, running.size);
  }
  await h.withDeadline(Promise.all([...running]), 30000, 'last tunnels');
  const tookS = (Date.now() - began) / 1000;

  assert.deepEqual(stats.failed.slice(0, 5), [], `${stats.failed.length} failed tunnels`);
  assert.equal(stats.done, DURATION_S * RATE, 'every tunnel echoed');
  const tm = await f.metrics(tAdmin);
  const lm = await f.metrics(lAdmin);
  assert.equal(tm.sum('hcbridge_tunnels_failed_total') + lm.sum('hcbridge_tunnels_failed_total'), 0, 'no tunnel failed in either daemon');
  assert.equal(lm.sum('hcbridge_tunnels_opened_total'), stats.done + 1, '-L opened every tunnel');
  await until('-T counted every tunnel', 5000, async () => (await f.metrics(tAdmin)).sum('hcbridge_tunnels_opened_total') === stats.done + 1);
  const renewals = tm.get('hcbridge_token_renewals_total', { forward: fwd, result: 'ok' });
  assert.ok(renewals >= Math.floor(tookS / (0.8 * TTL)) - 1, `only ${renewals} renewals in ${tookS.toFixed(0)} s with a ${TTL} s TTL`);
  assert.equal(tm.get('hcbridge_token_renewals_total', { forward: fwd, result: 'failed' }), 0, 'no failed renewal');
  assert.equal(tD.matches(/control channel lost/).length, 0, 'the control channel never dropped');
  assert.equal(tD.matches(/control channel connected/).length, 1, 'connected once');
  assert.equal(tm.sum('hcbridge_control_channel_reconnects_total'), 0, 'no reconnects counted');
  for (const re of [/ -> 401 /, /renewToken rejected/, /token expired, closing with 1008/]) {
    assert.ok(!re.test(relay.stderr), `relay log shows ${re}`);
  }
  const renewedAtRelay = (relay.stderr.match(/token renewed/g) || []).length;
  // (The harness keeps only the tail of a relay log over 4 MiB, which the soak's debug log outgrows.)
  if (!f.SOAK) assert.ok(renewedAtRelay >= renewals, `relay saw ${renewedAtRelay} renewals, the daemon sent ${renewals}`);
  stats.latencies.sort((a, b) => a - b);
  const pct = (p) => stats.latencies[Math.min(stats.latencies.length - 1, Math.floor(p * stats.latencies.length))];
  ok(`${stats.done} tunnels in ${tookS.toFixed(1)} s (${(stats.done / tookS).toFixed(1)}/s), 0 failed, every echo byte-exact; ` +
     `latency p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms, max ${pct(1)} ms; at most ${stats.maxInFlight} in flight`);
  ok(`${renewals} token renewals (TTL ${TTL} s; relay logged ${renewedAtRelay}), control channel never dropped, no 401 at the relay`);
}, { timeoutMs: (DURATION_S + 60) * 1000 });
