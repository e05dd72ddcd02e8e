'use strict';
// Proof for hcrelay's HTTP request mode: the official hyco-https listener (createRelayedServer, in its own process)
// behind hcrelay, curl as the sender. GET/POST/HEAD/204, bodies of 0, 65535, 65536, 65537 and 10 MiB each way
// byte-exact (SHA-256), a chunked upload, a streamed response, 20 concurrent mixed requests, what the listener sees
// (no token, no sb-hc-* pairs, Via), a listener that never answers (504 + the service's JSON after
// --request-timeout), no listener (404), bad tokens (401), and Entra ID senders (JWT served, no role 403).
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./lib/harness');
const { entraSetup } = require('./lib/entra_setup');
const { assert, ok } = h;

const SIZES = [0, 65535, 65536, 65537, 10 << 20];

const { pattern, curlTo } = require('./lib/curl');
const { startHycoHttps } = require('./lib/hyco_https');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-http-'));
const curl = curlTo(tmp);

// Sends `text` over TLS and resolves with everything the relay sends back until it closes.
function rawRequest(port, text) {
  const tls = require('node:tls');
  return h.withDeadline(new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: fs.readFileSync(path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem')) }, () => s.write(text));
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    s.on('error', reject);
  }), 15000, 'raw request');
}

h.run('http_request_mode: hyco-https listener behind hcrelay, curl as the sender', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const name = h.uniqueName('web');
  await startHycoHttps(t, relay, name);
  const base = `https://127.0.0.1:${relay.port}/${name}`;
  const auth = ['-H', `ServiceBusAuthorization: ${relay.token(name)}`];

  // Downloads: GET bodies byte-exact, HEAD and 204 without a body.
  for (const n of SIZES) {
    const r = await curl([...auth, `${base}/bytes?n=${n}`], { what: `GET ${n}` });
    assert.equal(r.status, 200, `GET ${n}: status`);
    assert.equal(h.sha256(r.body), h.sha256(pattern(n)), `GET ${n}: body differs (got ${r.body.length} bytes)`);
    assert.ok(/hcrelay|127\.0\.0\.1/.test(r.headers.via || ''), `GET ${n}: Via missing: ${JSON.stringify(r.headers)}`);
  }
  ok(`GET bodies of ${SIZES.join(', ')} bytes arrived byte-exact, with Via`);
  {
    // A raw HEAD: everything after the head must be nothing (curl -I would hide a stray body).
    const raw = await rawRequest(relay.port, `HEAD /${name}/bytes?n=100 HTTP/1.1\r\nHost: 127.0.0.1:${relay.port}\r\n` +
      `ServiceBusAuthorization: ${relay.token(name)}\r\nConnection: close\r\n\r\n`);
    assert.match(raw, /^HTTP\/1\.1 200 /, `HEAD status: ${raw.slice(0, 80)}`);
    assert.equal(raw.slice(raw.indexOf('\r\n\r\n') + 4), '', 'HEAD must have no body');
    const c = await curl([...auth, `${base}/nocontent`], { what: '204' });
    assert.equal(c.status, 204, '204 status');
    assert.equal(c.body.length, 0, '204 must have no body');
    ok('HEAD and 204 answered without a body');
  }

  // Uploads: POST bodies (Content-Length) and a chunked upload, checked by the listener's SHA-256.
  for (const n of SIZES) {
    const file = path.join(tmp, `up${n}`);
    fs.writeFileSync(file, pattern(n));
    const r = await curl([...auth, '-X', 'POST', '--data-binary', `@${file}`, `${base}/sha`], { what: `POST ${n}` });
    assert.equal(r.status, 200, `POST ${n}: status ${r.status} ${r.body}`);
    const got = JSON.parse(r.body.toString());
    assert.deepEqual(got, { length: n, sha256: h.sha256(pattern(n)) }, `POST ${n}: listener saw another body`);
  }
  ok(`POST bodies of ${SIZES.join(', ')} bytes reached the listener byte-exact`);
  {
    const file = path.join(tmp, 'up-chunked');
    fs.writeFileSync(file, pattern(300000));
    const r = await curl([...auth, '-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${base}/sha`], { what: 'chunked POST' });
    assert.equal(r.status, 200, `chunked POST: status ${r.status} ${r.body}`);
    assert.deepEqual(JSON.parse(r.body.toString()), { length: 300000, sha256: h.sha256(pattern(300000)) }, 'chunked POST body');
    ok('a chunked 300000-byte upload reached the listener byte-exact');
  }
  {
    const r = await curl([...auth, `${base}/stream?parts=4&size=50000`], { what: 'streamed response' });
    assert.equal(r.status, 200, 'stream status');
    assert.equal(h.sha256(r.body), h.sha256(Buffer.concat([0, 1, 2, 3].map(() => pattern(50000)))), 'streamed body');
    ok('a response written in 4 parts over 200 ms arrived whole');
  }

  // What the listener sees: the HC name and the app's query, never the token or sb-hc-* pairs; Via added.
  {
    const token = encodeURIComponent(relay.token(name));
    const r = await curl([`${base}/info?a=1&sb-hc-token=${token}&sb-hc-id=x1&b=2`], { what: 'info via sb-hc-token' });
    assert.equal(r.status, 200, `info: status ${r.status} ${r.body}`);
    const info = JSON.parse(r.body.toString());
    assert.equal(info.url, `/${name}/info?a=1&b=2`, 'request target seen by the listener');
    assert.ok(!JSON.stringify(info).includes('sig='), 'the listener must not see the token');
    assert.ok(info.headers.via, 'the listener must see Via');
    const a = await curl(['-H', `Authorization: ${relay.token(name)}`, `${base}/info`], { what: 'info via Authorization' });
    assert.equal(a.status, 200, 'Authorization token accepted');
    assert.ok(!JSON.parse(a.body.toString()).headers.authorization, 'a consumed Authorization header is stripped');
    ok(`the listener saw ${info.url} without the token; tokens in sb-hc-token and Authorization work`);
  }

  // 20 concurrent mixed requests.
  {
    const jobs = [];
    for (let i = 0; i < 20; i++) {
      const n = [0, 1000, 70000, 65536][i % 4];
      if (i % 2) {
        jobs.push(curl([...auth, `${base}/bytes?n=${n}`], { what: `concurrent GET ${i}` }).then((r) => {
          assert.equal(r.status, 200);
          assert.equal(h.sha256(r.body), h.sha256(pattern(n)), `concurrent GET ${i}`);
        }));
      } else {
        const file = path.join(tmp, `c${i}`);
        fs.writeFileSync(file, pattern(n + i));
        jobs.push(curl([...auth, '--data-binary', `@${file}`, `${base}/sha`], { what: `concurrent POST ${i}` }).then((r) => {
          assert.equal(r.status, 200);
          assert.equal(JSON.parse(r.body.toString()).sha256, h.sha256(pattern(n + i)), `concurrent POST ${i}`);
        }));
      }
    }
    await Promise.all(jobs);
    ok('20 concurrent mixed GET/POST requests all byte-exact');
  }

  // Errors as the service gives them.
  {
    const lonely = h.uniqueName('lonely');
    const r = await curl(['-H', `ServiceBusAuthorization: ${relay.token(lonely)}`, `https://127.0.0.1:${relay.port}/${lonely}/x`], { what: 'no listener' });
    assert.equal(r.status, 404, 'no listener: 404');
    assert.match(r.body.toString(), /no listeners connected.*TrackingId:/, 'no listener body');
    const bad = await curl(['-H', `ServiceBusAuthorization: ${relay.token(name, { key: h.randomKey() })}`, `${base}/bytes?n=1`], { what: 'bad key' });
    assert.equal(bad.status, 401, 'wrong key: 401');
    assert.match(bad.body.toString(), /TokenMissingOrInvalid.*TrackingId:/, '401 body');
    const none = await curl([`${base}/bytes?n=1`], { what: 'no token' });
    assert.equal(none.status, 401, 'no token: 401');
    ok('no listener gives 404, wrong and missing tokens 401 with a TrackingId');
  }

  // The rendezvous-only form forced for every request (hcrelay --http-path rendezvous): hyco-https dials, reads the
  // request there and answers on it.
  {
    // A short --request-timeout only here: under load a 10 MiB upload on the first relay may take longer than it.
    const relay2 = await t.startRelay({ extraArgs: ['--http-path', 'rendezvous', '--request-timeout', '2'], logLevel: 'info' });
    const name2 = h.uniqueName('rdv');
    await startHycoHttps(t, relay2, name2);
    const base2 = `https://127.0.0.1:${relay2.port}/${name2}`;
    const auth2 = ['-H', `ServiceBusAuthorization: ${relay2.token(name2)}`];
    const g = await curl([...auth2, `${base2}/bytes?n=1000`], { what: 'rendezvous GET' });
    assert.equal(h.sha256(g.body), h.sha256(pattern(1000)), 'rendezvous GET body');
    const file = path.join(tmp, 'rdv-up');
    fs.writeFileSync(file, pattern(5000));
    const p = await curl([...auth2, '--data-binary', `@${file}`, `${base2}/sha`], { what: 'rendezvous POST' });
    assert.deepEqual(JSON.parse(p.body.toString()), { length: 5000, sha256: h.sha256(pattern(5000)) }, 'rendezvous POST body');
    const c = await curl([...auth2, `${base2}/nocontent`], { what: 'rendezvous 204' });
    assert.equal(c.status, 204, 'rendezvous 204');
    ok('with --http-path rendezvous: GET, POST and 204 work over the rendezvous-only form');
    {
      const r = await curl([...auth2, `${base2}/never`], { what: 'never answers' });
      assert.equal(r.status, 504, 'no response within --request-timeout must give 504');
      const err = JSON.parse(r.body.toString());
      assert.equal(err.error.code, 'GatewayTimeout', '504 JSON code');
      assert.match(err.error.message, /did not respond in the required time/, '504 JSON message');
      ok('a listener that never answers gives 504 with the GatewayTimeout JSON');
    }
  }
  // Entra ID senders (hcrelay --entra-jwks/--entra-roles): a JWT in Authorization (Bearer) or ServiceBusAuthorization
  // with the Sender role (Owner here) reaches the listener; a valid token without a role gets 403 naming the role.
  {
    const s = await entraSetup(t);
    const name3 = h.uniqueName('entra');
    await startHycoHttps(t, s.relay, name3);
    const base3 = `https://127.0.0.1:${s.relay.port}/${name3}`;
    const jwt = h.registerSecret(s.ts.issue(s.OID.secret, 'test').token);
    const bearer = await curl(['-H', `Authorization: Bearer ${jwt}`, `${base3}/bytes?n=300`], { what: 'Entra bearer' });
    assert.equal(bearer.status, 200, `Entra token in Authorization: ${bearer.status} ${bearer.body}`);
    assert.equal(h.sha256(bearer.body), h.sha256(pattern(300)), 'Entra bearer body');
    const sba = await curl(['-H', `ServiceBusAuthorization: ${jwt}`, `${base3}/bytes?n=30`], { what: 'Entra ServiceBusAuthorization' });
    assert.equal(sba.status, 200, 'Entra token in ServiceBusAuthorization');
    const norole = h.registerSecret(s.ts.issue(s.OID.norole, 'test').token);
    const denied = await curl(['-H', `Authorization: Bearer ${norole}`, `${base3}/bytes?n=1`], { what: 'Entra without a role' });
    assert.equal(denied.status, 403, 'a token without the Sender role: 403');
    assert.match(denied.body.toString(), /Sender.*TrackingId:/s, '403 names the role, with a TrackingId');
    ok(`Entra ID senders: Bearer and ServiceBusAuthorization JWTs served, no role 403 (${denied.body.toString().slice(0, 120)})`);
  }
  fs.rmSync(tmp, { recursive: true, force: true });
});
