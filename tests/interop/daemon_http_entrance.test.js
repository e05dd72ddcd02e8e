'use strict';
// Proof for the local HTTP entrance (`hcbridge -L http:PORT:hc`): curl, knowing no token, -> hcbridge -> hcrelay
// (HTTP request mode) -> the official hyco-https listener (createRelayedServer, in its own process): GET, POST, HEAD,
// 204, bodies of 0, 65,536, 65,537 and 10 MiB each way byte-exact (SHA-256), a chunked upload, a streamed response
// arriving piece by piece, keep-alive (curl with two URLs reuses its connection), concurrent requests, what the
// listener sees (its path, our token never), no listener (the relay's 404 passed through), relay down (502), the
// access log and the hcbridge_http_* metrics. Then curl -> -L http -> hcrelay -> hcbridge -H -> Python's http.server.
const { spawn, execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { pattern, curlTo } = require('./lib/curl');
const h = require('./lib/harness');
const { assert, ok } = h;

const SIZES = [0, 65536, 65537, 10 << 20];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-http-entrance-'));
const curlWith = curlTo(tmp);
const curl = (args, what) => curlWith(args, { what });

async function startHycoHttps(t, relay, name) {
  const proc = spawn(process.execPath, [path.join(__dirname, 'lib', 'hyco_https_listener.js'), relay.url(name, 'listen')], {
    env: { ...process.env, HYCO_TOKEN: relay.token(name) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  h.keepLogs(proc, 'hyco-https');
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  t.defer(`stop hyco-https listener '${name}'`, async () => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
  });
  const ready = h.deferred();
  proc.stdout.on('data', (d) => {
    if (String(d).includes('ready')) ready.resolve();
  });
  proc.on('exit', (code) => {
    if (!ready.settled) ready.reject(new Error(`hyco-https listener exited ${code}: ${stderr}`));
  });
  await h.withDeadline(ready.promise, 15000, `hyco-https listener '${name}' ready`);
  ok(`hyco-https listener for '${name}' connected (pid ${proc.pid})`);
}

async function startOrigin(t) {
  const proc = spawn('python3', [path.join(__dirname, 'lib', 'web_origin.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
  h.keepLogs(proc, 'web_origin');
  t.defer('stop the web server', async () => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
  });
  const port = h.deferred();
  proc.stdout.on('data', (d) => {
    const m = /port (\d+)/.exec(String(d));
    if (m) port.resolve(Number(m[1]));
  });
  proc.on('exit', (code) => port.reject(new Error(`web_origin.py exited ${code}`)));
  return h.withDeadline(port.promise, 10000, 'web server ready');
}

// curl's verbose output for one command line with several URLs (keep-alive shows there).
function curlVerbose(urls) {
  return h.withDeadline(new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '-v', '--max-time', '30', ...urls.flatMap((u) => ['-o', '/dev/null', u])], (err, stdout, stderr) => {
      if (err) return reject(new Error(`curl ${urls.join(' ')}: ${stderr || err.message}`));
      resolve(stderr);
    });
  }), 40000, 'curl -v');
}

// The times at which each piece of a response body arrived.
function timedGet(url) {
  return h.withDeadline(new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false }, (res) => {
      const pieces = [];
      res.on('data', (d) => pieces.push({ at: Date.now(), length: d.length, data: d }));
      res.on('end', () => resolve({ status: res.statusCode, pieces }));
      res.on('error', reject);
    });
    req.on('error', reject);
  }), 20000, 'streamed GET');
}

// Sends a raw request and reads until the entrance closes (the request says Connection: close).
function rawRequest(port, text) {
  return h.withDeadline(new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => s.write(text));
    const parts = [];
    s.on('data', (d) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts).toString('latin1')));
    s.on('error', reject);
  }), 15000, 'raw request');
}

