#!/usr/bin/env node
'use strict';
// Static checks of the Dockerfile (no Docker engine needed):
//  - every COPY/ADD source from the build context exists and is not excluded by .dockerignore; the .dockerignore
//    keeps secrets, node_modules, build trees and .git out of the context;
//  - COPY --from=STAGE names an earlier stage that produces the path;
//  - the build stage installs the packages of scripts/setup.sh (except those in NOT_FOR_THE_IMAGE_BUILD), builds
//    Release and runs ctest -L unit in a stage the runtime stage depends on;
//  - both stages use debian:bookworm-slim; apt-get install uses --no-install-recommends and cleans the lists;
//  - the runtime stage's RUN commands only call programs of a Debian 12 slim image, of the packages the stage
//    installs, or shell builtins; its package names exist in Debian 12 (apt-cache, when apt lists are present);
//  - the runtime user is not root and is created with a fixed UID;
//  - the HEALTHCHECK calls `hcbridge healthcheck` (with options: interval etc.);
//  - the ENTRYPOINT/CMD program, the programs the entrypoint script execs and the HEALTHCHECK program are copied
//    into the image (or are part of it);
//  - no secret-looking ENV/ARG values and no key/env files are copied in; OCI labels are set.
// Usage: node check_dockerfile.js [REPO_ROOT]

const fs = require('fs');
const path = require('path');
const df = require('./lib/dockerfile');
const debian = require('./lib/debian');

// Packages of scripts/setup.sh that the image build (Release build + ctest -L unit) does not need.
const NOT_FOR_THE_IMAGE_BUILD = {
  nodejs: 'interop and docker tests only',
  npm: 'interop and docker tests only',
  systemd: 'systemd-analyze for the unit-file tests only',
  clang: 'libFuzzer targets only (scripts/fuzz.sh)',
  'libclang-rt-14-dev': 'the libFuzzer runtime, fuzz targets only',
  'docker.io': 'docker.engine only (a real dockerd)',
  debootstrap: 'docker.engine only (the offline base image)',
  'docker-compose': 'docker.engine only (the compose files)',
};

// Slow look-ups shared by repeated runs (the self-test runs the checks on many variants).
const cached = { image: null, apt: new Map(), programs: new Map() };
function programsOfCached(pkgs) {
  const key = pkgs.join(' ');
  if (!cached.programs.has(key)) cached.programs.set(key, debian.programsOf(pkgs));
  return cached.programs.get(key);
}

