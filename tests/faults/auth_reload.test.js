'use strict';
// Fault case: a wrong key (401), fixed by a reload without a restart. Both daemons start from config files that
// hold a wrong key for the relay's rule. Asserted:
//  - -T: "control channel refused: 401 Unauthorized" at error level, retried with backoff (delays <= backoff_max),
//    reconnects_total{reason=unauthorized} counts every attempt, /readyz 503;
//  - -L: a client is closed promptly (the relay answers 401: tunnels_failed{relay_refused}), the daemon stays healthy;
//  - the files are fixed and both daemons get SIGHUP: the same processes (PIDs) come up (control channel connected,
//    /readyz 200, config_reloads_total{ok} 1) and a tunnel echoes 256 KiB byte-exact (SHA-256);
//  - neither key (wrong or right) appears in any log line or in /metrics.
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const BACKOFF_MAX = 1;

h.run('faults.auth_reload: 401 with a wrong key, recovered by a reload', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hc = h.uniqueName('auth');
  const fwd = `T:${hc}`;
  const echo = await t.tcpEchoServer('echo target');
  const dir = f.tempDir(t);
  const [tAdmin, lAdmin, lport] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const wrongKey = h.randomKey();
  const tConfig = (key) => ({
    relay: { ...relay.daemonRelayConfig(), key }, backoff_initial: 0.25, backoff_max: BACKOFF_MAX,
    admin: { bind: `127.0.0.1:${tAdmin}` }, log: { level: 'debug' }, remote_forward: [{ hc, target: `127.0.0.1:${echo.port}` }],
  });
  const lConfig = (key) => ({
    relay: { ...relay.daemonRelayConfig(), key }, admin: { bind: `127.0.0.1:${lAdmin}` }, log: { level: 'debug' },
    local_forward: [{ hc, bind: String(lport) }],
  });
  const tCfg = f.writeConfig(dir, 'listener.json', tConfig(wrongKey));
  const lCfg = f.writeConfig(dir, 'sender.json', lConfig(wrongKey));
  const tD = await t.startDaemon(['-c', tCfg], { name: 'hcbridge -T', ready: [/control channel refused: 401 Unauthorized/] });
  const lD = await t.startDaemon(['-c', lCfg], { name: 'hcbridge -L', ready: [/listening on/] });

  await until('three 401s', 3 * (BACKOFF_MAX * 1000 + 1000) + 2000, () => tD.matches(/error.*control channel refused: 401 Unauthorized/).length >= 3);
  const delays = tD.matches(/control channel refused: 401 .*; retrying in ([\d.]+) s/).map((m) => Number(m[1]));
  for (const d of delays) assert.ok(d <= BACKOFF_MAX + 0.05, `retry delay ${d} s above backoff_max`);
  const unauthorized = (await f.metrics(tAdmin)).get('hcbridge_control_channel_reconnects_total', { forward: fwd, reason: 'unauthorized' });
  assert.ok(unauthorized >= delays.length, `reconnects_total{unauthorized} ${unauthorized} >= ${delays.length} refusals logged`);
  assert.equal(await f.readyz(tAdmin), 503, '/readyz with a wrong key');

  const sock = await h.tcpConnect(lport, 'client with a wrong sender key');
  const gone = f.peerGone(sock);
  const closeMs = (await h.withDeadline(gone, 5000, 'client closed when the relay answers 401')).ms;
  await until('relay_refused counted', 3000, async () => (await f.metrics(lAdmin)).sum('hcbridge_tunnels_failed_total', { reason: 'relay_refused' }) === 1);
  assert.equal((await h.httpGet(lAdmin, '/healthz')).status, 200, '-L healthy');
  ok(`wrong key: -T refused (401) ${delays.length}+ times with delays [${delays.map((d) => d.toFixed(2)).join(', ')}] s, /readyz 503; ` +
     `-L client closed after ${closeMs} ms (relay_refused)`);

  // Fix the key in both files and reload.
  const pids = [tD.pid, lD.pid];
  const mark = tD.lineCount();
  f.writeConfig(dir, 'listener.json', tConfig(relay.key));
  f.writeConfig(dir, 'sender.json', lConfig(relay.key));
  process.kill(tD.pid, 'SIGHUP');
  process.kill(lD.pid, 'SIGHUP');
  const back = await tD.waitForLog(/control channel connected/, 5000 + BACKOFF_MAX * 1000, { from: mark });
  await until('/readyz 200 after the reload', 5000, async () => (await f.readyz(tAdmin)) === 200);
  for (const [d, port] of [[tD, tAdmin], [lD, lAdmin]]) {
    await until(`${d.name}: reload ok`, 5000, async () => (await f.metrics(port)).get('hcbridge_config_reloads_total', { result: 'ok' }) === 1);
  }
  assert.deepEqual([tD.pid, lD.pid], pids, 'same processes');
  await f.echoOnce(lport, { size: 256 * 1024, what: 'echo after the reload' });

  for (const d of [tD, lD]) {
    const text = d.linesSince(0).join('\n');
    for (const k of [wrongKey, relay.key]) assert.ok(!text.includes(k), `${d.name}: a key appears in the log`);
  }
  for (const port of [tAdmin, lAdmin]) {
    const text = (await h.httpGet(port, '/metrics')).body;
    for (const k of [wrongKey, relay.key]) assert.ok(!text.includes(k), 'a key appears in /metrics');
  }
  ok(`fixed by SIGHUP: -T connected ${f.logTime(back.input) - Date.parse(tD.linesSince(mark)[0].slice(0, 24))} ms after the reload began, ` +
     `same PIDs, reloads_total{ok} 1 each, /readyz 200, 256 KiB echoed byte-exact; no key in logs or /metrics`);
}, { timeoutMs: 45000 });
