'use strict';
// Proof: an idle tunnel survives a path that drops quiet connections. Paths to Azure Relay drop flows idle for about
// 4 minutes and HTTP proxies often sooner; hcbridge sends a keep-alive frame (an unsolicited pong) on every tunnel
// WebSocket that wrote nothing for `keepalive` seconds. hcrelay --idle-timeout 3 plays such a path: it drops, without
// a close frame, any control channel or tunnel side from which nothing arrived for 3 s.
//  - pair A (--keepalive 1): a tunnel carries bytes, stays quiet for 7 s (over twice the limit), then carries bytes
//    again, byte-exact, and ends cleanly; its control channel is never lost;
//  - pair B (--keepalive 5, above the limit), the control: the same quiet tunnel is dropped by the relay (the client
//    sees its connection end within a few seconds), which shows the limit is real and that keep-alive is what holds.
// And the other way round, a peer that vanished without a FIN must not hold a tunnel for ever: while tunnel A is quiet,
// every TCP socket of it that hcbridge or hcrelay holds (the accepted client, the target connection, both relay
// connections on each end) has TCP keep-alive armed, as /proc/net/tcp shows from outside (timer 2, due in ~60 s).
const crypto = require('node:crypto');
const fs = require('node:fs');
const h = require('./lib/harness');
const { assert, ok } = h;

const LIMIT_S = 3;
const QUIET_MS = 7000;

// The established TCP sockets on 127.0.0.1 from /proc/net/tcp: {local, remote, timer, dueS} (ports as numbers;
// timer 2 = keep-alive, due in seconds).
function tcpSockets() {
  return fs.readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1).filter((l) => l.trim()).map((l) => {
    const f = l.trim().split(/\s+/);
    const [timer, due] = f[5].split(':');
    return { local: parseInt(f[1].split(':')[1], 16), remote: parseInt(f[2].split(':')[1], 16), state: f[3],
             timer: parseInt(timer, 16), dueS: parseInt(due, 16) / 100 };
  }).filter((s) => s.state === '01');
}

// Opens a tunnel through `port`, echoes one piece, stays quiet, echoes another: resolves what came back, or the error.
async function quietTunnel(port, what, whileQuiet = async () => {}) {
  const sock = await h.tcpConnect(port, what);
  const chunks = [];
  let ended = false;
  sock.on('data', (b) => chunks.push(b));
  sock.on('end', () => { ended = true; });
  sock.on('error', () => { ended = true; });
  const first = crypto.randomBytes(4096);
  sock.write(first);
  await h.pollUntil(async () => (Buffer.concat(chunks).length >= first.length ? true : null), 10000, `${what}: first echo`);
  const quietFrom = Date.now();
  await whileQuiet(sock);
  await h.pollUntil(async () => (ended || Date.now() - quietFrom >= QUIET_MS ? true : null), QUIET_MS + 5000, `${what}: quiet`);
  const endedAfterMs = ended ? Date.now() - quietFrom : null;
  const second = crypto.randomBytes(4096);
  if (!ended) {
    sock.write(second);
    await h.pollUntil(async () => (ended || Buffer.concat(chunks).length >= 8192 ? true : null), 10000, `${what}: second echo`);
  }
  sock.destroy();
  return { got: Buffer.concat(chunks), sent: Buffer.concat([first, second]), ended, endedAfterMs };
}

h.run(`daemon_idle_tunnels: keep-alive frames hold a quiet tunnel through a ${LIMIT_S} s idle limit`, async (t) => {
  const relay = await t.startRelay({ extraArgs: ['--idle-timeout', String(LIMIT_S)] });
  const echo = await t.tcpEchoServer('echo target');

  const hcA = h.uniqueName('kept');
  const portA = await h.freePort();
  const argsA = [...relay.daemonArgs(), '--keepalive', '1'];
  const tA = await t.startDaemon([...argsA, '-T', `${hcA}:127.0.0.1:${echo.port}`], { name: 'A: hcbridge -T (keepalive 1)' });
  const lA = await t.startDaemon([...argsA, '-L', `${portA}:${hcA}`], { name: 'A: hcbridge -L (keepalive 1)' });
  let armed = null;
  const a = await quietTunnel(portA, 'A: tunnel', async (client) => {
    const sample = () => {
      const sockets = tcpSockets();
      return {
        'the -L side of the client connection': sockets.filter((s) => s.local === portA && s.remote === client.localPort),
        'the -T side of the target connection': sockets.filter((s) => s.remote === echo.port && s.local !== echo.port),
        "the daemons' relay connections": sockets.filter((s) => s.remote === relay.port),
        "hcrelay's accepted connections": sockets.filter((s) => s.local === relay.port),
      };
    };
    // A socket with data not yet acknowledged shows its retransmit timer (1) instead: sample until all are idle.
    const allArmed = (x) => Object.values(x).every((l) => l.length > 0 && l.every((s) => s.timer === 2));
    await h.pollUntil(async () => (allArmed(armed = sample()) ? true : null), 3000, 'keep-alive timers').catch(() => {});
  });
  assert.ok(!a.ended, `A: the quiet tunnel was dropped after ${a.endedAfterMs} ms`);
  assert.ok(a.got.equals(a.sent), `A: ${a.got.length} bytes came back, ${a.sent.length} sent`);
  await h.pollUntil(async () => (lA.matches(/tunnel t\d+ closed: .*reason="closed"/).length === 1 ? true : null), 10000,
                    'A: the tunnel closes cleanly');
  assert.equal(tA.matches(/control channel lost/).length, 0, 'A: the control channel was never lost');
  ok(`A: ${QUIET_MS / 1000} s quiet through the ${LIMIT_S} s limit, then 8 KiB echoed byte-exact; closed cleanly`);
  for (const [what, list] of Object.entries(armed)) {
    assert.ok(list.length >= 1, `${what}: found in /proc/net/tcp`);
    for (const s of list) {
      assert.equal(s.timer, 2, `${what} (${s.local} -> ${s.remote}): TCP keep-alive timer armed (timer ${s.timer})`);
      assert.ok(s.dueS > 30 && s.dueS <= 60, `${what}: first probe due in ${s.dueS} s`);
    }
  }
  ok(`TCP keep-alive armed on every socket of the tunnel: ${Object.entries(armed).map(([w, l]) => `${w} (${l.length})`).join(', ')}`);

  const hcB = h.uniqueName('dropped');
  const portB = await h.freePort();
  const argsB = [...relay.daemonArgs(), '--keepalive', '5'];
  await t.startDaemon([...argsB, '-T', `${hcB}:127.0.0.1:${echo.port}`], { name: 'B: hcbridge -T (keepalive 5)' });
  await t.startDaemon([...argsB, '-L', `${portB}:${hcB}`], { name: 'B: hcbridge -L (keepalive 5)' });
  const b = await quietTunnel(portB, 'B: tunnel');
  assert.ok(b.ended, 'B: a tunnel quiet for longer than the limit without keep-alive frames must be dropped');
  assert.ok(b.endedAfterMs >= LIMIT_S * 1000 - 100 && b.endedAfterMs < QUIET_MS,
            `B: dropped ${b.endedAfterMs} ms into the quiet`);
  ok(`B (control): the same quiet tunnel with keepalive 5 s was dropped ${b.endedAfterMs} ms into the quiet`);
});
