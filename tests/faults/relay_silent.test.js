'use strict';
// Fault case: the path to the relay goes bad while TCP looks fine. hcbridge -T reaches hcrelay through a FaultProxy
// (its endpoint is the proxy, so rendezvous dials cross it too); keepalive KEEPALIVE s, connect_timeout 2 s. Asserted:
//  a. delay: 300 ms each way on every byte (well under the keep-alive interval) for 3 keep-alive intervals: the
//     control channel is never dropped, a tunnel still echoes byte-exact;
//  b. black hole (the proxy keeps both TCP connections open but forwards nothing, no FIN, no RST): the daemon logs
//     "no answer to the keep-alive ping" within 2 keep-alive intervals (+ 0.5 s) of the black hole, reconnects,
//     reason keepalive_timeout is counted; once the proxy forgets the dead flow (FIN to the relay) the relay is back
//     to one listener and a tunnel echoes byte-exact;
//  c. stall (the proxy stops reading both ways; bytes pile up in kernel buffers): noticed within 2 intervals too;
//     reconnect attempts meanwhile time out (connect_failed) and the channel is back once the stall ends;
//  d. cut (TCP reset both ways): connection_lost, back after a drawn delay; new connections reset by the proxy:
//     retried (connect_failed) until it passes them again;
//  e. afterwards no tunnels open and the daemon's fds are back to the baseline.
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const KEEPALIVE = 2;
const CONNECT_TIMEOUT = 2;
const BACKOFF_MAX = 1;
const DETECT_MARGIN_MS = 500;

h.run('faults.relay_silent: delayed, black-holed, stalled and cut paths to the relay', async (t) => {
  const relay = await f.faultyRelay(t, { logLevel: 'info' });
  const proxy = await new f.FaultProxy(t, relay.port, 'relay proxy').start();
  const { fwd, tAdmin, lport, tD } = await f.tunnelPair(t, relay, {
    name: 'silent', relayConfig: { endpoint: `wss://127.0.0.1:${proxy.port}/` },
    settings: { keepalive: KEEPALIVE, connect_timeout: CONNECT_TIMEOUT, backoff_initial: 0.25, backoff_max: BACKOFF_MAX,
                log: { level: 'debug' } },
  });
  await f.echoOnce(lport, { what: 'warm-up echo' });
  await until('warm-up tunnel closed', 5000, async () => (await f.metrics(tAdmin)).sum('hcbridge_tunnels_open') === 0);
  const baselineFds = await f.steadyFds(tD.pid);
  const reconnects = async (reason) => (await f.metrics(tAdmin)).get('hcbridge_control_channel_reconnects_total', { forward: fwd, reason });

  // a. Delay below the keep-alive interval is harmless.
  {
    const mark = tD.lineCount();
    proxy.delay(300);
    const started = Date.now();
    await f.echoOnce(lport, { what: 'echo through a 300 ms delay' });
    const echoMs = Date.now() - started;
    // Absence of a reconnect can only be observed over time: three keep-alive intervals, measured by the clock.
    await f.sleep(Math.max(0, 3 * KEEPALIVE * 1000 - echoMs));
    assert.equal(tD.matches(/control channel lost|no answer to the keep-alive/, mark).length, 0, 'no reconnect under a 300 ms delay');
    proxy.delay(0);
    ok(`300 ms delay each way for ${3 * KEEPALIVE} s: no reconnect; echo took ${echoMs} ms`);
  }

  // b. Black hole.
  {
    const before = await reconnects('keepalive_timeout');
    const mark = tD.lineCount();
    const t0 = Date.now();
    const n = proxy.blackhole();
    assert.equal(n, 1, 'one connection (the control channel) black-holed');
    const noticed = await tD.waitForLog(/no answer to the keep-alive ping within (\d+) s/, 2 * KEEPALIVE * 1000 + 3000, { from: mark });
    const detectMs = f.logTime(noticed.input) - t0;
    assert.ok(detectMs <= 2 * KEEPALIVE * 1000 + DETECT_MARGIN_MS, `noticed after ${detectMs} ms, over 2 keep-alive intervals`);
    await tD.waitForLog(/control channel connected/, BACKOFF_MAX * 1000 + 3000, { from: noticed.lineIndex });
    await until('keepalive_timeout counted', 3000, async () => (await reconnects('keepalive_timeout')) === before + 1);
    const withDead = await relay.faultState();
    proxy.release(); // the middlebox forgets the dead flow: the relay sees a FIN and drops the stale listener
    await relay.waitState((s) => s.listeners === 1, 5000, 'relay back to one listener');
    await f.echoOnce(lport, { what: 'echo after the black hole' });
    ok(`black hole: noticed ${detectMs} ms after it began (keepalive ${KEEPALIVE} s, bound ${2 * KEEPALIVE} s), reconnected ` +
       `(relay saw ${withDead.listeners} listeners until the dead flow was released), echo works`);
  }

  // c. Stall: nothing read either way.
  {
    const mark = tD.lineCount();
    const beforeFailed = await reconnects('connect_failed');
    const t0 = Date.now();
    proxy.stall(true);
    const noticed = await tD.waitForLog(/no answer to the keep-alive ping/, 2 * KEEPALIVE * 1000 + 3000, { from: mark });
    const detectMs = f.logTime(noticed.input) - t0;
    assert.ok(detectMs <= 2 * KEEPALIVE * 1000 + DETECT_MARGIN_MS, `stall noticed after ${detectMs} ms`);
    await until('a reconnect attempt timed out during the stall', CONNECT_TIMEOUT * 1000 + BACKOFF_MAX * 1000 + 3000, async () =>
      (await reconnects('connect_failed')) > beforeFailed);
    proxy.stall(false);
    await tD.waitForLog(/control channel connected/, CONNECT_TIMEOUT * 1000 + BACKOFF_MAX * 1000 + 3000, { from: noticed.lineIndex });
    await relay.waitState((s) => s.listeners === 1, 5000, 'relay back to one listener after the stall');
    await f.echoOnce(lport, { what: 'echo after the stall' });
    ok(`stall: noticed after ${detectMs} ms, attempts during it timed out (connect_failed), back once it ended, echo works`);
  }

  // d. Cut, then new connections reset for a while.
  {
    const mark = tD.lineCount();
    const before = await reconnects('connection_lost');
    const beforeFailed = await reconnects('connect_failed');
    proxy.newConnections = 'refuse';
    assert.ok(proxy.cut() >= 1, 'cut the control channel');
    const lost = await tD.waitForLog(/control channel lost: (.*); reconnecting in ([\d.]+) s/, 5000, { from: mark });
    await until('two reset connect attempts', 3 * (BACKOFF_MAX * 1000) + 3000, async () => (await reconnects('connect_failed')) >= beforeFailed + 2);
    proxy.newConnections = 'pass';
    await tD.waitForLog(/control channel connected/, BACKOFF_MAX * 1000 + 3000, { from: lost.lineIndex });
    assert.equal(await reconnects('connection_lost'), before + 1, 'connection_lost counted once');
    await f.echoOnce(lport, { what: 'echo after the cut' });
    ok(`cut: "${lost[1]}", reconnecting in ${lost[2]} s; resets of new connections retried; back, echo works`);
  }

  // e. Nothing left behind.
  await until('no tunnels open', 5000, async () => (await f.metrics(tAdmin)).sum('hcbridge_tunnels_open') === 0);
  await f.fdsBackTo(tD.pid, baselineFds, 'fds back to baseline');
  ok(`no tunnel open, fds back to ${baselineFds}`);
}, { timeoutMs: 60000 });
