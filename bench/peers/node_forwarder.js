'use strict';
// The "Node peer" of the benchmarks: the same job as hcbridge, built on Microsoft's official Node SDK for Hybrid
// Connections (hyco-ws 1.0.5, which bundles ws 1.1.5), written the way a careful user would.
//
//   node node_forwarder.js -L --port P --relay wss://127.0.0.1:R --hc NAME        (sender side, like hcbridge -L)
//   node node_forwarder.js -T --relay wss://127.0.0.1:R --hc NAME --target H:P    (listener side, like hcbridge -T)
//
// The key name is in HCB_BENCH_KEY_NAME and the key in HCB_BENCH_KEY (never on the command line). For wss:// set
// NODE_EXTRA_CA_CERTS to the relay's certificate: hyco-ws has no per-call CA option.
//
// Like hcbridge, it speaks azbridge's stream preamble ({1,0,0,n}+port name, answered with {1,0,0}), so both chains do
// the same round trips. Backpressure both ways: TCP reads pause while more than HIGH_WATER bytes sent to the
// WebSocket are not yet handed to the kernel (send callbacks), and WebSocket reads pause while the TCP socket's
// write() says its buffer is full, until 'drain'. ws 1.1.5 cannot half-close: a local EOF closes the whole WebSocket
// (the benchmark never needs a half-close). Prints one JSON line {"event":"ready"} when it can take traffic.
const net = require('node:net');
const HycoWS = require('hyco-ws');

const HIGH_WATER = 256 * 1024;

function parseArgs(argv) {
  const args = { mode: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-L' || a === '-T') args.mode = a;
    else if (a.startsWith('--')) args[a.slice(2)] = argv[++i];
    else throw new Error(`unexpected argument ${a}`);
  }
  if (!args.mode || !args.relay || !args.hc) {
    throw new Error('usage: -L|-T --relay URL --hc NAME [--port P | --target H:P]');
  }
  return args;
}

function ready(extra) {
  process.stdout.write(JSON.stringify({ event: 'ready', ...extra }) + '\n');
}

// Moves bytes both ways between a TCP socket and an open ws 1.1.5 WebSocket, with backpressure, until either ends.
function splice(sock, ws, firstBytes) {
  let unsent = 0; // bytes given to ws.send whose callback has not run yet
  const finish = () => {
    sock.destroy();
    if (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING) ws.terminate();
  };
  sock.on('data', (data) => {
    unsent += data.length;
    ws.send(data, { binary: true, mask: true }, (err) => {
      if (err) return finish();
      unsent -= data.length;
      if (unsent <= HIGH_WATER && sock.isPaused()) sock.resume();
    });
    if (unsent > HIGH_WATER) sock.pause();
  });
  sock.on('end', () => ws.close(1000)); // ws 1.1.5: no half-close, the whole tunnel ends
  sock.on('error', finish);
  sock.on('close', finish);
  ws.on('message', (data) => {
    if (!sock.write(data)) {
      ws.pause();
      sock.once('drain', () => ws.readyState === ws.OPEN && ws.resume());
    }
  });
  ws.on('close', () => sock.end());
  ws.on('error', finish);
  if (firstBytes && firstBytes.length) ws.emit('message', firstBytes);
  sock.resume();
}

function makeToken(args) {
  const name = process.env.HCB_BENCH_KEY_NAME;
  if (!name) return 'none';
  return HycoWS.createRelayToken(`http://127.0.0.1/${args.hc}`, name, process.env.HCB_BENCH_KEY, 24 * 3600);
}

function localForward(args) {
  const token = makeToken(args);
  const sendUri = `${args.relay}/$hc/${args.hc}?sb-hc-action=connect`;
  const portName = Buffer.from(String(args.port));
  const preamble = Buffer.concat([Buffer.from([1, 0, 0, portName.length]), portName]);
  const server = net.createServer({ pauseOnConnect: true, noDelay: true }, (sock) => {
    sock.setNoDelay(true);
    const ws = HycoWS.relayedConnect(sendUri, token);
    let reply = Buffer.alloc(0);
    const onError = () => sock.destroy();
    ws.on('error', onError);
    ws.on('open', () => ws.send(preamble, { binary: true, mask: true }));
    const onPreambleReply = (data) => {
      reply = Buffer.concat([reply, data]);
      if (reply.length < 3) return;
      ws.removeListener('message', onPreambleReply);
      ws.removeListener('error', onError);
      if (reply[0] !== 1 || reply[1] !== 0 || reply[2] !== 0) return ws.terminate(), sock.destroy();
      splice(sock, ws, reply.subarray(3));
    };
    ws.on('message', onPreambleReply);
    sock.on('error', () => ws.terminate());
  });
  server.maxConnections = 100000;
  server.listen(Number(args.port), '127.0.0.1', () => ready({ mode: '-L', port: server.address().port }));
}

function remoteForward(args) {
  const token = makeToken(args);
  const listenUri = `${args.relay}/$hc/${args.hc}?sb-hc-action=listen`;
  const colon = args.target.lastIndexOf(':');
  const host = args.target.slice(0, colon);
  const port = Number(args.target.slice(colon + 1));
  const server = HycoWS.createRelayedServer({ server: listenUri, token }, (ws) => {
    let head = Buffer.alloc(0);
    const onPreamble = (data) => {
      head = Buffer.concat([head, data]);
      if (head.length < 4 || head.length < 4 + head[3]) return;
      ws.removeListener('message', onPreamble);
      if (head[0] !== 1 || head[2] !== 0) return ws.send(Buffer.from([0, 0, 0]), () => ws.terminate());
      // Hold the sender's bytes until the target is connected: pause the socket, keep what was already parsed.
      const early = [head.subarray(4 + head[3])];
      const onEarly = (d) => early.push(d);
      ws.on('message', onEarly);
      ws.pause();
      const sock = net.connect({ host, port, noDelay: true }, () => {
        ws.removeListener('message', onEarly);
        ws.send(Buffer.from([1, 0, 0]), { binary: true, mask: true });
        ws.resume();
        splice(sock, ws, Buffer.concat(early));
      });
      sock.once('error', () => ws.terminate());
    };
    ws.on('message', onPreamble);
    ws.on('error', () => ws.terminate());
  });
  server.on('listening', () => ready({ mode: '-T' }));
  server.on('error', (e) => process.stderr.write(`control channel: ${e.message || e}\n`));
  process.on('SIGTERM', () => {
    server.close();
    process.exit(0);
  });
}

const args = parseArgs(process.argv.slice(2));
process.on('SIGTERM', () => process.exit(0));
if (args.mode === '-L') localForward(args);
else remoteForward(args);
