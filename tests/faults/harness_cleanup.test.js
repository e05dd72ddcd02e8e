'use strict';
// The Node test harness (tests/interop/lib/harness.js) stops what it started on every exit path. A fixture test
// (lib/orphan_fixture.js) starts hcrelay and hcbridge -T and then fails, calls process.exit, or is sent SIGTERM
// (through the harness's re-run with NODE_EXTRA_CA_CERTS, whose parent must pass the signal on). Afterwards no
// process that inherited this run's marker variable may be left (found by scanning /proc/*/environ).
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const f = require('./lib/faults');
const { h, assert, ok, until } = f;

const FIXTURE = path.join(__dirname, 'lib', 'orphan_fixture.js');

function marked(marker) {
  const needle = `HCB_ORPHAN_MARKER=${marker}`;
  const found = [];
  for (const pid of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (fs.readFileSync(`/proc/${pid}/environ`, 'latin1').split('\0').includes(needle)) {
        found.push(`${pid} ${fs.readlinkSync(`/proc/${pid}/exe`)}`);
      }
    } catch (e) {
      // gone meanwhile, or a zombie
    }
  }
  return found;
}

function startFixture(how, { reexec = false } = {}) {
  const marker = crypto.randomBytes(8).toString('hex');
  const env = { ...process.env, HCB_ORPHAN_MARKER: marker, HCB_TEST_LOG_DIR: '' };
  if (reexec) delete env.NODE_EXTRA_CA_CERTS;
  delete env.HCB_INTEROP_REEXEC;
  const child = spawn(process.execPath, [FIXTURE, how], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b) => { out += b; });
  child.stderr.on('data', (b) => { out += b; });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, marker, exited, output: () => out };
}

async function noneLeft(fx, what) {
  try {
    await until(`${what}: no process of the fixture left`, 10000, () => marked(fx.marker).length === 0);
  } finally {
    for (const p of marked(fx.marker)) process.kill(Number(p.split(' ')[0]), 'SIGKILL');
  }
}

h.run('faults.harness_cleanup: the harness stops hcrelay and hcbridge on failure, process.exit and SIGTERM', async () => {
  for (const how of ['throw', 'exit']) {
    const fx = startFixture(how);
    const { code } = await h.withDeadline(fx.exited, 30000, `fixture (${how}) exit`);
    assert.equal(code, how === 'throw' ? 1 : 3, `fixture (${how}) exit code: ${fx.output()}`);
    await noneLeft(fx, how);
    ok(`${how}: exit ${code}, nothing left running`);
  }
  const fx = startFixture('wait', { reexec: true });
  await until('fixture ready', 30000, () => fx.output().includes('READY'));
  assert.ok(marked(fx.marker).some((p) => p.endsWith('/hcrelay')), 'the fixture runs hcrelay');
  fx.child.kill('SIGTERM');
  const { code, signal } = await h.withDeadline(fx.exited, 15000, 'fixture exit after SIGTERM');
  assert.ok(code !== 0, `fixture exits non-zero after SIGTERM (code ${code}, signal ${signal})`);
  await noneLeft(fx, 'SIGTERM');
  ok(`SIGTERM to the re-running parent: exit ${code}, nothing left running`);
}, { timeoutMs: 100000 });
