'use strict';
// A real service on a Unix socket through the tunnel: redis-cli -s (client.sock) -> hcbridge -L redis/unix:... ->
// hcrelay -> hcbridge -T redis/unix:... -> redis-server listening only on a Unix socket (no TCP port) in a temp
// directory. PING, a 1 MiB SET read back byte-exact by GET, STRLEN and DBSIZE; the sender's /metrics counts one
// tunnel per redis-cli run for the socket forward, and the bytes each way.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn, execFile } = require('node:child_process');
const h = require('./lib/harness');
const { assert, ok, metric } = h;

async function startRedis(t, dir) {
  const sock = path.join(dir, 'redis.sock');
  const args = ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no',
                '--dir', dir, '--daemonize', 'no', '--logfile', ''];
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  h.keepLogs(proc, 'redis-server');
  let log = '';
  const ready = h.deferred();
  const exited = h.deferred();
  proc.stdout.setEncoding('utf8');
  proc.stdout.on('data', (s) => {
    log += s;
    if (/ready to accept connections/i.test(log) && !ready.settled) ready.resolve();
  });
  proc.on('error', (e) => ready.reject(new Error(`cannot start redis-server (scripts/setup.sh installs it): ${e.message}`)));
  proc.on('exit', (code, signal) => {
    exited.resolve();
    if (!ready.settled) ready.reject(new Error(`redis-server exited (${code}, ${signal}): ${log}`));
  });
  t.defer('stop redis-server', async () => {
    if (!exited.settled) proc.kill('SIGTERM');
    await h.withDeadline(exited.promise, 5000, 'redis-server exit');
  });
  await h.withDeadline(ready.promise, 10000, 'redis-server start-up');
  return sock;
}

function redisCli(sock, args, input) {
  return new Promise((resolve, reject) => {
    const child = execFile('redis-cli', ['-s', sock, ...args], { timeout: 20000, maxBuffer: 8 * 1024 * 1024 },
                           (err, stdout, stderr) => {
                             if (err) return reject(new Error(`redis-cli ${args.join(' ')}: ${err.message} ${stderr}`));
                             resolve(stdout);
                           });
    h.keepLogs(child, 'redis-cli');
    if (input !== undefined) child.stdin.end(input);
  });
}

h.run('interop daemon_unix_redis: redis-cli -> Unix -L -> hcrelay -> Unix -T -> redis-server', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-redis-'));
  t.defer('remove the temp directory', async () => fs.rmSync(dir, { recursive: true, force: true }));
  const relay = await t.startRelay();
  const hc = h.uniqueName('redis');
  const redisSock = await startRedis(t, dir);
  const clientSock = path.join(dir, 'client.sock');
  const admin = await h.freePort();
  await t.startDaemon([...relay.daemonArgs(), '-T', `${hc}:redis/unix:${redisSock}`], { name: 'listener' });
  await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${admin}`, '-L', `redis/unix:${clientSock}:${hc}`],
                      { name: 'sender' });
  const forward = `L:${hc}`;
  const before = (await h.httpGet(admin, '/metrics')).body;
  assert.equal(metric(before, 'hcbridge_tunnels_opened_total', { forward }), 0, 'no tunnel before the first client');

  assert.equal((await redisCli(clientSock, ['PING'])).trim(), 'PONG', 'PING through the tunnel');
  const value = crypto.randomBytes(768 * 1024).toString('base64'); // 1 MiB of text
  assert.equal((await redisCli(clientSock, ['-x', 'SET', 'big'], value)).trim(), 'OK', 'SET of 1 MiB');
  assert.equal((await redisCli(clientSock, ['STRLEN', 'big'])).trim(), String(value.length), 'STRLEN');
  const got = await redisCli(clientSock, ['GET', 'big']);
  assert.equal(got.length, value.length + 1, 'GET length (value and a newline)');
  assert.ok(got.slice(0, -1) === value, 'GET returns the value byte-exact');
  assert.equal((await redisCli(clientSock, ['DBSIZE'])).trim(), '1', 'DBSIZE');
  ok('PING, SET 1 MiB, STRLEN, GET byte-exact and DBSIZE through the Unix socket tunnel');

  const text = await h.pollUntil(async () => {
    const m = (await h.httpGet(admin, '/metrics')).body;
    return metric(m, 'hcbridge_tunnels_closed_total', { forward, reason: 'closed' }) === 5 ? m : null;
  }, 10000, 'five tunnels closed cleanly');
  assert.equal(metric(text, 'hcbridge_tunnels_opened_total', { forward }), 5, 'one tunnel per redis-cli run');
  assert.ok(metric(text, 'hcbridge_bytes_total', { forward, direction: 'to_relay' }) > value.length, 'bytes to the relay');
  assert.ok(metric(text, 'hcbridge_bytes_total', { forward, direction: 'from_relay' }) > value.length, 'bytes back');
  ok('/metrics: 5 tunnels opened and closed cleanly for the socket forward, bytes counted both ways');
});
