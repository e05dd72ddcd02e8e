'use strict';
// Proof (issue 12): the daemons reach hcrelay (TLS, certificate for localhost) only through squid.
//  (a) squid with Basic auth, the password "p@ss:w%rd" percent-encoded in HTTPS_PROXY: a -T and a -L daemon connect
//      through it; 256 KiB echo byte-exact; squid's access log shows `TCP_TUNNEL/200 ... CONNECT localhost:PORT alice`
//      for the tunnels, and the relay never sees a direct dial (it is reached by name "localhost", the proxy by IP);
//  (b) the same password wrong: the daemon says the proxy rejected the credentials, backs off, and the attempts squid
//      counts (TCP_DENIED/407) match the daemon's own over a window, with no storm;
//  (c) NO_PROXY matching "localhost": a -T/-L pair with the same HTTPS_PROXY dials directly: echo works, squid logs
//      no CONNECT.
const crypto = require('node:crypto');
const h = require('../interop/lib/harness');
const { startSquid, proxyEnv } = require('./lib/proxies');
const { assert, ok } = h;

const USER = 'alice';
const PASSWORD = 'p@ss:w%rd';
const WRONG = 'wrong-p@ss';
const WINDOW_MS = 6000;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms)); // only to let time pass for counting (b)

h.run('through_squid: daemons reach hcrelay only through squid (Basic auth), wrong password backs off, NO_PROXY', async (t) => {
  h.registerSecret(PASSWORD);
  h.registerSecret(encodeURIComponent(PASSWORD));
  h.registerSecret(Buffer.from(`${USER}:${PASSWORD}`).toString('base64'));
  h.registerSecret(WRONG);
  const relay = await t.startRelay({ logLevel: 'info' });
  const squid = await startSquid(t, { auth: [USER, PASSWORD] });
  const echo = await t.tcpEchoServer('echo target');
  const hc = h.uniqueName('squid');
  // The relay by name (its certificate is for localhost): the proxies log "CONNECT localhost:PORT".
  const relayArgs = relay.daemonArgs().map((a) => (a === relay.base + '/' ? `wss://localhost:${relay.port}/` : a));
  const proxyUrl = (pw) => `http://${USER}:${encodeURIComponent(pw)}@127.0.0.1:${squid.port}`;

  // (a)
  const env = proxyEnv({ HTTPS_PROXY: proxyUrl(PASSWORD) });
  await t.startDaemon([...relayArgs, '--log-level', 'debug', '-T', `${hc}:127.0.0.1:${echo.port}`], { name: 'hcbridge -T', env });
  const lPort = await h.freePort();
  const lDaemon = await t.startDaemon([...relayArgs, '-L', `${lPort}:${hc}`], { name: 'hcbridge -L', env });
  const payload = crypto.randomBytes(256 * 1024);
  const sock = await h.tcpConnect(lPort, 'client via -L');
  const rx = h.readToEnd(sock, { ms: 20000, what: 'echo through squid' });
  await h.writeAll(sock, payload, { end: true });
  assert.equal((await rx).sha256, h.sha256(payload), 'echo through squid must be byte-exact');
  const tunnelLine = new RegExp(`TCP_TUNNEL/200 \\d+ CONNECT localhost:${relay.port} ${USER} `);
  // squid logs a tunnel when it ends: the sender's and the rendezvous tunnel of this echo.
  const lines = await h.pollUntil(() => { const l = squid.lines(tunnelLine); return l.length >= 2 && l; }, 10000,
                                  'two TCP_TUNNEL/200 lines in squid\'s access log');
  ok(`echo 256 KiB byte-exact through squid; access log: ${lines.length} tunnels, e.g. ${lines[0].replace(/^\S+\s+/, '')}`);

  // (c) NO_PROXY matches the relay host (case-insensitively): both daemons dial directly, squid sees nothing.
  const before = squid.log().split('\n').length;
  const hc2 = h.uniqueName('squid-bypass');
  const bypassEnv = proxyEnv({ HTTPS_PROXY: proxyUrl(PASSWORD), NO_PROXY: 'example.org,LOCALHOST' });
  const t2 = await t.startDaemon([...relayArgs, '-T', `${hc2}:127.0.0.1:${echo.port}`], { name: 'hcbridge -T (NO_PROXY)', env: bypassEnv });
  const dPort = await h.freePort();
  const l2 = await t.startDaemon([...relayArgs, '-L', `${dPort}:${hc2}`], { name: 'hcbridge -L (NO_PROXY)', env: bypassEnv });
  assert.equal(await h.echoText(dPort, 'direct'), 'direct');
  // Both tunnels have ended on both sides (squid would log them at their end, as in (a)).
  for (const d of [t2, l2]) await d.waitForLog(/tunnel t\d+ closed/, 10000, { what: `${d.name}: tunnel closed` });
  const after = squid.log().split('\n').slice(before - 1).filter((l) => l.includes('CONNECT'));
  assert.deepEqual(after, [], 'with NO_PROXY matching, squid must see no CONNECT');
  ok('NO_PROXY=...,LOCALHOST: echo works directly, no squid log line');

  // (b) wrong password: clear error, backoff, attempts counted on both sides.
  const denied = () => squid.lines(new RegExp(`TCP_DENIED/407 \\d+ CONNECT localhost:${relay.port} ${USER} `)).length;
  const deniedBefore = denied();
  const bad = await t.startDaemon([...relayArgs, '-T', `${hc}-bad:127.0.0.1:${echo.port}`], {
    name: 'hcbridge -T (wrong password)', env: proxyEnv({ HTTPS_PROXY: proxyUrl(WRONG) }),
    ready: [/control channel refused: proxy http:\/\/alice:\*\*\*@127\.0\.0\.1:\d+ answered 407 .*rejected the proxy credentials.*retrying in/] });
  const started = Date.now();
  await sleep(WINDOW_MS);
  const daemonAttempts = bad.matches(/rejected the proxy credentials/).length;
  const squidAttempts = denied() - deniedBefore;
  const seconds = (Date.now() - started + 0.0) / 1000;
  assert.ok(daemonAttempts >= 2, `the daemon must retry (got ${daemonAttempts} attempts in ${seconds} s)`);
  // Backoff 1 s, doubling, full jitter: at most ~log2 of the window plus a few near-zero draws. A storm would be
  // hundreds.
  assert.ok(daemonAttempts <= 10, `no storm: ${daemonAttempts} attempts in ${seconds} s`);
  assert.ok(Math.abs(squidAttempts - daemonAttempts) <= 1,
            `squid's 407 count (${squidAttempts}) must match the daemon's attempts (${daemonAttempts})`);
  ok(`wrong password: ${daemonAttempts} attempts in ${seconds.toFixed(1)} s (squid counted ${squidAttempts} x 407)`);
  assert.equal(lDaemon.matches(/p@ss|p%40ss/).length, 0, 'the password is never logged');
});
