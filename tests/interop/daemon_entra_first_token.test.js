'use strict';
// A local client that arrives before the -L daemon has its first Entra ID token waits for it instead of being
// refused. A -T daemon (client secret) is connected first; then the token service holds the next token request for
// 2 s and an -L daemon starts: a client connects as soon as it listens, before that token exists, and its bytes are
// echoed byte-exact once the token comes. A second -L daemon with --connect-timeout 1 whose token is held for 4 s:
// its early client is reset and counted as hcbridge_tunnels_failed_total{reason="no_token"}; no secret is logged.
const h = require('./lib/harness');
const { entraSetup, echoThrough } = require('./lib/entra_setup');

const { assert, ok } = h;

function failures(metricsText, reason) {
  const m = new RegExp(`^hcbridge_tunnels_failed_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)$`, 'm').exec(metricsText);
  return m ? Number(m[1]) : NaN;
}

h.run('daemon_entra_first_token: an early -L client waits for the first Entra ID token', async (t) => {
  const s = await entraSetup(t);
  const echo = await t.tcpEchoServer('echo target');
  const hc = h.uniqueName('early');
  const args = s.daemonArgs.filter((a, i, all) => a !== '--auth' && all[i - 1] !== '--auth');
  await t.startDaemon([...args, '-T', `${hc}:127.0.0.1:${echo.port}`], { name: 'hcbridge -T', env: s.env['client-secret'] });
  const issuedBefore = s.ts.stats.issued;

  // 1. The token comes 2 s after the -L daemon asks: the early client waits and is served.
  s.ts.script('token', [{ delayMs: 2000 }]);
  const port = await h.freePort();
  const admin = await h.freePort();
  const l = await t.startDaemon([...args, '--admin', `127.0.0.1:${admin}`, '-L', `${port}:${hc}`],
                                { name: 'hcbridge -L', env: s.env['client-secret'] });
  assert.equal(s.ts.stats.issued, issuedBefore, 'the -L daemon has no token yet when its client connects');
  const started = Date.now();
  const n = await echoThrough(port, 64 * 1024, 'early client');
  const waitedMs = Date.now() - started;
  assert.ok(s.ts.stats.issued > issuedBefore, 'the token was issued before the tunnel opened');
  assert.ok(waitedMs >= 1000, `the client waited for the token (${waitedMs} ms)`);
  const metrics = (await h.httpGet(admin, '/metrics')).body;
  assert.equal(failures(metrics, 'no_token'), 0, 'no_token exported from the first scrape, and 0');
  assert.equal(l.matches(/cannot open a tunnel/).length, 0, 'no refused tunnel');
  ok(`an early client waited ${waitedMs} ms for the first token, then ${n} bytes echoed byte-exact`);

  // 2. The token comes after the connect timeout: the early client is reset, counted as no_token.
  s.ts.script('token', [{ delayMs: 4000 }]);
  const port2 = await h.freePort();
  const admin2 = await h.freePort();
  const l2 = await t.startDaemon([...args, '--connect-timeout', '1', '--admin', `127.0.0.1:${admin2}`, '-L', `${port2}:${hc}`],
                                 { name: 'hcbridge -L (1 s connect timeout)', env: s.env['client-secret'] });
  const sock = await h.tcpConnect(port2, 'early client, 1 s timeout');
  const closed = h.deferred();
  let error = null;
  sock.on('error', (e) => { error = e.code || e.message; });
  sock.on('close', () => closed.resolve());
  sock.resume();
  await h.withDeadline(closed.promise, 5000, 'the early client is closed after the connect timeout');
  await l2.waitForLog(/cannot open a tunnel: no relay token within the connect timeout/, 2000);
  const metrics2 = (await h.httpGet(admin2, '/metrics')).body;
  assert.equal(failures(metrics2, 'no_token'), 1, 'the failure counted as no_token');
  ok(`with --connect-timeout 1 and the token 4 s late, the early client was closed (${error || 'end'}), counted as no_token`);
});
