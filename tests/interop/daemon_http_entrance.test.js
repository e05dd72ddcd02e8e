'use strict';
// Proof for the local HTTP entrance (`hcbridge -L http:PORT:hc`): curl, knowing no token, -> hcbridge -> hcrelay
// (HTTP request mode) -> the official hyco-https listener (createRelayedServer, in its own process): GET, POST, HEAD,
// 204, bodies of 0, 65,536, 65,537 and 10 MiB each way byte-exact (SHA-256), a chunked upload, a streamed response
// arriving piece by piece, an HTTP/1.0 client, pipelining, keep-alive (curl with three URLs reuses its connection),
// 20 concurrent requests, what the listener sees (its path, our token never), no listener (the relay's 404 passed
// through), a listener that never answers (the relay's 504 passed through; ours sooner with http.answer_timeout), the
// access log and the hcbridge_http_* metrics. daemon_http_entrance_web covers -H + a web server, a relay that keeps
// alive, and a relay that is down.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { pattern, curlTo } = require('./lib/curl');
const { SIZES, startHycoHttps, curlVerbose, timedGet, rawRequest, bodiesBothWays } = require('./lib/http_entrance');
const h = require('./lib/harness');
const { assert, ok } = h;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-http-entrance-'));
const curlWith = curlTo(tmp);
const curl = (args, what) => curlWith(args, { what });

