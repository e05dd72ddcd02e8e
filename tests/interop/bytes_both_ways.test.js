'use strict';
// Proof: a hyco-ws listener (createRelayedServer) and a hyco-ws sender (relayedConnect) exchange 10 MiB each way
// through hcrelay over TLS, in binary messages of random sizes (1 B .. 256 KiB); both directions arrive byte-exact,
// in order, with the message boundaries kept; a close from the sender reaches the listener with its code.
const h = require('./lib/harness');
const { assert, ok } = h;

const TOTAL = 10 * 1024 * 1024;
const MAX_MESSAGE = 256 * 1024;

h.run('bytes_both_ways: 10 MiB each way between hyco-ws sender and listener', async (t) => {
  const relay = await t.startRelay();
  const name = h.uniqueName('bytes');

  const up = h.randomMessages(TOTAL, 1, MAX_MESSAGE); // sender -> listener
  const down = h.randomMessages(TOTAL, 1, MAX_MESSAGE); // listener -> sender
  assert.notEqual(h.sha256(up.data), h.sha256(down.data));
  ok(`payloads: up ${up.sizes.length} messages sha256 ${h.sha256(up.data).slice(0, 16)}..., ` +
     `down ${down.sizes.length} messages sha256 ${h.sha256(down.data).slice(0, 16)}...`);

  const accepted = h.deferred();
  let connections = 0;
  await t.hycoListener(relay, name, (ws) => {
    connections += 1;
    if (connections > 1) return t.fail(new Error('the listener got more than one connection'));
    t.trackWs1(ws, 'listener rendezvous socket');
    const upRx = h.collectBinary(ws, TOTAL, 'listener receiving');
    const closeSeen = h.deferred();
    ws.on('close', (code, reason) => closeSeen.resolve({ code, reason }));
    ws.on('open', () => {
      accepted.resolve({ ws, upRx, closeSeen, sent: h.sendAll(ws, down.messages) });
    });
    ws.on('error', (e) => {
      if (!accepted.settled) accepted.reject(new Error(`listener rendezvous socket error: ${h.describe(e)}`));
    });
  });
  ok(`hyco-ws listener connected for '${name}'`);

  const started = Date.now();
  const sender = await t.hycoSender(relay, name);
  const downRx = h.collectBinary(sender, TOTAL, 'sender receiving');
  const sent = h.sendAll(sender, up.messages);
  const lst = await h.withDeadline(accepted.promise, 10000, 'listener rendezvous open');
  ok('hyco-ws sender connected and the listener accepted it');

  const timeout = 30000;
  const progress = () => `sender got ${downRx.progress()}, listener got ${lst.upRx.progress()}`;
  await h.withDeadline(Promise.all([sent, lst.sent]), timeout, `sending (${progress()})`);
  const [upGot, downGot] = await h.withDeadline(
    Promise.all([lst.upRx.promise, downRx.promise]),
    timeout,
    `receiving (${progress()})`,
  );
  const secs = (Date.now() - started) / 1000;
  ok(`transfer finished in ${secs.toFixed(2)} s (${((2 * TOTAL) / 1048576 / secs).toFixed(1)} MiB/s both ways together)`);

  assert.equal(upGot.data.length, TOTAL, 'listener byte count');
  assert.equal(h.sha256(upGot.data), h.sha256(up.data), 'sender->listener SHA-256');
  assert.ok(upGot.data.equals(up.data), 'sender->listener bytes in order');
  ok(`sender->listener: ${upGot.data.length} bytes, SHA-256 equal, byte-exact in order`);
  assert.deepEqual(upGot.sizes, up.sizes, 'sender->listener message sizes');
  ok(`sender->listener: ${upGot.sizes.length} messages, each with the size it was sent with`);

  assert.equal(downGot.data.length, TOTAL, 'sender byte count');
  assert.equal(h.sha256(downGot.data), h.sha256(down.data), 'listener->sender SHA-256');
  assert.ok(downGot.data.equals(down.data), 'listener->sender bytes in order');
  ok(`listener->sender: ${downGot.data.length} bytes, SHA-256 equal, byte-exact in order`);
  assert.deepEqual(downGot.sizes, down.sizes, 'listener->sender message sizes');
  ok(`listener->sender: ${downGot.sizes.length} messages, each with the size it was sent with`);

  sender.close(1000, 'done');
  const { code } = await h.withDeadline(lst.closeSeen.promise, 10000, 'listener seeing the sender close');
  assert.equal(code, 1000, 'close code the listener sees');
  ok('the sender\'s close (1000) reached the listener');
});
