#!/usr/bin/env node
'use strict';
// The runtime stage's essentials, for real on this machine (no Docker engine here):
//  1. Shared libraries: every library the built hcbridge and hcrelay load (ldd) belongs to a package (dpkg -S) that
//     the runtime stage installs or that debian:bookworm-slim has; and every library package the stage installs is
//     needed by one of them (only ca-certificates is there for another reason).
//  2. The image laid out in a temporary directory as the Dockerfile does (/usr/local/bin: hcbridge, hcrelay,
//     hcbridge-entrypoint) and run as the image's USER (via setpriv when this runs as root): the local-demo topology
//     on loopback, all through docker/entrypoint.sh: an HTTP app, hcrelay, a listener (-T as arguments, connection
//     string in HCBRIDGE_CONNECTION_STRING) and a sender (forward in a config file via HCBRIDGE_CONFIG, extra
//     arguments in HCBRIDGE_ARGS). The Dockerfile's HEALTHCHECK command, run with the image's environment, must
//     pass for both daemons; a request must cross the tunnel; SIGTERM must stop everything with exit 0; and the
//     HEALTHCHECK must fail once the daemon is gone.
// Env: HCBRIDGE_BIN, HCRELAY_BIN (required).

const fs = require('fs');
const os = require('os');
const net = require('net');
const http = require('http');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const df = require('./lib/dockerfile');
const debian = require('./lib/debian');

const root = path.resolve(__dirname, '..', '..');
const results = { ok: 0, failed: 0 };
function ok(msg) { results.ok++; console.log('ok:   ' + msg); }
function fail(msg) { results.failed++; console.log('FAIL: ' + msg); }
function check(cond, good, bad) { if (cond) ok(good); else fail(bad || good); }
function note(msg) { console.log('note: ' + msg); }
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const bins = { hcbridge: process.env.HCBRIDGE_BIN, hcrelay: process.env.HCRELAY_BIN };
for (const [name, p] of Object.entries(bins)) {
  if (!p || !fs.existsSync(p)) {
    console.log(`FAIL: ${name} binary not found (${p || 'set ' + name.toUpperCase() + '_BIN'}): build it first (cmake --build BUILD --target hcbridge hcrelay)`);
    process.exit(1);
  }
}

const parsed = df.parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const runtime = parsed.stages[parsed.stages.length - 1];
const runtimePkgs = runtime.instructions.filter((i) => i.keyword === 'RUN')
  .flatMap((r) => df.aptInstalls(r.args).flatMap((x) => x.packages));

// ---- 1. Shared libraries --------------------------------------------------------------------------------------------
function libraries() {
  const image = debian.slimImage();
  note(image.note);
  const needed = new Map();  // package -> [libs]
  for (const [name, bin] of Object.entries(bins)) {
    const r = spawnSync('ldd', [bin], { encoding: 'utf8' });
    check(r.status === 0, `ldd ${name}`, `ldd ${name} failed: ${r.stderr}`);
    for (const line of (r.stdout || '').split('\n')) {
      if (/not found/.test(line)) { fail(`${name}: ${line.trim()}`); continue; }
      const m = /=>\s+(\/\S+)/.exec(line) || /^\s*(\/\S+)\s+\(/.exec(line);
      if (!m) continue;
      let owner = null;
      for (const f of new Set([m[1], fs.realpathSync(m[1])])) {
        const s = spawnSync('dpkg', ['-S', f], { encoding: 'utf8' });
        if (s.status === 0) { owner = s.stdout.split(':')[0].split(',')[0].trim(); break; }
      }
      if (!owner) { fail(`${name}: ${m[1]} belongs to no Debian package (a locally built library cannot be in the image)`); continue; }
      if (!needed.has(owner)) needed.set(owner, new Map());
      const lib = path.basename(m[1]);
      needed.get(owner).set(lib, [...(needed.get(owner).get(lib) || []), name]);
    }
  }
  for (const [pkg, libMap] of needed) {
    const libs = [...libMap].map(([lib, users]) => `${lib} for ${users.join('+')}`);
    const inRuntime = runtimePkgs.includes(pkg);
    const inBase = image.packages ? image.packages.has(pkg) : /^(libc6|libgcc-s1|libstdc\+\+6)$/.test(pkg);
    check(inRuntime || inBase, `${pkg} (${libs.join(', ')}): ${inRuntime ? 'installed by the runtime stage' : 'in debian:bookworm-slim'}`,
      `${pkg} (${libs.join(', ')}) is needed but neither installed by the runtime stage nor in debian:bookworm-slim`);
  }
  for (const pkg of runtimePkgs) {
    if (pkg === 'ca-certificates') { ok('ca-certificates is installed (relay TLS verification against the system store)'); continue; }
    check(needed.has(pkg), `runtime package ${pkg} is needed by the binaries`, `runtime package ${pkg} is needed by neither binary`);
  }
}

// ---- 2. The image's processes, for real ----------------------------------------------------------------------------
function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

function imageUser() {
  const users = runtime.instructions.filter((i) => i.keyword === 'USER');
  const u = users.length ? users[users.length - 1].args.trim() : '';
  const [uid, gid] = u.split(':');
  return /^\d+$/.test(uid) ? { uid: Number(uid), gid: /^\d+$/.test(gid || '') ? Number(gid) : Number(uid) } : null;
}

function imageEnv() {
  const env = {};
  for (const ins of runtime.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) env[m[1]] = m[3] !== undefined ? m[3] : m[2];
  }
  return env;
}

