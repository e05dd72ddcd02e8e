'use strict';
// Proof (issue 12) with tinyproxy (it answers HTTP/1.0 and logs "Established connection" when a tunnel opens):
//  (a) a -T and a -L daemon reach hcrelay only through tinyproxy: 256 KiB echo byte-exact, tinyproxy's log shows
//      `CONNECT localhost:PORT` and `Established connection to host "localhost"` for the control channel, the
//      rendezvous and the sender;
//  (b) tinyproxy with BasicAuth: no credentials -> 407 ("requires authentication"), wrong ones -> 401 ("rejected the
//      proxy credentials"), each counted in /metrics by reason and shown in /readyz;
//  (c) ConnectPort 443 only -> 403: a policy refusal, logged as such and retried only at backoff_max;
//  (d) tinyproxy `Timeout 3` (idle tunnels closed after 3 s) with --keepalive 1: the control channel survives
//      three idle periods and a tunnel works afterwards;
//  (e) tinyproxy killed with a tunnel open: the client's connection ends, the control channel comes back once
//      tinyproxy is restarted on the same port, and a new tunnel works.
const crypto = require('node:crypto');
const h = require('../interop/lib/harness');
const { startTinyproxy, proxyEnv } = require('./lib/proxies');
const { assert, ok } = h;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms)); // only where time itself is under test (d)

async function echo(port, bytes, what) {
  const payload = crypto.randomBytes(bytes);
  const sock = await h.tcpConnect(port, what);
  const rx = h.readToEnd(sock, { ms: 20000, what });
  await h.writeAll(sock, payload, { end: true });
  assert.equal((await rx).sha256, h.sha256(payload), `${what}: byte-exact`);
}

async function metric(adminPort, re) {
  const res = await h.httpGet(adminPort, '/metrics');
  const m = re.exec(res.body);
  return m ? Number(m[1]) : 0;
}

