'use strict';
// UDP through the real daemon, with real UDP programs and with Microsoft's Node SDK (hyco-ws) speaking azbridge's
// datagram mode, framed by hand from the reference (azbridge.md 2.2, 2.3, 2.5), not by our encoder:
//  (a) dig (bind9-dnsutils) -> hcbridge -L 127.0.0.1:PU/dns and [::1]:PU/dns6 -> hcrelay -> hcbridge
//      -T dns/127.0.0.1:PU and dns6/[::1]:PU -> dnsmasq (a real DNS server on loopback): A and AAAA answers come
//      back over IPv4 and IPv6; 5 digs at once are 5 routes. /metrics has every UDP series at 0 before the first
//      datagram and then counts exactly the datagrams and routes that went through, on both daemons.
//  (b) hyco-ws sender -> -T: the datagram preamble 01 00 01 LEN "dns" gets exactly 01 00 01; a DNS query whose
//      2-byte length and payload are split over three messages (as the Rust port does) and two queries coalesced in
//      one message all reach dnsmasq; every answer comes back as exactly one binary message `len || payload` (what
//      azbridge's C# receiver needs). A stream preamble to the UDP port gets 00 00 01, a datagram preamble to the TCP
//      port 00 00 FF.
//  (c) UDP client -> -L PU/echo -> hyco-ws listener: the daemon's preamble is 01 00 01 LEN "echo"; each datagram
//      arrives as exactly one message `len || payload`; three replies coalesced in one message, and one split across
//      two, come back to the client as four datagrams with their boundaries.
const dgram = require('node:dgram');
const { spawn, execFile } = require('node:child_process');
const h = require('./lib/harness');
const { assert, ok, metric } = h;

const DNS_A = [192, 0, 2, 7];
const DNS_AAAA = '2001:db8::7';

function frame(payload) {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(payload.length);
  return Buffer.concat([len, payload]);
}

function preamble(mode, name) {
  const n = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([1, 0, mode, n.length]), n]);
}

// A DNS query for `name` (type 1 = A), written by hand (RFC 1035 4.1).
function dnsQuery(id, name) {
  const header = Buffer.from([id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
  const labels = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, 1, 0, 1])]);
}

function assertDnsAnswer(msg, id, what) {
  assert.ok(msg.length > 12, `${what}: answer too short (${msg.length} bytes)`);
  assert.equal(msg.readUInt16BE(0), id, `${what}: answer id`);
  assert.ok(msg[2] & 0x80, `${what}: QR bit`);
  assert.ok(msg.readUInt16BE(6) >= 1, `${what}: no answer record`);
  assert.ok(msg.includes(Buffer.from(DNS_A)), `${what}: 192.0.2.7 not in the answer`);
}

// Every message of a ws 1.1.5 socket, in order: next() resolves with the next one (rejects on a text message).
function messages(ws, what) {
  const queue = [];
  const waiters = [];
  const closed = h.deferred();
  ws.on('message', (data, flags) => {
    const item = flags && flags.binary ? Buffer.from(data) : new Error(`${what}: a text message arrived`);
    const w = waiters.shift();
    if (w) return item instanceof Error ? w.reject(item) : w.resolve(item);
    queue.push(item);
  });
  ws.on('close', (code) => {
    closed.resolve(code);
    for (const w of waiters.splice(0)) w.reject(new Error(`${what}: closed (${code})`));
  });
  return {
    closed: closed.promise,
    next(ms = 10000) {
      if (queue.length) {
        const item = queue.shift();
        return item instanceof Error ? Promise.reject(item) : Promise.resolve(item);
      }
      if (closed.settled) return Promise.reject(new Error(`${what}: already closed`));
      const d = h.deferred();
      waiters.push(d);
      return h.withDeadline(d.promise, ms, `${what}: next message`);
    },
  };
}

