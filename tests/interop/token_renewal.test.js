'use strict';
// Proof (protocol reference §3.4, §4.2): listener control channels driven by hand with the `ws` package, so the
// test decides when to renew.
//  - A listener connected with a 10 s token that sends {"renewToken":{"token":...}} with a fresh 10 s token every
//    4 s stays connected for 30 s, and a hyco-ws sender still reaches it at the end (accept message -> the test
//    dials the accept address -> echo round trip).
//  - A listener with a 10 s token that never renews is closed with 1008 once the token expires (10-20 s), and a
//    tunnel it accepted before that keeps working after its control channel is gone.
//  - A renewToken carrying a bad token (wrong key; token for another HC) closes the channel with 1008 at once.
// All three run in parallel, so the test takes about 30 s.
const h = require('./lib/harness');
const { assert, ok, WS8 } = h;

const LIFETIME = 10; // seconds, of every token a control channel gets here
const RENEW_EVERY_MS = 4000;
const HOLD_MS = 30000;

function tokenExpiryMs(token) {
  const m = /[&\s]se=(\d+)/.exec(token);
  assert.ok(m, `no se= in token ${token}`);
  return Number(m[1]) * 1000;
}

// Opens a control channel with ws 8; `closed` resolves with {code, reason, at} when it closes.
async function controlChannel(t, relay, name, token, what) {
  const ws = await t.ws8(relay.url(name, 'listen'), { headers: { ServiceBusAuthorization: token }, what });
  const closed = h.deferred();
  ws.on('close', (code, reason) => closed.resolve({ code, reason: String(reason), at: Date.now() }));
  ws.on('error', (e) => t.fail(new Error(`${what}: error: ${h.describe(e)}`)));
  return { ws, closed, openedAt: Date.now() };
}

// Makes `ctl` answer accept messages: checks the accept message, dials its address with ws 8 and echoes on it.
function answerAccepts(t, relay, name, ctl, what) {
  const accepted = [];
  ctl.ws.on('message', (data, isBinary) => {
    if (isBinary) return t.fail(new Error(`${what}: unexpected binary control message`));
    let msg;
    try {
      msg = JSON.parse(String(data));
    } catch (e) {
      return t.fail(new Error(`${what}: control message is not JSON: ${String(data).slice(0, 200)}`));
    }
    if (!msg.accept) return t.fail(new Error(`${what}: unexpected control message ${String(data).slice(0, 200)}`));
    const a = msg.accept;
    const headers = Object.fromEntries(Object.entries(a.connectHeaders || {}).map(([k, v]) => [k.toLowerCase(), v]));
    try {
      assert.equal(typeof a.id, 'string', 'accept.id');
      assert.ok(a.address.startsWith(`${relay.base}/$hc/${name}?`), `accept.address ${a.address}`);
      assert.match(a.address, /[?&]sb-hc-action=accept(&|$)/, 'accept.address action');
      assert.ok(a.address.includes(`sb-hc-id=${encodeURIComponent(a.id)}`), `accept.address carries the id: ${a.address}`);
      assert.ok(headers['sec-websocket-key'], 'connectHeaders carry Sec-WebSocket-Key');
      assert.ok(!('servicebusauthorization' in headers), 'connectHeaders must not carry the sender token');
    } catch (e) {
      return t.fail(new Error(`${what}: bad accept message ${JSON.stringify(msg)}: ${e.message}`));
    }
    const rendezvous = t.ws8(a.address, { what: `${what} rendezvous ${a.id}` }).then((rv) => {
      rv.on('message', (d, bin) => rv.send(d, { binary: bin }));
      return rv;
    });
    rendezvous.catch((e) => t.fail(new Error(`${what}: dialling the accept address failed: ${e.message}`)));
    accepted.push({ id: a.id, rendezvous });
  });
  return accepted;
}

async function echoRoundTrip(sender, text, what) {
  const reply = h.waitFor(sender, 'message', 10000, `${what} echo`, ['error', 'close']);
  sender.send(text);
  const [data] = await reply;
  assert.equal(String(data), text, `${what}: echo`);
}

