'use strict';
// Unix stream sockets through the real daemon and hcrelay (temp directory, loopback only):
//  - Unix -> Unix, TCP -> Unix and Unix -> TCP: the client sends 2 MiB and half-closes; the server reads to the end
//    and only then answers 1 MiB; both directions arrive byte-exact (so the FIN crossed as a close frame and
//    shutdown(SHUT_WR) while the other direction kept flowing);
//  - the -L socket from the CLI has mode 0660; the one from the config file its "mode" (0600) and, when the test runs
//    as root, its owner and group (nobody:nogroup);
//  - a stale socket file at a -L path (nothing listens on it) is replaced and logged;
//  - a path that is a regular file: exit 2, the file is untouched; a path where another process listens: start-up
//    fails, that socket still answers;
//  - a target socket that does not exist: the listener logs "target unix:... unreachable", the client gets no data;
//  - a reload that drops a socket binding removes its file; SIGTERM removes the rest.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const crypto = require('node:crypto');
const { spawn, execFileSync } = require('node:child_process');
const h = require('./lib/harness');
const { assert, ok } = h;

const UP = 2 * 1024 * 1024;
const DOWN = 1024 * 1024;

// A server that reads its client to the end, then answers with `DOWN` bytes derived from what it got and ends.
function answerAfterEnd(sock) {
  const hash = crypto.createHash('sha256');
  let length = 0;
  sock.on('data', (b) => { hash.update(b); length += b.length; });
  sock.on('end', () => {
    const seed = hash.digest().subarray(0, 16);
    const reply = h.keystream(seed).next(DOWN);
    const header = Buffer.alloc(8);
    header.writeDoubleBE(length);
    sock.end(Buffer.concat([header, reply]));
  });
}

