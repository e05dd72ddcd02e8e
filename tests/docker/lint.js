#!/usr/bin/env node
'use strict';
// Lints the Dockerfile offline with two npm linters (installed into tests/docker/node_modules by scripts/setup.sh):
//  - dockerfile-utils 0.16.3 (the parser/validator of the VS Code Docker language service): instructions, flags,
//    JSON forms, HEALTHCHECK arguments. Every diagnostic, error or warning, fails the lint.
//  - dockerfilelint 1.8.0: best practices (apt-get update with rm of the lists, --no-install-recommends, tags, ...).
//    Every finding fails the lint. It has two known defects, worked around here and not in the Dockerfile:
//    it crashes on a HEALTHCHECK without options and rejects --start-period/--start-interval (its option regex stops
//    at the '-'). It is given a copy in which those options are removed (and --interval=30s added where no option
//    is left); line numbers stay the same. It also ignores .dockerfilelintrc, so no rule is switched off.
// Exit: 0 clean, 1 findings, 77 when the linters are not installed (ctest SKIP_RETURN_CODE).
// Usage: node lint.js [DOCKERFILE]      lint (default: the repository's Dockerfile)
//        node lint.js --self-test        show that both linters report known problems and the work-around holds

const fs = require('fs');
const path = require('path');

const here = __dirname;
const file = path.resolve(process.argv[2] && process.argv[2] !== '--self-test' ? process.argv[2] : path.join(here, '..', '..', 'Dockerfile'));
for (const pkg of ['dockerfile-utils', 'dockerfilelint']) {
  if (!fs.existsSync(path.join(here, 'node_modules', pkg, 'package.json'))) {
    console.log(`SKIP: tests/docker/node_modules/${pkg} is missing. Install the linters with:\n` +
      `  (cd ${here} && npm install --no-audit --no-fund --loglevel=error)   # or: bash scripts/setup.sh`);
    process.exit(77);
  }
}
const utils = require(path.join(here, 'node_modules', 'dockerfile-utils'));
const dockerfilelint = require(path.join(here, 'node_modules', 'dockerfilelint'));
const version = (pkg) => require(path.join(here, 'node_modules', pkg, 'package.json')).version;

// Lints a Dockerfile's text; prints the findings (unless quiet) and returns them.
function lint(text, name, quiet = false) {
  const say = quiet ? () => {} : (l) => console.log(l);
  const lines = text.split(/\r?\n/);
  const found = { utils: [], dockerfilelint: [], shimmed: 0, crashed: false };

  // ---- dockerfile-utils ---------------------------------------------------------------------------------------------
  const W = utils.ValidationSeverity.WARNING;
  const settings = {
    deprecatedMaintainer: W, directiveCasing: W, emptyContinuationLine: W, instructionCasing: W,
    instructionCmdMultiple: W, instructionEntrypointMultiple: W, instructionHealthcheckMultiple: W,
    instructionJSONInSingleQuotes: W, instructionWorkdirRelative: W,
  };
  const sev = { 1: 'error', 2: 'warning', 3: 'info', 4: 'hint' };
  for (const d of utils.validate(text, settings)) {
    const line = d.range.start.line + 1;
    say(`dockerfile-utils: ${name}:${line}: ${sev[d.severity] || d.severity}: ${d.message}`);
    say(`    ${lines[line - 1]}`);
    if (d.severity === 1 || d.severity === 2) found.utils.push({ line, message: d.message });
  }
  say(`dockerfile-utils ${version('dockerfile-utils')}: ${found.utils.length} error(s)/warning(s)`);

  // ---- dockerfilelint -----------------------------------------------------------------------------------------------
  // The workaround for its HEALTHCHECK defects; the same number of lines, so its line numbers stay right.
  const fixed = [];
  let inHealthcheck = false;
  for (const line of lines) {
    let l = line;
    if (/^\s*HEALTHCHECK\b/i.test(l)) inHealthcheck = true;
    if (inHealthcheck) {
      const before = l;
      l = l.replace(/\s--start-(period|interval)=\S+/g, '');
      if (/^\s*HEALTHCHECK\s+CMD\b/i.test(l)) l = l.replace(/^(\s*HEALTHCHECK)\s+/i, '$1 --interval=30s ');
      if (l !== before) found.shimmed++;
      if (!/\\\s*$/.test(line)) inHealthcheck = false;
    }
    fixed.push(l);
  }
  let items;
  try {
    items = dockerfilelint.run(path.dirname(file), fixed.join('\n'));
  } catch (e) {
    found.crashed = true;
    items = [{ line: 0, rule: 'crash', title: `dockerfilelint crashed: ${e.message}`, category: 'Possible Bug' }];
  }
  for (const it of items) {
    say(`dockerfilelint: ${name}:${it.line}: ${it.category}: ${it.title} [${it.rule}]`);
    if (it.line) say(`    ${lines[it.line - 1]}`);
    found.dockerfilelint.push(it);
  }
  say(`dockerfilelint ${version('dockerfilelint')}: ${items.length} finding(s)` +
    (found.shimmed ? ` (HEALTHCHECK options adapted on ${found.shimmed} line(s) for its known defects)` : ''));
  found.problems = found.utils.length + found.dockerfilelint.length;
  return found;
}

