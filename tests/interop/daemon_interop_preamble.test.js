'use strict';
// Proof (azbridge reference §0): the real hcbridge daemon speaks azbridge's stream preamble with Microsoft's Node SDK
// (hyco-ws) on the other end, through hcrelay over TLS, and its raw mode talks to plain HC applications.
//  (a) hyco-ws sender -> hcbridge -T HC:svc/127.0.0.1:PORT -> TCP target. The sender writes 01 00 00 LEN "svc",
//      gets exactly 01 00 00 back, then 1 MiB of random bytes goes each way (SHA-256 checked); the sender's close
//      half-closes the target's socket (EOF) while the target's data keeps flowing, and the target's EOF closes the
//      sender's WebSocket. A sender that sends its preamble and data in one message with a numeric port name (which
//      a single-target listener accepts) works too; a sender asking for an unknown port name gets no reply and is
//      closed.
//  (b) TCP client -> hcbridge -L "P1/custom;P2:HC" -> hyco-ws listener (createRelayedServer). The listener reads the
//      preamble (01 00 00 LEN name: "custom" and the default name "P2"), answers 01 00 00 and echoes; each TCP client
//      gets its 256 KiB back byte-exact. On the second binding the listener sends its reply and a banner in one
//      message, which the daemon must split correctly.
//  (c) raw mode (config-file key "raw": true): hyco-ws sender -> raw -T -> TCP target and TCP client -> raw -L ->
//      hyco-ws listener exchange bytes with no preamble at all.
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./lib/harness');
const { assert, ok } = h;

const MiB = 1024 * 1024;
const PREAMBLE_OK = Buffer.from([1, 0, 0]);

function preamble(name) {
  const n = Buffer.from(name, 'utf8');
  return Buffer.concat([Buffer.from([1, 0, 0, n.length]), n]);
}

// Turns a ws 1.1.5 socket into a byte stream reader: take(n) resolves with the next n bytes; rest(total) with the
// next `total` bytes; `closed` resolves with {code} when the socket closes.
function wsReader(ws, what) {
  let buf = Buffer.alloc(0);
  let waiter = null;
  let sink = null;
  const closed = h.deferred();
  const check = () => {
    if (waiter && buf.length >= waiter.n) {
      const w = waiter;
      waiter = null;
      const out = buf.subarray(0, w.n);
      buf = buf.subarray(w.n);
      w.d.resolve(Buffer.from(out));
    }
  };
  ws.on('message', (data, flags) => {
    if (!flags || !flags.binary) return waiter && waiter.d.reject(new Error(`${what}: a text message arrived`));
    if (sink) return sink(data);
    buf = Buffer.concat([buf, data]);
    check();
  });
  ws.on('close', (code) => {
    closed.resolve({ code, buffered: buf.length });
    if (waiter) waiter.d.reject(new Error(`${what}: closed (${code}) with ${buf.length}/${waiter.n} bytes`));
  });
  ws.on('error', (e) => {
    if (waiter) waiter.d.reject(new Error(`${what}: ${h.describe(e)}`));
  });
  return {
    take(n, ms = 15000) {
      const d = h.deferred();
      waiter = { n, d };
      check();
      if (closed.settled && waiter) {
        waiter = null;
        d.reject(new Error(`${what}: already closed with ${buf.length}/${n} bytes`));
      }
      return h.withDeadline(d.promise, ms, `${what}: ${n} bytes`);
    },
    buffered: () => buf.length,
    // From now on hand every byte (those already buffered first) to fn(data) instead.
    pipeTo(fn) {
      sink = fn;
      if (buf.length) fn(buf);
      buf = Buffer.alloc(0);
    },
    closed,
  };
}

// Sends `data` over a ws 1.1.5 socket in binary messages of random sizes (1 B .. 64 KiB).
async function wsSendChunked(ws, data) {
  const messages = [];
  for (let off = 0; off < data.length;) {
    const n = Math.min(data.length - off, crypto.randomInt(1, 64 * 1024 + 1));
    messages.push(data.subarray(off, off + n));
    off += n;
  }
  await h.sendAll(ws, messages);
  return messages.length;
}