h.run('through_tinyproxy: tunnels, 407/401/403, idle timeout vs keepalive, proxy restart', async (t) => {
  h.registerSecret('hcbtestsecret1');
  h.registerSecret('wrongsecret99');
  const relay = await t.startRelay({ logLevel: 'info' });
  const target = await t.tcpEchoServer('echo target');
  // The relay by name (its certificate is for localhost): the proxies log "CONNECT localhost:PORT".
  const relayArgs = relay.daemonArgs().map((a) => (a === relay.base + '/' ? `wss://localhost:${relay.port}/` : a));

  // (a) + (d): plain tinyproxy that closes tunnels idle for 3 s; pings every second keep the channel alive.
  const tp = await startTinyproxy(t, { timeout: 3 });
  const env = proxyEnv({ https_proxy: `127.0.0.1:${tp.port}` }); // no scheme: http://
  const hc = h.uniqueName('tiny');
  const tD = await t.startDaemon([...relayArgs, '--keepalive', '1', '-T', `${hc}:127.0.0.1:${target.port}`],
                                 { name: 'hcbridge -T', env });
  const lPort = await h.freePort();
  await t.startDaemon([...relayArgs, '-L', `${lPort}:${hc}`], { name: 'hcbridge -L', env });
  await echo(lPort, 256 * 1024, 'echo through tinyproxy');
  const established = tp.lines(/Established connection to host "localhost" using/);
  const requests = tp.lines(new RegExp(`Request \\(file descriptor \\d+\\): CONNECT localhost:${relay.port} HTTP/1.1`));
  assert.ok(established.length >= 3 && requests.length >= 3,
            `control channel, rendezvous and sender through tinyproxy: ${established.length} established, ${requests.length} requests`);
  ok(`echo byte-exact through tinyproxy; ${established.length} tunnels established`);

  const mark = tD.lineCount();
  await sleep(3 * 3000 + 500);
  assert.deepEqual(tD.linesSince(mark).filter((l) => /control channel lost/.test(l)), [],
                   'with keepalive 1 s under tinyproxy\'s Timeout 3 the control channel must stay up');
  await echo(lPort, 1024, 'echo after three idle periods');
  ok('keepalive 1 s under a 3 s proxy idle timeout: control channel stayed up, tunnel works');

  // (e) tinyproxy killed with a tunnel open; restarted on the same port.
  const beforeHeld = tp.lines(/Established connection/).length;
  const held = await h.tcpConnect(lPort, 'long-lived client');
  const heldClosed = new Promise((resolve) => held.on('close', resolve));
  held.on('error', () => {});
  held.write('x');
  await h.pollUntil(() => tp.lines(/Established connection/).length >= beforeHeld + 2, 10000, 'tunnel through tinyproxy');
  const lost = tD.lineCount();
  await tp.kill();
  await h.withDeadline(heldClosed, 15000, 'the open tunnel ends when the proxy dies');
  await tD.waitForLog(/control channel lost/, 15000, { from: lost, what: 'control channel lost after the proxy died' });
  const tp2 = await startTinyproxy(t, { timeout: 600, port: tp.port });
  await tD.waitForLog(/control channel connected/, 40000, { from: lost, what: 'control channel back through the restarted proxy' });
  await echo(lPort, 64 * 1024, 'echo through the restarted tinyproxy');
  assert.ok(tp2.lines(/Established connection to host "localhost"/).length >= 3, 'the new tunnels went through the new tinyproxy');
  ok('tinyproxy killed: the open tunnel ended, the control channel came back after the restart, echo works');

  // (b) BasicAuth: none -> 407, wrong -> 401; (c) ConnectPort 443 -> 403. Each daemon has an admin endpoint.
  const authTp = await startTinyproxy(t, { basicAuth: ['hcbtest', 'hcbtestsecret1'] });
  const portTp = await startTinyproxy(t, { connectPorts: [443] });
  const cases = [
    { what: 'no credentials', url: `http://127.0.0.1:${authTp.port}`, status: 407, word: 'proxy_auth_required',
      log: /answered 407 .* requires authentication \(offers: Basic\)/ },
    { what: 'wrong credentials', url: `http://hcbtest:wrongsecret99@127.0.0.1:${authTp.port}`, status: 401,
      word: 'proxy_auth_rejected', log: /answered 401 .* rejected the proxy credentials/ },
    { what: 'ConnectPort 443', url: `http://127.0.0.1:${portTp.port}`, status: 403, word: 'proxy_forbidden',
      log: /answered 403 .* refuses this target by policy.*retrying in 30\.0 s/ },
  ];
  for (const c of cases) {
    const admin = await h.freePort();
    const d = await t.startDaemon([...relayArgs, '--admin', `127.0.0.1:${admin}`, '-T', `${hc}-${c.status}:127.0.0.1:${target.port}`],
                                  { name: `hcbridge -T (${c.what})`, env: proxyEnv({ HTTPS_PROXY: c.url }), ready: [c.log] });
    const ready = await h.httpGet(admin, '/readyz');
    assert.equal(ready.status, 503, `${c.what}: not ready`);
    assert.match(ready.body, new RegExp(`control channel down \\(${c.word}\\)`), `${c.what}: /readyz names the reason`);
    const count = await metric(admin, new RegExp(`hcbridge_control_channel_reconnects_total\\{[^}]*reason="${c.word}"[^}]*\\} (\\d+)`));
    assert.ok(count >= 1, `${c.what}: /metrics counts reason ${c.word}`);
    assert.equal(d.matches(/wrongsecret99|hcbtestsecret1/).length, 0, `${c.what}: no password in the log`);
    ok(`${c.what}: tinyproxy answered ${c.status}; log, /readyz and /metrics say ${c.word}`);
  }
  assert.ok(authTp.lines(/Request \(file descriptor \d+\): CONNECT localhost/).length >= 2, 'tinyproxy (auth) saw both daemons');
});
