'use strict';
// A hyco-https (official SDK) HTTP listener, run in its own process because requiring hyco-https patches Node's core
// `https` module. Usage: node hyco_https_listener.js LISTEN_URI  (token in $HYCO_TOKEN). Prints "ready" on stdout once
// its control channel is up. Routes, under /<hc>/:
//   bytes?n=N          N bytes of a fixed pattern (sha256 checked by the test)
//   sha (POST/PUT)     {"length":n,"sha256":hex} of the request body
//   info               {"url":req.url,"headers":req.headers,"method":...}
//   nocontent          204
//   stream?parts=P&size=S   P writes of S pattern bytes, 50 ms apart
//   never              no response at all
const https = require('hyco-https');
const crypto = require('node:crypto');

function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

const [listenUri] = process.argv.slice(2);
const server = https.createRelayedServer({ server: listenUri, token: process.env.HYCO_TOKEN }, (req, res) => {
  const url = new URL(req.url, 'http://x');
  const route = url.pathname.split('/').slice(2).join('/');
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    // end() with an empty Buffer never sends the response (a hyco-https 1.4.5 bug): plain end() for 0 bytes.
    const n = Number(url.searchParams.get('n'));
    if (route === 'bytes') return res.end(req.method === 'HEAD' || n === 0 ? undefined : pattern(n));
    if (route === 'sha') {
      res.setHeader('Content-Type', 'application/json');
      return res.end(JSON.stringify({ length: body.length, sha256: crypto.createHash('sha256').update(body).digest('hex') }));
    }
    if (route === 'info') return res.end(JSON.stringify({ url: req.url, method: req.method, headers: req.headers }));
    if (route === 'nocontent') {
      res.statusCode = 204;
      return res.end();
    }
    if (route === 'stream') {
      const parts = Number(url.searchParams.get('parts'));
      const size = Number(url.searchParams.get('size'));
      let sent = 0;
      const tick = () => {
        if (sent === parts) return res.end();
        res.write(pattern(size));
        sent++;
        setTimeout(tick, 50);
      };
      return tick();
    }
    if (route === 'never') return undefined;
    res.statusCode = 404;
    res.end('no such route');
  });
});
server.on('listening', () => process.stdout.write('ready\n'));
server.on('error', (e) => process.stderr.write(`listener error: ${e && e.message}\n`));
server.listen();
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
