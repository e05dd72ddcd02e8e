'use strict';
// Proof: hcrelay refuses hyco-ws senders and listeners whose SAS token is bad with HTTP 401 (wrong key, unknown key
// name, token for another HC name or host, expired, missing), while correctly signed hyco-ws clients get through
// (token in the ServiceBusAuthorization header, as the SDK sends it, or in the sb-hc-token query parameter).
const h = require('./lib/harness');
const { assert, ok } = h;

h.run('bad_key_401: bad or missing SAS tokens get HTTP 401', async (t) => {
  const relay = await t.startRelay();
  const name = h.uniqueName('auth');
  const other = h.uniqueName('other');
  const wrongKey = h.randomKey();

  // Positive control: a correctly signed listener and sender work, so every 401 below is about the token.
  let accepted = 0;
  await t.hycoListener(relay, name, (ws) => {
    accepted += 1;
    t.trackWs1(ws, `listener rendezvous socket #${accepted}`);
    ws.on('message', (data, flags) => ws.send(data, { binary: !!(flags && flags.binary) }));
    ws.on('error', (e) => t.fail(new Error(`listener rendezvous socket error: ${h.describe(e)}`)));
  });
  ok(`hyco-ws listener with a valid token connected for '${name}'`);

  async function echoCheck(what, opts) {
    const sender = await t.hycoSender(relay, name, { what, ...opts });
    const reply = h.waitFor(sender, 'message', 10000, `${what} echo`, ['error', 'close']);
    sender.send(`hello from ${what}`);
    const [data] = await reply;
    assert.equal(String(data), `hello from ${what}`);
    sender.close(1000);
    ok(`${what}: connected and echoed`);
  }
  await echoCheck('sender with a valid token in the ServiceBusAuthorization header', {});
  await echoCheck('sender with a valid token in sb-hc-token', {
    token: null,
    extraQuery: `sb-hc-token=${encodeURIComponent(relay.token(name))}`,
  });
  await echoCheck('sender with a namespace-wide token (http://127.0.0.1/)', {
    token: h.HycoWS.createRelayToken('http://127.0.0.1/', relay.keyName, relay.key),
  });

  // Senders that must get 401.
  const senderCases = [
    ['signed with a wrong key', { token: relay.token(name, { key: wrongKey }) }],
    ['with an unknown key name', { token: relay.token(name, { keyName: 'nobody' }) }],
    [`with a token for another HC name ('${other}')`, { token: relay.token(other) }],
    [`with a token for a name that is only a string prefix ('${name.slice(0, -2)}')`, { token: relay.token(name.slice(0, -2)) }],
    ['with a token for another host (http://localhost/NAME)', { token: relay.token(name, { host: 'localhost' }) }],
    ['with an expired token', { token: relay.token(name, { seconds: -60 }) }],
    ['without a token', { token: null }],
    ['with a wrong-key token in sb-hc-token', {
      token: null,
      extraQuery: `sb-hc-token=${encodeURIComponent(relay.token(name, { key: wrongKey }))}`,
    }],
    ['with a garbage token', { token: 'SharedAccessSignature sr=x&sig=y&se=1&skn=root' }],
  ];
  for (const [label, opts] of senderCases) {
    const what = `sender ${label}`;
    const { status, reason } = await t.hycoSenderRefused(relay, name, { what, ...opts });
    assert.equal(status, 401, `${what}: expected HTTP 401, got ${status} ${reason}`);
    ok(`${what}: HTTP ${status} ${reason}`);
  }

  // Listeners that must get 401 (the SDK reports the status in its error message).
  const listenerCases = [
    ['signed with a wrong key', relay.token(name, { key: wrongKey })],
    [`with a token for another HC name ('${other}')`, relay.token(other)],
    ['with an expired token', relay.token(name, { seconds: -60 })],
    ['without a token', ''], // hyco-ws sends no ServiceBusAuthorization header for an empty token
  ];
  for (const [label, token] of listenerCases) {
    const what = `listener ${label}`;
    const message = await t.hycoListenerRefused(relay, name, token, what);
    assert.match(message, /\b401\b/, `${what}: expected HTTP 401, the SDK said: ${message}`);
    ok(`${what}: refused, SDK error "${message}"`);
  }

  // The valid listener was not disturbed by any of this.
  await echoCheck('sender with a valid token, after the refusals', {});
  assert.equal(accepted, 4, 'the listener must have accepted exactly the 4 valid senders');
  ok('the listener accepted exactly the 4 valid senders and none of the refused ones');
});