async function bodiesBothWays(base, what) {
  for (const n of SIZES) {
    const r = await curl([`${base}/bytes?n=${n}`], `GET ${n}`);
    assert.equal(r.status, 200, `${what} GET ${n}: status ${r.status} ${r.body.slice(0, 200)}`);
    assert.equal(h.sha256(r.body), h.sha256(pattern(n)), `${what} GET ${n}: body differs (got ${r.body.length} bytes)`);
  }
  for (const n of SIZES) {
    const file = path.join(tmp, `up${n}`);
    fs.writeFileSync(file, pattern(n));
    const r = await curl(['--data-binary', `@${file}`, `${base}/sha`], `POST ${n}`);
    assert.equal(r.status, 200, `${what} POST ${n}: status ${r.status} ${r.body.slice(0, 200)}`);
    assert.deepEqual(JSON.parse(r.body.toString()), { length: n, sha256: h.sha256(pattern(n)) }, `${what} POST ${n}: body`);
  }
  const file = path.join(tmp, 'chunked');
  fs.writeFileSync(file, pattern(300000));
  const c = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', `@${file}`, `${base}/sha`], 'chunked POST');
  assert.equal(c.status, 200, `${what} chunked POST: status ${c.status}`);
  assert.deepEqual(JSON.parse(c.body.toString()), { length: 300000, sha256: h.sha256(pattern(300000)) }, `${what} chunked upload`);
  ok(`${what}: GET and POST bodies of ${SIZES.join(', ')} bytes and a 300,000-byte chunked upload byte-exact`);
}

// A relay that keeps its HTTP connections open (a Node HTTP server standing in for it on a ws:// endpoint): the
// entrance sends the next request of a local connection on the same relay connection, and when the relay has closed
// a kept connection meanwhile, sends a request without a body again on a new one.
async function keepAliveUpstream(t) {
  const seen = [];
  const sockets = [];
  const server = http.createServer((req, res) => {
    seen.push({ url: req.url, port: req.socket.remotePort, token: req.headers.servicebusauthorization || '' });
    const body = JSON.stringify({ port: req.socket.remotePort });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  });
  server.on('connection', (sock) => sockets.push(sock));
  server.keepAliveTimeout = 300;
  server.listen(0, '127.0.0.1');
  await h.waitFor(server, 'listening', 5000, 'fake relay');
  t.defer('stop the fake relay', () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }));
  const fakePort = server.address().port;
  const port = await h.freePort();
  await t.startDaemon(['-e', `ws://127.0.0.1:${fakePort}/`, '-K', 'root', '-k', h.registerSecret(h.randomKey()),
    '-L', `http:${port}:kept`], { name: 'hcbridge -L http (keep-alive relay)' });
  await curlVerbose([1, 2, 3].map((i) => `http://127.0.0.1:${port}/r${i}`));
  assert.deepEqual(seen.map((s) => s.url), ['/kept/r1', '/kept/r2', '/kept/r3'], 'the relay saw /<hc> + the path');
  assert.ok(seen.every((s) => s.token.startsWith('SharedAccessSignature ')), 'each request carries our SAS token');
  assert.equal(new Set(seen.map((s) => s.port)).size, 1, `three requests, relay connections from ports ${seen.map((s) => s.port)}`);
  ok('a relay that keeps alive: three requests of one local connection on one relay connection, each with our token');

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (p) => h.withDeadline(new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: p, agent }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode, body, reused: req.reusedSocket }));
    });
    req.on('error', reject);
  }), 10000, `GET ${p}`);
  const first = await get('/a');
  // The fake relay closes the kept connection after its keepAliveTimeout; the entrance still holds it.
  const kept = sockets[sockets.length - 1];
  if (!kept.destroyed) await h.waitFor(kept, 'close', 5000, 'the fake relay closes its idle connection', []);
  const second = await get('/b');
  agent.destroy();
  assert.equal(first.status, 200, 'first status');
  assert.equal(second.status, 200, `second status ${second.status} ${second.body}`);
  assert.ok(second.reused, 'the local connection was kept alive');
  assert.notEqual(JSON.parse(second.body).port, JSON.parse(first.body).port, 'the second request went on a new relay connection');
  ok('a kept relay connection closed by the relay: the next request went again on a new one, the client saw 200');
}