function healthcheckCommand() {
  const hc = runtime.instructions.filter((i) => i.keyword === 'HEALTHCHECK').pop();
  if (!hc || !hc.healthcheck) return null;
  const words = hc.healthcheck.json || ['/bin/sh', '-c', hc.healthcheck.command];
  const timeout = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(String(hc.flags.timeout || '30s'));
  const ms = timeout ? Number(timeout[1]) * ({ ms: 1, s: 1000, m: 60000 }[timeout[2] || 's']) : 30000;
  return { words, timeoutMs: ms };
}

async function processes() {
  const user = imageUser();
  const isRoot = process.getuid && process.getuid() === 0;
  let asUser = [];
  if (isRoot && user && spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0) {
    asUser = ['setpriv', `--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', '--no-new-privs'];
    note(`processes run as UID ${user.uid}, GID ${user.gid} (the image's USER) via setpriv`);
  } else if (isRoot) {
    note('running as root without setpriv: the non-root run is not tried');
  } else {
    note(`processes run as this non-root user (UID ${process.getuid()})`);
  }

  // The image's /usr/local/bin and /etc/hcbridge, world-readable like in the image.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-runtime-'));
  fs.chmodSync(tmp, 0o755);
  const binDir = path.join(tmp, 'usr-local-bin');
  fs.mkdirSync(binDir, { mode: 0o755 });
  fs.copyFileSync(bins.hcbridge, path.join(binDir, 'hcbridge'));
  fs.copyFileSync(bins.hcrelay, path.join(binDir, 'hcrelay'));
  fs.copyFileSync(path.join(root, 'docker', 'entrypoint.sh'), path.join(binDir, 'hcbridge-entrypoint'));
  for (const f of fs.readdirSync(binDir)) fs.chmodSync(path.join(binDir, f), 0o755);
  const baseEnv = { PATH: `${binDir}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`, ...imageEnv(), HCBRIDGE_CONFIG: '' };
  check(Boolean(baseEnv.HCBRIDGE_ADMIN), `the image sets HCBRIDGE_ADMIN (${baseEnv.HCBRIDGE_ADMIN})`);

  const children = [];
  const start = (label, env, args) => {
    const argv = [...asUser, path.join(binDir, 'hcbridge-entrypoint'), ...args];
    const child = spawn(argv[0], argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: tmp });
    const proc = { label, child, out: '', err: '', exit: null };
    child.stdout.on('data', (d) => { proc.out += d; });
    child.stderr.on('data', (d) => { proc.err += d; });
    proc.exited = new Promise((resolve) => child.on('exit', (code, signal) => { proc.exit = { code, signal }; resolve(proc.exit); }));
    children.push(proc);
    return proc;
  };
  const waitFor = async (cond, ms) => {
    const end = Date.now() + ms;
    while (Date.now() < end) { if (await cond()) return true; await sleep(100); }
    return false;
  };
  const hc = healthcheckCommand();
  // As Docker does: inside the container, as the image's user, with the image's environment.
  const runHealthcheck = (admin) => spawnSync([...asUser, ...hc.words][0], [...asUser, ...hc.words].slice(1), {
    env: { ...baseEnv, HCBRIDGE_ADMIN: admin }, encoding: 'utf8', timeout: hc.timeoutMs,
  });

  const app = http.createServer((req, res) => { res.end('hello from the app\n'); });
  await new Promise((r) => app.listen(0, '127.0.0.1', r));
  const appPort = app.address().port;
  const key = 'runtime-test-key';
  try {
    // The relay (as the local demo's relay service, on loopback).
    const relay = start('hcrelay', { ...baseEnv, HCRELAY_SAS: `demo=${key}` }, ['hcrelay', '--bind', '127.0.0.1:0']);
    check(await waitFor(() => /hcrelay listening on ws:\/\/127\.0\.0\.1:\d+/.test(relay.out) || relay.exit, 10000) && !relay.exit,
      'entrypoint starts hcrelay', `hcrelay did not start: ${relay.err}`);
    const relayPort = Number((/:(\d+)\s*$/m.exec(relay.out) || [])[1]);
    const cs = `Endpoint=ws://127.0.0.1:${relayPort}/;SharedAccessKeyName=demo;SharedAccessKey=${key}`;

    // The listener: forward as arguments, connection string from the environment.
    const listenerAdmin = `127.0.0.1:${await freePort()}`;
    const listener = start('listener', { ...baseEnv, HCBRIDGE_ADMIN: listenerAdmin, HCBRIDGE_CONNECTION_STRING: cs },
      ['-T', `web:127.0.0.1:${appPort}`]);

    // The sender: forward in a mounted config file, more arguments in HCBRIDGE_ARGS.
    const senderPort = await freePort();
    const senderAdmin = `127.0.0.1:${await freePort()}`;
    const cfg = path.join(tmp, 'hcbridge.json');
    fs.writeFileSync(cfg, JSON.stringify({ local_forward: [{ hc: 'web', bind: `127.0.0.1:${senderPort}` }] }, null, 2));
    fs.chmodSync(cfg, 0o644);
    const sender = start('sender', { ...baseEnv, HCBRIDGE_ADMIN: senderAdmin, HCBRIDGE_CONNECTION_STRING: cs,
      HCBRIDGE_CONFIG: cfg, HCBRIDGE_ARGS: '--log-format json --keepalive 5' }, []);

    for (const [p, admin] of [[listener, listenerAdmin], [sender, senderAdmin]]) {
      let last = null;
      const healthy = await waitFor(() => { if (p.exit) return true; last = runHealthcheck(admin); return last.status === 0; }, 10000);
      check(healthy && !p.exit, `${p.label}: the Dockerfile's HEALTHCHECK (${hc.words.join(' ')}) passes against ${admin}`,
        `${p.label}: HEALTHCHECK never passed (exit ${last && last.status}: ${last && (last.stderr || '').trim()}); daemon: ${p.exit ? JSON.stringify(p.exit) : 'running'} ${p.err.slice(-600)}`);
    }
    check(await waitFor(() => /^\{.*"(msg|message)"/m.test(sender.err), 5000), 'sender: HCBRIDGE_ARGS reached hcbridge (JSON log lines)', `sender: no JSON log lines: ${sender.err.slice(0, 300)}`);

    // A request through the tunnel: client -> sender -> relay -> listener -> app.
    let body = '';
    const through = await waitFor(() => new Promise((resolve) => {
      const req = http.get({ host: '127.0.0.1', port: senderPort, path: '/', timeout: 2000, agent: false }, (res) => {
        let b = '';
        res.on('data', (d) => { b += d; });
        res.on('end', () => { body = b; resolve(res.statusCode === 200 && /hello from the app/.test(b)); });
      });
      req.on('error', () => resolve(false));
      req.on('timeout', () => { req.destroy(); resolve(false); });
    }), 15000);
    check(through, 'a request crosses the tunnel: sender (-L from the config file) -> hcrelay -> listener (-T) -> app',
      `no answer through the tunnel (got "${body.trim()}"); listener: ${listener.err.slice(-400)} sender: ${sender.err.slice(-400)}`);

    // The processes run as the image's user.
    if (asUser.length) {
      for (const p of [relay, listener, sender]) {
        let uid = null;
        try { uid = Number((/^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p.child.pid}/status`, 'utf8')) || [])[1]); } catch (_) { /* gone */ }
        check(uid === imageUser().uid, `${p.label} runs as UID ${uid}`, `${p.label} runs as UID ${uid}, not ${imageUser().uid}`);
      }
    }

    // docker stop: SIGTERM to PID 1 (the exec'd daemon), exit 0 within the grace period.
    for (const p of [sender, listener, relay]) {
      p.child.kill('SIGTERM');
      const exit = await Promise.race([p.exited, sleep(15000).then(() => null)]);
      check(exit && exit.code === 0, `${p.label}: SIGTERM stops it with exit 0`, `${p.label}: SIGTERM gave ${JSON.stringify(exit)}: ${p.err.slice(-400)}`);
    }
    const after = runHealthcheck(listenerAdmin);
    check(after.status !== 0, `the HEALTHCHECK fails once the daemon is gone (exit ${after.status})`);
  } finally {
    for (const p of children) if (p.exit === null) p.child.kill('SIGKILL');
    app.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

(async () => {
  libraries();
  await processes();
  console.log(`runtime checks: ${results.ok} ok, ${results.failed} failed`);
  process.exit(results.failed ? 1 : 0);
})().catch((e) => { console.log('FAIL: ' + (e.stack || e)); process.exit(1); });