async function freeUdpPort(family = 'udp4') {
  const s = dgram.createSocket(family);
  await new Promise((resolve) => s.bind(0, family === 'udp4' ? '127.0.0.1' : '::1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

// dnsmasq on 127.0.0.1 and ::1, answering only svc.test; stopped at the end of the test.
async function startDnsmasq(t, port) {
  const args = ['-k', '--conf-file=/dev/null', '--pid-file=', `--port=${port}`, '--listen-address=127.0.0.1,::1',
                '--bind-interfaces', '--no-resolv', '--no-hosts', `--address=/svc.test/${DNS_A.join('.')}`,
                `--address=/svc.test/${DNS_AAAA}`, '--log-queries', '--log-facility=-', '--user=nobody'];
  const proc = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  h.keepLogs(proc, 'dnsmasq');
  let log = '';
  const started = h.deferred();
  const exited = h.deferred();
  proc.stderr.setEncoding('utf8');
  proc.stderr.on('data', (s) => {
    log += s;
    if (/started, version/.test(log) && !started.settled) started.resolve();
  });
  proc.on('error', (e) => started.reject(new Error(`cannot start dnsmasq (scripts/setup.sh installs it): ${e.message}`)));
  proc.on('exit', (code, signal) => {
    exited.resolve();
    if (!started.settled) started.reject(new Error(`dnsmasq exited (${code}, ${signal}): ${log}`));
  });
  t.defer('stop dnsmasq', async () => {
    if (!exited.settled) proc.kill('SIGTERM');
    await h.withDeadline(exited.promise, 5000, 'dnsmasq exit');
  });
  await h.withDeadline(started.promise, 10000, 'dnsmasq start-up');
  return { port, queries: () => (log.match(/query\[/g) || []).length };
}

// dnsmasq also listens on TCP (and on ::1): a port free for UDP on 127.0.0.1 may be taken there by another process
// of a parallel run, so a start that finds its port in use tries again on a new one (5 tries at most).
async function startDnsmasqOnFreePort(t) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startDnsmasq(t, await freeUdpPort());
    } catch (e) {
      if (attempt >= 5 || !/Address already in use/.test(e.message)) throw e;
      ok(`dnsmasq: its port was taken meanwhile (try ${attempt}), trying another`);
    }
  }
}

function dig(server, port, type) {
  return new Promise((resolve, reject) => {
    execFile('dig', ['+short', '+tries=1', '+time=10', `@${server}`, '-p', String(port), 'svc.test', type],
             { timeout: 20000 }, (err, stdout, stderr) => {
               if (err) return reject(new Error(`dig @${server} -p ${port} ${type}: ${err.message} ${stderr}`));
               resolve(stdout.trim());
             });
  });
}

async function scrape(port) {
  const r = await h.httpGet(port, '/metrics');
  assert.equal(r.status, 200, '/metrics status');
  return r.body;
}

function udpSocket(t, family, what) {
  const s = dgram.createSocket(family);
  const got = [];
  const waiters = [];
  s.on('message', (msg) => {
    got.push(Buffer.from(msg));
    for (const w of waiters.slice()) if (got.length >= w.n) { waiters.splice(waiters.indexOf(w), 1); w.d.resolve(); }
  });
  t.defer(`close ${what}`, async () => new Promise((resolve) => s.close(resolve)));
  return {
    socket: s,
    got,
    waitFor(n, ms = 10000) {
      if (got.length >= n) return Promise.resolve();
      const d = h.deferred();
      waiters.push({ n, d });
      return h.withDeadline(d.promise, ms, `${what}: ${n} datagrams (got ${got.length})`);
    },
  };
}

h.run('interop daemon_udp: dig/dnsmasq over IPv4 and IPv6, hyco-ws datagram peers both ways, UDP metrics', async (t) => {
  const relay = await t.startRelay();
  const hc = h.uniqueName('udp');
  const hc2 = h.uniqueName('udpecho');
  const dns = await startDnsmasqOnFreePort(t);
  const dnsPort = dns.port;
  const tcp = await t.tcpEchoServer();
  const [adminL, adminT] = [await h.freePort(), await h.freePort()];

  const listener = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${adminT}`, '-T',
    `${hc}:dns/127.0.0.1:${dnsPort}U;dns6/[::1]:${dnsPort}U;web/127.0.0.1:${tcp.port}`], { name: 'listener' });
  // The hyco-ws listener of (c) must be up before the sender's first datagram to hc2.
  let listenerSide;
  const echoDone = h.deferred();
  await t.hycoListener(relay, hc2, (ws) => { listenerSide = runEchoListener(ws, echoDone); });
  const [port4, port6, portEcho] = [await freeUdpPort(), await freeUdpPort('udp6'), await freeUdpPort()];
  const sender = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${adminL}`,
    '-L', `127.0.0.1:${port4}U/dns;[::1]:${port6}U/dns6:${hc}`, '-L', `127.0.0.1:${portEcho}U/echo:${hc2}`],
  { name: 'sender' });
  await sender.waitForLog(new RegExp(`listening on \\[::1\\]:${port6}/udp \\(port name 'dns6'\\)`), 1000);

  // Every UDP series exists at 0 before the first datagram, on both sides.
  for (const [port, forward] of [[adminL, `L:${hc}`], [adminT, `T:${hc}`]]) {
    const text = await scrape(port);
    for (const direction of ['to_relay', 'from_relay'])
      assert.equal(metric(text, 'hcbridge_datagrams_total', { forward, direction }), 0, `${forward} datagrams ${direction}`);
    for (const reason of ['setup_queue_full', 'relay_slow', 'local_busy', 'route_limit', 'no_route', 'too_big'])
      assert.equal(metric(text, 'hcbridge_datagrams_dropped_total', { forward, reason }), 0, `${forward} dropped ${reason}`);
    assert.equal(metric(text, 'hcbridge_udp_routes_open', { forward }), 0, `${forward} routes open`);
    assert.equal(metric(text, 'hcbridge_udp_routes_opened_total', { forward }), 0, `${forward} routes opened`);
    assert.equal(metric(text, 'hcbridge_udp_routes_closed_total', { forward, reason: 'idle_timeout' }), 0);
  }
  ok('every UDP series is at 0 before the first datagram (both daemons)');

  // (a) dig through the tunnel, IPv4 (5 at once: 5 client addresses, 5 routes) and IPv6.
  const answers = await Promise.all([1, 2, 3, 4, 5].map(() => dig('127.0.0.1', port4, 'A')));
  for (const a of answers) assert.equal(a, DNS_A.join('.'), 'dig A through the tunnel');
  assert.equal(await dig('::1', port6, 'AAAA'), DNS_AAAA, 'dig AAAA over IPv6 through the tunnel');
  assert.equal(dns.queries(), 6, 'dnsmasq saw each query once');
  ok('dig: 5 parallel A queries over IPv4 and one AAAA over IPv6 answered by dnsmasq through the tunnel');
  const afterDig = await scrape(adminL);
  const fwdL = `L:${hc}`;
  assert.equal(metric(afterDig, 'hcbridge_datagrams_total', { forward: fwdL, direction: 'to_relay' }), 6);
  assert.equal(metric(afterDig, 'hcbridge_datagrams_total', { forward: fwdL, direction: 'from_relay' }), 6);
  assert.equal(metric(afterDig, 'hcbridge_udp_routes_opened_total', { forward: fwdL }), 6);
  assert.equal(metric(afterDig, 'hcbridge_udp_routes_open', { forward: fwdL }), 6);
  ok('sender /metrics: 6 datagrams each way, 6 routes');

  // (b) hyco-ws as the sender, framing by hand.
  const ws = await t.hycoSender(relay, hc);
  const inbox = messages(ws, 'hyco-ws datagram sender');
  ws.send(preamble(1, 'dns'), { binary: true });
  assert.deepEqual([...(await inbox.next())], [1, 0, 1], 'the listener answers a datagram preamble with 01 00 01');
  const q1 = frame(dnsQuery(0x1111, 'svc.test'));
  ws.send(q1.subarray(0, 1), { binary: true });   // half the length
  ws.send(q1.subarray(1, 7), { binary: true });   // the rest of it and a piece of the payload
  ws.send(q1.subarray(7), { binary: true });
  ws.send(Buffer.concat([frame(dnsQuery(0x2222, 'svc.test')), frame(dnsQuery(0x3333, 'svc.test'))]), { binary: true });
  const ids = [];
  for (let i = 0; i < 3; i++) {
    const m = await inbox.next();
    assert.equal(m.length, 2 + m.readUInt16BE(0), 'each answer is exactly one framed datagram per message');
    const id = m.readUInt16BE(2);
    assertDnsAnswer(m.subarray(2), id, `answer ${i}`);
    ids.push(id);
  }
  assert.deepEqual(ids.sort((x, y) => x - y), [0x1111, 0x2222, 0x3333], 'the three queries were answered');
  ok('hyco-ws sender: 01 00 01; split and coalesced frames de-framed; answers one framed datagram per message');
  ws.close(1000);
  await h.withDeadline(inbox.closed, 10000, 'hyco-ws sender close');

  for (const [mode, name, want] of [[0, 'dns', [0, 0, 1]], [1, 'web', [0, 0, 0xff]]]) {
    const s = await t.hycoSender(relay, hc);
    const box = messages(s, `hyco-ws sender mode ${mode} -> ${name}`);
    s.send(preamble(mode, name), { binary: true });
    assert.deepEqual([...(await box.next())], want, `mode ${mode} to port '${name}'`);
    await h.withDeadline(box.closed, 10000, 'close after a mode mismatch');
  }
  ok('a mode mismatch gets azbridge\'s 00 00 01 (port is UDP) / 00 00 FF (port is a stream) and a close');

  const t1 = await scrape(adminT);
  const fwdT = `T:${hc}`;
  assert.equal(metric(t1, 'hcbridge_datagrams_total', { forward: fwdT, direction: 'from_relay' }), 9, 'T: datagrams in');
  assert.equal(metric(t1, 'hcbridge_datagrams_total', { forward: fwdT, direction: 'to_relay' }), 9, 'T: datagrams out');
  assert.equal(metric(t1, 'hcbridge_udp_routes_opened_total', { forward: fwdT }), 7, 'T: routes');
  assert.equal(metric(t1, 'hcbridge_tunnels_failed_total', { forward: fwdT, reason: 'bad_preamble' }), 2);
  ok('listener /metrics: 9 datagrams each way, 7 routes, 2 mode mismatches counted');

  // (c) a UDP client through -L to a hyco-ws listener.
  const client = udpSocket(t, 'udp4', 'echo client');
  await new Promise((resolve) => client.socket.bind(0, '127.0.0.1', resolve));
  const sent = [Buffer.from('a'), Buffer.alloc(1472, 7), Buffer.from('ccc')];
  for (const d of sent) client.socket.send(d, portEcho, '127.0.0.1');
  await client.waitFor(4);
  const echoed = await h.withDeadline(echoDone.promise, 5000, 'hyco-ws listener');
  assert.deepEqual(echoed.map((b) => b.toString('hex')), sent.map((b) => b.toString('hex')), 'datagrams at the listener');
  assert.deepEqual(client.got.slice(0, 3).map((b) => b.toString('hex')), sent.map((b) => b.toString('hex')));
  assert.equal(client.got[3].toString(), 'split reply', 'the reply split across two messages');
  assert.ok(listenerSide, 'the hyco-ws listener was reached');
  ok('UDP client -> -L -> hyco-ws listener: 01 00 01 LEN "echo", one framed datagram per message, replies de-framed');
  assert.ok(listener && sender);
}, { timeoutMs: 90000 });

