'use strict';
// Proof (issue 14 with issue 12): a UDP route dials the relay through the HTTP proxy like a TCP tunnel does. A -T with
// a UDP target and a -L with a UDP binding, both with HTTPS_PROXY set to tinyproxy: a datagram goes through and its
// echo comes back, and tinyproxy logs a CONNECT for the control channel, the rendezvous and the UDP route's sender
// (before the UDP route setup used relay_dial_options, the sender dialled the relay directly: 2 CONNECTs, not 3).
const dgram = require('node:dgram');
const h = require('../interop/lib/harness');
const { startTinyproxy, proxyEnv } = require('./lib/proxies');
const { assert, ok } = h;

async function boundUdp(t, what) {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  t.defer(`close ${what}`, () => new Promise((resolve) => s.close(resolve)));
  return s;
}

async function freeUdpPort() {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise((resolve) => s.close(resolve));
  return port;
}

h.run('udp_through_tinyproxy: a UDP route reaches hcrelay through the proxy', async (t) => {
  const relay = await t.startRelay({ logLevel: 'info' });
  // The relay by name (its certificate is for localhost): tinyproxy logs "CONNECT localhost:PORT".
  const relayArgs = relay.daemonArgs().map((a) => (a === relay.base + '/' ? `wss://localhost:${relay.port}/` : a));
  const echo = await boundUdp(t, 'udp echo target');
  echo.on('message', (msg, from) => echo.send(msg, from.port, from.address));
  const tp = await startTinyproxy(t);
  const env = proxyEnv({ https_proxy: `127.0.0.1:${tp.port}` });
  const hc = h.uniqueName('udpproxy');
  await t.startDaemon([...relayArgs, '-T', `${hc}:echo/127.0.0.1:${echo.address().port}U`], { name: 'hcbridge -T', env });
  const lPort = await freeUdpPort();
  await t.startDaemon([...relayArgs, '-L', `127.0.0.1:${lPort}U/echo:${hc}`], { name: 'hcbridge -L', env });

  const client = await boundUdp(t, 'udp client');
  const got = h.deferred();
  client.on('message', (msg) => got.resolve(msg.toString()));
  client.send(Buffer.from('through the proxy'), lPort, '127.0.0.1');
  assert.equal(await h.withDeadline(got.promise, 15000, 'echo through the UDP route'), 'through the proxy');
  const connects = tp.lines(new RegExp(`Request \\(file descriptor \\d+\\): CONNECT localhost:${relay.port} HTTP/1.1`));
  assert.equal(connects.length, 3, `control channel, rendezvous and the UDP sender through tinyproxy: ${connects.length}`);
  ok('a datagram and its echo went through a UDP route whose three relay connections all crossed tinyproxy');
});
