'use strict';
// The origin web server of the HTTP benchmark (bench/harness/apps.py, `--apps http`): answers every GET with 200 and
// a 64-byte body, HTTP/1.1 keep-alive, so the figure is the forwarder's cost and not the server's. Node's own http
// module, one process; prints one JSON line {"event":"ready","port":N} when it listens.
//
//   node http_origin.js PORT
const http = require('node:http');

const BODY = Buffer.alloc(64, 'x');
const server = http.createServer({ keepAliveTimeout: 60000 }, (req, res) => {
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': BODY.length });
    res.end(BODY);
  });
});
server.listen(Number(process.argv[2]), '127.0.0.1', () => {
  console.log(JSON.stringify({ event: 'ready', port: server.address().port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
