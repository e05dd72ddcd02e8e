'use strict';
// Fixture of faults.harness_cleanup: a harness test that starts hcrelay and hcbridge -T and then ends the way
// argv[2] says: "throw" (the test fails), "exit" (process.exit(3) from the test, skipping every clean-up) or "wait"
// (it prints READY and waits for a signal).
const h = require('../../interop/lib/harness');

const how = process.argv[2];
h.run(`orphan fixture (${how})`, async (t) => {
  const relay = await t.startRelay({ logLevel: 'warn' });
  const echo = await t.tcpEchoServer('echo target');
  await t.startDaemon([...relay.daemonArgs(), '-T', `${h.uniqueName('orphans')}:127.0.0.1:${echo.port}`],
                      { name: 'hcbridge -T' });
  if (how === 'throw') throw new Error('deliberate failure after start-up');
  if (how === 'exit') process.exit(3);
  console.log('READY');
  await new Promise(() => {});
}, { timeoutMs: 60000 });
