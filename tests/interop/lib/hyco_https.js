'use strict';
// Starts the official hyco-https listener (lib/hyco_https_listener.js, its own process) for hybrid connection `name`
// on `relay`, and resolves with its process once its control channel is up; stopped when the test ends.
const { spawn } = require('node:child_process');
const path = require('node:path');
const h = require('./harness');

async function startHycoHttps(t, relay, name) {
  const token = relay.token(name);
  const proc = spawn(process.execPath, [path.join(__dirname, 'hyco_https_listener.js'), relay.url(name, 'listen')], {
    env: { ...process.env, HYCO_TOKEN: token },
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
    else if (code !== 0 && code !== null) t.fail(new Error(`hyco-https listener died (${code}): ${stderr}`));
  });
  await h.withDeadline(ready.promise, 15000, `hyco-https listener '${name}' ready`);
  h.ok(`hyco-https listener for '${name}' connected (pid ${proc.pid})`);
  return proc;
}

module.exports = { startHycoHttps };
