'use strict';
// Proof: an idle tunnel survives a path that drops quiet connections. Paths to Azure Relay drop flows idle for about
// 4 minutes and HTTP proxies often sooner; hcbridge sends a keep-alive frame (an unsolicited pong) on every tunnel
// WebSocket that wrote nothing for `keepalive` seconds. hcrelay --idle-timeout 3 plays such a path: it drops, without
// a close frame, any control channel or tunnel side from which nothing arrived for 3 s.
//  - pair A (--keepalive 1): a tunnel carries bytes, stays quiet for 7 s (over twice the limit), then carries bytes
//    again, byte-exact, and ends cleanly; its control channel is never lost;
//  - pair B (--keepalive 5, above the limit), the control: the same quiet tunnel is dropped by the relay (the client
//    sees its connection end within a few seconds), which shows the limit is real and that keep-alive is what holds.
const crypto = require('node:crypto');
const h = require('./lib/harness');
const { assert, ok } = h;

const LIMIT_S = 3;
const QUIET_MS = 7000;

// Opens a tunnel through `port`, echoes one piece, stays quiet, echoes another: resolves what came back, or the error.
async function quietTunnel(port, what) {
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
  const a = await quietTunnel(portA, 'A: tunnel');
  assert.ok(!a.ended, `A: the quiet tunnel was dropped after ${a.endedAfterMs} ms`);
  assert.ok(a.got.equals(a.sent), `A: ${a.got.length} bytes came back, ${a.sent.length} sent`);
  await h.pollUntil(async () => (lA.matches(/tunnel t\d+ closed: .*reason="closed"/).length === 1 ? true : null), 10000,
                    'A: the tunnel closes cleanly');
  assert.equal(tA.matches(/control channel lost/).length, 0, 'A: the control channel was never lost');
  ok(`A: ${QUIET_MS / 1000} s quiet through the ${LIMIT_S} s limit, then 8 KiB echoed byte-exact; closed cleanly`);

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
