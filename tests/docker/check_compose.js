#!/usr/bin/env node
'use strict';
// Checks docker/compose*.yml without a Docker engine:
//  - each file parses as YAML (the 'yaml' package, merge keys on, duplicate keys are errors) and uses only known
//    Compose keys;
//  - files it references exist: build contexts and Dockerfiles, bind-mounted paths, secret files; an env_file that
//    holds secrets may be absent if its committed NAME.example template exists and git and .dockerignore ignore NAME;
//  - network_mode "service:X" and depends_on name services of the file; a service in another's network namespace
//    publishes no ports;
//  - services of the hcbridge image: exec-form command without keys on it; hcrelay ones disable the image's
//    HEALTHCHECK, hcbridge ones keep it; each published port is an -L forward bound to all interfaces inside;
//  - and, for real: every hcbridge service's command, environment and env_file (the .example's values), after
//    Compose's ${VAR:-default} interpolation, go through docker/entrypoint.sh to `hcbridge check-config`, which must
//    accept them; every hcrelay service's arguments and environment start a real hcrelay (--bind moved to 127.0.0.1:0).
// Env: HCBRIDGE_BIN, HCRELAY_BIN (built binaries; those parts are skipped with a note when unset).
// Exit: 0 ok, 1 failures, 77 when tests/docker/node_modules/yaml is missing.

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawn, spawnSync } = require('child_process');
const df = require('./lib/dockerfile');

const here = __dirname;
const root = path.resolve(here, '..', '..');
if (!fs.existsSync(path.join(here, 'node_modules', 'yaml', 'package.json'))) {
  console.log('SKIP: tests/docker/node_modules/yaml is missing. Install it with:\n' +
    `  (cd ${here} && npm install --no-audit --no-fund --loglevel=error)   # or: bash scripts/setup.sh`);
  process.exit(77);
}
const YAML = require(path.join(here, 'node_modules', 'yaml'));

const results = { ok: 0, failed: 0 };
function ok(msg) { results.ok++; console.log('ok:   ' + msg); }
function fail(msg) { results.failed++; console.log('FAIL: ' + msg); }
function check(cond, good, bad) { if (cond) ok(good); else fail(bad || good); }
function note(msg) { console.log('note: ' + msg); }

const TOP_KEYS = new Set(['version', 'name', 'services', 'networks', 'volumes', 'secrets', 'configs', 'include', 'models']);
const SERVICE_KEYS = new Set(`annotations attach blkio_config build cap_add cap_drop cgroup cgroup_parent command
configs container_name cpu_count cpu_percent cpu_period cpu_quota cpu_rt_period cpu_rt_runtime cpu_shares cpus cpuset
credential_spec depends_on deploy develop device_cgroup_rules devices dns dns_opt dns_search domainname driver_opts
entrypoint env_file environment expose extends external_links extra_hosts gpus group_add healthcheck hostname image
init ipc isolation labels label_file links logging mac_address mem_limit mem_reservation mem_swappiness memswap_limit
models network_mode networks oom_kill_disable oom_score_adj pid pids_limit platform ports post_start pre_stop
privileged profiles provider pull_policy read_only restart runtime scale secrets security_opt shm_size stdin_open
stop_grace_period stop_signal storage_opt sysctls tmpfs tty ulimits use_api_socket user userns_mode uts volumes
volumes_from working_dir`.split(/\s+/));
const HEALTHCHECK_KEYS = new Set(['test', 'interval', 'timeout', 'retries', 'start_period', 'start_interval', 'disable']);

// Compose interpolation with an empty environment: ${V:-d} ${V-d} -> d, ${V:+a} ${V+a} ${V} $V -> '', $$ -> $.
function interpolate(value, where, errors) {
  if (typeof value === 'string') {
    return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
      (m, name, op, arg, bare) => {
        if (m === '$$') return '$';
        if (bare) { errors.push(`${where}: $${bare} is not set and has no default`); return ''; }
        if (!op) { errors.push(`${where}: \${${name}} is not set and has no default`); return ''; }
        if (op.endsWith('-')) return arg;
        if (op.endsWith('?')) { errors.push(`${where}: \${${name}} is required: ${arg}`); return ''; }
        return '';
      });
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolate(v, `${where}[${i}]`, errors));
  if (value && typeof value === 'object') {
    const out = {};
    for (const [k, v] of Object.entries(value)) out[k] = interpolate(v, `${where}.${k}`, errors);
    return out;
  }
  return value;
}

