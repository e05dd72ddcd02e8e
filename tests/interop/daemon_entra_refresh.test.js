'use strict';
// Short-lived Entra ID tokens (10 s) held for more than two lifetimes by one daemon running -T and -L for one hybrid
// connection with workload identity, while the federated token file is rotated every 2 s and the token endpoint fails
// the first refresh with a 503. A tunnel every 1.5 s. Asserted:
//  - every tunnel echoed byte-exact (0 failed), the control channel connected once and was never lost, hcrelay never
//    closed it for token expiry: refreshed tokens reached it through renewToken (the relay re-verified each one);
//  - the refresh that got the 503 was retried while the token still lived (a warning, no error);
//  - both forwards shared one token: the token service issued about one token per refresh, not one per forward;
//  - the rotated file was re-read on every request (the token service accepts only the file's current content).
const h = require('./lib/harness');
const { entraSetup, echoThrough } = require('./lib/entra_setup');

const { assert, ok } = h;
const LIFETIME = 10;
const HOLD_MS = 24000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

h.run(`daemon_entra_refresh: ${LIFETIME} s Entra tokens held for ${HOLD_MS / 1000} s`, async (t) => {
  const s = await entraSetup(t, { lifetime: LIFETIME });
  const echo = await t.tcpEchoServer('echo target');
  const hc = h.uniqueName('refresh');
  const port = await h.freePort();
  const admin = await h.freePort();
  const d = await t.startDaemon([...s.daemonArgs, '--keepalive', '5', '--admin', `127.0.0.1:${admin}`, '-T', `${hc}:127.0.0.1:${echo.port}`, '-L', `${port}:${hc}`],
                                { name: 'hcbridge workload identity', env: s.env['workload-identity'] });
  s.ts.script('token', [{ status: 503 }]);  // the first refresh fails once
  const rotation = setInterval(s.rotate, 2000);
  t.defer('stop rotating', () => clearInterval(rotation));

  const started = Date.now();
  let tunnels = 0;
  while (Date.now() - started < HOLD_MS) {
    const round = Date.now();
    await echoThrough(port, 16 * 1024, `tunnel ${tunnels + 1} at ${((round - started) / 1000).toFixed(1)} s`);
    tunnels += 1;
    await sleep(Math.max(0, 1500 - (Date.now() - round)));
  }
  clearInterval(rotation);
  const heldS = (Date.now() - started) / 1000;

  const relayRenewals = (s.relay.stderr.match(new RegExp(`control \\S+ \\(${hc}\\): token renewed`, 'g')) || []).length;
  const issued = s.ts.stats.byKind.federated || 0;
  assert.equal(d.matches(/control channel lost/).length, 0, 'the control channel must never be lost');
  assert.equal(d.matches(/control channel connected/).length, 1, 'one control channel throughout');
  assert.ok(!/token expired, closing with 1008/.test(s.relay.stderr), 'the relay never closed the channel for expiry');
  assert.ok(!/renewToken rejected/.test(s.relay.stderr), 'the relay accepted every renewal');
  assert.ok(relayRenewals >= 2, `renewToken carried the refreshed tokens (${relayRenewals} renewals)`);
  assert.equal(d.matches(/T:\S+: token renewed/).length, relayRenewals, 'renewals sent = renewals accepted');
  assert.ok(d.matches(/Entra ID token refresh failed \(workload-identity\): answered 503 .*valid for \d+ s more/).length >= 1,
            'the 503 was retried while the token lived');
  assert.equal(d.matches(/ error /).length, 0, 'no error logged');
  // One fetch at start plus one per refresh (every 7.5..8 s): shared by both forwards.
  assert.ok(issued >= 1 + Math.floor(heldS / LIFETIME) && issued <= 2 + Math.ceil(heldS / 7.5),
            `one token per refresh for both forwards (${issued} issued in ${heldS.toFixed(0)} s)`);
  // /readyz and /metrics show the token: valid, the failed fetch counted (and no token in either).
  const ready = JSON.parse((await h.httpGet(admin, '/readyz')).body);
  assert.equal(ready.tokens.length, 1, `one shared token source: ${JSON.stringify(ready.tokens)}`);
  const tok = ready.tokens[0];
  assert.ok(tok.credential === 'workload-identity' && tok.valid && tok.expires_in > 0 && tok.expires_in <= LIFETIME,
            `/readyz token state: ${JSON.stringify(tok)}`);
  assert.ok(tok.fetches_ok === issued && tok.fetches_failed === 1, `/readyz fetch counts: ${JSON.stringify(tok)}`);
  const metrics = (await h.httpGet(admin, '/metrics')).body;
  assert.ok(/hcbridge_token_fetches_total\{credential="workload_identity",result="failed"\} 1\b/.test(metrics), 'failed fetch metric');
  assert.ok(/hcbridge_token_expiry_seconds\{credential="workload_identity"\} \d{10}/.test(metrics), 'expiry metric');
  ok(`held ${heldS.toFixed(1)} s with ${LIFETIME} s tokens: ${tunnels} tunnels all byte-exact, ${issued} tokens fetched, ` +
     `${relayRenewals} renewToken accepted, one control channel throughout`);
}, { timeoutMs: HOLD_MS + 30000 });