async function unixServer(t, file, onConnection, what) {
  const sockets = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    onConnection(sock);
  });
  server.listen(file);
  await h.waitFor(server, 'listening', 5000, what);
  t.defer(`close ${what}`, async () => {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  return server;
}

async function connect(where, what) {
  const sock = net.connect({ ...where, allowHalfOpen: true });
  await h.waitFor(sock, 'connect', 10000, what, ['error', 'close']);
  return sock;
}

// Sends UP bytes, half-closes, and checks the answer: the server's byte count and DOWN bytes seeded by their hash.
async function exchange(where, what) {
  const sock = await connect(where, what);
  const up = crypto.randomBytes(UP);
  const reply = h.readToEnd(sock, { keep: true, ms: 30000, what });
  await h.writeAll(sock, up, { end: true, maxPiece: 100000 });
  const { data } = await reply;
  sock.destroy();
  assert.equal(data.length, 8 + DOWN, `${what}: answer length`);
  assert.equal(data.readDoubleBE(0), UP, `${what}: the server got every byte before the EOF`);
  const seed = crypto.createHash('sha256').update(up).digest().subarray(0, 16);
  assert.ok(data.subarray(8).equals(h.keystream(seed).next(DOWN)), `${what}: answer byte-exact`);
  ok(`${what}: ${UP} bytes up, half-close, ${DOWN} bytes back after it, byte-exact`);
}

function mode(file) {
  return fs.statSync(file).mode & 0o777;
}

// A socket file nobody listens on, as a crashed daemon leaves it.
function staleSocket(file) {
  execFileSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', file]);
  assert.ok(fs.lstatSync(file).isSocket(), 'stale socket file created');
}

// Runs hcbridge to its exit; resolves {code, stderr}.
function runToExit(args, ms = 15000) {
  const proc = spawn(process.env.HCBRIDGE_BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  h.keepLogs(proc, 'hcbridge-refused'); // tracked: killed with the others if the test ends early
  let stderr = '';
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => { stderr += s; });
  const done = new Promise((resolve) => proc.on('close', (code) => resolve({ code, stderr })));
  return h.withDeadline(done, ms, `hcbridge ${args.join(' ')}`).finally(() => proc.kill('SIGKILL'));
}

h.run('interop daemon_unix: Unix sockets both ways through hcrelay, half-close, modes, stale and foreign files', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-unix-'));
  t.defer('remove the temp directory', async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name) => path.join(dir, name);

  const relay = await t.startRelay();
  const hc = h.uniqueName('unix');
  await unixServer(t, file('target.sock'), answerAfterEnd, 'unix target');
  const tcp = await t.tcpServer(answerAfterEnd, 'tcp target');
  const listener = await t.startDaemon([...relay.daemonArgs(), '-T',
    `${hc}:sock/unix:${file('target.sock')};tcp/127.0.0.1:${tcp.port};gone/unix:${file('gone.sock')}`], { name: 'listener' });

  // -L: a stale socket file at the CLI path; the config file's binding with its own mode (and owner when root).
  staleSocket(file('in.sock'));
  const root = process.getuid() === 0;
  const fileBinding = { protocol: 'unix', path: file('conf.sock'), mode: '0600', port_name: 'sock',
                        ...(root ? { owner: 'nobody', group: 'nogroup' } : {}) };
  const dropBinding = { protocol: 'unix', path: file('drop.sock'), port_name: 'sock' };
  const config = (bindings) => JSON.stringify({ relay: relay.daemonRelayConfig(),
                                                local_forward: [{ hc, bindings }] });
  const configFile = file('hcbridge.json');
  fs.writeFileSync(configFile, config([fileBinding, dropBinding]), { mode: 0o600 });
  const tcpIn = await h.freePort();
  const sender = await t.startDaemon(['-c', configFile, '-L', `sock/unix:${file('in.sock')};tcp/unix:${file('tcp-in.sock')}` +
                                      `;127.0.0.1:${tcpIn}/sock;gone/unix:${file('gone-in.sock')}:${hc}`],
  { name: 'sender', ready: [/listening on unix:.*conf\.sock/, /listening on unix:.*drop\.sock/,
                            /listening on unix:.*\/in\.sock \(mode 0660/, /listening on unix:.*tcp-in\.sock/,
                            new RegExp(`listening on 127\\.0\\.0\\.1:${tcpIn}`), /listening on unix:.*gone-in\.sock/] });
  assert.ok(sender.matches(/removed the stale socket file .*\/in\.sock/), 'the stale socket file was replaced (logged)');
  ok('a stale socket file (nothing listening) was replaced');

  assert.equal(mode(file('in.sock')), 0o660, 'CLI socket mode');
  assert.equal(mode(file('conf.sock')), 0o600, 'config-file socket mode');
  if (root) {
    const st = fs.statSync(file('conf.sock'));
    assert.equal(st.uid, Number(execFileSync('id', ['-u', 'nobody'])), 'socket owner');
    assert.equal(st.gid, Number(execFileSync('getent', ['group', 'nogroup']).toString().split(':')[2]), 'socket group');
    ok('modes 0660 (default) and 0600 (config file), owner nobody:nogroup');
  } else {
    ok('modes 0660 (default) and 0600 (config file); owner not checked (not root)');
  }

  await exchange({ path: file('in.sock') }, 'Unix -> Unix');
  await exchange({ path: file('conf.sock') }, 'Unix (config file) -> Unix');
  await exchange({ host: '127.0.0.1', port: tcpIn }, 'TCP -> Unix');
  await exchange({ path: file('tcp-in.sock') }, 'Unix -> TCP');
  assert.ok(sender.matches(/tunnel t\d+ open: forward=L:\S+ hc=\S+ peer=unix:\S+in\.sock/), 'tunnel log names the socket');

  // A target socket that does not exist: the listener says so and counts it, the client gets no data but an end.
  const lost = await connect({ path: file('gone-in.sock') }, 'client of a missing target');
  const lostEnd = h.readToEnd(lost, { keep: true, ms: 15000, what: 'client of a missing target' }).catch((e) => e);
  lost.write('hello');
  await listener.waitForLog(/target unix:\S+gone\.sock unreachable: No such file or directory/, 10000);
  const outcome = await lostEnd;
  assert.ok(outcome instanceof Error || outcome.length === 0, 'no data from a missing target');
  lost.destroy();
  ok('a missing target socket: logged by the listener, the client gets nothing back');

  // A regular file where a socket should go: refused with exit 2, never deleted.
  fs.writeFileSync(file('plain'), 'keep me');
  const plain = await runToExit([...relay.daemonArgs(), '-L', `unix:${file('plain')}:${hc}`]);
  assert.equal(plain.code, 2, `a regular file as socket path: exit 2 (stderr: ${plain.stderr})`);
  assert.match(plain.stderr, /exists and is not a socket; it is never deleted/);
  assert.equal(fs.readFileSync(file('plain'), 'utf8'), 'keep me', 'the regular file is untouched');
  // Where another process listens: start-up fails and that socket keeps working.
  const busy = await runToExit([...relay.daemonArgs(), '-L', `unix:${file('target.sock')}:${hc}`]);
  assert.equal(busy.code, 1, `a live socket: start-up fails (stderr: ${busy.stderr})`);
  assert.match(busy.stderr, /another process listens on/);
  const probe = await connect({ path: file('target.sock') }, 'target socket after the refused start');
  probe.destroy();
  ok('a regular file: exit 2, untouched; a live socket: exit 1, still listening');

  // Reload without the dropped binding: its file goes, the others stay.
  fs.writeFileSync(configFile, config([fileBinding]), { mode: 0o600 });
  const from = sender.lineCount();
  process.kill(sender.pid, 'SIGHUP');
  await sender.waitForLog(/reload: \d+ forward\(s\) unchanged/, 10000, { from });
  await h.pollUntil(() => !fs.existsSync(file('drop.sock')), 10000, 'drop.sock removed by the reload');
  assert.ok(fs.existsSync(file('conf.sock')) && fs.existsSync(file('in.sock')), 'kept bindings keep their files');
  await exchange({ path: file('conf.sock') }, 'Unix (config file) -> Unix after the reload');

  await sender.stop();
  for (const name of ['in.sock', 'conf.sock', 'tcp-in.sock'])
    assert.ok(!fs.existsSync(file(name)), `${name} removed on SIGTERM`);
  ok('the reload removed the dropped socket file; SIGTERM removed the others');
});
