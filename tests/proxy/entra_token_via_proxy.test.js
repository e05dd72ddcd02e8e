'use strict';
// Proof (issue 13): with a proxy configured (https_proxy), the Entra ID token endpoint is reached through it, and a
// managed-identity endpoint (IMDS) never is.
//  (a) client secret: the daemon's token request and its relay dials go through tinyproxy (its log shows
//      "CONNECT localhost:<token port>"), 64 KiB echo byte-exact through the tunnel;
//  (b) managed identity via IMDS (AZURE_POD_IDENTITY_AUTHORITY_HOST): echo byte-exact, and tinyproxy never saw the
//      IMDS port while it did carry the relay dials.
const h = require('../interop/lib/harness');
const { entraSetup, echoThrough } = require('../interop/lib/entra_setup');
const { startTinyproxy } = require('./lib/proxies');
const { assert, ok } = h;

h.run('entra_token_via_proxy: the token endpoint through tinyproxy, IMDS never', async (t) => {
  const s = await entraSetup(t);
  const echo = await t.tcpEchoServer('echo target');
  const tp = await startTinyproxy(t);
  const proxy = { https_proxy: `127.0.0.1:${tp.port}` };
  // By name, so that tinyproxy logs "CONNECT localhost:PORT" (the test certificate is for localhost).
  const relayArgs = s.daemonArgs.map((a) => (a === `${s.relay.base}/` ? `wss://localhost:${s.relay.port}/` : a));

  const hc = h.uniqueName('proxied');
  const port = await h.freePort();
  const env = { ...s.env['client-secret'], ...proxy, AZURE_AUTHORITY_HOST: `https://localhost:${s.ts.httpsPort}/` };
  const d = await t.startDaemon([...relayArgs, '-T', `${hc}:127.0.0.1:${echo.port}`, '-L', `${port}:${hc}`],
                                { name: 'hcbridge client-secret via proxy', env });
  await echoThrough(port, 64 * 1024, 'client-secret tunnel via proxy');
  assert.ok(tp.lines(new RegExp(`CONNECT localhost:${s.ts.httpsPort} `)).length >= 1, 'the token request went through tinyproxy');
  assert.ok(tp.lines(new RegExp(`CONNECT localhost:${s.relay.port} `)).length >= 3, 'the relay dials went through tinyproxy');
  await d.stop();
  ok('client secret: token endpoint and relay reached through tinyproxy, echo byte-exact');

  const hc2 = h.uniqueName('imds');
  const port2 = await h.freePort();
  const before = tp.lines(new RegExp(`CONNECT localhost:${s.relay.port} `)).length;
  const d2 = await t.startDaemon([...relayArgs, '-T', `${hc2}:127.0.0.1:${echo.port}`, '-L', `${port2}:${hc2}`],
                                 { name: 'hcbridge IMDS with proxy', env: { ...s.env['managed-identity (IMDS)'], ...proxy } });
  await echoThrough(port2, 64 * 1024, 'IMDS tunnel with a proxy configured');
  assert.ok(tp.lines(new RegExp(`CONNECT localhost:${s.relay.port} `)).length > before, 'relay dials still went through tinyproxy');
  assert.equal(tp.lines(new RegExp(`:${s.ts.httpPort}\\b`)).length, 0, 'IMDS was never asked through tinyproxy');
  assert.ok((s.ts.stats.byKind.imds || 0) >= 1, 'the token came from IMDS');
  await d2.stop();
  ok('managed identity: IMDS dialled directly although a proxy is configured, relay through it, echo byte-exact');
}, { timeoutMs: 60000 });
