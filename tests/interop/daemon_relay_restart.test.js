'use strict';
// Proof: the daemons ride out relay crashes and restarts.
// Setup: hcrelay (TLS); hcbridge -T with two targets ('long': streams bytes until the client goes away; 'echo'),
// configured through a config file with backoff_max = BACKOFF_MAX (backoff_initial stays at its default 1 s) so
// that the cap is reached within the test; hcbridge -L with one binding per port name.
// Rounds 1..KILLS: SIGKILL; the last round: SIGTERM (a graceful relay restart). In each round:
//  1. long transfers are in flight (each client has received at least 1 MiB);
//  2. hcrelay is stopped (SIGKILL; or SIGTERM, after which it must exit 0) and restarted at once on the same port;
//  3. SIGKILL: the in-flight tunnels are aborted, their clients see a TCP reset (not a clean end), and both daemons
//     log a close for every tunnel they opened;
//  4. the -T daemon logs "control channel lost ... reconnecting in X s" (and "retrying in X s" for attempts that
//     still failed; after SIGTERM the relay's close 1001 means "reconnect at once") and its control channel is back
//     ("control channel connected") no later than the logged delays allow, plus a margin per attempt;
//  5. a new tunnel works (64 KiB echoed byte-exact);
//  6. the open file descriptors (/proc/PID/fd) of both daemons return to their baseline: nothing leaks.
// At the end every logged reconnect delay is checked against the backoff policy: full jitter in
// [0, min(BACKOFF_MAX, 1 s * 2^n)], n = backoff delays drawn since the channel was last up for more than 10 s;
// the delays must be spread (several distinct values) and the first round's reconnect back within a few seconds.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./lib/harness');
const { assert, ok } = h;

const MiB = 1024 * 1024;
const KILLS = 5;
const ROUNDS = [...Array(KILLS).fill('SIGKILL'), 'SIGTERM'];
const LONG_RATE = 4 * MiB; // bytes/s each long transfer streams (enough to be "in flight", cheap on 2 cores)
const BACKOFF_INITIAL = 1; // the default
const BACKOFF_MAX = 8; // set in the config file (default 30): reached by the 5th draw, keeps the test short
const RESET_AFTER_UP_S = 10;
const CONNECT_MARGIN_MS = 3000; // a reconnect may take this much longer than its logged delay (connect + TLS)

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const logTime = (line) => Date.parse(line.slice(0, 24)); // "2026-12-02T05:51:46.423Z ..."

async function until(what, ms, check) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await sleep(50);
  }
}

