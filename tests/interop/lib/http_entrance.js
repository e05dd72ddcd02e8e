'use strict';
// Helpers of the local HTTP entrance tests (daemon_http_entrance, daemon_http_entrance_web): a hyco-https listener and
// a Python web server in their own processes, curl with several URLs (keep-alive shows in its verbose output), raw
// requests, and the byte-exact body round trips both tests make.
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { pattern } = require('./curl');
const h = require('./harness');
const { startHycoHttps } = require('./hyco_https');
const { startOrigin } = require('./web_origin');
const { assert, ok } = h;

const SIZES = [0, 65536, 65537, 10 << 20];

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

async function bodiesBothWays(curl, tmp, base, what) {
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

module.exports = { SIZES, startHycoHttps, startOrigin, curlVerbose, timedGet, rawRequest, bodiesBothWays };
