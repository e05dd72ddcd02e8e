'use strict';
// HTTP senders keep their connection to hcrelay (HTTP/1.1 persistence), with the official hyco-https listener behind
// it: curl with several URLs on one command line reuses one connection (num_connects 0 after the first), a Node
// keep-alive Agent sends GET, HEAD, 204, POST and GET again over one socket (the connection stays usable after the
// bodyless answers), two pipelined requests written at once are answered in order, "Connection: close" is honoured,
// and a kept connection left idle is closed after --http-idle-timeout.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const path = require('node:path');
const tls = require('node:tls');
const h = require('./lib/harness');
const { pattern } = require('./lib/curl');
const { startHycoHttps } = require('./lib/hyco_https');
const { assert, ok } = h;

const IDLE_S = 1;
const ca = () => fs.readFileSync(path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'));

function curlMany(args) {
  return h.withDeadline(new Promise((resolve, reject) => {
    execFile('curl', ['-sS', '--max-time', '30', '--cacert', path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'), ...args],
      (err, stdout, stderr) => (err ? reject(new Error(`curl failed: ${stderr || err.message}`)) : resolve(stdout)));
  }), 35000, 'curl with several URLs');
}

// One request with the keep-alive agent; resolves {status, body, port (the socket's local port)}.
function agentRequest(agent, url, { method = 'GET', headers = {}, body } = {}) {
  return h.withDeadline(new Promise((resolve, reject) => {
    const req = https.request(url, { method, agent, headers, ca: ca() }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts), port: req.socket.localPort }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  }), 15000, `${method} ${url}`);
}

// A TLS connection to the relay that collects what it sends; `closed` resolves (with the time) when the relay ends it.
function openRaw(port) {
  const s = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ca: ca() });
  const conn = { socket: s, text: '', closed: h.deferred() };
  s.setEncoding('latin1');
  s.on('data', (d) => (conn.text += d));
  s.on('close', () => conn.closed.resolve(Date.now()));
  s.on('error', () => {});
  conn.ready = h.waitFor(s, 'secureConnect', 10000, 'TLS connect to hcrelay');
  return conn;
}

