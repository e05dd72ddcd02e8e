'use strict';
// Proof: hcbridge rejects bad command lines and config files cleanly. Every case runs the real binary and must
//  - exit with the documented code (2 for bad usage/configuration, 1 for a port that cannot be bound, 0 for --help,
//    --version and a valid check-config) within a few seconds, never by a signal;
//  - say what is wrong on stderr, in one "hcbridge: ..." message (file errors name the file, the line and the key's
//    path), and print nothing on stdout unless it is --help/--version/check-config;
//  - never show a crash ("terminate called", a sanitizer report, ...);
//  - never print a secret (keys, connection-string keys, SAS signatures, key-file contents) on stdout or stderr,
//    also not from check-config, which shows them as "***".
// Then a daemon started with a world-readable key file and no relay to reach logs the chmod warning, keeps
// retrying (an unreachable relay is not fatal) and exits 0 on SIGTERM.
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const h = require('./lib/harness');
const { assert, ok } = h;

const PROMPT_MS = 3000; // "promptly": a rejected command line must be answered within this
const SECRETS = ['S3cretKeyAAA111', 'S3cretKeyBBB222', 'S3cretSigCCC333', 'S3cretFileDDD444', 'S3cretEnvEEE555',
                 'S3cretKeyFFF666'];
const [KEY_A, KEY_B, SIG_C, FILE_D, ENV_E, KEY_F] = SECRETS;
SECRETS.forEach((s) => h.registerSecret(s)); // the suite-wide secrets check looks for them in every log
const SAS = `SharedAccessSignature sr=http%3a%2f%2f127.0.0.1%2fhc&sig=${SIG_C}&se=4102444800&skn=root`;

function runHcbridge(args, { env, cwd } = {}) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(process.env.HCBRIDGE_BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HCBRIDGE_CONNECTION_STRING: '', ...(env || {}) },
      cwd,
    });
    h.keepLogs(child, 'hcbridge');
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b) => { stdout += b; });
    child.stderr.on('data', (b) => { stderr += b; });
    const killer = setTimeout(() => child.kill('SIGKILL'), PROMPT_MS + 2000);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started });
    });
  });
}

// Runs fn over items with at most `n` in flight.
async function pool(items, n, fn) {
  const out = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  }));
  return out;
}

function checkCommon(c, r) {
  const all = r.stdout + r.stderr;
  assert.equal(r.signal, null, `${c.what}: killed by signal ${r.signal}`);
  assert.equal(h.crashSign(all), null, `${c.what}: crash sign in the output: ${all.slice(0, 500)}`);
  for (const s of SECRETS) assert.ok(!all.includes(s), `${c.what}: the secret ${s} appears in the output:\n${all}`);
  assert.ok(r.ms < PROMPT_MS, `${c.what}: took ${r.ms} ms`);
}

