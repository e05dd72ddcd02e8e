'use strict';
// Fault case: the relay misbehaves towards control channels and upgrades (hcrelay --fault-control). Setup: hcrelay
// (TLS, fault control on), hcbridge -T (config file: backoff 0.25..1 s, connect_timeout 2 s, admin endpoint) on an
// echo target, hcbridge -L (admin endpoint). Asserted, in order:
//  a. the fault-control surface itself: GET /faults shows the -T listener; an unknown command is 404, bad arguments
//     400, a GET on a command 400; hcrelay refuses --fault-control on a non-loopback address (exit 2);
//  b. drop-control with none (TCP drop, no close frame) / 1001 / 1008 / 1011: the daemon logs the loss with the
//     code, reconnects at once for 1001/1008/1011 (logged delay 0.0 s) and after a drawn delay <= its ceiling for
//     the silent drop, counts reconnects_total{reason=closed_by_relay|connection_lost}, and a new tunnel echoes
//     byte-exact (SHA-256);
//  c. refuse-listeners: the daemon retries with backoff (reason refused), /readyz is 503 meanwhile, a sender
//     through -L is closed promptly (tunnels_failed{no_listener}); once lifted it is back, /readyz 200;
//  d. upgrade-status 429 for 3 requests: exactly 3 refused attempts then connected; 500 for 2 s: back after the 2 s;
//  e. 404 for 3 s after a 1001 close ("HC deleted, then recreated"): reason not_found, error log naming the HC, back
//     on its own once it exists again;
//  f. stall-rendezvous: a sender's tunnel fails promptly on both sides (-T: rendezvous_failed after connect_timeout;
//     the -L client is closed after the relay's accept timeout), nothing stays open; lifted: tunnels work;
//  g. blackhole-after-accept: reconnect attempts time out (connect_failed) and retry; lifted: back;
//  h. afterwards both daemons have 0 open tunnels and the -T daemon's fds are back to its warm-up baseline.
const { spawnSync } = require('node:child_process');
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const BACKOFF_INITIAL = 0.25;
const BACKOFF_MAX = 1;
const CONNECT_TIMEOUT = 2;
const ACCEPT_TIMEOUT = 3;
const MARGIN_MS = 2500;

