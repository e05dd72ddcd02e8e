'use strict';
// Proof for `hcbridge -H`: curl -> hcrelay (HTTP request mode) -> hcbridge -H -> a real web server (Python's
// http.server, web_origin.py). GET and POST bodies of 0, 65535, 65536, 65537 and 10 MiB byte-exact (SHA-256), HEAD
// and 204 without a body, a redirect passed through (not followed), server-sent events arriving event by event, the
// path-escape cases refused with 400 (never reaching the server), X-Forwarded-For and the base path.
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { pattern, curlTo } = require('./lib/curl');
const h = require('./lib/harness');
const { startOrigin } = require('./lib/web_origin');
const { assert, ok } = h;

const SIZES = [0, 65535, 65536, 65537, 10 << 20];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-http-fwd-'));
const curlWith = curlTo(tmp);
const curl = (args, what) => curlWith(args, { what });
const ca = () => path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem');

// The times at which each piece of a response body arrived.
function timedGet(url, headers) {
  return h.withDeadline(new Promise((resolve, reject) => {
    const req = https.get(url, { headers, ca: fs.readFileSync(ca()) }, (res) => {
      const pieces = [];
      res.on('data', (d) => pieces.push({ at: Date.now(), text: String(d) }));
      res.on('end', () => resolve({ status: res.statusCode, pieces }));
      res.on('error', reject);
    });
    req.on('error', reject);
  }), 20000, 'SSE stream');
}

h.run('daemon_http_forward: curl -> hcrelay -> hcbridge -H -> python http.server', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const originPort = await startOrigin(t);
  const name = h.uniqueName('web');
  await t.startDaemon([...relay.daemonArgs(), '-H', `${name}:http/127.0.0.1/site:${originPort}`], { name: 'hcbridge -H' });
  const base = `https://127.0.0.1:${relay.port}/${name}`;
  const auth = ['-H', `ServiceBusAuthorization: ${relay.token(name)}`];

  for (const n of SIZES) {
    const r = await curl([...auth, `${base}/bytes?n=${n}`], `GET ${n}`);
    assert.equal(r.status, 200, `GET ${n}: status`);
    assert.equal(h.sha256(r.body), h.sha256(pattern(n)), `GET ${n}: body differs (got ${r.body.length} bytes)`);
  }
  ok(`GET bodies of ${SIZES.join(', ')} bytes arrived byte-exact`);
  for (const n of SIZES) {
    const file = path.join(tmp, `up${n}`);
    fs.writeFileSync(file, pattern(n));
    const r = await curl([...auth, '--data-binary', `@${file}`, `${base}/sha`], `POST ${n}`);
    assert.equal(r.status, 200, `POST ${n}: status ${r.status} ${r.body}`);
    assert.deepEqual(JSON.parse(r.body.toString()), { length: n, sha256: h.sha256(pattern(n)) }, `POST ${n}: body`);
    const e = await curl([...auth, '--data-binary', `@${file}`, `${base}/echo`], `POST echo ${n}`);
    assert.equal(h.sha256(e.body), h.sha256(pattern(n)), `POST echo ${n}: body differs (got ${e.body.length} bytes)`);
  }
  ok(`POST bodies of ${SIZES.join(', ')} bytes reached the web server and came back byte-exact`);

  // (curl -I writes the head to its output file; that the answer has no body is checked in integration.-H tests.)
  const head = await curl([...auth, '-I', `${base}/bytes?n=1000`], 'HEAD');
  assert.equal(head.status, 200, 'HEAD status');
  const nc = await curl([...auth, `${base}/nocontent`], '204');
  assert.equal(nc.status, 204, '204 status');
  assert.equal(nc.body.length, 0, '204 body');
  const redirect = await curl([...auth, `${base}/redirect`], 'redirect');
  assert.equal(redirect.status, 302, 'the redirect is passed on, not followed');
  assert.equal(redirect.headers.location, '/elsewhere', 'Location');
  ok('HEAD and 204 without a body; a 302 passed through with its Location');

  const info = await curl([...auth, `${base}/headers?q=a%2Fb`], 'headers');
  const seen = JSON.parse(info.body.toString());
  assert.equal(seen.target, '/site/headers?q=a%2Fb', 'base path + remainder, query byte-exact');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'X-Forwarded-For is the sender as the relay saw it');
  assert.equal(seen.headers['x-forwarded-proto'], 'https', 'X-Forwarded-Proto');
  assert.equal(seen.headers.host, `127.0.0.1:${originPort}`, 'Host is the web server\'s');
  assert.match(seen.headers.via || '', /hcbridge/, 'Via names hcbridge');
  assert.equal(seen.headers.servicebusauthorization, undefined, 'the token never reaches the web server');
  ok(`the web server saw ${seen.target} with X-Forwarded-For 127.0.0.1 and no token`);

  for (const p of ['//evil/x', '/%2F%2Fevil/x', '/../secret', '/%2e%2e/secret']) {
    const r = await curl([...auth, '--path-as-is', `${base}${p}`], `escape ${p}`);
    assert.equal(r.status, 400, `${p}: status ${r.status} ${r.body}`);
  }
  ok('path escapes (//evil, %2F%2F, .., %2e%2e) refused with 400');

  const sse = await timedGet(`${base}/sse`, { ServiceBusAuthorization: relay.token(name) });
  assert.equal(sse.status, 200, 'SSE status');
  const text = sse.pieces.map((p) => p.text).join('');
  assert.equal(text, 'data: event 0\n\ndata: event 1\n\ndata: event 2\n\n', 'SSE body');
  const first = sse.pieces.find((p) => p.text.includes('event 0')).at;
  const last = sse.pieces.find((p) => p.text.includes('event 2')).at;
  assert.ok(last - first >= 500, `events arrived together (${last - first} ms apart), not as sent (800 ms)`);
  ok(`server-sent events arrived one by one (${last - first} ms between the first and the last)`);
});
