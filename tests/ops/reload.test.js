'use strict';
// SIGHUP reloads the config file (-c) without disturbing what did not change:
//  v1: remote forwards A, B (-> echo server); local forwards p1 -> A, p2 -> B. Client C talks through p1, client D
//      through p2, both stay connected for the whole test.
//  v2 (SIGHUP): B and p2 removed, C and p3 -> C added. Logged as "2 forward(s) unchanged, 2 stopped, 2 started";
//      C's and D's conversations go on (D's tunnel belongs to a removed forward: it drains, it is not cut); p3 works;
//      p2 refuses connections; /readyz is 200 and lists exactly the v2 forwards.
//  v3 (SIGHUP): not JSON. Logged "reload rejected, keeping the running configuration"; everything as after v2.
//  v4 (SIGHUP): valid, but p3's forward moves to a port that is taken: "reload failed, keeping the running
//      configuration", the forward is restored on p3 (it works), /readyz 200, hcbridge_config_reloads_total counts
//      ok 1 and failed >= 1.
//  Finally C and D half-close and get their whole conversation back; the daemon exits 0 on SIGTERM.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const h = require('../interop/lib/harness');
const { assert, ok } = h;

// A conversation on one long-lived connection through the tunnel: each say() must come back (echo) in time.
class Conversation {
  constructor(sock, what) {
    this.sock = sock;
    this.what = what;
    this.received = '';
    this.sent = '';
    this.waiter = null;
    this.ended = h.deferred();
    sock.setEncoding('utf8');
    sock.on('data', (s) => {
      this.received += s;
      this.check();
    });
    sock.on('end', () => this.ended.resolve());
    sock.on('error', (e) => this.fail(new Error(`${what}: ${e.message}`)));
    sock.on('close', () => {
      if (!this.ended.settled) this.fail(new Error(`${what}: connection closed without an end`));
    });
  }

  fail(e) {
    if (this.waiter) this.waiter.reject(e);
    if (!this.ended.settled) this.ended.reject(e);
  }

  check() {
    if (this.waiter && this.received.length >= this.sent.length) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve();
    }
  }

  async say(text) {
    this.sent += text;
    this.waiter = h.deferred();
    const p = this.waiter.promise;
    this.sock.write(text);
    this.check();
    await h.withDeadline(p, 10000, `${this.what}: echo of ${JSON.stringify(text)}`);
    assert.equal(this.received, this.sent, `${this.what}: the conversation so far`);
  }

  async finish() {
    this.sock.end();
    await h.withDeadline(this.ended.promise, 10000, `${this.what}: end after half-close`);
    assert.equal(this.received, this.sent, `${this.what}: whole conversation`);
  }
}

async function connectOutcome(port) {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    sock.on('connect', () => {
      sock.destroy();
      resolve('connected');
    });
    sock.on('error', (e) => resolve(e.code));
  });
}

function metric(text, name, labels) {
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${want}} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

