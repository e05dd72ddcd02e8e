'use strict';
// Proof for the local HTTP entrance (`hcbridge -L http:PORT:hc`), its other ends: curl -> -L http -> hcrelay ->
// hcbridge -H -> Python's http.server (bodies of 0, 65,536, 65,537 and 10 MiB each way byte-exact, a chunked upload,
// an echo, 204), a relay that keeps its connections alive (a Node HTTP server standing in for it: requests of
// one local connection share one relay connection, and one the relay closed meanwhile is replaced), and a relay that
// is down (502 with the request id in the text and the log).
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const { pattern, curlTo } = require('./lib/curl');
const { startOrigin, curlVerbose, bodiesBothWays } = require('./lib/http_entrance');
const h = require('./lib/harness');
const { assert, ok } = h;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-http-entrance-web-'));
const curlWith = curlTo(tmp);
const curl = (args, what) => curlWith(args, { what });

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

h.run('daemon_http_entrance_web: curl -> hcbridge -L http -> hcrelay -> hcbridge -H; keep-alive and dead relays', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  const name = h.uniqueName('app');
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

  await keepAliveUpstream(t);

  // The same entrance in front of hcbridge -H and a real web server.
  const originPort = await startOrigin(t);
  const web = h.uniqueName('web');
  await t.startDaemon([...relay.daemonArgs(), '-H', `${web}:http/127.0.0.1:${originPort}`], { name: 'hcbridge -H' });
  const port4 = await h.freePort();
  await t.startDaemon([...relay.daemonArgs(), '-L', `http:${port4}:${web}`], { name: 'hcbridge -L http (to -H)' });
  await bodiesBothWays(curl, tmp, `http://127.0.0.1:${port4}`, '-H + http.server');
  const echo = await curl(['--data-binary', `@${path.join(tmp, 'up65537')}`, `http://127.0.0.1:${port4}/echo`], 'echo');
  assert.equal(h.sha256(echo.body), h.sha256(pattern(65537)), 'an echo through both ends');
  const nc2 = await curl([`http://127.0.0.1:${port4}/nocontent`], '204 via -H');
  assert.equal(nc2.status, 204, '204 via -H');
  ok('-H + http.server: 65,537 bytes echoed byte-exact, 204 passed through');
}, { timeoutMs: 100000 }); // 10 MiB each way through Python's http.server is slow on a busy machine