h.run('http_keepalive: HTTP senders keep their connection to hcrelay (hyco-https listener)', async (t) => {
  const relay = await t.startRelay({ extraArgs: ['--http-idle-timeout', String(IDLE_S)], logLevel: 'info' });
  const name = h.uniqueName('ka');
  await startHycoHttps(t, relay, name);
  const base = `https://127.0.0.1:${relay.port}/${name}`;
  const token = relay.token(name);

  // curl reuses its connection for the later URLs of one command line when the relay keeps it.
  {
    const urls = [`${base}/bytes?n=1000`, `${base}/nocontent`, `${base}/bytes?n=70000`, `${base}/bytes?n=0`];
    const args = ['-H', `ServiceBusAuthorization: ${token}`, '-w', '%{http_code} %{num_connects} %{size_download}\\n'];
    for (const u of urls) args.push('-o', '/dev/null', u);
    const lines = (await curlMany(args)).trim().split('\n');
    assert.deepEqual(lines, ['200 1 1000', '204 0 0', '200 0 70000', '200 0 0'],
      'curl must connect once and reuse the connection for the other URLs (code, new connections, bytes)');
    ok(`curl fetched ${urls.length} URLs over one connection: ${lines.join(' | ')}`);
  }

  // A Node keep-alive agent with one socket: GET, HEAD, GET, 204, POST, GET all on the same local port.
  {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    const auth = { ServiceBusAuthorization: token };
    const results = [];
    results.push(await agentRequest(agent, `${base}/bytes?n=5000`, { headers: auth }));
    results.push(await agentRequest(agent, `${base}/bytes?n=5000`, { method: 'HEAD', headers: auth }));
    results.push(await agentRequest(agent, `${base}/bytes?n=300`, { headers: auth }));
    results.push(await agentRequest(agent, `${base}/nocontent`, { headers: auth }));
    results.push(await agentRequest(agent, `${base}/sha`, { method: 'POST', headers: auth, body: pattern(100000) }));
    results.push(await agentRequest(agent, `${base}/bytes?n=65536`, { headers: auth }));
    agent.destroy();
    assert.deepEqual(results.map((r) => r.status), [200, 200, 200, 204, 200, 200], 'statuses');
    assert.equal(h.sha256(results[0].body), h.sha256(pattern(5000)), 'first GET body');
    assert.equal(results[1].body.length, 0, 'HEAD body');
    assert.equal(h.sha256(results[2].body), h.sha256(pattern(300)), 'GET after HEAD body');
    assert.equal(results[3].body.length, 0, '204 body');
    assert.equal(JSON.parse(results[4].body.toString()).sha256, h.sha256(pattern(100000)), 'POST after 204');
    assert.equal(h.sha256(results[5].body), h.sha256(pattern(65536)), 'last GET body');
    const ports = new Set(results.map((r) => r.port));
    assert.equal(ports.size, 1, `all requests must use one connection (local ports in order: ${results.map((r) => r.port).join(", ")}; HEAD answer ${JSON.stringify(results[1].headers)})`);
    assert.ok(!results.some((r) => /close/i.test(r.headers.connection || '')), 'no answer may say Connection: close');
    ok('a Node keep-alive agent sent GET, HEAD, GET, 204, POST, GET over one socket, each answer right');
  }

  // Pipelining: three requests written at once, the last asking to close; answered in order, then closed.
  {
    const c = openRaw(relay.port);
    await c.ready;
    const req = (target, extra = '') =>
      `GET /${name}/${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nServiceBusAuthorization: ${token}\r\n${extra}\r\n`;
    c.socket.write(req('info?order=1') + req('bytes?n=100').replace('GET', 'HEAD') + req('info?order=2', 'Connection: close\r\n'));
    await h.withDeadline(c.closed.promise, 15000, 'the relay closing after the pipelined "Connection: close" request');
    const statuses = c.text.match(/^HTTP\/1\.1 \d+/gm) || [];
    assert.deepEqual(statuses, ['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 200'], `three answers expected: ${c.text.slice(0, 300)}`);
    const first = c.text.indexOf('order=1');
    const second = c.text.indexOf('order=2');
    assert.ok(first > 0 && second > first, 'the pipelined requests must be answered in order');
    const heads = c.text.split('\r\n\r\n');
    assert.match(c.text.slice(c.text.lastIndexOf('HTTP/1.1 ')), /Connection: close/i, 'the last answer says Connection: close');
    ok(`three pipelined requests answered in order on one connection, then closed (${heads.length - 1} heads)`);
  }

  // An HTTP/1.0 sender cannot read chunked coding: a small answer (control form) comes with a Content-Length, a large
  // one (rendezvous form) as is, ended by close; both byte-exact.
  for (const n of [100, 200000]) {
    const c = openRaw(relay.port);
    await c.ready;
    c.socket.write(`GET /${name}/bytes?n=${n} HTTP/1.0\r\nHost: 127.0.0.1\r\nServiceBusAuthorization: ${token}\r\n\r\n`);
    await h.withDeadline(c.closed.promise, 15000, `the relay ending the HTTP/1.0 answer of ${n} bytes`);
    const split = c.text.indexOf('\r\n\r\n');
    const head = c.text.slice(0, split);
    const body = Buffer.from(c.text.slice(split + 4), 'latin1');
    assert.match(head, /^HTTP\/1\.1 200/, `HTTP/1.0 GET of ${n} bytes: ${head.slice(0, 200)}`);
    assert.ok(!/Transfer-Encoding/i.test(head), `no chunked coding for an HTTP/1.0 sender: ${head}`);
    if (n === 100) assert.match(head, /Content-Length: 100\r?$/im, 'the control-form answer carries its length');
    assert.ok(body.equals(pattern(n)), `HTTP/1.0 body of ${n} bytes byte-exact (got ${body.length})`);
  }
  ok('HTTP/1.0 senders get their bodies unchunked: 100 B with a Content-Length, 200,000 B ended by close');

  // Idle timeout: after an answer, a connection that sends nothing more is closed after --http-idle-timeout.
  {
    const c = openRaw(relay.port);
    await c.ready;
    c.socket.write(`GET /${name}/bytes?n=10 HTTP/1.1\r\nHost: 127.0.0.1\r\nServiceBusAuthorization: ${token}\r\n\r\n`);
    await h.pollUntil(() => c.text.endsWith('0\r\n\r\n'), 10000, 'the answer to the request');
    const answered = Date.now();
    assert.ok(!/Connection: close/i.test(c.text), 'the answer keeps the connection');
    const closedAt = await h.withDeadline(c.closed.promise, (IDLE_S + 5) * 1000, 'the idle connection closed by the relay');
    const idle = (closedAt - answered) / 1000;
    assert.ok(idle >= IDLE_S * 0.8, `closed after ${idle} s, before the idle timeout of ${IDLE_S} s`);
    ok(`a kept connection left idle was closed by the relay after ${idle.toFixed(2)} s (--http-idle-timeout ${IDLE_S})`);
  }
});