h.run('daemon_http_entrance: curl -> hcbridge -L http -> hcrelay -> hyco-https / hcbridge -H', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const name = h.uniqueName('app');
  const nobody = h.uniqueName('nobody');
  await startHycoHttps(t, relay, name);
  const [port, port2, adminPort] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const daemon = await t.startDaemon([...relay.daemonArgs(), '--admin', `127.0.0.1:${adminPort}`,
    '-L', `http:127.0.0.1:${port}:${name}`, '-L', `http:${port2}:${nobody}`], { name: 'hcbridge -L http' });
  const base = `http://127.0.0.1:${port}`;

  await bodiesBothWays(base, 'hyco-https');

  const head = await rawRequest(port, `HEAD /bytes?n=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.match(head, /^HTTP\/1\.1 200 /, `HEAD status: ${head.slice(0, 80)}`);
  assert.equal(head.slice(head.indexOf('\r\n\r\n') + 4), '', 'HEAD must have no body');
  const nc = await rawRequest(port, `GET /nocontent HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  assert.match(nc, /^HTTP\/1\.1 204 /, `204 status: ${nc.slice(0, 80)}`);
  assert.equal(nc.slice(nc.indexOf('\r\n\r\n') + 4), '', '204 must have no body');
  ok('HEAD and 204 answered without a body');

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
  ok(`no listener: the relay's ${none.status} passed through`);

  await daemon.waitForLog(new RegExp(`L:${name}: [0-9a-f-]{36} GET /bytes 200 10 B`), 5000, { what: 'access log line' });
  const metrics = (await h.httpGet(adminPort, '/metrics')).body;
  const ok2xx = h.metric(metrics, 'hcbridge_http_requests_total', { forward: `L:${name}`, code: '2xx' });
  // 9 bodies, HEAD, 204, info, the stream, 3 kept alive, 20 concurrent.
  assert.equal(ok2xx, 36, 'hcbridge_http_requests_total 2xx');
  const down = h.metric(metrics, 'hcbridge_http_bytes_total', { forward: `L:${name}`, direction: 'from_relay' });
  assert.ok(down >= 10 << 20, `hcbridge_http_bytes_total from_relay = ${down}`);
  assert.equal(h.metric(metrics, 'hcbridge_http_requests_total', { forward: `L:${nobody}`, code: '4xx' }), 1, '4xx counted');
  ok(`access log line per request; metrics: ${ok2xx} 2xx, ${down} bytes from the relay`);

  // Relay down: a daemon whose relay is not there answers 502 with a short text.
  const deadPort = await h.freePort();
  const port3 = await h.freePort();
  const dead = await t.startDaemon(['-e', `wss://127.0.0.1:${deadPort}/`, '--ca-file', path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'),
    '-K', relay.keyName, '-k', relay.key, '-L', `http:${port3}:${name}`], { name: 'hcbridge -L http (relay down)' });
  const bad = await curl([`http://127.0.0.1:${port3}/x`], 'relay down');
  assert.equal(bad.status, 502, `relay down: status ${bad.status}`);
  assert.match(bad.body.toString(), /relay could not be reached \(request [0-9a-f-]{36}\)/, 'relay down: text');
  await dead.waitForLog(/answered 502: cannot connect to the relay/, 5000, { what: 'the 502 log line' });
  ok(`relay down: 502 "${bad.body.toString().trim()}"`);

  // The relay's own 504 (no answer from the listener within its --request-timeout) is passed through.
  const slowRelay = await t.startRelay({ logLevel: 'info', extraArgs: ['--request-timeout', '2'] });
  await startHycoHttps(t, slowRelay, name);
  const port5 = await h.freePort();
  await t.startDaemon([...slowRelay.daemonArgs(), '-L', `http:${port5}:${name}`], { name: 'hcbridge -L http (slow relay)' });
  const late = await curl([`http://127.0.0.1:${port5}/never`], 'listener never answers');
  assert.equal(late.status, 504, `never: status ${late.status}`);
  assert.match(late.body.toString(), /GatewayTimeout/, 'the relay\'s 504 body passed through');
  ok('a listener that never answers: the relay\'s 504 (GatewayTimeout) passed through');

  await keepAliveUpstream(t);

  // The same entrance in front of hcbridge -H and a real web server.
  const originPort = await startOrigin(t);
  const web = h.uniqueName('web');
  await t.startDaemon([...relay.daemonArgs(), '-H', `${web}:http/127.0.0.1:${originPort}`], { name: 'hcbridge -H' });
  const port4 = await h.freePort();
  await t.startDaemon([...relay.daemonArgs(), '-L', `http:${port4}:${web}`], { name: 'hcbridge -L http (to -H)' });
  await bodiesBothWays(`http://127.0.0.1:${port4}`, '-H + http.server');
  const echo = await curl(['--data-binary', `@${path.join(tmp, `up${10 << 20}`)}`, `http://127.0.0.1:${port4}/echo`], 'echo');
  assert.equal(h.sha256(echo.body), h.sha256(pattern(10 << 20)), 'a 10 MiB echo through both ends');
  const nc2 = await curl([`http://127.0.0.1:${port4}/nocontent`], '204 via -H');
  assert.equal(nc2.status, 204, '204 via -H');
  ok('-H + http.server: 10 MiB echoed byte-exact, 204 passed through');
});