// Runs every check on `text` (a Dockerfile) against the repository at `root`; returns {ok, failed, failures}.
// opts.quiet: print nothing; opts.apt === false: skip the apt-cache look-ups.
function checkDockerfile(root, text, opts = {}) {
  const results = { ok: 0, failed: 0, failures: [] };
  const print = opts.quiet ? () => {} : (line) => console.log(line);
  function ok(msg) { results.ok++; print('ok:   ' + msg); }
  function fail(msg) { results.failed++; results.failures.push(msg); print('FAIL: ' + msg); }
  function check(cond, good, bad) { if (cond) ok(good); else fail(bad || good); }
  function note(msg) { print('note: ' + msg); }

  const parsed = df.parseDockerfile(text);
  const stages = parsed.stages;
  const ignore = df.readDockerignore(root);
  const at = (ins) => `Dockerfile:${ins.line}`;

  check(stages.length >= 2, `${stages.length} stages (multi-stage build)`, 'the Dockerfile should be multi-stage');
  const runtime = stages[stages.length - 1];
  const stageByName = new Map(stages.filter((s) => s.name).map((s) => [s.name, s]));

  // ---- Base images ----------------------------------------------------------------------------------------------------
  for (const s of stages) {
    check(s.image === 'debian:bookworm-slim', `stage ${s.name || s.index} is FROM debian:bookworm-slim`,
      `${at(s.from)}: stage ${s.name || s.index} is FROM ${s.image}, expected debian:bookworm-slim`);
  }

  // ---- .dockerignore --------------------------------------------------------------------------------------------------
  check(fs.existsSync(path.join(root, '.dockerignore')), '.dockerignore exists');
  for (const p of ['.git/config', 'build/CMakeCache.txt', 'tests/interop/node_modules/ws/package.json',
    'tests/docker/node_modules/yaml/package.json', 'docker/hcbridge.env', 'src/relay.key', 'tests/x/secret.pem']) {
    check(df.isIgnored(ignore, p), `.dockerignore keeps ${p} out of the build context`,
      `.dockerignore lets ${p} into the build context`);
  }

  // ---- COPY / ADD sources ---------------------------------------------------------------------------------------------
  function hasGlob(s) { return /[*?[]/.test(s); }
  function contextMatches(src) {
    const rel = path.posix.normalize(src).replace(/^\/+/, '').replace(/\/+$/, '');
    if (rel.startsWith('..')) return { error: `${src} is outside the build context` };
    if (!hasGlob(rel)) {
      const abs = path.join(root, rel === '.' ? '' : rel);
      if (!fs.existsSync(abs)) return { error: `${src} does not exist in the repository` };
      if (rel !== '.' && df.isIgnored(ignore, rel)) return { error: `${src} is excluded by .dockerignore` };
      if (fs.statSync(abs).isDirectory()) {
        const files = df.walk(abs, '', df.ignoredDir(ignore, rel === '.' ? '' : rel))
        .map((f) => (rel === '.' ? f : rel + '/' + f)).filter((f) => !df.isIgnored(ignore, f));
        if (!files.length) return { error: `${src}: every file in it is excluded by .dockerignore` };
        return { files };
      }
      return { files: [rel] };
    }
    const re = df.patternRegExp(rel);
    const files = df.walk(root, '', df.ignoredDir(ignore)).filter((f) => re.test(f) && !df.isIgnored(ignore, f));
    if (!files.length) return { error: `${src} matches no file of the build context` };
    return { files };
  }

  // What each stage produces: words of its RUN lines that are absolute paths, and COPY destinations.
  function producedPaths(stage, uptoLine) {
    const out = [];
    for (const ins of stage.instructions) {
      if (uptoLine !== undefined && ins.line > uptoLine) break;
      if (ins.keyword === 'RUN') out.push(...df.splitWords(ins.json ? ins.json.join(' ') : ins.args).filter((w) => w.startsWith('/')));
      if (ins.keyword === 'COPY' || ins.keyword === 'ADD') out.push(df.copyParts(ins).dest);
    }
    return out;
  }

  for (const s of stages) {
    for (const ins of s.instructions) {
      if (ins.keyword !== 'COPY' && ins.keyword !== 'ADD') continue;
      const { sources, dest } = df.copyParts(ins);
      check(sources.length > 0 && dest, `${at(ins)}: ${ins.keyword} has sources and a destination`);
      if (ins.keyword === 'ADD') {
        fail(`${at(ins)}: use COPY, not ADD (ADD fetches URLs and unpacks archives)`);
        continue;
      }
      if (ins.flags.from) {
        const from = stageByName.get(ins.flags.from) || stages[Number(ins.flags.from)];
        if (!from || from.index >= s.index) {
          fail(`${at(ins)}: COPY --from=${ins.flags.from} does not name an earlier stage`);
          continue;
        }
        const produced = producedPaths(from);
        for (const src of sources) {
          const n = src.replace(/\/+$/, '');
          check(produced.some((p) => p.replace(/\/+$/, '') === n || p.startsWith(n + '/')),
            `${at(ins)}: ${src} is produced in stage ${ins.flags.from}`,
            `${at(ins)}: nothing in stage ${ins.flags.from} produces ${src}`);
        }
        continue;
      }
      for (const src of sources) {
        const m = contextMatches(src);
        if (m.error) fail(`${at(ins)}: ${m.error}`);
        else ok(`${at(ins)}: ${src} is in the build context (${m.files.length} file(s))`);
        for (const f of m.files || []) {
          if (/(^|\/)[^/]*\.(env|key|pem)$/.test(f)) fail(`${at(ins)}: ${f} looks like a secret and would be baked in`);
        }
      }
    }
  }

  // ---- The build stage ------------------------------------------------------------------------------------------------
  const build = stages.length >= 2 ? stages[0] : null;
  if (build) {
    const runs = build.instructions.filter((i) => i.keyword === 'RUN');
    const text = runs.map((r) => r.args).join('\n');
    const installs = runs.flatMap((r) => df.aptInstalls(r.args));
    const buildPkgs = new Set(installs.flatMap((x) => x.packages));
    const setup = fs.readFileSync(path.join(root, 'scripts', 'setup.sh'), 'utf8');
    const m = /^debs=\(([\s\S]*?)\)/m.exec(setup);
    if (!m) {
      fail('scripts/setup.sh: no debs=( ... ) list found');
    } else {
      const all = df.splitWords(m[1].replace(/#.*$/gm, ''));
      const skipped = all.filter((p) => NOT_FOR_THE_IMAGE_BUILD[p]);
      const want = all.filter((p) => !NOT_FOR_THE_IMAGE_BUILD[p]);
      const missing = want.filter((p) => !buildPkgs.has(p));
      const extra = [...buildPkgs].filter((p) => !all.includes(p));
      check(!missing.length && !extra.length,
        `build stage installs the ${want.length} packages of scripts/setup.sh except ${skipped.join(', ')}`,
        `build stage packages differ from scripts/setup.sh: missing [${missing.join(' ')}], not in setup.sh ` +
        `[${extra.join(' ')}] (packages the image build does not need go into NOT_FOR_THE_IMAGE_BUILD)`);
      for (const p of skipped) note(`not in the build stage: ${p} (${NOT_FOR_THE_IMAGE_BUILD[p]})`);
    }
    check(/CMAKE_BUILD_TYPE=Release/.test(text), 'build stage configures a Release build');
  }
  // The unit tests must run in a stage the runtime stage depends on (COPY --from or FROM), or BuildKit skips them.
  const testStage = stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bctest\b[^\n]*-L\s+unit\b/.test(i.args)));
  check(Boolean(testStage), `stage ${testStage && (testStage.name || testStage.index)} runs ctest -L unit`, 'no stage runs ctest -L unit');
  if (testStage) {
    const deps = new Set();
    const visit = (s) => {
      if (deps.has(s)) return;
      deps.add(s);
      const refs = [s.image, ...s.instructions.filter((i) => i.keyword === 'COPY' && i.flags.from).map((i) => i.flags.from)];
      for (const r of refs) { const d = stageByName.get(r) || (/^\d+$/.test(r) ? stages[Number(r)] : null); if (d) visit(d); }
    };
    visit(runtime);
    check(testStage !== runtime && deps.has(testStage),
      `the runtime stage depends on stage ${testStage.name || testStage.index}, so the unit tests always run`,
      `the runtime stage does not depend on stage ${testStage.name || testStage.index}: BuildKit would skip its unit tests`);
  }

  // ---- apt-get hygiene (all stages) -----------------------------------------------------------------------------------
  for (const s of stages) {
    for (const ins of s.instructions.filter((i) => i.keyword === 'RUN')) {
      for (const inst of df.aptInstalls(ins.args)) {
        check(inst.options.includes('--no-install-recommends'), `${at(ins)}: apt-get install uses --no-install-recommends`);
        check(inst.options.some((o) => o === '-y' || o === '--yes' || o === '--assume-yes' || /^-[a-z]*y/.test(o)),
          `${at(ins)}: apt-get install is non-interactive (-y)`);
      }
      if (/\bapt-get\s+(\S+\s+)*update\b/.test(ins.args)) {
        check(/rm -rf \/var\/lib\/apt\/lists\/\*/.test(ins.args), `${at(ins)}: apt lists are removed in the layer that fetched them`);
        check(df.aptInstalls(ins.args).length > 0, `${at(ins)}: apt-get update is in the same RUN as apt-get install`);
      }
    }
  }

  // ---- The runtime stage: programs and packages -----------------------------------------------------------------------
  const image = cached.image || (cached.image = debian.slimImage());
  note(image.note);
  const runtimeRuns = runtime.instructions.filter((i) => i.keyword === 'RUN');
  const runtimePkgs = runtimeRuns.flatMap((r) => df.aptInstalls(r.args).flatMap((x) => x.packages));
  check(runtimePkgs.length > 0, `runtime stage installs: ${runtimePkgs.join(' ')}`, 'runtime stage installs no package');

  // Files copied into the runtime stage: absolute path -> true.
  const copiedFiles = new Set();
  for (const ins of runtime.instructions.filter((i) => i.keyword === 'COPY')) {
    const { sources, dest } = df.copyParts(ins);
    const destIsDir = dest.endsWith('/') || sources.length > 1;
    for (const src of sources) {
      const base = path.posix.basename(src.replace(/\/+$/, ''));
      copiedFiles.add(destIsDir ? path.posix.join(dest, base) : dest);
    }
  }
  const envPath = (() => {
    const env = runtime.instructions.filter((i) => i.keyword === 'ENV').map((i) => /(?:^|\s)PATH[= ]("?)([^"\s]+)\1/.exec(i.args)).filter(Boolean);
    return env.length ? env[env.length - 1][2].split(':') : ['/usr/local/sbin', '/usr/local/bin', '/usr/sbin', '/usr/bin', '/sbin', '/bin'];
  })();
  const usrMerged = (p) => [p, p.replace(/^\/(bin|sbin)\//, '/usr/$1/'), p.replace(/^\/usr\/(bin|sbin)\//, '/$1/')];
  function resolveProgram(name, extraPrograms) {
    if (df.BUILTINS.has(name)) return 'shell builtin';
    if (name.startsWith('/')) {
      const forms = usrMerged(name);
      if (forms.some((f) => copiedFiles.has(f))) return 'copied into the image';
      const paths = new Set([...image.programs.values(), ...extraPrograms.values()].flatMap(usrMerged));
      if (forms.some((f) => paths.has(f))) return 'in the image';
      return null;
    }
    if (image.programs.has(name)) return `base image (${image.programs.get(name)})`;
    if (extraPrograms.has(name)) return `installed by the stage (${extraPrograms.get(name)})`;
    for (const dir of envPath) if (copiedFiles.has(path.posix.join(dir, name))) return `copied to ${dir}`;
    return null;
  }

  let installedSoFar = [];
  for (const ins of runtimeRuns) {
    installedSoFar = installedSoFar.concat(df.aptInstalls(ins.args).flatMap((x) => x.packages));
    const notHere = installedSoFar.filter((p) => !image.installed.has(p));
    if (notHere.length) note(`${at(ins)}: not installed on this machine, so their programs are unknown: ${notHere.join(' ')}`);
    const extra = programsOfCached(installedSoFar.filter((p) => image.installed.has(p)));
    const programs = ins.json ? [ins.json[0]] : df.shellPrograms(ins.args);
    for (const p of [...new Set(programs)]) {
      if (/[$`]/.test(p)) { fail(`${at(ins)}: cannot check a program given by expansion: ${p}`); continue; }
      const where = resolveProgram(p, extra);
      check(where !== null, `${at(ins)}: runtime RUN calls ${p}: ${where}`,
        `${at(ins)}: runtime RUN calls ${p}, which a debian:bookworm-slim image does not have and the stage does not install`);
    }
  }

  if (opts.apt !== false && debian.haveAptLists()) {
    const names = [...new Set(runtimePkgs)];
    const unknown = names.filter((n) => !cached.apt.has(n));
    if (unknown.length) {
      const found = debian.aptKnown(unknown);
      for (const n of unknown) cached.apt.set(n, found.has(n));
    }
    const known = new Set(names.filter((n) => cached.apt.get(n)));
    for (const n of names) check(known.has(n), `package ${n} exists in Debian 12 (apt-cache show)`,
      `package ${n} is not a Debian 12 package (apt-cache show found nothing)`);
  } else {
    note('skipped: apt lists are absent (run apt-get update), so the runtime package names were not looked up');
  }

  // ---- User -----------------------------------------------------------------------------------------------------------
  const users = runtime.instructions.filter((i) => i.keyword === 'USER');
  const lastUser = users.length ? users[users.length - 1].args.trim() : null;
  if (!lastUser) {
    fail('runtime stage has no USER: the image would run as root');
  } else {
    const [u, g] = lastUser.split(':');
    let uid = /^\d+$/.test(u) ? Number(u) : null;
    const useradd = runtimeRuns.flatMap((r) => df.simpleCommands(r.args)).find((w) => w[0] === 'useradd');
    if (useradd) {
      const i = useradd.findIndex((w) => w === '--uid' || w === '-u');
      const uidCreated = i >= 0 ? Number(useradd[i + 1]) : null;
      const nameCreated = useradd[useradd.length - 1];
      check(uidCreated !== null, `useradd gives a fixed UID (${uidCreated})`, 'useradd gives no fixed --uid');
      if (uid === null && u === nameCreated) uid = uidCreated;
      if (uid !== null) check(uid === uidCreated || u === nameCreated, `USER ${lastUser} is the user the stage creates`);
    }
    check(uid !== null && uid !== 0 && u !== 'root' && g !== '0' && g !== 'root',
      `runtime USER ${lastUser} is not root (UID ${uid})`, `runtime USER ${lastUser} is root or unknown`);
    const afterUser = runtime.instructions.filter((i) => i.line > users[users.length - 1].line && i.keyword === 'USER');
    check(afterUser.length === 0, 'no later USER switches back');
  }

  // ---- HEALTHCHECK ----------------------------------------------------------------------------------------------------
  const hcs = runtime.instructions.filter((i) => i.keyword === 'HEALTHCHECK');
  check(hcs.length === 1, 'runtime stage has exactly one HEALTHCHECK', `runtime stage has ${hcs.length} HEALTHCHECKs`);
  let hcProgram = null;
  if (hcs.length) {
    const hc = hcs[hcs.length - 1];
    const h = hc.healthcheck;
    check(h && h.kind === 'CMD', `${at(hc)}: HEALTHCHECK CMD (not NONE)`);
    const words = h && (h.json || df.splitWords(h.command));
    check(words && words[0] === 'hcbridge' && words[1] === 'healthcheck', `${at(hc)}: HEALTHCHECK runs \`hcbridge healthcheck\``,
      `${at(hc)}: HEALTHCHECK does not run \`hcbridge healthcheck\`: ${h && h.command}`);
    check(!words || !words.some((w) => /\bcurl\b|\bwget\b/.test(w)), `${at(hc)}: HEALTHCHECK needs no curl/wget`);
    check(Boolean(hc.flags.interval), `${at(hc)}: HEALTHCHECK sets --interval`);
    for (const f of Object.keys(hc.flags)) {
      check(['interval', 'timeout', 'start-period', 'start-interval', 'retries'].includes(f), `${at(hc)}: HEALTHCHECK option --${f} is known`);
    }
    hcProgram = words && words[0];
    // Which admin endpoint it asks: HCBRIDGE_ADMIN must be set in the image unless the command names one.
    const envAdmin = runtime.instructions.some((i) => i.keyword === 'ENV' && /(^|\s)HCBRIDGE_ADMIN[= ]\S/.test(i.args));
    check(envAdmin || (words && words.includes('--admin')),
      'the HEALTHCHECK knows the admin endpoint (ENV HCBRIDGE_ADMIN or --admin)');
  }

  // ---- ENTRYPOINT / CMD -----------------------------------------------------------------------------------------------
  const eps = runtime.instructions.filter((i) => i.keyword === 'ENTRYPOINT');
  const cmds = runtime.instructions.filter((i) => i.keyword === 'CMD');
  const ep = eps.length ? eps[eps.length - 1] : null;
  const cmd = cmds.length ? cmds[cmds.length - 1] : null;
  const main = ep || cmd;
  if (!main) {
    fail('runtime stage has neither ENTRYPOINT nor CMD');
  } else {
    check(Boolean(main.json), `${at(main)}: ${main.keyword} uses the exec form (signals reach the process)`);
    check(!main.json || main.json.length > 0, `${at(main)}: ${main.keyword} names a program`,
      `${at(main)}: ${main.keyword} is empty${ep ? '' : ' and there is no ENTRYPOINT'}`);
    const prog = main.json ? main.json[0] || '(none)' : '/bin/sh';
    const where = resolveProgram(prog, new Map());
    check(where === 'copied into the image' || (where && where.startsWith('copied to')),
      `${at(main)}: ${main.keyword} program ${prog} is copied into the image`,
      `${at(main)}: ${main.keyword} program ${prog} is not copied into the image (${where || 'not found'})`);
    // The entrypoint script: the programs it execs must be in the image too.
    const script = path.join(root, 'docker', 'entrypoint.sh');
    if (fs.existsSync(script) && /entrypoint/.test(prog)) {
      const text = fs.readFileSync(script, 'utf8');
      const execs = [...new Set([...text.matchAll(/^\s*exec\s+([A-Za-z0-9_./-]+)/gm)].map((m) => m[1]))];
      check(execs.length > 0, `docker/entrypoint.sh execs: ${execs.join(' ')}`);
      for (const e of execs) {
        const w = resolveProgram(e, new Map());
        check(w !== null, `docker/entrypoint.sh execs ${e}: ${w}`, `docker/entrypoint.sh execs ${e}, which is not in the image`);
      }
      const shebang = /^#!\s*(\S+)/.exec(text);
      check(shebang && resolveProgram(shebang[1], new Map()), `docker/entrypoint.sh interpreter ${shebang && shebang[1]} is in the image`);
    }
  }
  if (hcProgram) {
    const w = resolveProgram(hcProgram, new Map());
    check(w && w.startsWith('copied to'), `HEALTHCHECK program ${hcProgram} is on the image's PATH: ${w}`,
      `HEALTHCHECK program ${hcProgram} is not copied onto the image's PATH`);
  }

  // ---- Secrets and labels ---------------------------------------------------------------------------------------------
  for (const s of stages) {
    for (const ins of s.instructions.filter((i) => i.keyword === 'ENV' || i.keyword === 'ARG')) {
      const pairs = [...ins.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)(?:=("[^"]*"|\S*))?/g)];
      for (const [, name, value] of pairs) {
        if (/KEY|SECRET|PASSWORD|TOKEN|CONNECTION_STRING|SAS/i.test(name)) {
          check(!value || value === '""', `${at(ins)}: ${ins.keyword} ${name} carries no value`,
            `${at(ins)}: ${ins.keyword} ${name} bakes a secret-looking value into the image`);
        }
      }
    }
  }
  const labels = runtime.instructions.filter((i) => i.keyword === 'LABEL').map((i) => i.args).join(' ');
  for (const l of ['org.opencontainers.image.title', 'org.opencontainers.image.version', 'org.opencontainers.image.description']) {
    check(labels.includes(l + '='), `runtime stage has LABEL ${l}`);
  }
  const exposes = runtime.instructions.filter((i) => i.keyword === 'EXPOSE');
  if (exposes.length) note(`EXPOSE ${exposes.map((e) => e.args).join(' ')} (document it in docs/docker.md)`);

  return results;
}

module.exports = { checkDockerfile };

if (require.main === module) {
  const root = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));
  const results = checkDockerfile(root, fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
  console.log(`dockerfile checks: ${results.ok} ok, ${results.failed} failed`);
  process.exit(results.failed ? 1 : 0);
}
