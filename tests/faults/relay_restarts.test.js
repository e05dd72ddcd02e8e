'use strict';
// Fault case: the relay restarts ROUNDS times in a row (SIGKILL, restarted at once on the same port and key).
// Setup: hcbridge -T (config file: backoff_initial 0.25 s, backoff_max 2 s, admin endpoint) on an echo target,
// hcbridge -L (admin endpoint). Asserted:
//  - every round: the -T daemon logs the loss and a reconnect delay, is back no later than its logged delays allow
//    (+ a connect margin per attempt), and a tunnel opened afterwards echoes 64 KiB byte-exact (SHA-256);
//  - every round: both daemons' open fds (/proc/PID/fd) return to the warm-up baseline and /metrics shows 0 open
//    tunnels;
//  - the delays (jittered backoff): every delay within [0, min(backoff_max, initial * 2^n)], spread (many distinct
//    values), bounded by backoff_max, mean of those drawn at the cap within a plausible band for a uniform draw;
//  - after all rounds: RSS of each daemon at most RSS_GROWTH above its value after the warm-up; no warning other than
//    the expected reconnect lines; reconnects_total counts every round.
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const ROUNDS = f.soak(20, 200);
const BACKOFF_INITIAL = 0.25;
const BACKOFF_MAX = 2;
const CONNECT_MARGIN_MS = 2000;
const RSS_GROWTH_KIB = 3 * 1024;

h.run(`faults.relay_restarts: hcrelay killed and restarted ${ROUNDS} times in a row`, async (t) => {
  let relay = await t.startRelay({ logLevel: 'warn' });
  const { port: relayPort, key } = relay;
  const { fwd, tAdmin, lAdmin, lport, tD, lD } = await f.tunnelPair(t, relay, {
    name: 'restarts', settings: { backoff_initial: BACKOFF_INITIAL, backoff_max: BACKOFF_MAX },
  });

  const openTunnels = async () => (await f.metrics(tAdmin)).sum('hcbridge_tunnels_open') + (await f.metrics(lAdmin)).sum('hcbridge_tunnels_open');
  for (let i = 0; i < 3; i++) await f.echoOnce(lport, { what: `warm-up echo ${i}` });
  await until('warm-up tunnels closed', 5000, async () => (await openTunnels()) === 0);
  const base = { T: { ...tD.stats(), fds: await f.steadyFds(tD.pid) }, L: { ...lD.stats(), fds: await f.steadyFds(lD.pid) } };
  ok(`baseline: -T ${base.T.fds} fds ${base.T.rssKiB} KiB, -L ${base.L.fds} fds ${base.L.rssKiB} KiB`);

  const delays = []; // {delay, ceiling}
  const backMs = [];
  let draws = 0; // the channel never stays up 10 s here, so the backoff is never reset
  const started = Date.now();
  for (let round = 1; round <= ROUNDS; round++) {
    const what = `round ${round}`;
    const mark = tD.lineCount();
    await relay.kill();
    relay = await t.startRelay({ logLevel: 'warn', port: relayPort, key });
    const lost = await tD.waitForLog(/control channel lost: (.*); reconnecting in ([\d.]+) s/, 10000, { from: mark, what: `${what}: loss logged` });
    const back = await tD.waitForLog(/control channel connected/, (BACKOFF_MAX * 4) * 1000 + 10000, { from: lost.lineIndex, what: `${what}: back` });
    const roundDelays = tD.linesSince(lost.lineIndex).slice(0, back.lineIndex - lost.lineIndex)
      .map((line) => /(?:reconnecting|retrying) in ([\d.]+) s/.exec(line)).filter(Boolean).map((m) => Number(m[1]));
    for (const d of roundDelays) {
      delays.push({ delay: d, ceiling: Math.min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** draws) });
      draws += 1;
    }
    const tookMs = f.logTime(back.input) - f.logTime(lost.input);
    const allowed = roundDelays.reduce((a, d) => a + d * 1000 + CONNECT_MARGIN_MS, 0);
    assert.ok(tookMs <= allowed, `${what}: back after ${tookMs} ms, the logged delays [${roundDelays}] allow ${allowed} ms`);
    backMs.push(tookMs);
    await f.echoOnce(lport, { what: `${what}: echo` });
    await until(`${what}: no open tunnels`, 5000, async () => (await openTunnels()) === 0);
    await f.fdsBackTo(tD.pid, base.T.fds, `${what}: -T fds back to baseline`);
    await f.fdsBackTo(lD.pid, base.L.fds, `${what}: -L fds back to baseline`);
  }
  const totalS = ((Date.now() - started) / 1000).toFixed(1);

  for (const d of delays) assert.ok(d.delay >= 0 && d.delay <= d.ceiling + 0.05, `delay ${d.delay} s above its ceiling ${d.ceiling} s`);
  const distinct = new Set(delays.map((d) => d.delay.toFixed(2))).size;
  assert.ok(delays.length >= ROUNDS, `one drawn delay per round at least (${delays.length})`);
  assert.ok(distinct >= Math.min(6, delays.length), `delays must be spread: ${delays.map((d) => d.delay)}`);
  const atCap = delays.filter((d) => d.ceiling === BACKOFF_MAX).map((d) => d.delay);
  const mean = atCap.reduce((a, b) => a + b, 0) / atCap.length;
  // Uniform on [0, 2]: mean 1, standard error 0.58/sqrt(n) (~0.14 for 17 draws); the band is over 4 standard errors.
  assert.ok(mean > 0.4 && mean < 1.6, `mean of the delays drawn at the cap: ${mean.toFixed(2)} s (expected ~${BACKOFF_MAX / 2})`);
  const reconnects = (await f.metrics(tAdmin)).sum('hcbridge_control_channel_reconnects_total', { forward: fwd });
  assert.ok(reconnects >= ROUNDS, `reconnects_total counts every round (${reconnects})`);
  const end = { T: tD.stats(), L: lD.stats() };
  for (const k of ['T', 'L']) {
    assert.ok(end[k].rssKiB <= base[k].rssKiB + RSS_GROWTH_KIB, `-${k} RSS grew from ${base[k].rssKiB} to ${end[k].rssKiB} KiB`);
  }
  const unexpected = [...tD.matches(/ (warning|error) (.*)/), ...lD.matches(/ (warning|error) (.*)/)]
    .map((m) => m[2]).filter((l) => !/control channel (lost|connect failed)|the open-file limit is/.test(l));
  assert.deepEqual(unexpected, [], 'no warnings or errors besides the reconnect lines');
  const fmt = (a) => a.map((d) => d.toFixed(2)).join(' ');
  ok(`${ROUNDS} restarts in ${totalS} s; delays (s): ${fmt(delays.map((d) => d.delay))}; ${distinct} distinct, ` +
     `max ${Math.max(...delays.map((d) => d.delay)).toFixed(2)} (cap ${BACKOFF_MAX}), mean at cap ${mean.toFixed(2)}`);
  ok(`back after (ms): min ${Math.min(...backMs)}, max ${Math.max(...backMs)}; fds -T ${end.T.fds}/${base.T.fds}, ` +
     `-L ${end.L.fds}/${base.L.fds}; RSS -T ${base.T.rssKiB}->${end.T.rssKiB} KiB, -L ${base.L.rssKiB}->${end.L.rssKiB} KiB`);
}, { timeoutMs: f.soak(100000, 900000) });