h.run(`daemon_relay_restart: hcrelay killed ${KILLS} times and restarted once gracefully, tunnels in flight`, async (t) => {
  let relay = await t.startRelay({ logLevel: 'info' });
  const { port: relayPort, key } = relay;
  const hc = h.uniqueName('restart');

  // 'long' target: streams keystream bytes at LONG_RATE until the peer goes away.
  const longConns = [];
  const longTarget = await t.tcpServer((sock) => {
    const ks = h.keystream();
    const rec = { error: null, closed: h.deferred() };
    longConns.push(rec);
    const timer = setInterval(() => {
      if (sock.writable) sock.write(ks.next(LONG_RATE / 20));
    }, 50);
    sock.on('error', (e) => { rec.error = e.code || e.message; });
    sock.on('end', () => sock.end());
    sock.on('close', () => {
      clearInterval(timer);
      rec.closed.resolve();
    });
  }, 'long target');
  const echoTarget = await t.tcpEchoServer('echo target');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-restart-'));
  t.defer('remove temp dir', async () => fs.rmSync(dir, { recursive: true, force: true }));
  const cfg = path.join(dir, 'listener.json');
  fs.writeFileSync(cfg, JSON.stringify({ relay: relay.daemonRelayConfig(), backoff_max: BACKOFF_MAX, log: { level: 'debug' } }),
                   { mode: 0o600 });
  const [lLong, lEcho] = [await h.freePort(), await h.freePort()];
  const tDaemon = await t.startDaemon(['-c', cfg, '-T', `${hc}:long/127.0.0.1:${longTarget.port};echo/127.0.0.1:${echoTarget.port}`],
                                      { name: 'hcbridge -T' });
  const lDaemon = await t.startDaemon([...relay.daemonArgs(), '--log-level', 'debug', '-L', `${lLong}/long;${lEcho}/echo:${hc}`],
                                      { name: 'hcbridge -L' });

  const echoOnce = async (what) => {
    const payload = crypto.randomBytes(64 * 1024);
    const sock = await h.tcpConnect(lEcho, `${what}: connect`);
    const rx = h.readToEnd(sock, { ms: 15000, what });
    await h.writeAll(sock, payload, { end: true });
    const got = await rx;
    assert.equal(got.sha256, h.sha256(payload), `${what}: echo SHA-256`);
  };
  // Both daemons have logged a close for every tunnel they opened.
  const allClosed = (d) => d.matches(/tunnel t\d+ closed:/).length === d.matches(/tunnel t\d+ open:/).length;

  await echoOnce('warm-up echo');
  await until('warm-up tunnels closed', 5000, () => allClosed(tDaemon) && allClosed(lDaemon));
  const baseline = { T: tDaemon.stats().fds, L: lDaemon.stats().fds };
  ok(`warm-up echo works; baseline open fds: -T ${baseline.T}, -L ${baseline.L}`);

  const delays = []; // backoff delays drawn, in log order, over all rounds: {delay, ceiling, line}
  const rounds = [];
  let lastConnectedTs = logTime(tDaemon.matches(/control channel connected/)[0].input);
  let draws = 0; // backoff delays drawn since the last reset

  for (let round = 1; round <= ROUNDS.length; round++) {
    const signal = ROUNDS[round - 1];
    const what = `round ${round} (${signal})`;
    // 1. Long transfers in flight. (After SIGTERM a client that sees the end of the stream ends too, as most do.)
    const clients = [];
    for (let i = 0; i < (signal === 'SIGKILL' ? 2 : 1); i++) {
      const sock = await h.tcpConnect(lLong, `${what}: long client ${i}`);
      const c = { sock, port: sock.localPort, received: 0, error: null, ended: false, closed: h.deferred() };
      sock.on('data', (b) => { c.received += b.length; });
      sock.on('error', (e) => { c.error = e.code || e.message; });
      sock.on('end', () => {
        c.ended = true;
        sock.end();
      });
      sock.on('close', () => c.closed.resolve());
      clients.push(c);
    }
    await until(`${what}: long transfers under way`, 10000, () => clients.every((c) => c.received >= MiB));

    // 2. Stop the relay, restart it on the same port. (A 1001 close means "come back at once" only for a channel
    //    that was up for more than a second, so that a relay closing every channel at once cannot cause a storm.)
    if (signal === 'SIGTERM') await sleep(Math.max(0, lastConnectedTs + 1500 - Date.now()));
    const mark = tDaemon.lineCount();
    const stoppedAt = Date.now();
    if (signal === 'SIGKILL') await relay.kill();
    else await relay.stop(); // asserts exit code 0 within 10 s
    const stopMs = Date.now() - stoppedAt;
    relay = await t.startRelay({ logLevel: 'info', port: relayPort, key });

    // 3. The in-flight tunnels end.
    await h.withDeadline(Promise.all(clients.map((c) => c.closed.promise)), 10000, `${what}: long clients closed`);
    if (signal === 'SIGKILL') {
      for (const c of clients) {
        if (c.error === 'ECONNRESET') continue;
        // libuv reports a reset that arrives with the last data (EPOLLHUP after a partial read) as EOF, so Node can
        // see 'end' for an RST. Then the daemon's own record must show the abort: the tunnel of this client closed
        // for a relay-side reason (an abort resets the client), and the client got less than the daemon wrote to it
        // (the reset discarded the rest; a FIN would have delivered it all), or, when the reset came only after the
        // client had read everything the daemon wrote, exactly that much: the client cannot tell then, the daemon's
        // abort record is the evidence (that an abort resets the client is checked by the hostile relay tests, whose asio
        // client does see the reset).
        const abortOf = () => {
          const opened = lDaemon.matches(new RegExp(`tunnel (t\\d+) open: .* peer=127\\.0\\.0\\.1:${c.port} `));
          if (opened.length === 0) return null;
          const id = opened[opened.length - 1][1];  // a client port may come again in a later round: the latest
          return lDaemon.matches(new RegExp(`tunnel ${id} closed: .*reason="relay side: [^"]*".*bytes_from_relay=(\\d+)`))[0];
        };
        const closed = await until(`${what}: -L logged the abort of client port ${c.port}`, 5000, abortOf);
        assert.ok(c.ended && c.received <= Number(closed[1]),
                  `${what}: an aborted tunnel must reset the client (got error ${c.error}, clean end ${c.ended}, ` +
                  `${c.received} bytes; -L: ${closed[0]})`);
      }
    }
    const clientsSaw = clients.map((c) => (c.error ? c.error : c.ended ? 'clean end' : 'close')).join(', ');

    // 4. Control channel lost, then back.
    const lost = await tDaemon.waitForLog(/control channel lost: (.*); reconnecting in ([\d.]+) s/, 10000, { from: mark });
    const back = await tDaemon.waitForLog(/control channel connected/, (BACKOFF_MAX * 3 + 10) * 1000, { from: lost.lineIndex });
    const lostTs = logTime(lost.input);
    const backTs = logTime(back.input);
    const upFor = (lostTs - lastConnectedTs) / 1000;
    if (upFor > RESET_AFTER_UP_S) draws = 0;
    // After SIGTERM the relay closes the control channel with 1001: the daemon must come back at once (no draw).
    const immediate = /relay closed the control channel \(1001\b/.test(lost[1]);
    if (signal === 'SIGTERM') {
      assert.ok(immediate, `${what}: the relay must close the control channel with 1001 (got "${lost[1]}")`);
      assert.equal(Number(lost[2]), 0, `${what}: a 1001 close means "reconnect at once"`);
    }
    const roundDelays = tDaemon.linesSince(lost.lineIndex).slice(0, back.lineIndex - lost.lineIndex)
      .map((line) => ({ line, m: /(?:reconnecting|retrying) in ([\d.]+) s/.exec(line) }))
      .filter((x) => x.m)
      .map((x, i) => ({ delay: Number(x.m[1]), line: x.line, drawn: !(i === 0 && immediate) }));
    for (const d of roundDelays.filter((x) => x.drawn)) {
      d.ceiling = Math.min(BACKOFF_MAX, BACKOFF_INITIAL * 2 ** draws);
      draws += 1;
      delays.push(d);
    }
    const allowedMs = roundDelays.reduce((a, d) => a + d.delay * 1000 + CONNECT_MARGIN_MS, 0);
    const tookMs = backTs - lostTs;
    assert.ok(tookMs <= allowedMs, `${what}: back after ${tookMs} ms, more than the logged delays allow ` +
              `(${allowedMs} ms: ${roundDelays.map((d) => d.delay).join(', ')})`);
    rounds.push({ round, signal, tookMs, fromStopMs: Date.now() - stoppedAt });
    lastConnectedTs = backTs;

    // 5. A new tunnel works.
    await echoOnce(`${what}: echo after the restart`);

    // 6. No descriptor leaks once every tunnel is closed.
    await until(`${what}: all tunnels closed in both daemons`, 10000, () => allClosed(tDaemon) && allClosed(lDaemon));
    const fds = await until(`${what}: fds back to baseline (-T ${baseline.T}, -L ${baseline.L})`, 5000, () => {
      const now = { T: tDaemon.stats().fds, L: lDaemon.stats().fds };
      return now.T === baseline.T && now.L === baseline.L ? now : null;
    }).catch((e) => {
      throw new Error(`${e.message}: now -T ${tDaemon.stats().fds}, -L ${lDaemon.stats().fds}`);
    });
    ok(`${what}: ${signal === 'SIGTERM' ? `relay exited 0 ${stopMs} ms after SIGTERM` : 'relay killed'} with ` +
       `${clients.length} tunnel(s) in flight (clients saw: ${clientsSaw}); -T: "${lost[1]}", back ${tookMs} ms later ` +
       `after delays [${roundDelays.map((d) => d.delay.toFixed(1)).join(', ')}] s; new tunnel works; ` +
       `fds -T ${fds.T}, -L ${fds.L} (baseline)`);
  }

  // The tunnels the relay crashes cut were logged as aborted, not as clean closes.
  for (const d of [tDaemon, lDaemon]) {
    const aborted = d.matches(/tunnel t\d+ closed: .*reason="([^"]*)"/).filter((m) => m[1] !== 'closed');
    assert.ok(aborted.length >= 2 * KILLS, `${d.name}: ${aborted.length} aborted tunnels logged, expected at least ${2 * KILLS}`);
  }
  ok(`both daemons logged the killed rounds' tunnels as aborted, e.g. ` +
     `-L: "${lDaemon.matches(/tunnel t\d+ closed: .*reason="([^"]*)"/).find((m) => m[1] !== 'closed')[1]}"`);

  // Backoff policy: each delay in [0, ceiling]; spread out; the first reconnect fast.
  for (const d of delays) {
    assert.ok(d.delay >= 0 && d.delay <= d.ceiling + 0.05, `delay ${d.delay} s above its ceiling ${d.ceiling} s: ${d.line}`);
  }
  const distinct = new Set(delays.map((d) => d.delay.toFixed(1))).size;
  assert.ok(delays.length >= KILLS, `at least one drawn delay per killed round (got ${delays.length})`);
  assert.ok(distinct >= Math.min(3, delays.length), `delays must be spread (jitter): ${delays.map((d) => d.delay)}`);
  assert.ok(rounds[0].tookMs <= BACKOFF_INITIAL * 1000 + CONNECT_MARGIN_MS,
            `first reconnect must be back within ${BACKOFF_INITIAL} s + margin (took ${rounds[0].tookMs} ms)`);
  ok(`reconnect delays drawn (s / ceiling): ${delays.map((d) => `${d.delay.toFixed(1)}/${d.ceiling}`).join(', ')}; ` +
     `${distinct} distinct values, all within the policy`);
  ok(`time from stopping the relay to the control channel back, per round (ms): ` +
     `${rounds.map((r) => `${r.signal} ${r.fromStopMs}`).join(', ')}`);
}, { timeoutMs: 110000 });