h.run('ops reload: SIGHUP adds and removes forwards under an open tunnel, survives an invalid config', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const echo = await t.tcpEchoServer();
  const [p1, p2, p3, adminPort] = [await h.freePort(), await h.freePort(), await h.freePort(), await h.freePort()];
  const busy = await t.tcpServer(() => {}, 'server holding a port'); // a port hcbridge cannot bind
  const A = h.uniqueName('rA');
  const B = h.uniqueName('rB');
  const C = h.uniqueName('rC');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-reload-'));
  t.defer('remove the config directory', () => fs.rmSync(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'hcbridge.json');
  const target = `127.0.0.1:${echo.port}`;
  const base = {
    relay: relay.daemonRelayConfig(),
    backoff_initial: 0.1,
    backoff_max: 0.5,
    admin: { bind: `127.0.0.1:${adminPort}` },
    log: { level: 'debug' },
  };
  // Written like an editor that saves atomically: new file, then rename over the old one.
  const writeConfig = (content) => {
    const tmp = `${configFile}.tmp`;
    fs.writeFileSync(tmp, typeof content === 'string' ? content : JSON.stringify(content, null, 2), { mode: 0o600 });
    fs.renameSync(tmp, configFile);
  };
  const readyz = async () => {
    const r = await h.httpGet(adminPort, '/readyz');
    return { status: r.status, body: JSON.parse(r.body) };
  };
  const names = (body) => body.forwards.map((f) => f.name).sort();

  // ---- v1 ----
  writeConfig({
    ...base,
    remote_forward: [{ hc: A, target }, { hc: B, target }],
    local_forward: [{ hc: A, bind: `127.0.0.1:${p1}` }, { hc: B, bind: `127.0.0.1:${p2}` }],
  });
  const daemon = await t.startDaemon(['-c', configFile], {
    ready: [new RegExp(`L:${A}: listening on 127\\.0\\.0\\.1:${p1}`), new RegExp(`L:${B}: listening on 127\\.0\\.0\\.1:${p2}`),
            new RegExp(`T:${A}: control channel connected`), new RegExp(`T:${B}: control channel connected`)],
  });
  let rz = await readyz();
  assert.equal(rz.status, 200, `/readyz after start: ${JSON.stringify(rz.body)}`);
  assert.deepEqual(names(rz.body), [`L:${A}`, `L:${B}`, `T:${A}`, `T:${B}`]);
  const convC = new Conversation(await h.tcpConnect(p1, 'client C'), 'client C (p1 -> A)');
  const convD = new Conversation(await h.tcpConnect(p2, 'client D'), 'client D (p2 -> B)');
  t.defer('close clients C and D', () => {
    convC.sock.destroy();
    convD.sock.destroy();
  });
  await convC.say('C: before any reload\n');
  await convD.say('D: before any reload\n');
  ok('v1: clients C (p1) and D (p2) mid-conversation');

  // ---- v2: remove B and p2, add C and p3 ----
  writeConfig({
    ...base,
    remote_forward: [{ hc: A, target }, { hc: C, target }],
    local_forward: [{ hc: A, bind: `127.0.0.1:${p1}` }, { hc: C, bind: `127.0.0.1:${p3}` }],
  });
  let from = daemon.lineCount();
  process.kill(daemon.pid, 'SIGHUP');
  await daemon.waitForLog(/reload: 2 forward\(s\) unchanged, 2 stopped, 2 started/, 10000, { from });
  await daemon.waitForLog(new RegExp(`T:${C}: control channel connected`), 10000, { from });
  await convC.say('C: after adding and removing forwards\n');
  await convD.say('D: my forward was removed, my tunnel drains\n');
  assert.equal(await h.echoText(p3, 'new forward p3 -> C'), 'new forward p3 -> C', 'the added forward p3 -> C');
  assert.equal(await connectOutcome(p2), 'ECONNREFUSED', 'the removed forward p2 must refuse connections');
  assert.equal(await h.echoText(p1, 'new client on p1'), 'new client on p1', 'a new client on the kept forward p1');
  rz = await readyz();
  assert.equal(rz.status, 200, `/readyz after v2: ${JSON.stringify(rz.body)}`);
  assert.deepEqual(names(rz.body), [`L:${A}`, `L:${C}`, `T:${A}`, `T:${C}`]);
  ok('v2: C and D still talking, p3 works, p2 refused, /readyz 200 with the new forwards');

  // ---- v3: not JSON ----
  writeConfig('{ "relay": { "endpoint": "wss://127.0.0.1:1/" ,,, this is not JSON');
  from = daemon.lineCount();
  process.kill(daemon.pid, 'SIGHUP');
  const rejected = await daemon.waitForLog(/reload rejected, keeping the running configuration: (.*)$/, 10000, { from });
  assert.ok(rejected[1].includes('hcbridge.json'), `the rejection must name the file: ${rejected[0]}`);
  await convC.say('C: after a rejected reload\n');
  await convD.say('D: after a rejected reload\n');
  assert.equal(await h.echoText(p3, 'p3 after v3'), 'p3 after v3');
  assert.equal(await h.echoText(p1, 'p1 after v3'), 'p1 after v3');
  assert.equal(await connectOutcome(p2), 'ECONNREFUSED', 'p2 stays closed');
  rz = await readyz();
  assert.equal(rz.status, 200, `/readyz after the rejected reload: ${JSON.stringify(rz.body)}`);
  assert.deepEqual(names(rz.body), [`L:${A}`, `L:${C}`, `T:${A}`, `T:${C}`]);
  ok(`v3: rejected (${rejected[1]}); the running forwards are untouched and /readyz is 200`);

  // ---- v4: valid, but C's local forward moves to a port that is taken: rolled back ----
  writeConfig({
    ...base,
    remote_forward: [{ hc: A, target }, { hc: C, target }],
    local_forward: [{ hc: A, bind: `127.0.0.1:${p1}` }, { hc: C, bind: `127.0.0.1:${busy.port}` }],
  });
  from = daemon.lineCount();
  process.kill(daemon.pid, 'SIGHUP');
  const failed = await daemon.waitForLog(/reload failed, keeping the running configuration: (.*)$/, 10000, { from });
  assert.ok(failed[1].includes(String(busy.port)), `the failure must name the port: ${failed[0]}`);
  await convC.say('C: after a failed reload\n');
  await convD.say('D: after a failed reload\n');
  assert.equal(await h.echoText(p3, 'p3 restored after v4'), 'p3 restored after v4', 'p3 must be restored by the rollback');
  assert.equal(await h.echoText(p1, 'p1 after v4'), 'p1 after v4');
  rz = await readyz();
  assert.equal(rz.status, 200, `/readyz after the failed reload: ${JSON.stringify(rz.body)}`);
  assert.deepEqual(names(rz.body), [`L:${A}`, `L:${C}`, `T:${A}`, `T:${C}`]);
  const metrics = (await h.httpGet(adminPort, '/metrics')).body;
  assert.equal(metric(metrics, 'hcbridge_config_reloads_total', { result: 'ok' }), 1, 'reloads ok');
  // At least the rolled-back v4. (v3, rejected before it reached Daemon::reload, is not counted at all today.)
  assert.ok(metric(metrics, 'hcbridge_config_reloads_total', { result: 'failed' }) >= 1, 'reloads failed');
  ok(`v4: failed (${failed[1]}), rolled back: p3 works again, /readyz 200`);

  // ---- The long-lived clients end cleanly; their tunnels carried everything. ----
  await convC.finish();
  await convD.finish();
  ok(`clients C and D half-closed and got their whole conversations back (${convC.sent.length} + ${convD.sent.length} bytes)`);
  const logs = daemon.linesSince(0).join('\n');
  assert.ok(!logs.includes(relay.key), 'the SAS key must not appear in the log');
}, { timeoutMs: 80000 });