h.run('token_renewal: renewToken keeps a listener, expiry and bad renewals close it with 1008', async (t) => {
  const relay = await t.startRelay();

  // 1. Renewing listener.
  const renewing = (async () => {
    const name = h.uniqueName('renewing');
    const what = `renewing listener '${name}'`;
    const first = relay.token(name, { seconds: LIFETIME });
    const ctl = await controlChannel(t, relay, name, first, what);
    ok(`${what}: connected with a ${LIFETIME} s token (expires ${((tokenExpiryMs(first) - ctl.openedAt) / 1000).toFixed(1)} s after connecting)`);
    const accepted = answerAccepts(t, relay, name, ctl, what);
    let renewals = 0;
    let lastExpiry = tokenExpiryMs(first);
    const timer = setInterval(() => {
      const token = relay.token(name, { seconds: LIFETIME });
      lastExpiry = tokenExpiryMs(token);
      ctl.ws.send(JSON.stringify({ renewToken: { token } }), (err) => {
        if (err) t.fail(new Error(`${what}: sending renewToken failed: ${err.message}`));
      });
      renewals += 1;
    }, RENEW_EVERY_MS);
    t.defer(`${what}: stop renewing`, () => clearInterval(timer));
    ctl.closed.promise.then(({ code, reason, at }) => {
      if (!ctl.closing) {
        t.fail(new Error(`${what}: closed after ${((at - ctl.openedAt) / 1000).toFixed(1)} s with ${code} ${reason} ` +
                         `despite ${renewals} renewals`));
      }
    });

    // Holding the channel open for 30 s is what this part proves; a close on the way fails the test at once.
    await new Promise((resolve) => setTimeout(resolve, HOLD_MS - (Date.now() - ctl.openedAt)));
    assert.ok(Date.now() - ctl.openedAt >= HOLD_MS);
    assert.ok(Date.now() > tokenExpiryMs(first) + 5000, 'the first token must have expired long ago');
    ok(`${what}: still connected after ${h.elapsed(ctl.openedAt)} thanks to ${renewals} renewals ` +
       `(first token expired ${((Date.now() - tokenExpiryMs(first)) / 1000).toFixed(1)} s ago)`);

    const sender = await t.hycoSender(relay, name, { what: `hyco-ws sender to '${name}'` });
    await echoRoundTrip(sender, `still there after ${HOLD_MS / 1000} s`, `sender to '${name}'`);
    assert.equal(accepted.length, 1, 'one accept message');
    ok(`${what}: a hyco-ws sender reached it after ${h.elapsed(ctl.openedAt)} (accept ${accepted[0].id}, echo round trip ok)`);
    sender.close(1000);

    clearInterval(timer);
    assert.ok(Date.now() < lastExpiry, 'the last renewed token is still valid');
    ctl.closing = true;
    ctl.ws.close(1000);
    const { code } = await h.withDeadline(ctl.closed.promise, 5000, `${what} close`);
    assert.equal(code, 1000, `${what}: close handshake code`);
  })();

  // 2. Listener that never renews.
  const expiring = (async () => {
    const name = h.uniqueName('expiring');
    const what = `non-renewing listener '${name}'`;
    const token = relay.token(name, { seconds: LIFETIME });
    const ctl = await controlChannel(t, relay, name, token, what);
    const expiry = tokenExpiryMs(token);
    ok(`${what}: connected with a ${LIFETIME} s token (expires ${((expiry - ctl.openedAt) / 1000).toFixed(1)} s after connecting)`);
    const accepted = answerAccepts(t, relay, name, ctl, what);

    // A tunnel accepted while the token is valid.
    const sender = await t.hycoSender(relay, name, { what: `hyco-ws sender to '${name}'` });
    await echoRoundTrip(sender, 'before expiry', `sender to '${name}'`);
    ok(`${what}: accepted a hyco-ws sender before its token expired`);

    const { code, reason, at } = await h.withDeadline(ctl.closed.promise, 22000, `${what}: waiting for the 1008 close`);
    const after = (at - ctl.openedAt) / 1000;
    assert.equal(code, 1008, `${what}: close code (reason: ${reason})`);
    assert.ok(at >= expiry - 100, `${what}: closed ${((expiry - at) / 1000).toFixed(2)} s before its token expired`);
    assert.ok(after >= LIFETIME - 1 && after <= 20, `${what}: closed after ${after.toFixed(2)} s, expected 10-20 s`);
    ok(`${what}: closed with 1008 "${reason}" ${after.toFixed(2)} s after connecting ` +
       `(${((at - expiry) / 1000).toFixed(2)} s after the token's se)`);

    assert.equal(accepted.length, 1, 'one accept message');
    await echoRoundTrip(sender, 'after expiry', `sender to '${name}'`);
    ok(`${what}: the tunnel it accepted before the expiry still carries data after the control channel closed`);
    sender.close(1000);
  })();

  // 3. Renewals with bad tokens.
  const badRenewal = async (label, makeToken) => {
    const name = h.uniqueName('badrenew');
    const what = `listener '${name}' renewing with ${label}`;
    const ctl = await controlChannel(t, relay, name, relay.token(name, { seconds: 60 }), what);
    const sentAt = Date.now();
    ctl.ws.send(JSON.stringify({ renewToken: { token: makeToken(name) } }));
    const { code, reason, at } = await h.withDeadline(ctl.closed.promise, 3000, `${what}: waiting for the 1008 close`);
    assert.equal(code, 1008, `${what}: close code (reason: ${reason})`);
    ok(`${what}: closed with 1008 "${reason}" ${((at - sentAt) / 1000).toFixed(2)} s after the renewToken`);
  };
  const bad = Promise.all([
    badRenewal('a token signed with a wrong key', (name) => relay.token(name, { key: h.randomKey() })),
    badRenewal('a token for another HC name', () => relay.token(h.uniqueName('elsewhere'))),
    badRenewal('an expired token', (name) => relay.token(name, { seconds: -60 })),
  ]);

  await Promise.all([renewing, expiring, bad]);
});