// The hyco-ws listener of (c): checks the daemon's preamble and framing, echoes.
function runEchoListener(ws, done) {
  let buf = Buffer.alloc(0);
  let phase = 'preamble';
  const got = [];
  ws.on('message', (data, flags) => {
    try {
      assert.ok(flags && flags.binary, 'the daemon sends binary messages only');
      if (phase === 'preamble') {
        buf = Buffer.concat([buf, Buffer.from(data)]);
        if (buf.length < 4 || buf.length < 4 + buf[3]) return;
        assert.deepEqual([...buf.subarray(0, 3)], [1, 0, 1], 'datagram preamble 01 00 01');
        assert.equal(buf.subarray(4, 4 + buf[3]).toString(), 'echo', 'port name');
        assert.equal(buf.length, 4 + buf[3], 'no datagram before the reply');
        phase = 'data';
        ws.send(Buffer.from([1, 0, 1]), { binary: true });
        return;
      }
      const m = Buffer.from(data);
      assert.equal(m.length, 2 + m.readUInt16BE(0), 'one framed datagram per message');
      got.push(m.subarray(2));
      if (got.length < 3) return;
      ws.send(Buffer.concat(got.map(frame)), { binary: true });
      const last = frame(Buffer.from('split reply'));
      ws.send(last.subarray(0, 1), { binary: true });
      ws.send(last.subarray(1), { binary: true });
      done.resolve(got);
    } catch (e) {
      done.reject(e);
    }
  });
  ws.on('error', () => {});
  return true;
}