h.run('faults.relay_control_faults: control-channel drops, refused listeners, upgrade errors, stalled rendezvous', async (t) => {
  // a. Non-loopback fault control is refused before anything starts.
  for (const addr of ['0.0.0.0:0', '192.0.2.1:0', '[::]:0']) {
    const r = spawnSync(process.env.HCRELAY_BIN, ['--no-auth', '--bind', '127.0.0.1:0', '--fault-control', addr],
                        { encoding: 'utf8', timeout: 5000 });
    assert.equal(r.status, 2, `hcrelay --fault-control ${addr} must exit 2 (got ${r.status}: ${r.stderr})`);
    assert.match(r.stderr, /--fault-control must be a loopback address/, `hcrelay --fault-control ${addr}`);
    assert.equal(r.stdout, '', `hcrelay --fault-control ${addr}: nothing on stdout`);
  }
  ok('hcrelay refuses --fault-control on 0.0.0.0, 192.0.2.1 and [::] (exit 2)');

  const relay = await f.faultyRelay(t, { logLevel: 'info', extraArgs: ['--accept-timeout', String(ACCEPT_TIMEOUT)] });
  assert.match(relay.stderr, /warning.*FAULT CONTROL ENABLED.*never in production/, 'the fault-control warning');
  const { hc, fwd, tAdmin, lAdmin, lport, tD, lD } = await f.tunnelPair(t, relay, {
    name: 'ctl', lArgs: ['--connect-timeout', '5'],
    settings: { backoff_initial: BACKOFF_INITIAL, backoff_max: BACKOFF_MAX, connect_timeout: CONNECT_TIMEOUT,
                log: { level: 'debug' } },
  });

  let state = await relay.faultState();
  assert.equal(state.listeners, 1, 'GET /faults: one listener');
  for (const [method, target, status] of [['POST', '/faults/nonsense', 404], ['GET', '/faults/reset', 400],
                                          ['POST', '/faults/drop-control?code=7', 400], ['POST', '/faults/upgrade-status?status=401', 400],
                                          ['POST', '/faults/upgrade-status?status=200&count=1', 400],
                                          ['POST', '/faults/refuse-listeners?on=yes', 400]]) {
    const res = await f.httpRequest(method, relay.faultPort, target);
    assert.equal(res.status, status, `${method} ${target}: ${res.body}`);
  }
  ok('fault control: GET /faults shows 1 listener; unknown command 404, bad arguments and GET on a command 400');

  await f.echoOnce(lport, { what: 'warm-up echo' });
  await until('warm-up tunnels closed', 5000, async () => (await f.metrics(tAdmin)).sum('hcbridge_tunnels_open') === 0);
  const baselineFds = await f.steadyFds(tD.pid);

  const reconnects = async (reason) => (await f.metrics(tAdmin)).get('hcbridge_control_channel_reconnects_total', { forward: fwd, reason });
  const connectedAt = () => f.logTime(tD.matches(/control channel connected/).pop().input);
  // 1001/1008/1011 mean "reconnect at once" only for a channel that was up over a second (no storm from a relay
  // closing channels as fast as they come): wait until ours has been, by its own log time.
  const upOverASecond = () => until('control channel up > 1 s', 5000, () => Date.now() - connectedAt() > 1100);

  // b. Control channels dropped.
  for (const code of ['none', '1001', '1008', '1011']) {
    await upOverASecond();
    const reason = code === 'none' ? 'connection_lost' : 'closed_by_relay';
    const before = await reconnects(reason);
    const mark = tD.lineCount();
    const res = await relay.fault('drop-control', `code=${code}`);
    assert.match(res.result, /^dropped 1 control channel/, `drop-control ${code}: ${res.result}`);
    const lost = await tD.waitForLog(/control channel lost: (.*); reconnecting in ([\d.]+) s/, 5000, { from: mark });
    const back = await tD.waitForLog(/control channel connected/, 10000, { from: lost.lineIndex });
    const tookMs = f.logTime(back.input) - f.logTime(lost.input);
    const delay = Number(lost[2]);
    if (code === 'none') {
      assert.doesNotMatch(lost[1], /relay closed the control channel/, 'a TCP drop is not a close frame');
      assert.ok(delay <= BACKOFF_MAX + 0.05, `drawn delay ${delay} s above backoff_max`);
    } else {
      assert.match(lost[1], new RegExp(`relay closed the control channel \\(${code} fault injected\\)`), `close ${code}`);
      assert.equal(delay, 0, `close ${code} means "reconnect at once"`);
    }
    assert.ok(tookMs <= delay * 1000 + MARGIN_MS, `close ${code}: back after ${tookMs} ms (delay ${delay} s)`);
    await until(`reconnects_total{reason=${reason}} counted`, 3000, async () => (await reconnects(reason)) === before + 1);
    await f.echoOnce(lport, { what: `echo after drop ${code}` });
    ok(`drop-control ${code}: daemon logged "${lost[1]}", delay ${delay.toFixed(1)} s, back in ${tookMs} ms, ` +
       `reconnects_total{reason="${reason}"} +1, new tunnel echoes byte-exact`);
  }

  // c. New listeners refused.
  {
    const before = await reconnects('refused');
    await relay.fault('refuse-listeners', 'on=1');
    const mark = tD.lineCount();
    await relay.fault('drop-control', 'code=none');
    await until('three refused attempts', 8000, () => tD.matches(/control channel connect failed: 503 Fault injected/, mark).length >= 3);
    assert.equal(await f.readyz(tAdmin), 503, '/readyz while the listener is refused');
    const failedBefore = (await f.metrics(lAdmin)).sum('hcbridge_tunnels_failed_total', { reason: 'no_listener' });
    const sock = await h.tcpConnect(lport, 'client while no listener');
    const gone = f.peerGone(sock);
    const closeMs = (await h.withDeadline(gone, 5000, 'sender closed while no listener')).ms;
    await until('tunnels_failed{no_listener} counted', 3000, async () =>
      (await f.metrics(lAdmin)).sum('hcbridge_tunnels_failed_total', { reason: 'no_listener' }) === failedBefore + 1);
    const refusedCount = (await reconnects('refused')) - before;
    assert.ok(refusedCount >= 3, `reconnects_total{refused} must count the refusals (got +${refusedCount})`);
    const delays = tD.matches(/control channel connect failed: 503.*; retrying in ([\d.]+) s/, mark).map((m) => Number(m[1]));
    for (const d of delays) assert.ok(d <= BACKOFF_MAX + 0.05, `retry delay ${d} s above backoff_max`);
    await relay.fault('refuse-listeners', 'on=0');
    await tD.waitForLog(/control channel connected/, (BACKOFF_MAX + CONNECT_TIMEOUT) * 1000 + MARGIN_MS, { from: mark });
    await until('/readyz 200 again', 3000, async () => (await f.readyz(tAdmin)) === 200);
    await f.echoOnce(lport, { what: 'echo after refused listeners' });
    ok(`refuse-listeners: ${delays.length} refused attempts (503) with delays [${delays.map((d) => d.toFixed(2)).join(', ')}] s, ` +
       `/readyz 503, a sender closed after ${closeMs} ms (no_listener +1); lifted: back, /readyz 200, echo works`);
  }

  // d. 429 for three requests, 500 for two seconds.
  {
    await upOverASecond();
    const before = await reconnects('refused');
    await relay.fault('upgrade-status', 'status=429&count=3');
    const mark = tD.lineCount();
    await relay.fault('drop-control', 'code=1011');
    await tD.waitForLog(/control channel connected/, 4 * (BACKOFF_MAX * 1000 + MARGIN_MS), { from: mark });
    const got429 = tD.matches(/control channel connect failed: 429 /, mark).length;
    assert.equal(got429, 3, 'exactly the 3 injected 429s');
    assert.equal((await reconnects('refused')) - before, 3, 'reconnects_total{refused} +3');
    await upOverASecond();
    const mark500 = tD.lineCount();
    const set = Date.now();
    await relay.fault('upgrade-status', 'status=500&seconds=2');
    await relay.fault('drop-control', 'code=1001');
    const back = await tD.waitForLog(/control channel connected/, 2000 + BACKOFF_MAX * 1000 + MARGIN_MS, { from: mark500 });
    const n500 = tD.matches(/control channel connect failed: 500 /, mark500).length;
    assert.ok(n500 >= 1, 'at least one 500 seen');
    assert.ok(f.logTime(back.input) >= set + 1900, 'not back before the 2 s of 500s are over');
    await f.echoOnce(lport, { what: 'echo after 429/500' });
    ok(`upgrade-status: 3 x 429 then connected; ${n500} x 500 during 2 s then back ${f.logTime(back.input) - set} ms after the fault was set`);
  }

  // e. 404: the hybrid connection is deleted (1001), then recreated.
  {
    await upOverASecond();
    const before = await reconnects('not_found');
    const mark = tD.lineCount();
    const set = Date.now();
    await relay.fault('upgrade-status', 'status=404&seconds=3');
    await relay.fault('drop-control', 'code=1001');
    const refused = await tD.waitForLog(/error.*control channel refused: 404: hybrid connection '([^']+)' not found/, 5000, { from: mark });
    assert.equal(refused[1], hc, 'the 404 error names the HC');
    assert.equal(await f.readyz(tAdmin), 503, '/readyz while the HC is missing');
    const back = await tD.waitForLog(/control channel connected/, 3000 + BACKOFF_MAX * 1000 + MARGIN_MS, { from: mark });
    const n404 = (await reconnects('not_found')) - before;
    assert.ok(n404 >= 2, `reconnects_total{not_found} counts the 404s (+${n404})`);
    await until('/readyz 200 again', 3000, async () => (await f.readyz(tAdmin)) === 200);
    await f.echoOnce(lport, { what: 'echo after the HC was recreated' });
    ok(`404 (HC deleted): ${n404} x not_found, /readyz 503, back ${f.logTime(back.input) - set} ms after deletion (recreated after 3 s), echo works`);
  }

  // f. Rendezvous stalled.
  {
    await relay.fault('stall-rendezvous', 'on=1');
    const failedBefore = (await f.metrics(tAdmin)).sum('hcbridge_tunnels_failed_total', { reason: 'rendezvous_failed' });
    const mark = tD.lineCount();
    const sock = await h.tcpConnect(lport, 'client while rendezvous stalls');
    const gone = f.peerGone(sock);
    sock.write('x');
    await tD.waitForLog(/rendezvous for connection .* failed/, CONNECT_TIMEOUT * 1000 + MARGIN_MS, { from: mark });
    const closeMs = (await h.withDeadline(gone, ACCEPT_TIMEOUT * 1000 + MARGIN_MS, 'sender closed while rendezvous stalls')).ms;
    await until('rendezvous_failed counted', 3000, async () =>
      (await f.metrics(tAdmin)).sum('hcbridge_tunnels_failed_total', { reason: 'rendezvous_failed' }) === failedBefore + 1);
    await relay.fault('stall-rendezvous', 'on=0');
    await relay.waitState((s) => s.held === 0 && s.pending_senders === 0, 3000, 'relay holds nothing');
    await f.echoOnce(lport, { what: 'echo after stalled rendezvous' });
    ok(`stall-rendezvous: -T gave up on the rendezvous (rendezvous_failed +1), the client was closed after ${closeMs} ms; lifted: echo works`);
  }

  // g. Black hole after accept.
  {
    await upOverASecond();
    await relay.fault('blackhole-after-accept', 'on=1');
    const before = await reconnects('connect_failed');
    const mark = tD.lineCount();
    await relay.fault('drop-control', 'code=none');
    await until('two timed-out attempts', 2 * (CONNECT_TIMEOUT * 1000 + BACKOFF_MAX * 1000) + MARGIN_MS, () =>
      tD.matches(/control channel connect failed: .*; retrying in/, mark).length >= 2);
    const failedLines = tD.matches(/control channel connect failed: (.*); retrying in/, mark).map((m) => m[1]);
    assert.ok((await reconnects('connect_failed')) - before >= 2, 'reconnects_total{connect_failed} counts them');
    assert.equal(await f.readyz(tAdmin), 503, '/readyz while the relay black-holes');
    state = await relay.faultState();
    assert.ok(state.held >= 1, 'the relay holds the black-holed connections');
    await relay.fault('blackhole-after-accept', 'on=0');
    await tD.waitForLog(/control channel connected/, (CONNECT_TIMEOUT + BACKOFF_MAX) * 1000 + MARGIN_MS, { from: mark });
    await f.echoOnce(lport, { what: 'echo after black hole' });
    ok(`blackhole-after-accept: attempts failed ("${failedLines[0]}"), /readyz 503; lifted: back, echo works`);
  }

  // h. Nothing left behind.
  await until('no tunnels open in either daemon', 5000, async () =>
    (await f.metrics(tAdmin)).sum('hcbridge_tunnels_open') === 0 && (await f.metrics(lAdmin)).sum('hcbridge_tunnels_open') === 0);
  await f.fdsBackTo(tD.pid, baselineFds, '-T fds back to baseline');
  ok(`no tunnels open, -T fds back to ${baselineFds}; healthz ${(await h.httpGet(tAdmin, '/healthz')).status}`);
}, { timeoutMs: 100000 });
