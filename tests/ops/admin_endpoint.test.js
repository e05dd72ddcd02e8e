'use strict';
// The admin endpoint (--admin / admin.bind) of a daemon with a -T and a -L forward (config file, key inside it):
//  - /readyz is 503 while the relay is down at start-up (JSON body: the -T forward down, the -L forward up), turns 200
//    once hcrelay is started on the configured port, and 503 again after hcrelay is killed (each polled with a
//    deadline); /healthz is 200 throughout (liveness, not readiness);
//  - /metrics, after a tunnel carried bytes, is valid Prometheus text (every sample line `name{labels} value`, a TYPE
//    line before the first sample of each family, each family in one group, histograms cumulative with +Inf equal
//    to _count) and has the expected families with plausible values;
//  - /metrics before the first tunnel already has every family docs/operations.md lists (HELP and TYPE) and nothing
//    else, with a series at 0 for each configured forward and each listed reason/result/direction;
//  - process_open_fds equals the count of /proc/PID/fd listed from outside (plus the scrape's own connection);
//  - the SAS key appears nowhere: not in /metrics, /readyz, /healthz, the healthcheck output or the daemon's log
//    (debug level);
//  - `hcbridge healthcheck --admin ADDR:PORT` exits 0 while the daemon runs, 1 once it has stopped.
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const h = require('../interop/lib/harness');
const { assert, ok } = h;

// ---- Prometheus text format (0.0.4) ----

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
const SAMPLE_RE = new RegExp(`^(${NAME})(?:\\{((?:${LABEL})(?:,${LABEL})*,?)?\\})? (\\S+)(?: (-?\\d+))?$`);
const LABEL_RE = new RegExp(`(${'[a-zA-Z_][a-zA-Z0-9_]*'})="((?:[^"\\\\\\n]|\\\\[\\\\"n])*)"`, 'g');

function parseValue(text) {
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (text === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) return undefined;
  return Number(text);
}

// Parses the exposition text; returns {families: Map(name -> {type, help, samples: [{name, labels, value}]})} and
// throws (assert) with the offending line on any violation.
function parsePrometheus(text) {
  assert.ok(text.endsWith('\n'), '/metrics must end with a newline');
  const families = new Map();
  let current = null; // family of the previous sample line
  const closed = new Set(); // families whose group has ended
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `/metrics line ${i + 1}: ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = new RegExp(`^# (HELP|TYPE) (${NAME})(?: (.*))?$`).exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m;
      const fam = families.get(name) || { type: null, help: null, samples: [] };
      families.set(name, fam);
      if (kind === 'TYPE') {
        assert.ok(['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest), `${where}: unknown type`);
        assert.equal(fam.type, null, `${where}: second TYPE line for ${name}`);
        assert.equal(fam.samples.length, 0, `${where}: TYPE after samples of ${name}`);
        fam.type = rest;
      } else {
        assert.equal(fam.help, null, `${where}: second HELP line for ${name}`);
        fam.help = rest;
      }
      return;
    }
    const m = SAMPLE_RE.exec(line);
    assert.ok(m, `${where}: not a sample line 'name{labels} value'`);
    const [, name, labelText = '', valueText] = m;
    const value = parseValue(valueText);
    assert.ok(value !== undefined, `${where}: value '${valueText}' is not a number`);
    const labels = {};
    for (const lm of labelText.matchAll(LABEL_RE)) {
      assert.ok(!(lm[1] in labels), `${where}: label ${lm[1]} twice`);
      labels[lm[1]] = lm[2];
    }
    // Which family: the name itself, or a histogram/summary's _bucket/_sum/_count.
    let family = name;
    if (!(families.get(name) && families.get(name).type)) {
      const base = name.replace(/_(bucket|sum|count)$/, '');
      const fam = families.get(base);
      if (base !== name && fam && ['histogram', 'summary'].includes(fam.type)) family = base;
    }
    const fam = families.get(family);
    assert.ok(fam && fam.type, `${where}: no TYPE line before the first sample of ${family}`);
    if (family !== current) {
      assert.ok(!closed.has(family), `${where}: samples of ${family} are not in one group`);
      if (current) closed.add(current);
      current = family;
    }
    if (fam.type === 'counter') assert.ok(value >= 0, `${where}: negative counter`);
    fam.samples.push({ name, labels, value });
  });
  // Histograms: per label set, buckets ascending in le and cumulative, +Inf present and equal to _count, _sum present.
  for (const [name, fam] of families) {
    if (fam.type !== 'histogram') continue;
    const series = new Map();
    for (const s of fam.samples) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      const entry = series.get(key) || { buckets: [], sum: undefined, count: undefined };
      series.set(key, entry);
      if (s.name === `${name}_bucket`) {
        assert.ok(le !== undefined, `${name}_bucket without le`);
        entry.buckets.push({ le: parseValue(le), value: s.value });
      } else if (s.name === `${name}_sum`) entry.sum = s.value;
      else if (s.name === `${name}_count`) entry.count = s.value;
    }
    for (const [key, e] of series) {
      assert.ok(e.buckets.length > 0 && e.sum !== undefined && e.count !== undefined, `${name}${key}: incomplete histogram`);
      for (let i = 1; i < e.buckets.length; i++) {
        assert.ok(e.buckets[i].le > e.buckets[i - 1].le, `${name}${key}: le not ascending`);
        assert.ok(e.buckets[i].value >= e.buckets[i - 1].value, `${name}${key}: buckets not cumulative`);
      }
      const last = e.buckets[e.buckets.length - 1];
      assert.equal(last.le, Infinity, `${name}${key}: last bucket must be le="+Inf"`);
      assert.equal(last.value, e.count, `${name}${key}: +Inf bucket must equal _count`);
    }
  }
  return families;
}

