'use strict';
// Proof: a correctly authorised hyco-ws sender to a hybrid connection that has no listener gets HTTP 404 whose reason
// says "There are no listeners connected for the endpoint. TrackingId:...", also when another HC has a listener; a
// sender-supplied sb-hc-id shows up as the TrackingId, as on the real service.
const crypto = require('node:crypto');
const h = require('./lib/harness');
const { assert, ok } = h;

function checkNoListeners(what, status, reason) {
  assert.equal(status, 404, `${what}: expected HTTP 404, got ${status} ${reason}`);
  assert.match(reason, /no listeners/i, `${what}: reason must say "no listeners": ${reason}`);
  assert.ok(reason.includes('TrackingId:'), `${what}: reason must carry "TrackingId:": ${reason}`);
  ok(`${what}: HTTP ${status} ${reason}`);
}

h.run('no_listener_404: senders to an HC without listeners get 404', async (t) => {
  const relay = await t.startRelay();
  const lonely = h.uniqueName('lonely');

  {
    const what = `hyco-ws sender to '${lonely}' (never had a listener)`;
    const { status, reason } = await t.hycoSenderRefused(relay, lonely, { what, token: relay.token(lonely) });
    checkNoListeners(what, status, reason);
  }
  {
    const id = crypto.randomUUID();
    const what = `hyco-ws sender to '${lonely}' with sb-hc-id=${id}`;
    const { status, reason } = await t.hycoSenderRefused(relay, lonely, {
      what,
      token: relay.token(lonely),
      extraQuery: `sb-hc-id=${id}`,
    });
    checkNoListeners(what, status, reason);
    assert.ok(reason.includes(`TrackingId:${id}`), `${what}: the TrackingId must start with the sender's id: ${reason}`);
    ok(`${what}: the TrackingId starts with the sender's sb-hc-id`);
  }

  // A listener on another HC does not change the answer for this one.
  const busy = h.uniqueName('busy');
  await t.hycoListener(relay, busy, (ws) => t.fail(new Error(`listener on '${busy}' got a connection meant for '${lonely}'`)));
  ok(`hyco-ws listener connected for '${busy}'`);
  {
    const what = `hyco-ws sender to '${lonely}' while '${busy}' has a listener`;
    const { status, reason } = await t.hycoSenderRefused(relay, lonely, { what, token: relay.token(lonely) });
    checkNoListeners(what, status, reason);
  }
});