h.run('daemon_bad_input: bad command lines and config files exit 2 with a clear message, secrets never shown', async (t) => {
  if (!process.env.HCBRIDGE_BIN) throw new Error('HCBRIDGE_BIN is not set');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-bad-'));
  t.defer('remove temp dir', async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = (name, text, mode = 0o600) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, text, { mode });
    fs.chmodSync(p, mode);
    return p;
  };
  const okTarget = '{ "hc": "web", "target": "80" }';

  // A port that is taken, for the "cannot bind" case (exit 1).
  const busy = net.createServer().listen(0, '127.0.0.1');
  await h.waitFor(busy, 'listening', 5000, 'busy port');
  t.defer('close busy port', async () => new Promise((r) => busy.close(r)));
  const busyPort = busy.address().port;

  // [what, args, expected stderr regexp, {code, env, cwd}]
  const cases = [
    // ---- forwarding expressions ----
    ['-T port 0', ['-T', 'hc:0'], /-T 'hc:0': .*port '0' is out of range \(expected 1-65535\)/],
    ['-T port 70000', ['-T', 'hc:70000'], /port '70000' is out of range/],
    // A word that starts with a letter is azbridge's relative Unix socket name ('-T hc:app.sock'); one that starts with
    // a digit is a mistyped port.
    ['-T port 1abc', ['-T', 'hc:1abc'], /'1abc' is not a port number/],
    ['-L port 0', ['-L', '0:hc'], /-L '0:hc': .*port '0' is out of range/],
    ['-L port 70000', ['-L', '70000:hc'], /port '70000' is out of range/],
    ['-L port 1abc', ['-L', '1abc:hc'], /'1abc' is not a port number/],
    ['-L huge port', ['-L', '99999999999999999999:hc'], /out of range/],
    ['-L without hc', ['-L', '8080'], /-L '8080': missing ':hc'/],
    ['-L empty hc', ['-L', '8080:'], /missing hybrid connection name/],
    ['-T without target', ['-T', 'web'], /-T 'web': missing ':'/],
    ['-T empty hc', ['-T', ':8080'], /missing hybrid connection name/],
    ['-T missing value', ['-T'], /-T: .*missing/],
    ['-L IPv6 without brackets', ['-L', '::1:8080:hc'], /IPv6 .*brackets/],
    ['-L IPv6 unclosed bracket', ['-L', '[::1:8080:hc'], /missing '\]'/],
    ['-L UDP port out of range', ['-L', '70000U:hc'], /UDP port '70000' is out of range/],
    ['-T UDP name on a TCP target', ['-T', 'hc:5353U/127.0.0.1:53'], /port name '5353U' is a UDP port name .* write the port as 53U/],
    ['-T duplicate port names', ['-T', 'hc:a/80;a/81'], /port name 'a' is used by two targets/],
    ['-L bound twice', ['-L', '18080:hc', '-L', '18080:hc'], /bound twice/],
    // A local HTTP entrance: 'http:' then [bind_addr:]port, no port name, TCP only, and its port is a TCP port.
    ['-L http without port', ['-L', 'http::hc'], /-L 'http::hc': .*missing port after 'http:'/],
    ['-L http with a port name', ['-L', 'http:8080/web:hc'], /-L 'http:8080\/web:hc': .*an HTTP binding takes no port name/],
    ['-L http UDP', ['-L', 'http:5353U:hc'], /an HTTP binding is TCP/],
    ['-L http port 0', ['-L', 'http:0:hc'], /port '0' is out of range/],
    ['-L http bad address', ['-L', 'http:no host:8080:hc'], /not a valid host name/],
    ['-L http and TCP on one port', ['-L', 'http:18081:hc', '-L', '18081:hc2'], /bound twice/],
    ['bad hc name', ['-T', 'w b:80'], /invalid|not allowed|contains/],
    ['nothing to do', [], /nothing to do/],
    // ---- options ----
    ['unknown flag', ['--bogus', '-T', 'hc:80'], /unknown option '--bogus'/],
    ['-H bad scheme', ['-H', 'hc:ftp/x'], /-H 'hc:ftp\/x': the target must start with http\/ or https\//],
    ['-H and -T on one hc', ['-H', 'hc:http/x', '-T', 'hc:80'], /hybrid connection 'hc' is already forwarded/],
    ['-K without -k', ['-K', 'root', '-T', 'hc:80'], /key_name 'root' is set but no key/],
    ['-k without -K', ['-k', KEY_A, '-T', 'hc:80'], /no key_name/],
    ['-s with -k', ['-K', 'n', '-k', KEY_A, '-s', SAS, '-T', 'hc:80'], /cannot be combined/],
    ['--no-auth with a key', ['-K', 'n', '-k', KEY_B, '--no-auth', '-T', 'hc:80'], /--no-auth cannot be combined/],
    ['-k with --key-file', ['-K', 'n', '-k', KEY_A, '--key-file', '/etc/hostname', '-T', 'hc:80'], /key|combined|both/],
    ['endpoint ftp://', ['-e', 'ftp://127.0.0.1/', '-T', 'hc:80'], /'ftp'/],
    ['endpoint with a path', ['-e', 'ws://127.0.0.1/path', '-T', 'hc:80'], /without a path/],
    ['endpoint garbage', ['-e', 'not a uri', '-T', 'hc:80'], /endpoint/],
    ['connection string bad endpoint', ['-x', `Endpoint=ftp://x/;SharedAccessKeyName=n;SharedAccessKey=${KEY_A}`, '-T', 'hc:80'],
      /connection string Endpoint is invalid/],
    ['connection string garbage', ['-x', `garbage;SharedAccessKey=${KEY_B}`, '-T', 'hc:80'], /connection string/],
    ['connection string EntityPath', ['-x', `Endpoint=sb://x.example/;SharedAccessKeyName=n;SharedAccessKey=${KEY_A};EntityPath=other`,
      '-T', 'hc:80'], /EntityPath 'other' does not match/],
    ['env connection string garbage', ['-T', 'hc:80'], /connection string|HCBRIDGE_CONNECTION_STRING/,
      { env: { HCBRIDGE_CONNECTION_STRING: `nonsense;SharedAccessKey=${ENV_E}` } }],
    ['--keepalive 0', ['-T', 'hc:80', '--keepalive', '0'], /keepalive .*between 1 and 3600 seconds \(got 0\)/],
    ['--keepalive nan', ['-T', 'hc:80', '--keepalive', 'nan'], /--keepalive: expected a number/],
    ['--token-ttl 5', ['-T', 'hc:80', '--token-ttl', '5'], /token_ttl .*between 10 and/],
    ['--token-ttl 1e400', ['-T', 'hc:80', '--token-ttl', '1e400'], /--token-ttl/],
    ['--grace-period -1', ['-T', 'hc:80', '--grace-period', '-1'], /grace_period/],
    ['--max-connections 0', ['-T', 'hc:80', '--max-connections', '0'], /--max-connections/],
    ['--log-level loud', ['-T', 'hc:80', '--log-level', 'loud'], /unknown level 'loud'/],
    ['--log-format xml', ['-T', 'hc:80', '--log-format', 'xml'], /unknown format 'xml'/],
    ['--admin nonsense', ['-T', 'hc:80', '--admin', 'nonsense'], /admin/],
    ['--key-file missing', ['-K', 'n', '--key-file', path.join(dir, 'no.key'), '-T', 'hc:80'], /cannot read key file .*no\.key/],
    ['--key-file empty', ['-K', 'n', '--key-file', file('empty.key', ''), '-T', 'hc:80'], /key file .*empty\.key' is empty/],
    ['--ca-file missing', ['-e', 'wss://127.0.0.1:1/', '--ca-file', path.join(dir, 'no.pem'), '--no-auth', '-T', 'hc:80'], /no\.pem/],
    // ---- config files ----
    ['-c without a file', ['-c'], /--config: .*missing/],
    ['-c missing file', ['-c', path.join(dir, 'missing.json')], /cannot read config file .*missing\.json/],
    ['-c a directory', ['-c', dir], /is a directory/],
    ['malformed JSON', ['-c', file('trunc.json', `{ "remote_forward": [ ${okTarget} `)], /trunc\.json:1: JSON syntax error/],
    ['empty file', ['-c', file('empty.json', '')], /empty\.json:1: .*empty/],
    ['unknown key with line', ['-c', file('unknown.json', `{\n  "remote_forward": [\n    ${okTarget},\n  ],\n  "keepalive": 5,\n  "bogus": 1\n}\n`)],
      /unknown\.json:6: .*'bogus'/],
    ['unknown nested key, suggestion', ['-c', file('prot.json', '{\n  "remote_forward": [ { "hc": "web", "targets": [ { "prot": 80 } ] } ]\n}\n')],
      /prot\.json:2: remote_forward\[0\]\.targets\[0\]: unknown key 'prot' \(did you mean 'port'\?\)/],
    ['wrong type string', ['-c', file('type.json', `{\n  "relay": {\n    "endpoint": 5\n  },\n  "remote_forward": [ ${okTarget} ]\n}\n`)],
      /type\.json:3: relay\.endpoint: expected a string, got a number/],
    ['wrong type number', ['-c', file('type2.json', `{ "keepalive": "5", "remote_forward": [ ${okTarget} ] }`)], /keepalive: expected a number, got a string/],
    ['wrong type integer', ['-c', file('frac.json', `{ "max_connections": 2.5, "remote_forward": [ ${okTarget} ] }`)], /max_connections: expected an integer/],
    ['wrong type array', ['-c', file('obj.json', '{ "remote_forward": {} }')], /remote_forward: expected an array, got an object/],
    ['top-level array', ['-c', file('arr.json', '[1, 2]')], /expected a JSON object at the top level/],
    ['duplicate key', ['-c', file('dup.json', `{ "keepalive": 5, "keepalive": 6, "remote_forward": [ ${okTarget} ] }`)], /duplicate key 'keepalive'/],
    ['out of range', ['-c', file('ka0.json', `{\n "keepalive": 0,\n "remote_forward": [ ${okTarget} ] }`)], /ka0\.json:2: keepalive: must be between 1 and 3600/],
    ['missing hc', ['-c', file('nohc.json', '{ "remote_forward": [ { "target": "80" } ] }')], /missing required key 'hc'/],
    ['raw with two targets', ['-c', file('raw2.json', '{ "remote_forward": [ { "hc": "w", "target": ["80", "81"], "raw": true } ] }')],
      /exactly one target/],
    ['deeply nested', ['-c', file('deep.json', '['.repeat(500000))], /nested too deeply/],
    ['over 1 MiB', ['-c', file('big.json', ' '.repeat(1100000) + '{}')], /larger than 1 MiB/],
    ['NUL byte', ['-c', file('nul.json', '{\u0000}')], /NUL/],
    ['number too big', ['-c', file('inf.json', `{ "token_ttl": 1e999, "remote_forward": [ ${okTarget} ] }`)], /inf\.json:1: /],
    ['key in file, bad endpoint', ['-c', file('kbad.json', `{ "relay": { "endpoint": "ftp://x/", "key_name": "n", "key": "${KEY_F}" }, "remote_forward": [ ${okTarget} ] }`)],
      /'ftp'/],
    // ---- start-up failure that is not a usage error: exit 1 ----
    ['-L port already in use', ['--no-auth', '-e', 'ws://127.0.0.1:1/', '-L', `${busyPort}:hc`], new RegExp(`${busyPort}`), { code: 1 }],
  ];

  const results = await pool(cases, 4, async ([what, args, re, opts = {}]) => {
    const r = await runHcbridge(args, opts);
    return { what, args, re, code: opts.code === undefined ? 2 : opts.code, r };
  });
  let slowest = 0;
  for (const c of results) {
    const { r } = c;
    checkCommon(c, r);
    slowest = Math.max(slowest, r.ms);
    assert.equal(r.code, c.code, `${c.what}: exit code ${r.code} (want ${c.code}); stderr: ${r.stderr}`);
    assert.match(r.stderr, c.re, `${c.what}: stderr must explain the problem`);
    if (c.code === 2) {
      assert.equal(r.stdout, '', `${c.what}: nothing on stdout`);
      const lines = r.stderr.trimEnd().split('\n');
      assert.match(lines[0], /^hcbridge: \S/, `${c.what}: the message starts with "hcbridge: "`);
      assert.ok(lines.length <= 2 && lines.slice(1).every((l) => /--help/.test(l)),
                `${c.what}: one message (plus a --help hint), got:\n${r.stderr}`);
    }
  }
  ok(`${results.length} bad inputs rejected with the right exit code and message, no crash, no secret shown; ` +
     `slowest took ${slowest} ms`);
  for (const c of results.filter((x) => process.env.HCB_TEST_VERBOSE || /line|suggestion|IPv6|port 0/.test(x.what))) {
    ok(`  ${c.what}: ${c.r.stderr.split('\n')[0]}`);
  }

  // ---- exit 0: --help, --version, check-config ----
  {
    const help = await runHcbridge(['--help']);
    checkCommon({ what: '--help' }, help);
    assert.equal(help.code, 0, '--help exit code');
    assert.match(help.stdout, /Usage: hcbridge/, '--help prints the usage');
    assert.match(help.stdout, /check-config/, '--help lists check-config');
    const version = await runHcbridge(['--version']);
    checkCommon({ what: '--version' }, version);
    assert.equal(version.code, 0, '--version exit code');
    assert.match(version.stdout, /^hcbridge \d+\.\d+\.\d+/, '--version output');
    ok(`--help (${help.stdout.split('\n').length} lines) and --version ("${version.stdout.trim()}") exit 0`);
  }

  const keyFile = file('relay.key', `${FILE_D}\n`, 0o644); // world-readable on purpose
  const masked = [
    ['key in the config file', ['check-config', '-c', file('k.json', `{ "relay": { "endpoint": "wss://127.0.0.1:9/", "key_name": "root", "key": "${KEY_A}" }, "remote_forward": [ ${okTarget} ] }`)],
      (j) => assert.equal(j.relay.key, '***')],
    ['key on the command line', ['-K', 'root', '-k', KEY_B, '-T', 'hc:80', 'check-config'], (j) => assert.equal(j.relay.key, '***')],
    ['connection string', ['check-config', '-x', `Endpoint=sb://ns.example/;SharedAccessKeyName=n;SharedAccessKey=${KEY_F}`, '-T', 'hc:80'],
      (j) => { assert.equal(j.relay.key, '***'); assert.equal(j.relay.endpoint, 'sb://ns.example/'); }],
    ['connection string from the environment', ['check-config', '-T', 'hc:80'], (j) => assert.equal(j.relay.key, '***'),
      { env: { HCBRIDGE_CONNECTION_STRING: `Endpoint=sb://ns.example/;SharedAccessKeyName=n;SharedAccessKey=${ENV_E}` } }],
    ['pre-issued SAS token', ['check-config', '-s', SAS, '-T', 'hc:80'], (j) => assert.equal(j.relay.sas, '***')],
    ['world-readable key file', ['check-config', '-c', file('kf.json', `{ "relay": { "endpoint": "wss://127.0.0.1:9/", "key_name": "root", "key_file": "relay.key" }, "local_forward": [ { "hc": "web", "bind": "18081", "raw": true } ], "remote_forward": [ ${okTarget} ] }`)],
      (j, r) => {
        assert.equal(j.relay.key_file, keyFile, 'key_file resolved against the config file directory');
        assert.match(r.stderr, new RegExp(`key file ${keyFile.replace(/[.]/g, '\\.')} is readable by other users; run chmod 600`));
        assert.equal(j.local_forward[0].raw, true);
      }, { cwd: os.tmpdir() }],
  ];
  for (const [what, args, check, opts = {}] of masked) {
    const r = await runHcbridge(args, opts);
    checkCommon({ what: `check-config, ${what}` }, r);
    assert.equal(r.code, 0, `check-config, ${what}: exit code (stderr: ${r.stderr})`);
    let j;
    try {
      j = JSON.parse(r.stdout);
    } catch (e) {
      throw new Error(`check-config, ${what}: stdout is not JSON: ${r.stdout.slice(0, 300)}`);
    }
    check(j, r);
    assert.equal(j.remote_forward.length, 1, `check-config, ${what}: the -T forward is in the output`);
  }
  ok(`check-config exits 0 and masks secrets as "***" for: ${masked.map((m) => m[0]).join(', ')}; ` +
     'the world-readable key file draws the chmod warning');

  // ---- A daemon with a world-readable key file and no relay: warns, retries, exits 0 on SIGTERM ----
  const daemon = await t.startDaemon(['-c', path.join(dir, 'kf.json'), '--log-level', 'debug', '--connect-timeout', '2'], {
    name: 'hcbridge (no relay)',
    ready: [/readable by other users; run chmod 600/, /T:web: control channel connect failed: .*; retrying in [\d.]+ s/],
  });
  const took = await daemon.stop({ ms: 5000 });
  assert.ok(took < 2000, `SIGTERM while retrying must exit at once (took ${took} ms)`);
  const all = daemon.linesSince(0).join('\n');
  for (const s of SECRETS) assert.ok(!all.includes(s), `the daemon logged the secret ${s}`);
  ok('a daemon with no relay to reach warns about the key file, retries, exits 0 on SIGTERM and never logs the key');
}, { timeoutMs: 60000 });