function sampleValue(families, family, name, labels) {
  const fam = families.get(family);
  if (!fam) return undefined;
  const s = fam.samples.find((x) => x.name === name && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  return s ? s.value : undefined;
}

// ---- the list of families in docs/operations.md ----

// Rows of the metrics table: `name{labels}` | type | for (`L:` / `T:` forwards, or empty) | meaning (`label values`).
function documentedFamilies() {
  const text = fs.readFileSync(path.join(__dirname, '..', '..', 'docs', 'operations.md'), 'utf8');
  const rows = [];
  for (const line of text.split('\n')) {
    const m = /^\| `([a-z_:]+)(?:\{([a-z_,]+)\})?` \| (counter|gauge|histogram) \|([^|]*)\| (.*) \|$/.exec(line);
    if (!m) continue;
    rows.push({ name: m[1], labels: m[2] ? m[2].split(',') : [], type: m[3],
                sides: [...m[4].matchAll(/`([LT]):`/g)].map((x) => x[1]),
                values: [...m[5].matchAll(/`([a-z_]+)`/g)].map((x) => x[1]) });
  }
  assert.ok(rows.length >= 15, `docs/operations.md: only ${rows.length} metric rows found`);
  return rows;
}

// Every documented family has HELP and TYPE, and (for each configured forward it applies to) one series per listed
// label value; nothing undocumented is exported. `forwards` maps a side (L/T) to the forward names configured.
// Returns the number of series checked.
function checkEveryFamily(families, forwards) {
  const rows = documentedFamilies();
  const documented = new Set(rows.map((r) => r.name));
  for (const name of families.keys())
    assert.ok(documented.has(name), `/metrics: family ${name} is not in docs/operations.md`);
  let checked = 0;
  for (const row of rows) {
    const fam = families.get(row.name);
    assert.ok(fam, `/metrics: documented family ${row.name} missing before the first tunnel`);
    assert.ok(fam.help && fam.help.length > 0, `/metrics: ${row.name} has no HELP`);
    assert.equal(fam.type, row.type, `/metrics: TYPE of ${row.name}`);
    const valueLabel = row.labels.find((l) => l !== 'forward');
    const names = row.labels.includes('forward') ? row.sides.flatMap((s) => forwards[s] || []) : [null];
    const sample = row.type === 'histogram' ? `${row.name}_count` : row.name;
    for (const forward of names) {
      const want = forward === null ? {} : { forward };
      const sets = valueLabel && valueLabel !== 'version' ? row.values.map((v) => ({ ...want, [valueLabel]: v })) : [want];
      for (const labels of sets) {
        const s = fam.samples.find((x) => x.name === sample && Object.entries(labels).every(([k, v]) => x.labels[k] === v));
        assert.ok(s, `/metrics: no ${sample}${JSON.stringify(labels)} before the first tunnel`);
        // Before any tunnel, every tunnel count is 0 (reconnects and the gauges have their own values by now).
        if (/^hcbridge_(tunnel|bytes|backpressure|token_renewals|config_reloads)/.test(row.name))
          assert.equal(s.value, 0, `/metrics: ${sample}${JSON.stringify(labels)} must be 0 before the first tunnel`);
        ++checked;
      }
    }
  }
  return checked;
}

// ---- helpers ----

function healthcheck(adminPort) {
  const p = spawn(process.env.HCBRIDGE_BIN, ['healthcheck', '--admin', `127.0.0.1:${adminPort}`, '--timeout', '3'],
                  { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (s) => { out += s; });
  p.stderr.on('data', (s) => { err += s; });
  const done = new Promise((resolve, reject) => {
    p.on('error', reject);
    p.on('close', (code, signal) => resolve({ code, signal, out, err }));
  });
  return h.withDeadline(done, 10000, 'hcbridge healthcheck').catch((e) => {
    p.kill('SIGKILL');
    throw e;
  });
}

h.run('ops admin_endpoint: /readyz 503 -> 200 -> 503, valid /metrics, no secret, healthcheck', async (t) => {
  const key = h.randomKey();
  const [relayPort, adminPort, localPort] = [await h.freePort(), await h.freePort(), await h.freePort()];
  const echo = await t.tcpEchoServer();
  const hc = h.uniqueName('admin');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-admin-'));
  t.defer('remove the config directory', () => fs.rmSync(dir, { recursive: true, force: true }));
  const configFile = path.join(dir, 'hcbridge.json');
  fs.writeFileSync(configFile, JSON.stringify({
    relay: { endpoint: `wss://127.0.0.1:${relayPort}/`, ca_file: path.join(process.env.HCB_TEST_CERT_DIR, 'cert.pem'),
             key_name: h.KEY_NAME, key },
    remote_forward: [{ hc, target: `127.0.0.1:${echo.port}` }],
    local_forward: [{ hc, bind: `127.0.0.1:${localPort}` }],
    backoff_initial: 0.1,
    backoff_max: 0.5,
    admin: { bind: `127.0.0.1:${adminPort}` },
    log: { level: 'debug' },
  }, null, 2), { mode: 0o600 });

  const seen = []; // every admin response body and healthcheck output, checked for the key at the end
  const get = async (p) => {
    const r = await h.httpGet(adminPort, p);
    seen.push(`${p}: ${r.body}`);
    return r;
  };

  // ---- 1. Relay down at start-up: not ready, but alive. ----
  const daemon = await t.startDaemon(['-c', configFile], {
    ready: [new RegExp(`L:${hc}: listening on 127\\.0\\.0\\.1:${localPort}`),
            new RegExp(`admin endpoint on http://127\\.0\\.0\\.1:${adminPort} `)],
  });
  // The admin endpoint listens before any forward does, so whoever waits for "listening on" can scrape at once
  // (interop.daemon_udp once got ECONNREFUSED doing that).
  const adminLine = daemon.lines.findIndex((l) => /admin endpoint on /.test(l));
  const listenLine = daemon.lines.findIndex((l) => /: listening on /.test(l));
  assert.ok(adminLine >= 0 && adminLine < listenLine,
            `the admin endpoint must be up before the first forward listens (log lines ${adminLine} and ${listenLine})`);
  await daemon.waitForLog(new RegExp(`T:${hc}: control channel connect failed`), 10000);
  let r = await get('/readyz');
  assert.equal(r.status, 503, `/readyz with the relay down: ${r.status} ${r.body}`);
  assert.match(r.headers['content-type'], /^application\/json/);
  let body = JSON.parse(r.body);
  assert.equal(body.ready, false);
  const byName = (b) => Object.fromEntries(b.forwards.map((f) => [f.name, f]));
  assert.equal(byName(body)[`T:${hc}`].up, false, `/readyz: T:${hc} must be down: ${r.body}`);
  assert.equal(byName(body)[`L:${hc}`].up, true, `/readyz: L:${hc} must be up: ${r.body}`);
  ok(`/readyz 503 while hcrelay is down: ${r.body.trim()}`);
  r = await get('/healthz');
  assert.equal(r.status, 200, `/healthz while not ready: ${r.status}`);
  let hcRun = await healthcheck(adminPort);
  seen.push(hcRun.out, hcRun.err);
  assert.equal(hcRun.code, 0, `healthcheck while running (not ready): exit ${hcRun.code}, ${hcRun.err}`);
  ok('/healthz 200 and `hcbridge healthcheck` exit 0 while not ready');
  r = await get('/metrics');
  let families = parsePrometheus(r.body);
  assert.equal(sampleValue(families, 'hcbridge_control_channel_up', 'hcbridge_control_channel_up', { forward: `T:${hc}` }), 0,
               'hcbridge_control_channel_up must be 0 while the relay is down');
  const series = checkEveryFamily(families, { L: [`L:${hc}`], T: [`T:${hc}`] });
  ok(`/metrics before the first tunnel: all ${families.size} documented families with HELP/TYPE, ${series} series known in advance`);

  // ---- 2. hcrelay comes up on the configured port: ready. ----
  const relay = await t.startRelay({ port: relayPort, key, logLevel: 'info' });
  const upAt = Date.now();
  r = await h.pollUntil(async () => {
    const x = await get('/readyz');
    return x.status === 200 ? x : null;
  }, 15000, '/readyz 200 after hcrelay started');
  body = JSON.parse(r.body);
  assert.equal(body.ready, true);
  assert.ok(body.forwards.length === 2 && body.forwards.every((f) => f.up), `/readyz: ${r.body}`);
  ok(`/readyz 200 ${h.elapsed(upAt)} after hcrelay started: ${r.body.trim()}`);

  // A tunnel carries bytes, then /metrics.
  const text = 'hello through the tunnel';
  assert.equal(await h.echoText(localPort, text), text, 'echo through the tunnel');
  r = await h.pollUntil(async () => {
    const x = await get('/metrics');
    return /hcbridge_tunnels_closed_total\{forward="L:/.test(x.body) ? x : null;
  }, 5000, 'the tunnel closed in /metrics');
  assert.equal(r.status, 200);
  assert.match(r.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  families = parsePrometheus(r.body);
  for (const f of ['hcbridge_control_channel_up', 'hcbridge_tunnels_opened_total', 'hcbridge_bytes_total',
                   'hcbridge_tunnel_setup_seconds', 'process_resident_memory_bytes', 'hcbridge_build_info']) {
    assert.ok(families.has(f) && families.get(f).samples.length > 0, `/metrics: family ${f} missing`);
  }
  assert.ok(families.get('hcbridge_tunnel_setup_seconds').samples.some((s) => s.name === 'hcbridge_tunnel_setup_seconds_bucket'),
            '/metrics: hcbridge_tunnel_setup_seconds_bucket missing');
  assert.equal(families.get('hcbridge_tunnel_setup_seconds').type, 'histogram');
  assert.equal(families.get('hcbridge_tunnels_opened_total').type, 'counter');
  assert.equal(families.get('hcbridge_control_channel_up').type, 'gauge');
  const v = (family, name, labels) => sampleValue(families, family, name, labels);
  assert.equal(v('hcbridge_control_channel_up', 'hcbridge_control_channel_up', { forward: `T:${hc}` }), 1);
  assert.ok(v('hcbridge_tunnels_opened_total', 'hcbridge_tunnels_opened_total', { forward: `L:${hc}` }) >= 1);
  assert.ok(v('hcbridge_tunnels_opened_total', 'hcbridge_tunnels_opened_total', { forward: `T:${hc}` }) >= 1);
  assert.ok(v('hcbridge_bytes_total', 'hcbridge_bytes_total', { forward: `L:${hc}`, direction: 'to_relay' }) >= text.length);
  assert.ok(v('hcbridge_bytes_total', 'hcbridge_bytes_total', { forward: `L:${hc}`, direction: 'from_relay' }) >= text.length);
  assert.ok(v('hcbridge_tunnel_setup_seconds', 'hcbridge_tunnel_setup_seconds_count', { forward: `L:${hc}` }) >= 1);
  const rss = v('process_resident_memory_bytes', 'process_resident_memory_bytes', {});
  assert.ok(rss > 1e6 && rss < 1e9, `process_resident_memory_bytes implausible: ${rss}`);
  const build = families.get('hcbridge_build_info').samples[0];
  assert.ok(build.value === 1 && /^\d+\.\d+\.\d+/.test(build.labels.version || ''), `hcbridge_build_info: ${JSON.stringify(build)}`);
  ok(`/metrics: ${families.size} families, valid text format, expected families and values present`);

  // process_open_fds against the daemon's /proc/PID/fd listed from outside, at a quiet moment (the same count just
  // before and just after the scrape). While the daemon counts, the scrape's own connection is open: one more.
  const fdCheck = await h.pollUntil(async () => {
    const before = daemon.stats().fds;
    const x = await get('/metrics');
    const after = daemon.stats().fds;
    if (before !== after) return null;
    return { outside: before, metric: sampleValue(parsePrometheus(x.body), 'process_open_fds', 'process_open_fds', {}) };
  }, 10000, 'a quiet moment for the fd count');
  assert.equal(fdCheck.metric, fdCheck.outside + 1,
               `process_open_fds ${fdCheck.metric}: /proc/PID/fd has ${fdCheck.outside} entries, plus the scrape's connection`);
  ok(`process_open_fds ${fdCheck.metric} = ${fdCheck.outside} fds listed from outside + the scrape's connection`);
  // process_max_fds is the soft limit the daemon runs with, as /proc/PID/limits shows it from outside.
  const limits = fs.readFileSync(`/proc/${daemon.pid}/limits`, 'utf8').match(/^Max open files\s+(\d+)/m);
  assert.ok(limits, 'Max open files in /proc/PID/limits');
  const maxFds = sampleValue(parsePrometheus((await get('/metrics')).body), 'process_max_fds', 'process_max_fds', {});
  assert.equal(maxFds, Number(limits[1]), `process_max_fds ${maxFds}, /proc/PID/limits says ${limits[1]}`);
  ok(`process_max_fds ${maxFds} = the soft limit in /proc/PID/limits`);
  hcRun = await healthcheck(adminPort);
  seen.push(hcRun.out, hcRun.err);
  assert.equal(hcRun.code, 0, `healthcheck while ready: exit ${hcRun.code}, ${hcRun.err}`);
  assert.match(hcRun.out, /"status":"ok"/);

  // ---- 3. hcrelay killed: not ready again. ----
  await relay.kill();
  const downAt = Date.now();
  r = await h.pollUntil(async () => {
    const x = await get('/readyz');
    return x.status === 503 ? x : null;
  }, 15000, '/readyz 503 after hcrelay was killed');
  body = JSON.parse(r.body);
  assert.equal(byName(body)[`T:${hc}`].up, false, `/readyz: ${r.body}`);
  ok(`/readyz 503 ${h.elapsed(downAt)} after hcrelay was killed`);
  r = await get('/healthz');
  assert.equal(r.status, 200, '/healthz stays 200 without the relay');

  // ---- 4. No secret anywhere. ----
  seen.push((await get('/metrics')).body);
  const forms = [key, encodeURIComponent(key), key.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')];
  const logs = daemon.linesSince(0).join('\n');
  for (const form of forms) {
    assert.ok(!seen.some((s) => s.includes(form)), 'the SAS key appears in an admin response or the healthcheck output');
    assert.ok(!logs.includes(form), 'the SAS key appears in the daemon log');
  }
  ok(`the key is in none of ${seen.length} admin/healthcheck outputs nor in ${daemon.lineCount()} log lines`);

  // ---- 5. Stopped: healthcheck fails. ----
  await daemon.stop();
  hcRun = await healthcheck(adminPort);
  assert.equal(hcRun.code, 1, `healthcheck after the daemon stopped: exit ${hcRun.code} (${hcRun.out}${hcRun.err})`);
  assert.ok(!hcRun.err.includes(key));
  ok(`healthcheck after stop: exit 1 (${hcRun.err.trim()})`);
}, { timeoutMs: 80000 });
