'use strict';
// The token endpoint down for longer than a refresh interval but shorter than the token's life: no tunnel lost.
// One daemon runs -T and -L for one hybrid connection with a client secret (chosen because the loopback endpoint has
// no SAS key: no --auth flag), tokens live 40 s and are refreshed at 80% of that (minus up to 2 s of jitter). Right after the first token
// the token service refuses every request (dropped connections) until 5 s before that token expires, so the
// scheduled refresh and its first retries fail. A tunnel every 1.5 s throughout. Asserted:
//  - every tunnel echoed byte-exact, the control channel connected once and was never lost, hcrelay never closed it
//    for token expiry, and the token fetched after the outage reached it through renewToken before the first expired;
//  - the daemon logged the failed refreshes as warnings with the remaining validity (no error), and /readyz
//    showed the token valid during the outage;
//  - the outage was longer than the interval between the first token and the refresh the daemon attempted.
const h = require('./lib/harness');
const { entraSetup, echoThrough } = require('./lib/entra_setup');

const { assert, ok, pollUntil } = h;
const LIFETIME = 40;
const UP_BEFORE_EXPIRY_S = 5;
const AFTER_MS = 4000; // tunnels keep going this long after the token service is back
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

h.run(`daemon_entra_outage: token service down for most of a ${LIFETIME} s token's life`, async (t) => {
  const s = await entraSetup(t, { lifetime: LIFETIME });
  const echo = await t.tcpEchoServer('echo target');
  const hc = h.uniqueName('outage');
  const port = await h.freePort();
  const admin = await h.freePort();
  const args = s.daemonArgs.filter((a, i, all) => a !== '--auth' && all[i - 1] !== '--auth');
  const d = await t.startDaemon([...args, '--keepalive', '5', '--admin', `127.0.0.1:${admin}`, '-T', `${hc}:127.0.0.1:${echo.port}`, '-L', `${port}:${hc}`],
                                { name: 'hcbridge client secret', env: s.env['client-secret'] });
  assert.equal(d.matches(/relay authentication: Entra ID client-secret/).length, 1,
               'the loopback endpoint without a SAS key used the Entra client secret');
  const first = s.ts.stats.requests.find((r) => r.path.endsWith('/oauth2/v2.0/token'));
  assert.ok(first, 'the daemon fetched a token');
  const expiresAt = (Math.floor(first.at / 1000) + LIFETIME) * 1000;
  const upAt = expiresAt - UP_BEFORE_EXPIRY_S * 1000;
  s.ts.down(true);
  const downAt = Date.now();
  t.defer('token service up', () => s.ts.down(false));

  // Tunnels every 1.5 s, in the background, until AFTER_MS after the token service is back.
  let tunnels = 0;
  const tunnelLoop = (async () => {
    while (Date.now() < upAt + AFTER_MS) {
      const round = Date.now();
      await echoThrough(port, 16 * 1024, `tunnel ${tunnels + 1} at ${((round - downAt) / 1000).toFixed(1)} s into the outage`);
      tunnels += 1;
      await sleep(Math.max(0, 1500 - (Date.now() - round)));
    }
  })();
  // The scheduled refresh fails while the service is down; the token is still valid then.
  await pollUntil(() => d.matches(/Entra ID token refresh failed/).length > 0, Math.max(1000, upAt - Date.now()),
                  'a refresh attempted (and failed) during the outage');
  const tok = JSON.parse((await h.httpGet(admin, '/readyz')).body).tokens[0];
  assert.ok(tok.valid && tok.expires_in > 0, `/readyz during the outage: ${JSON.stringify(tok)}`);
  await sleep(Math.max(0, upAt - Date.now()));
  s.ts.down(false);
  ok(`token service back after ${((Date.now() - downAt) / 1000).toFixed(1)} s down`);
  await tunnelLoop;
  const outageS = (upAt - downAt) / 1000;
  await pollUntil(() => new RegExp(`control \\S+ \\(${hc}\\): token renewed`).test(s.relay.stderr),
                  5000, 'a refreshed token renewed on the relay');

  const failures = d.matches(/Entra ID token refresh failed \(client-secret\): .*valid for (\d+) s more/);
  assert.ok(failures.length >= 1, 'the refresh during the outage failed and was retried while the token lived');
  assert.ok(outageS > LIFETIME * 0.8 - 2, `the outage (${outageS.toFixed(1)} s) spans the refresh interval`);
  assert.equal(d.matches(/control channel lost/).length, 0, 'the control channel must never be lost');
  assert.equal(d.matches(/control channel connected/).length, 1, 'one control channel throughout');
  assert.ok(!/token expired, closing with 1008/.test(s.relay.stderr), 'the relay never closed the channel for expiry');
  assert.equal(d.matches(/ error /).length, 0, 'no error logged');
  ok(`token service down ${outageS.toFixed(1)} s of a ${LIFETIME} s token: ${tunnels} tunnels all byte-exact, ` +
     `${failures.length} failed refreshes retried, one control channel throughout`);
}, { timeoutMs: (LIFETIME + 40) * 1000 });
