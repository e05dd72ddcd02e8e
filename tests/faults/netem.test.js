'use strict';
// Fault case: real packet loss. The test creates a network namespace, puts `tc netem` loss LOSS and delay DELAY on
// its loopback interface, and re-runs itself inside it (so hcrelay, both daemons, client and target all talk over the
// lossy loopback). Inside: a -L/-T pair through hcrelay carries PAYLOAD each way byte-exact (SHA-256) and 20 short
// echoes; the -T control channel stays connected (keepalive 5 s). Needs root, `ip netns` and the sch_netem kernel
// module; without them the test exits 77 (ctest: skipped) and says why. It never passes without netem.
const { spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const f = require('./lib/faults');
const { h, assert, ok } = f;

const LOSS = '2%';
const DELAY = '5ms';
const PAYLOAD = 16 * 1024 * 1024;

function skip(reason) {
  console.log(`skipped: ${reason}`);
  process.exit(77);
}

function sh(args) {
  return spawnSync(args[0], args.slice(1), { encoding: 'utf8', timeout: 10000 });
}

if (!process.env.HCB_IN_NETNS) {
  if (process.getuid && process.getuid() !== 0) skip('needs root for ip netns and tc');
  const ns = `hcb-netem-${crypto.randomBytes(3).toString('hex')}`;
  const add = sh(['ip', 'netns', 'add', ns]);
  if (add.error || add.status !== 0) skip(`ip netns add failed: ${(add.error && add.error.message) || add.stderr.trim()}`);
  const cleanup = () => sh(['ip', 'netns', 'del', ns]);
  try {
    sh(['ip', 'netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    const tc = sh(['ip', 'netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'loss', LOSS, 'delay', DELAY]);
    if (tc.error || tc.status !== 0) {
      cleanup();
      skip(`tc netem is not available (${(tc.error && tc.error.message) || tc.stderr.trim()}; kernel module sch_netem missing?)`);
    }
    const inner = spawnSync('ip', ['netns', 'exec', ns, process.execPath, __filename], {
      stdio: 'inherit', env: { ...process.env, HCB_IN_NETNS: ns }, timeout: 110000,
    });
    cleanup();
    process.exit(inner.status === null ? 1 : inner.status);
  } catch (e) {
    cleanup();
    throw e;
  }
}

h.run(`faults.netem: ${LOSS} packet loss and ${DELAY} delay on loopback (namespace ${process.env.HCB_IN_NETNS})`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const hc = h.uniqueName('netem');
  const target = await f.hashServer(t);
  const echo = await t.tcpEchoServer('echo target');
  const tD = await t.startDaemon([...relay.daemonArgs(), '--keepalive', '5', '-T', `${hc}:hash/127.0.0.1:${target.port};echo/127.0.0.1:${echo.port}`],
                                 { name: 'hcbridge -T', readyMs: 30000 });
  const [lHash, lEcho] = [await h.freePort(), await h.freePort()];
  await t.startDaemon([...relay.daemonArgs(), '-L', `${lHash}/hash;${lEcho}/echo:${hc}`], { name: 'hcbridge -L' });
  const started = Date.now();
  const payload = crypto.randomBytes(PAYLOAD);
  const sock = await h.tcpConnect(lHash, 'bulk client');
  const reply = h.readToEnd(sock, { ms: 80000, keep: true, what: 'hash reply' });
  await h.writeAll(sock, payload, { end: true });
  const got = await reply;
  assert.equal(got.data.toString('hex'), h.sha256(payload), 'SHA-256 of the bulk payload at the target');
  const bulkS = (Date.now() - started) / 1000;
  for (let i = 0; i < 20; i++) await f.echoOnce(lEcho, { size: crypto.randomInt(1, 64 * 1024), ms: 30000, what: `echo ${i}` });
  assert.equal(tD.matches(/control channel lost/).length, 0, 'the control channel survived the loss');
  ok(`${PAYLOAD / 1024 / 1024} MiB byte-exact in ${bulkS.toFixed(1)} s and 20 echoes under ${LOSS} loss / ${DELAY} delay; control channel never lost`);
}, { timeoutMs: 100000 });
