'use strict';
// Real HTTP proxies for the tests: tinyproxy and squid from Debian, started unprivileged (uid/gid 65534 through
// setpriv when the test runs as root) on 127.0.0.1 with a port picked at random, each in a scratch directory that is
// removed at the end. Every start waits until the proxy accepts connections; every stop waits for the process to exit.
// Processes are SIGKILLed if the test process exits any other way (the harness' failure path exits at once).
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('../../interop/lib/harness');

const live = new Set();
process.on('exit', () => {
  for (const p of live) {
    try { p.kill('SIGKILL'); } catch (e) { /* already gone */ }
  }
});

function unprivileged(cmd, args) {
  if (process.getuid && process.getuid() === 0) {
    return ['setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cmd, ...args]];
  }
  return [cmd, args];
}

function scratchDir(t, prefix) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  fs.chmodSync(dir, 0o777); // the proxy runs as nobody and writes its logs here
  t.defer(`remove ${dir}`, async () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

class ProxyProcess {
  constructor(t, name, dir, port, logFile) {
    this.t = t;
    this.name = name;
    this.dir = dir;
    this.port = port;
    this.logFile = logFile;
    this.output = '';
    this.exit = h.deferred();
  }

  async start(cmd, args) {
    const [c, a] = unprivileged(cmd, args);
    this.proc = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], cwd: this.dir });
    live.add(this.proc);
    h.keepLogs(this.proc, this.name);
    for (const s of [this.proc.stdout, this.proc.stderr]) {
      s.setEncoding('utf8');
      s.on('data', (d) => { this.output = (this.output + d).slice(-100000); });
    }
    this.proc.on('exit', (code, signal) => {
      live.delete(this.proc);
      this.exit.resolve({ code, signal });
    });
    // Up when it accepts a TCP connection (the probe is closed at once; squid logs it as a transaction without head).
    await h.pollUntil(async () => {
      if (this.exit.settled) throw new Error(`${this.name} exited at start: ${this.output}`);
      try {
        const s = await h.tcpConnect(this.port, `${this.name} probe`);
        s.destroy();
        return true;
      } catch (e) {
        return false;
      }
    }, 15000, `${this.name} accepting on 127.0.0.1:${this.port}`);
    this.t.defer(`stop ${this.name}`, () => this.stop());
    h.ok(`${this.name} up on 127.0.0.1:${this.port} (pid ${this.proc.pid})`);
    return this;
  }

  log() {
    try {
      return fs.readFileSync(this.logFile, 'utf8');
    } catch (e) {
      return '';
    }
  }

  // Lines of the access log matching `re`.
  lines(re) {
    return this.log().split('\n').filter((l) => re.test(l));
  }

  async stop(signal = 'SIGTERM') {
    if (this.exit.settled) return this.exit.promise;
    this.proc.kill(signal);
    try {
      return await h.withDeadline(this.exit.promise, 10000, `${this.name} exit after ${signal}`);
    } catch (e) {
      this.proc.kill('SIGKILL');
      return this.exit.promise;
    }
  }

  kill() {
    return this.stop('SIGKILL');
  }
}

// tinyproxy: `timeout` (s) closes idle connections, tunnels included; `basicAuth` [user, password]; `connectPorts`
// restricts CONNECT targets (403 for others); `port` to restart on the same port.
async function startTinyproxy(t, { timeout = 600, basicAuth, connectPorts, port } = {}) {
  const dir = scratchDir(t, 'hcb-tinyproxy-');
  port = port || await h.freePort();
  const conf = [
    `Port ${port}`, 'Listen 127.0.0.1', `Timeout ${timeout}`, `LogFile "${dir}/tinyproxy.log"`, 'LogLevel Connect',
    `PidFile "${dir}/tinyproxy.pid"`, 'Allow 127.0.0.1',
    ...(basicAuth ? [`BasicAuth ${basicAuth[0]} ${basicAuth[1]}`] : []),
    ...(connectPorts || []).map((p) => `ConnectPort ${p}`),
  ].join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'tinyproxy.conf'), conf, { mode: 0o644 });
  const p = new ProxyProcess(t, 'tinyproxy', dir, port, path.join(dir, 'tinyproxy.log'));
  return p.start('tinyproxy', ['-d', '-c', path.join(dir, 'tinyproxy.conf')]);
}

// squid: `auth` [user, password] turns on Basic auth (basic_ncsa_auth with an apr1 hash made by openssl);
// `port` to restart on the same port.
async function startSquid(t, { auth, port } = {}) {
  const dir = scratchDir(t, 'hcb-squid-');
  port = port || await h.freePort();
  const access = auth ? [
    `auth_param basic program /usr/lib/squid/basic_ncsa_auth ${dir}/passwd`, 'auth_param basic realm hcbridge-test',
    'acl authed proxy_auth REQUIRED', 'http_access allow authed',
  ] : ['http_access allow localhost'];
  if (auth) {
    const hash = spawnSync('openssl', ['passwd', '-apr1', '-stdin'], { input: auth[1], encoding: 'utf8' });
    if (hash.status !== 0) throw new Error(`openssl passwd failed: ${hash.stderr}`);
    fs.writeFileSync(path.join(dir, 'passwd'), `${auth[0]}:${hash.stdout.trim()}\n`, { mode: 0o644 });
  }
  const conf = [
    `http_port 127.0.0.1:${port}`, 'pid_filename none', `cache_log ${dir}/cache.log`,
    `access_log stdio:${dir}/access.log squid`, 'cache_store_log none', 'netdb_filename none', `coredump_dir ${dir}`,
    'cache deny all', 'shutdown_lifetime 1 seconds', 'logfile_rotate 0', 'buffered_logs off', ...access, 'http_access deny all',
  ].join('\n') + '\n';
  fs.writeFileSync(path.join(dir, 'squid.conf'), conf, { mode: 0o644 });
  const p = new ProxyProcess(t, 'squid', dir, port, path.join(dir, 'access.log'));
  return p.start('squid', ['-N', '-d', '1', '-f', path.join(dir, 'squid.conf')]);
}

// The environment for a daemon: the test's own, without any proxy variables, plus `vars`.
function proxyEnv(vars = {}) {
  const env = { ...process.env };
  for (const k of ['http_proxy', 'HTTP_PROXY', 'https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY']) delete env[k];
  return { ...env, ...vars };
}

module.exports = { startTinyproxy, startSquid, proxyEnv };
