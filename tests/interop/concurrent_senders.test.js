'use strict';
// Proof: 20 hyco-ws senders connect at the same time to one hyco-ws listener through hcrelay (TLS). Each sends its
// own 256 KiB of random bytes (in messages of random sizes); the listener echoes every message on the same
// connection; each sender gets back exactly its own bytes (length and SHA-256), so no streams are mixed up.
const h = require('./lib/harness');
const { assert, ok } = h;

const SENDERS = 20;
const PAYLOAD = 256 * 1024;

h.run(`concurrent_senders: ${SENDERS} hyco-ws senders to one hyco-ws listener, echoed`, async (t) => {
  const relay = await t.startRelay();
  const name = h.uniqueName('fanin');

  let connections = 0;
  let echoedBytes = 0;
  await t.hycoListener(relay, name, (ws) => {
    connections += 1;
    t.trackWs1(ws, `listener rendezvous socket #${connections}`);
    ws.on('message', (data, flags) => {
      echoedBytes += data.length;
      ws.send(data, { binary: !!(flags && flags.binary) }, (err) => {
        if (err) t.fail(new Error(`listener echo failed: ${err.message}`));
      });
    });
    ws.on('error', (e) => t.fail(new Error(`listener rendezvous socket error: ${h.describe(e)}`)));
  });
  ok(`hyco-ws listener connected for '${name}'`);

  // All senders connect first, and only then start sending: the relay carries 20 tunnels at the same time.
  const allOpen = h.deferred();
  let open = 0;
  const started = Date.now();
  const results = await Promise.all(
    Array.from({ length: SENDERS }, async (_, i) => {
      const payload = h.randomMessages(PAYLOAD, 1, 64 * 1024);
      const sender = await t.hycoSender(relay, name, { what: `sender #${i}` });
      const rx = h.collectBinary(sender, PAYLOAD, `sender #${i} receiving its echo`);
      if (++open === SENDERS) {
        ok(`all ${SENDERS} senders connected at once after ${h.elapsed(started)}`);
        allOpen.resolve();
      }
      await h.withDeadline(allOpen.promise, 20000, `waiting for all senders to connect (${open}/${SENDERS})`);
      await h.withDeadline(h.sendAll(sender, payload.messages), 20000, `sender #${i} sending`);
      const got = await h.withDeadline(rx.promise, 20000, `sender #${i} echo (${rx.progress()})`);
      sender.close(1000);
      return { i, sent: payload, got };
    }),
  );
  ok(`${SENDERS} senders finished their round trips in ${h.elapsed(started)}`);

  assert.equal(connections, SENDERS, 'the listener must have accepted one connection per sender');
  ok(`the listener accepted ${connections} connections`);
  const digests = new Set();
  for (const { i, sent, got } of results) {
    assert.equal(got.data.length, PAYLOAD, `sender #${i} echo length`);
    assert.equal(h.sha256(got.data), h.sha256(sent.data), `sender #${i} got bytes that are not its own`);
    assert.ok(got.data.equals(sent.data), `sender #${i} echo byte-exact`);
    digests.add(h.sha256(sent.data));
  }
  assert.equal(digests.size, SENDERS, 'payloads must all differ');
  assert.equal(echoedBytes, SENDERS * PAYLOAD, 'bytes the listener echoed');
  ok(`each of the ${SENDERS} senders got back exactly its own ${PAYLOAD} bytes (SHA-256 equal, byte-exact)`);
});