// A TCP target: for each connection it writes `down` (random pieces), reads everything the peer sends and, when
// the peer half-closes, half-closes too. Each connection becomes a record {got: Promise<{length, sha256}>}.
async function bulkTarget(t, down, what) {
  const conns = [];
  const srv = await t.tcpServer((sock) => {
    const got = h.readToEnd(sock, { what: `${what} reading`, ms: 30000 });
    const wrote = h.writeAll(sock, down);
    // Half-close only after both: our data is written and the peer's EOF arrived.
    Promise.all([got, wrote]).then(() => sock.end(), () => {});
    conns.push({ got, wrote });
  }, what);
  return { ...srv, conns };
}

h.run('daemon_interop_preamble: hcbridge <-> hyco-ws with the azbridge preamble and in raw mode', async (t) => {
  const relay = await t.startRelay();
  const hcT = h.uniqueName('pre-t');
  const hcL = h.uniqueName('pre-l');
  const hcRawT = h.uniqueName('raw-t');
  const hcRawL = h.uniqueName('raw-l');

  const down = crypto.randomBytes(MiB); // target -> sender
  const up = crypto.randomBytes(MiB); // sender -> target
  const target = await bulkTarget(t, down, 'preamble target');
  const rawTarget = await bulkTarget(t, down, 'raw target');

  // hyco-ws listeners for the -L sides, before the daemons connect to them.
  const lstConns = []; // {hc, firstBytes, ...}
  const listenerFor = (hc, { raw }) => async (ws) => {
    t.trackWs1(ws, `${hc} rendezvous`);
    const reader = wsReader(ws, `${hc} listener`);
    const rec = { hc, done: h.deferred() };
    lstConns.push(rec);
    try {
      await h.waitFor(ws, 'open', 10000, `${hc} rendezvous open`);
      if (!raw) {
        const head = await reader.take(4);
        assert.deepEqual([...head.subarray(0, 3)], [1, 0, 0], `${hc}: preamble version/mode bytes`);
        rec.name = (await reader.take(head[3])).toString('utf8');
        // On the default-name binding, answer with the reply and a banner in ONE message.
        if (/^\d+$/.test(rec.name)) ws.send(Buffer.concat([PREAMBLE_OK, Buffer.from('BANNER')]), { binary: true });
        else ws.send(PREAMBLE_OK, { binary: true });
      }
      // Echo everything else, starting with bytes that may already be buffered.
      reader.pipeTo((data) => {
        if (!rec.firstBytes) rec.firstBytes = Buffer.from(data);
        ws.send(data, { binary: true });
      });
      rec.done.resolve();
    } catch (e) {
      rec.done.reject(e);
      t.fail(e);
    }
  };
  await t.hycoListener(relay, hcL, listenerFor(hcL, { raw: false }));
  await t.hycoListener(relay, hcRawL, listenerFor(hcRawL, { raw: true }));

  const [lp1, lp2, lpRaw] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const daemon = await t.startDaemon([
    ...relay.daemonArgs(), '--log-level', 'debug',
    '-T', `${hcT}:svc/127.0.0.1:${target.port}`,
    '-L', `${lp1}/custom;${lp2}:${hcL}`,
  ], { name: 'hcbridge(preamble)' });

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-raw-'));
  t.defer('remove temp dir', async () => fs.rmSync(dir, { recursive: true, force: true }));
  const cfgFile = path.join(dir, 'raw.json');
  fs.writeFileSync(cfgFile, JSON.stringify({
    relay: relay.daemonRelayConfig(),
    log: { level: 'debug' },
    remote_forward: [{ hc: hcRawT, target: `127.0.0.1:${rawTarget.port}`, raw: true }],
    local_forward: [{ hc: hcRawL, bind: `127.0.0.1:${lpRaw}`, raw: true }],
  }, null, 2), { mode: 0o600 });
  const rawDaemon = await t.startDaemon(['-c', cfgFile], {
    name: 'hcbridge(raw)',
    ready: [new RegExp(`T:${hcRawT}: control channel connected`), new RegExp(`L:${hcRawL}: listening on 127\\.0\\.0\\.1:${lpRaw} .*raw`)],
  });

  // ---- (a) hyco-ws sender -> hcbridge -T, with the preamble. -------------------------------------------------
  {
    const started = Date.now();
    const sender = await t.hycoSender(relay, hcT, { what: 'hyco-ws sender (svc)' });
    const reader = wsReader(sender, 'sender (svc)');
    sender.send(preamble('svc'), { binary: true });
    const reply = await reader.take(3);
    assert.deepEqual([...reply], [...PREAMBLE_OK], 'preamble reply');
    ok(`(a) sender asked for port name 'svc' and got the reply ${reply.toString('hex')}`);
    const downRx = reader.take(down.length, 30000);
    const messages = await wsSendChunked(sender, up);
    sender.close(1000); // our direction is done: must reach the target as EOF, the target's data keeps flowing
    const got = await downRx;
    const conn = target.conns[0];
    const upRx = await conn.got;
    assert.equal(upRx.length, up.length, 'target received byte count');
    assert.equal(upRx.sha256, h.sha256(up), 'sender -> target SHA-256');
    assert.equal(h.sha256(got), h.sha256(down), 'target -> sender SHA-256');
    const { code } = await h.withDeadline(reader.closed.promise, 10000, 'sender close after the target EOF');
    assert.equal(reader.buffered(), 0, 'no bytes after the 1 MiB');
    ok(`(a) 1 MiB each way byte-exact (${messages} messages up); sender close -> target EOF, target EOF -> close ` +
       `${code}; ${h.elapsed(started)}`);
    const closed = await daemon.waitForLog(new RegExp(`tunnel (t\\d+) closed: forward=T:${hcT} reason="([^"]*)".* ` +
                                           'bytes_to_relay=(\\d+) bytes_from_relay=(\\d+)'), 5000);
    assert.equal(closed[2], 'closed', 'tunnel close reason');
    assert.equal(Number(closed[3]), down.length, 'daemon bytes_to_relay (the reply is not counted)');
    assert.equal(Number(closed[4]), up.length, 'daemon bytes_from_relay (the preamble is not counted)');
    ok(`(a) daemon logged: ${closed[0]}`);
  }

  // Preamble and data in one message, numeric port name on a single-target listener.
  {
    const sender = await t.hycoSender(relay, hcT, { what: 'hyco-ws sender (12345)' });
    const reader = wsReader(sender, 'sender (12345)');
    const small = crypto.randomBytes(64 * 1024);
    sender.send(Buffer.concat([preamble('12345'), small]), { binary: true });
    const reply = await reader.take(3);
    assert.deepEqual([...reply], [...PREAMBLE_OK], 'preamble reply (numeric name)');
    const got = await reader.take(down.length, 30000);
    sender.close(1000);
    const upRx = await target.conns[1].got;
    assert.equal(upRx.sha256, h.sha256(small), 'preamble+data in one message: data SHA-256');
    assert.equal(h.sha256(got), h.sha256(down), 'numeric name: target -> sender SHA-256');
    await h.withDeadline(reader.closed.promise, 10000, 'sender (12345) close');
    ok('(a) preamble with data in the same message, numeric port name 12345 on a single target: byte-exact');
  }

  // Unknown port name: no reply, the WebSocket is closed.
  {
    const sender = await t.hycoSender(relay, hcT, { what: 'hyco-ws sender (nope)' });
    const reader = wsReader(sender, 'sender (nope)');
    sender.send(preamble('nope'), { binary: true });
    const { code, buffered } = await h.withDeadline(reader.closed.promise, 10000, 'unknown port name: close');
    assert.equal(buffered, 0, 'unknown port name: no reply bytes');
    assert.equal(target.conns.length, 2, 'unknown port name: the target was not dialled');
    await daemon.waitForLog(new RegExp(`T:${hcT}: connection .*unknown port name 'nope'`), 5000);
    ok(`(a) unknown port name 'nope': no reply, closed (${code}), the daemon logged it`);
  }

  // ---- (b) TCP client -> hcbridge -L -> hyco-ws listener. ----------------------------------------------------
  const echoVia = async (port, { banner }) => {
    const payload = crypto.randomBytes(256 * 1024);
    const sock = await h.tcpConnect(port);
    const rx = h.readToEnd(sock, { keep: true, what: `echo via ${port}` });
    await h.writeAll(sock, payload, { maxPiece: 32 * 1024 });
    sock.end();
    const got = await rx;
    const expected = banner ? Buffer.concat([Buffer.from(banner), payload]) : payload;
    assert.equal(got.length, expected.length, `echo via ${port}: byte count`);
    assert.ok(got.data.equals(expected), `echo via ${port}: bytes`);
    return payload;
  };
  await echoVia(lp1, {});
  ok(`(b) TCP client via -L ${lp1}/custom: 256 KiB echoed byte-exact by the hyco-ws listener`);
  await echoVia(lp2, { banner: 'BANNER' });
  ok(`(b) TCP client via -L ${lp2} (default name): reply+banner in one message split right, 256 KiB echoed`);
  const names = lstConns.filter((c) => c.hc === hcL).map((c) => c.name);
  assert.deepEqual(names, ['custom', String(lp2)], 'port names the listener received in the preambles');
  ok(`(b) the hyco-ws listener read the preambles 01 00 00 LEN name with names ${JSON.stringify(names)}`);

  // ---- (c) raw mode both ways. --------------------------------------------------------------------------------
  {
    const sender = await t.hycoSender(relay, hcRawT, { what: 'hyco-ws sender (raw)' });
    const reader = wsReader(sender, 'sender (raw)');
    const downRx = reader.take(down.length, 30000);
    await wsSendChunked(sender, up);
    sender.close(1000);
    const got = await downRx;
    assert.equal(h.sha256(got), h.sha256(down), 'raw: target -> sender SHA-256 (no reply bytes in front)');
    const upRx = await rawTarget.conns[0].got;
    assert.equal(upRx.length, up.length, 'raw: target byte count (no preamble in front)');
    assert.equal(upRx.sha256, h.sha256(up), 'raw: sender -> target SHA-256');
    await h.withDeadline(reader.closed.promise, 10000, 'raw sender close');
    ok('(c) hyco-ws sender -> raw -T -> TCP target: 1 MiB each way, no preamble, byte-exact');
  }
  const rawPayload = await echoVia(lpRaw, {});
  const rawRec = lstConns.find((c) => c.hc === hcRawL);
  assert.ok(rawRec && rawRec.firstBytes, 'raw listener got bytes');
  assert.ok(rawRec.firstBytes.equals(rawPayload.subarray(0, rawRec.firstBytes.length)),
            `raw: the listener's first bytes are payload, not a preamble (${rawRec.firstBytes.subarray(0, 8).toString('hex')})`);
  ok('(c) TCP client -> raw -L -> hyco-ws listener: 256 KiB echoed, the first byte the listener saw was payload');
  await rawDaemon.waitForLog(new RegExp(`tunnel t\\d+ closed: forward=L:${hcRawL} reason="closed"`), 5000);

  // Every tunnel the daemons logged closed cleanly (the unknown-name one never became a tunnel).
  for (const d of [daemon, rawDaemon]) {
    const opened = d.matches(/tunnel (t\d+) open:/).length;
    const closedLines = d.matches(/tunnel (t\d+) closed: .*reason="([^"]*)"/);
    assert.equal(closedLines.length, opened, `${d.name}: every opened tunnel closed`);
    for (const m of closedLines) assert.equal(m[2], 'closed', `${d.name}: ${m[0]}`);
    ok(`${d.name}: ${opened} tunnels opened and closed cleanly`);
  }
});
