'use strict';
// Starts lib/web_origin.py (the web server behind hcbridge -H in the HTTP tests) on a free loopback port; resolves the
// port; the server is stopped at the end of the test.
const { spawn } = require('node:child_process');
const path = require('node:path');
const h = require('./harness');

async function startOrigin(t) {
  const proc = spawn('python3', [path.join(__dirname, 'web_origin.py')], { stdio: ['ignore', 'pipe', 'pipe'] });
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

module.exports = { startOrigin };
