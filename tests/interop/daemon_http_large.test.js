'use strict';
// A 1 GiB download through `hcbridge -H` with bounded memory: Python's http.server (a real static web server; it
// sends files with sendfile, lib/static_server.py) serves a sparse 1 GiB file with a few random blocks in it, curl
// fetches it through hcrelay (HTTP request mode, TLS) and hcbridge -H; the bytes arrive whole (the stream compared
// byte for byte with the file's content), and the peak resident memory (VmHWM) of hcbridge and hcrelay stays under
// 64 MiB: the body streams one read at a time, nothing buffers it. Interop tests run in the Release stage only
// (scripts/test.sh), where this takes a few seconds on an idle machine (10-20 s with builds competing for two cores).
const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./lib/harness');
const { assert, ok } = h;

const SIZE = 1 << 30;
const BLOCK = 1 << 20;
const RSS_BOUND_KIB = 64 * 1024;

// Peak resident set size (VmHWM, KiB) of a live process.
function peakRssKiB(pid) {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

// CPU seconds (user + system) a live process has used.
function cpuSeconds(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;  // utime, stime in clock ticks (100 per second on Linux)
}

// A sparse file of SIZE bytes: holes, and 4 KiB of random bytes at the start of every 128 MiB and at the very end
// (so a lost, repeated or misplaced piece shows). Returns the random blocks by offset: the file's content.
function makeSparseFile(file) {
  const markers = new Map();
  for (let at = 0; at < SIZE; at += 128 << 20) markers.set(at, crypto.randomBytes(4096));
  markers.set(SIZE - 4096, crypto.randomBytes(4096));
  const fd = fs.openSync(file, 'w');
  fs.ftruncateSync(fd, SIZE);
  for (const [at, bytes] of markers) fs.writeSync(fd, bytes, 0, bytes.length, at);
  fs.closeSync(fd);
  return markers;
}

// Compares a stream, piece by piece, with the sparse file's content (zeros and the random blocks): an exact
// comparison at memcmp speed, where SHA-256 of 1 GiB costs seconds of CPU twice (file and download) on a busy machine.
function contentChecker(markers) {
  const zeros = Buffer.alloc(1 << 20);
  let offset = 0;
  let firstDifference = -1;
  return {
    feed(piece) {
      for (let done = 0; done < piece.length; done += zeros.length) {
        const part = piece.subarray(done, done + zeros.length);
        const at = offset + done;
        let expected = zeros.subarray(0, part.length);
        for (const [m, bytes] of markers) {
          if (m + bytes.length <= at || m >= at + part.length) continue;
          if (expected.buffer === zeros.buffer) expected = Buffer.from(expected);
          bytes.copy(expected, Math.max(0, m - at), Math.max(0, at - m), Math.min(bytes.length, at + part.length - m));
        }
        if (firstDifference < 0 && !part.equals(expected)) firstDifference = at;
      }
      offset += piece.length;
    },
    get bytes() { return offset; },
    get firstDifference() { return firstDifference; },
  };
}

async function startStaticServer(t, dir) {
  const proc = spawn('python3', ['-u', path.join(__dirname, 'lib', 'static_server.py'), dir],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  h.keepLogs(proc, 'http_server');
  t.defer('stop the web server', async () => {
    if (proc.exitCode === null) proc.kill('SIGTERM');
  });
  const port = h.deferred();
  let out = '';
  proc.stdout.on('data', (d) => {
    out += d;
    const m = /port (\d+)/.exec(out);
    if (m && !port.settled) port.resolve(Number(m[1]));
  });
  proc.on('exit', (code) => {
    if (!port.settled) port.reject(new Error(`static_server.py exited ${code}`));
  });
  return h.withDeadline(port.promise, 10000, 'static_server.py ready');
}

// curl's body streamed into `checker` (nothing written to disk); resolves with the status.
function fetchChecked(url, headers, tmp, checker) {
  const headFile = path.join(tmp, 'head');
  const args = ['-sS', '--max-time', '100', '--cacert', path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'),
    '-D', headFile, '-o', '-'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  return new Promise((resolve, reject) => {
    const curl = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    curl.stdout.on('data', (d) => checker.feed(d));
    curl.stderr.on('data', (d) => (stderr += d));
    curl.on('close', (code) => {
      if (code !== 0) return reject(new Error(`curl exited ${code}: ${stderr}`));
      const status = Number(fs.readFileSync(headFile, 'latin1').split(' ')[1]);
      resolve(status);
    });
  });
}

h.run('daemon_http_large: 1 GiB through hcbridge -H (python http.server) and hcrelay with bounded memory', async (t) => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-http-large-'));
  t.defer('remove the temporary directory', async () => fs.rmSync(tmp, { recursive: true, force: true }));
  const site = path.join(tmp, 'site');
  fs.mkdirSync(site);
  const checker = contentChecker(makeSparseFile(path.join(site, 'big.bin')));
  const relay = await t.startRelay({ logLevel: 'info' });
  const originPort = await startStaticServer(t, site);
  const name = h.uniqueName('big');
  const daemon = await t.startDaemon([...relay.daemonArgs(), '-H', `${name}:http/127.0.0.1:${originPort}`], { name: 'hcbridge -H' });
  const before = { daemon: peakRssKiB(daemon.pid), relay: peakRssKiB(relay.proc.pid) };
  const cpu0 = { daemon: cpuSeconds(daemon.pid), relay: cpuSeconds(relay.proc.pid) };

  const started = Date.now();
  const status = await h.withDeadline(fetchChecked(`https://127.0.0.1:${relay.port}/${name}/big.bin`,
    { ServiceBusAuthorization: relay.token(name) }, tmp, checker), 110000, '1 GiB download');
  const seconds = (Date.now() - started) / 1000;
  assert.equal(status, 200, 'status');
  assert.equal(checker.bytes, SIZE, 'bytes received');
  assert.equal(checker.firstDifference, -1, `the download differs from the file in the part starting at byte ${checker.firstDifference}`);
  ok(`1 GiB arrived byte-exact in ${seconds.toFixed(1)} s (${(SIZE / (1 << 20) / seconds).toFixed(0)} MiB/s; CPU used: ` +
     `hcbridge ${(cpuSeconds(daemon.pid) - cpu0.daemon).toFixed(1)} s, hcrelay ${(cpuSeconds(relay.proc.pid) - cpu0.relay).toFixed(1)} s)`);

  const after = { daemon: peakRssKiB(daemon.pid), relay: peakRssKiB(relay.proc.pid) };
  const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
  assert.ok(after.daemon < RSS_BOUND_KIB, `hcbridge peak RSS ${mib(after.daemon)} over ${mib(RSS_BOUND_KIB)}`);
  assert.ok(after.relay < RSS_BOUND_KIB, `hcrelay peak RSS ${mib(after.relay)} over ${mib(RSS_BOUND_KIB)}`);
  ok(`peak RSS (VmHWM) hcbridge ${mib(after.daemon)} (${mib(before.daemon)} before), hcrelay ${mib(after.relay)} ` +
     `(${mib(before.relay)} before), bound ${mib(RSS_BOUND_KIB)}`);
}, { timeoutMs: 115000 });
