'use strict';
// hcbridge with Microsoft Entra ID instead of SAS, end to end on loopback: for every credential kind (client secret,
// client certificate, workload identity, managed identity via IMDS, App Service and Arc) one daemon runs -T and -L
// for one hybrid connection, fetches its token from the local token service, and hcrelay verifies it (RS256, iss,
// aud, the principal's role): 256 KiB are echoed byte-exact through the tunnel, and the token service saw the flow.
// Then a principal without a role: the daemon's error names the role it lacks. Every secret and token handled is
// registered for secrets.scan, which the daemon's debug logs must pass.
const h = require('./lib/harness');
const { entraSetup, echoThrough } = require('./lib/entra_setup');

const { assert, ok } = h;

const KINDS = [
  { kind: 'client-secret', flow: 'secret' },
  { kind: 'client-certificate', flow: 'certificate' },
  { kind: 'workload-identity', flow: 'federated' },
  { kind: 'managed-identity (IMDS)', flow: 'imds' },
  { kind: 'managed-identity (App Service)', flow: 'appservice' },
  { kind: 'managed-identity (Arc)', flow: 'arc' },
];

h.run('daemon_entra: every credential kind end to end through hcrelay verifying Entra tokens', async (t) => {
  const s = await entraSetup(t);
  const echo = await t.tcpEchoServer('echo target');
  for (const { kind, flow } of KINDS) {
    const hc = h.uniqueName('entra');
    const port = await h.freePort();
    const before = s.ts.stats.byKind[flow] || 0;
    // Arc's key directory is where the test's agent writes its challenge files: set in the config file.
    const relayArgs = flow === 'arc' ? ['-c', s.configFile('arc', { arc_key_directory: s.ts.arcDir }), '--log-level', 'debug']
                                     : s.daemonArgs;
    const d = await t.startDaemon([...relayArgs, '-T', `${hc}:127.0.0.1:${echo.port}`, '-L', `${port}:${hc}`],
                                  { name: `hcbridge ${kind}`, env: s.env[kind] });
    await d.waitForLog(new RegExp(`relay authentication: Entra ID ${kind.split(' ')[0]}`), 5000);
    const n = await echoThrough(port, 256 * 1024, `${kind} tunnel`);
    assert.ok((s.ts.stats.byKind[flow] || 0) > before, `${kind}: the token service issued a token through the ${flow} flow`);
    assert.equal(d.matches(/ 401 | 403 /).length, 0, `${kind}: no refusal`);
    await d.stop();
    ok(`${kind}: ${n} bytes echoed byte-exact; token from the ${flow} flow, verified by hcrelay`);
  }

  // A principal whose token is valid but holds no role: the listener's error names the role.
  const hc = h.uniqueName('norole');
  const d = await t.startDaemon([...s.daemonArgs, '-T', `${hc}:127.0.0.1:${echo.port}`],
                                { name: 'hcbridge no role', env: s.env.norole, ready: [/relay authentication: Entra ID/] });
  const m = await d.waitForLog(/control channel refused: 403 Forbidden: .*needs the role (Azure Relay )?Listener/, 15000);
  assert.ok(/oid-daemon-norole/.test(m[0]), 'the error names the principal');
  ok(`no role: "${m[0].replace(/^.*control channel refused: /, '')}"`);
  await d.stop();

  // A wrong tenant and a wrong secret: the token endpoint's answer (status, OAuth error, AADSTS text) is the error.
  const wrongTenant = { ...s.env['client-secret'], AZURE_TENANT_ID: 'cccccccc-0000-4000-8000-000000000003' };
  const wrongSecret = { ...s.env['client-secret'], AZURE_CLIENT_SECRET: h.registerSecret('not-the-client-secret-0123') };
  for (const [what, env, re] of [['wrong tenant', wrongTenant, /answered 400 invalid_request: AADSTS90002: Tenant '\S+' not found/],
                                 ['wrong secret', wrongSecret, /answered 401 invalid_client: AADSTS7000215: Invalid client secret/]]) {
    const bad = await t.startDaemon([...s.daemonArgs, '-T', `${h.uniqueName('bad')}:127.0.0.1:${echo.port}`],
                                    { name: `hcbridge ${what}`, env, ready: [/relay authentication: Entra ID/] });
    const e = await bad.waitForLog(new RegExp(`error .*Entra ID token fetch failed \\(client-secret\\): ${re.source}`), 10000);
    ok(`${what}: "${e.input.replace(/^.*Entra ID token fetch failed/, 'Entra ID token fetch failed')}"`);
    await bad.stop();
  }

  // A token for another resource (an identity platform or proxy that ignores the scope): hcrelay refuses it with 401,
  // and the daemon's error says which audience it got and which scope to ask for.
  s.ts.opts.audience = 'https://servicebus.azure.net';
  const wrongAud = await t.startDaemon([...s.daemonArgs, '-T', `${h.uniqueName('aud')}:127.0.0.1:${echo.port}`],
                                       { name: 'hcbridge wrong audience', env: s.env['client-secret'],
                                         ready: [/relay authentication: Entra ID/] });
  const a = await wrongAud.waitForLog(
    /control channel refused: 401 .*InvalidAudience: The token's audience 'https:\/\/servicebus\.azure\.net' is not https:\/\/relay\.azure\.net \(request the scope https:\/\/relay\.azure\.net\/\.default\)/, 15000);
  ok(`wrong audience: "${a[0].replace(/^.*control channel refused: /, '')}"`);
  await wrongAud.stop();
  s.ts.opts.audience = 'https://relay.azure.net';
  assert.ok(s.ts.stats.issued >= KINDS.length, 'tokens were issued');
}, { timeoutMs: 90000 });
