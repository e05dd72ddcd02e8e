'use strict';
// Proof: an hcbridge -T daemon whose tokens live only 10 s (--token-ttl 10) keeps its control channel for a whole
// minute by renewing the token on the channel (renewToken), and keeps serving: every ~5 s a new tunnel is opened
// through an hcbridge -L daemon (which must itself present a fresh, unexpired token on every new sender connection)
// and 32 KiB are echoed byte-exact. Asserted at the end:
//  - the -T daemon never logged "control channel lost" (nor a keep-alive timeout, with pings every 5 s), and
//    connected exactly once; the relay saw exactly one listener for the HC and never closed it for token expiry;
//  - the relay's debug log shows the renewals ("token renewed"), at least one per 10 s of the hold, matching the
//    number the daemon logged; the relay rejected none;
//  - every tunnel worked (no 401 on the sender side).
const crypto = require('node:crypto');
const h = require('./lib/harness');
const { assert, ok } = h;

const TTL = 10;
const HOLD_MS = Number(process.env.HCB_TOKEN_HOLD_MS || 60000);
const TUNNEL_EVERY_MS = 5000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

h.run(`daemon_token_renewal: --token-ttl ${TTL} keeps serving for ${HOLD_MS / 1000} s`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'debug' });
  const hc = h.uniqueName('renew');
  const echo = await t.tcpEchoServer('echo target');
  const lport = await h.freePort();
  const common = [...relay.daemonArgs(), '--token-ttl', String(TTL), '--keepalive', '5', '--log-level', 'debug'];
  const tDaemon = await t.startDaemon([...common, '-T', `${hc}:127.0.0.1:${echo.port}`], { name: 'hcbridge -T' });
  const lDaemon = await t.startDaemon([...common, '-L', `${lport}:${hc}`], { name: 'hcbridge -L' });

  const started = Date.now();
  let tunnels = 0;
  while (Date.now() - started < HOLD_MS) {
    const round = Date.now();
    const payload = crypto.randomBytes(32 * 1024);
    const what = `tunnel ${tunnels + 1} at ${((round - started) / 1000).toFixed(1)} s`;
    const sock = await h.tcpConnect(lport, what);
    const rx = h.readToEnd(sock, { ms: 10000, what });
    await h.writeAll(sock, payload, { end: true });
    const got = await rx;
    assert.equal(got.sha256, h.sha256(payload), `${what}: echo SHA-256`);
    tunnels += 1;
    const renewals = (relay.stderr.match(/token renewed/g) || []).length;
    ok(`${what}: 32 KiB echoed byte-exact (relay has logged ${renewals} renewals so far)`);
    await sleep(Math.max(0, TUNNEL_EVERY_MS - (Date.now() - round)));
  }
  const heldS = (Date.now() - started) / 1000;

  const relayRenewals = (relay.stderr.match(new RegExp(`control \\S+ \\(${hc}\\): token renewed`, 'g')) || []).length;
  const daemonRenewals = tDaemon.matches(/T:\S+: token renewed/).length;
  assert.equal(tDaemon.matches(/control channel lost/).length, 0, 'the -T daemon must not lose its control channel');
  assert.equal(tDaemon.matches(/no answer to the keep-alive ping/).length, 0, 'no keep-alive timeouts');
  assert.equal(tDaemon.matches(/control channel connected/).length, 1, 'the -T daemon connected exactly once');
  assert.equal((relay.stderr.match(new RegExp(`listener \\S+ connected for '${hc}'`, 'g')) || []).length, 1,
               'the relay saw exactly one listener connection');
  assert.ok(!/token expired, closing with 1008/.test(relay.stderr), 'the relay must never close a channel for token expiry');
  assert.ok(!/renewToken rejected/.test(relay.stderr), 'the relay must not reject a renewal');
  assert.ok(!/ 401 /.test(relay.stderr), 'no request was refused with 401');
  assert.ok(relayRenewals >= Math.floor(heldS / TTL), `at least one renewal per ${TTL} s (${relayRenewals} in ${heldS.toFixed(0)} s)`);
  assert.equal(daemonRenewals, relayRenewals, 'renewals the daemon sent = renewals the relay accepted');
  assert.equal(lDaemon.matches(/tunnel t\d+ closed: .*reason="closed"/).length, tunnels, '-L: every tunnel closed cleanly');
  ok(`held ${heldS.toFixed(1)} s with ${TTL} s tokens: ${tunnels} tunnels all worked, ${relayRenewals} renewals ` +
     `accepted by the relay (daemon sent ${daemonRenewals}), one control channel throughout, no losses`);
}, { timeoutMs: HOLD_MS + 30000 });