// --self-test: the linters really run and report, and the HEALTHCHECK work-around neither crashes nor hides them.
function selfTest() {
  let passed = 0;
  let failed = 0;
  const expect = (cond, msg) => { if (cond) { passed++; console.log('ok:   ' + msg); } else { failed++; console.log('FAIL: ' + msg); } };
  const bad = [
    'FROM debian:bookworm-slim',
    'RUN apt-get update && apt-get install -y curl',
    'COPY --frm=build a b',
    'EXPOSE 99999',
    'HEALTHCHECK CMD ["hcbridge", "healthcheck"]',
    'FOO bar',
    '',
  ].join('\n');
  const r = lint(bad, 'self-test.Dockerfile', true);
  expect(r.utils.some((d) => /Unknown flag: frm/.test(d.message)), 'dockerfile-utils reports an unknown COPY flag');
  expect(r.utils.some((d) => /Unknown instruction: FOO/.test(d.message)), 'dockerfile-utils reports an unknown instruction');
  expect(r.dockerfilelint.some((i) => i.rule === 'apt-get_recommends'), 'dockerfilelint reports a missing --no-install-recommends');
  expect(r.dockerfilelint.some((i) => i.rule === 'apt-get_missing_rm'), 'dockerfilelint reports apt lists left in the layer');
  expect(r.dockerfilelint.some((i) => i.rule === 'invalid_port'), 'dockerfilelint reports an invalid EXPOSE port');
  expect(!r.crashed, 'dockerfilelint does not crash on HEALTHCHECK without options (work-around)');
  const good = [
    'FROM debian:bookworm-slim',
    'HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --start-interval=2s --retries=3 \\',
    '    CMD ["hcbridge", "healthcheck"]',
    'HEALTHCHECK CMD ["hcbridge", "healthcheck"]',
    '',
  ].join('\n');
  const g = lint(good, 'self-test-good.Dockerfile', true);
  expect(g.dockerfilelint.length === 0 && !g.crashed, 'HEALTHCHECK with --start-period/--start-interval or without options passes dockerfilelint (work-around)');
  expect(g.utils.some((d) => /only be one HEALTHCHECK/.test(d.message)), 'dockerfile-utils reports a second HEALTHCHECK');
  console.log(`lint self-test: ${passed} ok, ${failed} failed`);
  return failed === 0;
}

if (process.argv[2] === '--self-test') process.exit(selfTest() ? 0 : 1);
const found = lint(fs.readFileSync(file, 'utf8'), path.basename(file));
console.log(found.problems ? `lint: ${found.problems} problem(s) in ${file}` : `lint: ${file} is clean`);
process.exit(found.problems ? 1 : 0);