h.run('daemon_http_entrance: curl -> hcbridge -L http -> hcrelay -> hyco-https / hcbridge -H', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const name = h.uniqueName('app');
  const nobody = h.uniqueName('nobody');
  await startHycoHttps(t, relay, name);
  const [port, port2, adminPort] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const daemon = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${adminPort}`,
    '-L', `http:127.0.0.1:${port}:${name}`, '-L', `http:${port2}:${nobody}`], { name: 'hcbridge -L http' });
  const base = `http://127.0.0.1:${port}`;

  await bodiesBothWays(curl, tmp, base, 'hyco-https');

  const head = await rawRequest(port, `HEAD /bytes?n=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.match(head, /^HTTP\/1\.1 200 /, `HEAD status: ${head.slice(0, 80)}`);
  assert.equal(head.slice(head.indexOf('\r\n\r\n') + 4), '', 'HEAD must have no body');
  const nc = await rawRequest(port, `GET /nocontent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.match(nc, /^HTTP\/1\.1 204 /, `204 status: ${nc.slice(0, 80)}`);
  assert.equal(nc.slice(nc.indexOf('\r\n\r\n') + 4), '', '204 must have no body');
  ok('HEAD and 204 answered without a body');

  // HTTP/1.0: the relay's chunked answer arrives decoded, ended by the close.
  const old = Buffer.from(await rawRequest(port, 'GET /bytes?n=70000 HTTP/1.0\r\n\r\n'), 'latin1');
  const split = old.indexOf('\r\n\r\n');
  const oldHead = old.subarray(0, split).toString('latin1');
  assert.match(oldHead, /^HTTP\/1\.1 200 /, `HTTP/1.0: ${oldHead}`);
  assert.doesNotMatch(oldHead, /transfer-encoding/i, 'no chunked coding for an HTTP/1.0 client');
  assert.equal(h.sha256(old.subarray(split + 4)), h.sha256(pattern(70000)), 'HTTP/1.0 body');
  // Two pipelined requests in one write: answered in order on the one connection.
  const two = await rawRequest(port, 'GET /bytes?n=3 HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET /info?second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
  const heads = two.match(/HTTP\/1\.1 200 /g) || [];
  assert.equal(heads.length, 2, `pipelined: ${two.slice(0, 300)}`);
  assert.ok(two.indexOf(pattern(3).toString('latin1')) < two.indexOf('/info?second'), 'pipelined answers in order');
  ok('an HTTP/1.0 client gets the body decoded; two pipelined requests are answered in order');

  const info = await curl(['-H', 'ServiceBusAuthorization: client-made-up', `${base}/info?x=1`], 'info');
  const seen = JSON.parse(info.body.toString());
  assert.equal(seen.url, `/${name}/info?x=1`, 'the listener sees /<hc> + the client\'s target');
  assert.equal(seen.headers.servicebusauthorization, undefined, 'no token reaches the listener');
  assert.match(seen.headers.via || '', /hcbridge/, 'Via names hcbridge');
  ok(`the listener saw ${seen.url}, no token, Via ${seen.headers.via}`);

  const stream = await timedGet(`${base}/stream?parts=10&size=16384`);
  assert.equal(stream.status, 200, 'stream status');
  const got = Buffer.concat(stream.pieces.map((p) => p.data));
  assert.equal(h.sha256(got), h.sha256(Buffer.concat(Array.from({ length: 10 }, () => pattern(16384)))), 'stream body');
  const spread = stream.pieces[stream.pieces.length - 1].at - stream.pieces[0].at;
  assert.ok(stream.pieces.length > 1 && spread >= 150, `the answer came at once (${stream.pieces.length} pieces over ${spread} ms)`);
  ok(`a streamed answer arrived in ${stream.pieces.length} pieces over ${spread} ms`);

  const verbose = await curlVerbose([`${base}/bytes?n=10`, `${base}/bytes?n=70000`, `${base}/bytes?n=20`]);
  assert.equal((verbose.match(/Connected to /g) || []).length, 1, `curl connected more than once:\n${verbose}`);
  assert.match(verbose, /Re-using existing connection/, `curl did not reuse its connection:\n${verbose}`);
  ok('keep-alive: curl sent three requests on one connection');

  const many = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2
    ? curl([`${base}/bytes?n=${1000 * i}`], `concurrent GET ${i}`)
    : curl(['--data-binary', `@${path.join(tmp, 'up65537')}`, `${base}/sha`], `concurrent POST ${i}`))));
  many.forEach((r, i) => {
    assert.equal(r.status, 200, `concurrent ${i}: status ${r.status}`);
    if (i % 2) assert.equal(h.sha256(r.body), h.sha256(pattern(1000 * i)), `concurrent GET ${i}`);
    else assert.equal(JSON.parse(r.body.toString()).sha256, h.sha256(pattern(65537)), `concurrent POST ${i}`);
  });
  ok('20 concurrent GETs and POSTs answered byte-exact');

  const none = await curl([`http://127.0.0.1:${port2}/x`], 'no listener');
  assert.equal(none.status, 404, `no listener: status ${none.status} ${none.body}`);
  // The relay answers before it read the body: the client still gets the answer (no reset), and the connection ends.
  const early = await curl(['--data-binary', `@${path.join(tmp, `up${10 << 20}`)}`, `http://127.0.0.1:${port2}/x`], 'no listener, 10 MiB POST');
  assert.equal(early.status, 404, `no listener, POST: status ${early.status} ${early.body}`);
  ok(`no listener: the relay's ${none.status} passed through, also for a 10 MiB POST it answered before reading`);

  await daemon.waitForLog(new RegExp(`L:${name}: [0-9a-f-]{36} GET /bytes 200 10 B`), 5000, { what: 'access log line' });
  const metrics = (await h.httpGet(adminPort, '/metrics')).body;
  const ok2xx = h.metric(metrics, 'hcbridge_http_requests_total', { forward: `L:${name}`, code: '2xx' });
  // 9 bodies, HEAD, 204, HTTP/1.0, 2 pipelined, info, the stream, 3 kept alive, 20 concurrent.
  assert.equal(ok2xx, 39, 'hcbridge_http_requests_total 2xx');
  const down = h.metric(metrics, 'hcbridge_http_bytes_total', { forward: `L:${name}`, direction: 'from_relay' });
  assert.ok(down >= 10 << 20, `hcbridge_http_bytes_total from_relay = ${down}`);
  assert.equal(h.metric(metrics, 'hcbridge_http_requests_total', { forward: `L:${nobody}`, code: '4xx' }), 2, '4xx counted');
  ok(`access log line per request; metrics: ${ok2xx} 2xx, ${down} bytes from the relay`);

  // The relay's own 504 (no answer from the listener within its --request-timeout) is passed through.
  const slowRelay = await t.startRelay({ logLevel: 'info', extraArgs: ['--request-timeout', '2'] });
  await startHycoHttps(t, slowRelay, name);
  const port5 = await h.freePort();
  await t.startDaemon([...slowRelay.daemonArgs(), '-L', `http:${port5}:${name}`], { name: 'hcbridge -L http (slow relay)' });
  const late = await curl([`http://127.0.0.1:${port5}/never`], 'listener never answers');
  assert.equal(late.status, 504, `never: status ${late.status}`);
  assert.match(late.body.toString(), /GatewayTimeout/, 'the relay\'s 504 body passed through');
  ok('a listener that never answers: the relay\'s 504 (GatewayTimeout) passed through');

  // A local forward's http.answer_timeout (config file; 1 s here) ends the wait with hcbridge's own 504 long before
  // the first relay's (its --request-timeout is the default 60 s).
  const port6 = await h.freePort();
  const conf = path.join(tmp, 'answer_timeout.json');
  fs.writeFileSync(conf, JSON.stringify({ local_forward: [{ hc: name, bind: `http:${port6}`, http: { answer_timeout: 1 } }] }));
  await t.startDaemon([...relay.daemonArgs(), '-c', conf], { name: 'hcbridge -L http (answer_timeout 1 s)' });
  const asked = Date.now();
  const silent = await curl([`http://127.0.0.1:${port6}/never`], 'answer_timeout 1 s');
  const waited = Date.now() - asked;
  assert.equal(silent.status, 504, `answer_timeout: status ${silent.status} ${silent.body}`);
  assert.match(silent.body.toString(), /^no answer from the relay \(request /, 'our 504, not the relay\'s');
  assert.ok(waited >= 900 && waited < 30000, `answer_timeout 1 s: answered after ${waited} ms`);
  ok(`http.answer_timeout 1 s: hcbridge's own 504 after ${waited} ms`);
}, { timeoutMs: 100000 }); // many requests, two relays and a 2 s relay timeout: slow on a busy machine