function gitIgnores(file) {
  const r = spawnSync('git', ['-C', root, 'check-ignore', '-q', '--no-index', file], { stdio: 'ignore' });
  if (r.error) return null;  // no git: cannot tell
  return r.status === 0;
}

function envFileList(v) {
  if (!v) return [];
  return (Array.isArray(v) ? v : [v]).map((e) => (typeof e === 'string' ? { path: e, required: true } : { required: true, ...e }));
}

function readEnvFile(file) {
  const env = {};
  for (const line of fs.readFileSync(file, 'utf8').split(/\r?\n/)) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (m) env[m[1]] = m[2];
  }
  return env;
}

function environmentOf(svc) {
  const e = svc.environment;
  if (!e) return {};
  if (Array.isArray(e)) {
    const out = {};
    for (const item of e) { const i = item.indexOf('='); if (i > 0) out[item.slice(0, i)] = item.slice(i + 1); }
    return out;
  }
  return Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

// The hcbridge image's ENV (HCBRIDGE_ADMIN) as the Dockerfile sets it.
function imageEnv() {
  const parsed = df.parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  const runtime = parsed.stages[parsed.stages.length - 1];
  const env = {};
  for (const ins of runtime.instructions.filter((i) => i.keyword === 'ENV')) {
    for (const m of ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("([^"]*)"|\S*)/g)) env[m[1]] = m[3] !== undefined ? m[3] : m[2];
  }
  return env;
}

function runCheckConfig(label, args, env) {
  const bin = process.env.HCBRIDGE_BIN;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-compose-'));
  try {
    fs.symlinkSync(path.resolve(bin), path.join(tmp, 'hcbridge'));
    const fullEnv = { PATH: `${tmp}:/usr/bin:/bin`, HCBRIDGE_CONFIG: '', ...env };
    const r = spawnSync('sh', [path.join(root, 'docker', 'entrypoint.sh'), ...args, 'check-config'],
      { env: fullEnv, encoding: 'utf8', timeout: 20000 });
    check(r.status === 0, `${label}: hcbridge check-config accepts the service's settings`,
      `${label}: hcbridge check-config rejects the service's settings (exit ${r.status}): ${(r.stderr || '').trim()}`);
    if (r.status === 0) {
      const cfg = JSON.parse(r.stdout);
      return cfg;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return null;
}

function runRelay(label, args, env) {
  return new Promise((resolve) => {
    const a = args.slice();
    const i = a.indexOf('--bind');
    if (i >= 0) a[i + 1] = '127.0.0.1:0'; else a.push('--bind', '127.0.0.1:0');
    const child = spawn(process.env.HCRELAY_BIN, a, { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: '/usr/bin:/bin', ...env } });
    let out = '';
    let err = '';
    let done = false;
    const finish = (good, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      child.kill('SIGTERM');
      check(good, `${label}: hcrelay starts with the service's arguments and environment (--bind moved to 127.0.0.1:0)`,
        `${label}: hcrelay does not start with the service's arguments: ${why}`);
      resolve();
    };
    const timer = setTimeout(() => finish(false, 'no "listening" line within 10 s'), 10000);
    child.stdout.on('data', (d) => { out += d; if (/hcrelay listening on/.test(out)) finish(true); });
    child.stderr.on('data', (d) => { err += d; });
    child.on('exit', (code) => finish(false, `exit ${code}: ${err.trim()}`));
  });
}

async function checkFile(file) {
  const rel = path.relative(root, file);
  const dir = path.dirname(file);
  const text = fs.readFileSync(file, 'utf8');
  const doc = YAML.parseDocument(text, { merge: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    for (const e of doc.errors) fail(`${rel}: YAML: ${e.message}`);
    return;
  }
  check(doc.warnings.length === 0, `${rel} parses as YAML`, `${rel}: YAML warnings: ${doc.warnings.map((w) => w.message).join('; ')}`);
  const raw = doc.toJS({ maxAliasCount: 100 });
  const errors = [];
  const compose = interpolate(raw, rel, errors);
  for (const e of errors) fail(`interpolation: ${e}`);

  const unknownTop = Object.keys(compose).filter((k) => !TOP_KEYS.has(k) && !k.startsWith('x-'));
  check(!unknownTop.length, `${rel}: top-level keys are Compose keys`, `${rel}: unknown top-level keys: ${unknownTop.join(', ')}`);
  const services = compose.services || {};
  check(Object.keys(services).length > 0, `${rel}: has services (${Object.keys(services).join(', ')})`);
  const imgEnv = imageEnv();

  // Secret files of the top-level secrets: section.
  for (const [name, s] of Object.entries(compose.secrets || {})) {
    if (s && s.file) checkReferenced(`${rel}: secrets.${name}.file`, path.resolve(dir, s.file), true);
  }

  for (const [name, svc] of Object.entries(services)) {
    const where = `${rel}: services.${name}`;
    const unknown = Object.keys(svc).filter((k) => !SERVICE_KEYS.has(k) && !k.startsWith('x-'));
    check(!unknown.length, `${where}: ${Object.keys(svc).length} keys, all Compose service keys`, `${where}: unknown keys: ${unknown.join(', ')}`);
    check(Boolean(svc.image || svc.build), `${where} has an image or a build`);

    // build: context and Dockerfile
    let isHcbridgeImage = false;
    if (svc.build) {
      const b = typeof svc.build === 'string' ? { context: svc.build } : svc.build;
      const ctx = path.resolve(dir, b.context || '.');
      const dockerfile = path.resolve(ctx, b.dockerfile || 'Dockerfile');
      check(fs.existsSync(ctx) && fs.statSync(ctx).isDirectory(), `${where}.build.context ${b.context} exists`,
        `${where}.build.context ${b.context} is not a directory`);
      check(fs.existsSync(dockerfile), `${where}.build.dockerfile ${path.relative(root, dockerfile)} exists`);
      isHcbridgeImage = ctx === root && dockerfile === path.join(root, 'Dockerfile');
    } else if (/^(hcbridge)(:|$)/.test(String(svc.image))) {
      isHcbridgeImage = true;
    } else {
      const tag = /:([^/:@]+)$/.exec(String(svc.image));
      check(tag && tag[1] !== 'latest', `${where}.image ${svc.image} has a pinned tag`, `${where}.image ${svc.image}: pin a tag`);
    }

    // env_file
    const envFromFiles = {};
    for (const ef of envFileList(svc.env_file)) {
      const abs = path.resolve(dir, ef.path);
      const found = checkReferenced(`${where}.env_file ${ef.path}`, abs, ef.required !== false);
      if (found) Object.assign(envFromFiles, readEnvFile(found));
    }
    // volumes (bind mounts)
    for (const v of svc.volumes || []) {
      const src = typeof v === 'string' ? v.split(':')[0] : v.type === 'bind' ? v.source : null;
      if (src && /^[./~]/.test(src)) checkReferenced(`${where}.volumes ${src}`, path.resolve(dir, src), true);
    }
    // network_mode / depends_on
    if (svc.network_mode) {
      const m = /^service:(.+)$/.exec(svc.network_mode);
      if (m) {
        check(Boolean(services[m[1]]), `${where}.network_mode joins service ${m[1]}`, `${where}.network_mode: no service ${m[1]}`);
        check(!svc.ports && !svc.networks, `${where}: in another service's network namespace, publishes no ports`,
          `${where}: ports/networks are not allowed with network_mode ${svc.network_mode}`);
      }
    }
    const deps = Array.isArray(svc.depends_on) ? svc.depends_on : Object.keys(svc.depends_on || {});
    for (const d of deps) check(Boolean(services[d]), `${where}.depends_on ${d} exists`, `${where}.depends_on: no service ${d}`);
    if (svc.healthcheck) {
      const bad = Object.keys(svc.healthcheck).filter((k) => !HEALTHCHECK_KEYS.has(k));
      check(!bad.length, `${where}.healthcheck keys are known`, `${where}.healthcheck: unknown keys: ${bad.join(', ')}`);
    }

    if (!isHcbridgeImage) continue;
    // ---- services of the hcbridge image ----
    const cmd = svc.command;
    check(cmd === undefined || (Array.isArray(cmd) && cmd.every((c) => typeof c === 'string')),
      `${where}.command is a list of strings (exec form)`, `${where}.command should be a list of strings`);
    const args = Array.isArray(cmd) ? cmd : [];
    const env = { ...envFromFiles, ...environmentOf(svc) };
    // Keys belong in env files, secrets or key files, not on a command line (`ps`, `docker inspect`).
    const secretFlags = args.filter((a) => /^(-k|--key|-x|--connection-string|-s|--sas)(=.*)?$/.test(a));
    check(!secretFlags.length, `${where}: no key or connection string on the command line`,
      `${where}: ${secretFlags.join(' ')} puts a secret on the command line; use the environment or a file`);
    if (args[0] === 'hcrelay') {
      check(Boolean(svc.healthcheck && svc.healthcheck.disable === true), `${where}: hcrelay service disables the image's HEALTHCHECK`,
        `${where}: hcrelay service must set healthcheck: {disable: true} (the image's check asks hcbridge's admin endpoint)`);
      if (process.env.HCRELAY_BIN) await runRelay(where, args.slice(1), env);
      else note(`${where}: HCRELAY_BIN not set, hcrelay arguments not tried`);
      continue;
    }
    check(!(svc.healthcheck && svc.healthcheck.disable), `${where}: keeps the image's HEALTHCHECK`);
    const allArgs = [...(env.HCBRIDGE_ARGS ? env.HCBRIDGE_ARGS.split(/\s+/).filter(Boolean) : []), ...args];
    const forwards = [];
    for (let i = 0; i < allArgs.length - 1; i++) if (allArgs[i] === '-L') forwards.push(allArgs[i + 1]);
    for (const p of svc.ports || []) {
      const spec = typeof p === 'string' ? p : String(p.target);
      const target = Number(typeof p === 'string' ? spec.split(':').pop().split('/')[0] : p.target);
      const bound = forwards.some((f) => f.split(';').some((b) => new RegExp(`^(\\*|0\\.0\\.0\\.0|\\[::\\]):${target}(/|:|$)`).test(b)));
      check(bound, `${where}: published port ${target} is an -L forward on all interfaces inside the container`,
        `${where}: publishes ${spec} but no -L binds 0.0.0.0:${target} (or *, [::]) inside the container`);
    }
    if (process.env.HCBRIDGE_BIN) {
      const cfg = runCheckConfig(where, args, { ...imgEnv, ...env });
      if (cfg) check(Boolean(cfg.admin && cfg.admin.bind), `${where}: the admin endpoint is on (${cfg.admin && cfg.admin.bind}), so the HEALTHCHECK can ask it`);
    } else {
      note(`${where}: HCBRIDGE_BIN not set, hcbridge check-config not run`);
    }
  }
}

// A referenced file: exists, or (when it would hold secrets) its NAME.example exists and NAME is ignored by git and
// .dockerignore. Returns the file to read values from, or null.
function checkReferenced(label, abs, required) {
  if (fs.existsSync(abs)) {
    ok(`${label} exists`);
    return abs;
  }
  const example = abs + '.example';
  if (fs.existsSync(example)) {
    const relPath = path.relative(root, abs);
    const git = gitIgnores(relPath);
    check(git !== false, `${label}: absent, template ${path.basename(example)} exists and git ignores the real file${git === null ? ' (git not available: not checked)' : ''}`,
      `${label}: the real file would not be ignored by git; add it to a .gitignore`);
    check(df.isIgnored(df.readDockerignore(root), relPath), `${label}: .dockerignore keeps the real file out of the build context`);
    return example;
  }
  if (required) fail(`${label} does not exist (and no ${path.basename(example)} template)`);
  else note(`${label} is absent and optional`);
  return null;
}

(async () => {
  const dir = path.join(root, 'docker');
  const files = fs.readdirSync(dir).filter((f) => /^compose.*\.ya?ml$/.test(f)).map((f) => path.join(dir, f));
  check(files.length >= 2, `compose files: ${files.map((f) => path.basename(f)).join(', ')}`);
  for (const f of files) await checkFile(f);
  console.log(`compose checks: ${results.ok} ok, ${results.failed} failed`);
  process.exit(results.failed ? 1 : 0);
})();
