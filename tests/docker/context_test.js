#!/usr/bin/env node
'use strict';
// Does the build stage get everything CMake needs? Lays out the files of the build context (.dockerignore applied)
// as the build stage's WORKDIR and COPY instructions place them, runs the stage's `cmake -S ... -B ...` configure
// step on them (absolute paths moved under a temporary root), and compares the targets it defines with a configure of
// the whole repository: a file the Dockerfile forgets to copy (an include(), a subdirectory, a source folder that a
// GLOB would silently find empty) shows up here instead of in a failed or incomplete image build.
// Usage: node context_test.js [REPO_ROOT]

const fs = require('fs');
const os = require('os');
const path = require('path');
const { spawnSync } = require('child_process');
const df = require('./lib/dockerfile');

const root = path.resolve(process.argv[2] || path.join(__dirname, '..', '..'));
const results = { ok: 0, failed: 0 };
function ok(msg) { results.ok++; console.log('ok:   ' + msg); }
function fail(msg) { results.failed++; console.log('FAIL: ' + msg); }
function check(cond, good, bad) { if (cond) ok(good); else fail(bad || good); }

const parsed = df.parseDockerfile(fs.readFileSync(path.join(root, 'Dockerfile'), 'utf8'));
const stage = parsed.stages.find((s) => s.instructions.some((i) => i.keyword === 'RUN' && /\bcmake\s+-S\b/.test(i.args)));
if (!stage) {
  console.log('FAIL: no stage runs `cmake -S`');
  process.exit(1);
}
const ignore = df.readDockerignore(root);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-context-'));
const fsRoot = path.join(tmp, 'root');  // stands for the stage's /
const under = (abs) => path.join(fsRoot, abs);

function copyTree(srcAbs, destAbs) {
  const st = fs.statSync(srcAbs);
  if (st.isDirectory()) {
    fs.mkdirSync(destAbs, { recursive: true });
    for (const e of fs.readdirSync(srcAbs)) copyTree(path.join(srcAbs, e), path.join(destAbs, e));
  } else {
    fs.mkdirSync(path.dirname(destAbs), { recursive: true });
    fs.copyFileSync(srcAbs, destAbs);
  }
}

function configure(src, build) {
  return spawnSync('cmake', ['-G', 'Unix Makefiles', ...src, '-B', build], { encoding: 'utf8', timeout: 60000 });
}

function targets(build) {
  const r = spawnSync('cmake', ['--build', build, '--target', 'help'], { encoding: 'utf8', timeout: 60000 });
  return new Set([...(r.stdout || '').matchAll(/^\.\.\. (\S+)/gm)].map((m) => m[1])
    .filter((t) => /^(hcbridge|hcrelay|hcb_\w+|unit_\w+|integration_tests)$/.test(t)));
}

try {
  // 1. The build context: the repository minus what .dockerignore excludes.
  const ctx = path.join(tmp, 'context');
  const files = df.walk(root, '', df.ignoredDir(ignore)).filter((f) => !df.isIgnored(ignore, f));
  for (const f of files) copyTree(path.join(root, f), path.join(ctx, f));
  ok(`build context: ${files.length} files`);

  // 2. WORKDIR and COPY (from the context) as the stage runs them, up to its cmake configure.
  let workdir = '/';
  let cmakeRun = null;
  for (const ins of stage.instructions) {
    if (ins.keyword === 'WORKDIR') {
      workdir = path.posix.resolve(workdir, ins.args);
      fs.mkdirSync(under(workdir), { recursive: true });
    } else if (ins.keyword === 'COPY' && !ins.flags.from) {
      const { sources, dest } = df.copyParts(ins);
      const destAbs = path.posix.resolve(workdir, dest);
      for (const src of sources) {
        const from = path.join(ctx, src);
        if (!fs.existsSync(from)) { fail(`Dockerfile:${ins.line}: ${src} is not in the build context`); continue; }
        if (fs.statSync(from).isDirectory()) copyTree(from, under(destAbs));  // a directory's contents
        else copyTree(from, dest.endsWith('/') || sources.length > 1 ? under(path.posix.join(destAbs, path.basename(src))) : under(destAbs));
      }
    } else if (ins.keyword === 'RUN' && /\bcmake\s+-S\b/.test(ins.args)) {
      cmakeRun = ins;
      break;
    }
  }

  // 3. The stage's configure command, with absolute paths under the temporary root.
  const words = df.simpleCommands(cmakeRun.args).find((w) => w[0] === 'cmake' && w.includes('-S'));
  const args = words.slice(1).map((w) => (w.startsWith('/') ? under(w) : w));
  const si = args.indexOf('-S');
  const bi = args.indexOf('-B');
  const build = args[bi + 1];
  const rest = args.filter((_, i) => i !== si && i !== si + 1 && i !== bi && i !== bi + 1);
  const r = configure(['-S', args[si + 1], ...rest], build);
  check(r.status === 0, `Dockerfile:${cmakeRun.line}: cmake configure succeeds on the copied files`,
    `Dockerfile:${cmakeRun.line}: cmake configure fails on the copied files:\n${(r.stderr || '').trim()}`);

  // 4. The same targets as a configure of the whole repository.
  const ref = path.join(tmp, 'reference-build');
  const rr = configure(['-S', root, ...rest], ref);
  check(rr.status === 0, 'cmake configure of the whole repository succeeds', `reference configure failed: ${rr.stderr}`);
  if (r.status === 0 && rr.status === 0) {
    const want = targets(ref);
    const got = targets(build);
    const missing = [...want].filter((t) => !got.has(t));
    check(want.size > 0 && missing.length === 0, `the build stage defines all ${want.size} targets: ${[...want].join(' ')}`,
      `the build stage lacks targets ${missing.join(' ')} (files not copied into the image build?)`);
    for (const t of ['hcbridge', 'hcrelay']) check(got.has(t), `the build stage defines ${t}`);
  }
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
console.log(`context checks: ${results.ok} ok, ${results.failed} failed`);
process.exit(results.failed ? 1 : 0);
