'use strict';
// What the daemon's Entra ID tests share: a local token service (lib/token_service.js) with one client per
// credential kind, an hcrelay that verifies its tokens (--entra-jwks, --entra-roles), a client certificate file, and
// the environment each credential kind reads (AZURE_* as the Azure SDKs do).
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const h = require('./harness');
const { TokenService } = require('./token_service');

const TENANT = 'bbbbbbbb-0000-4000-8000-000000000002';
const OID = { secret: 'oid-daemon-secret', cert: 'oid-daemon-cert', federated: 'oid-daemon-federated',
              system: 'oid-daemon-mi', norole: 'oid-daemon-norole' };

// Variables of the test process that would change which credential the daemon picks.
const AMBIENT = /^(AZURE_|IDENTITY_|IMDS_|MSI_|https?_proxy$|HTTPS?_PROXY$|all_proxy$|ALL_PROXY$|no_proxy$|NO_PROXY$)/;

async function entraSetup(t, { lifetime = 3600, roles } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-daemon-entra-'));
  t.defer('remove temp dir', () => fs.rmSync(dir, { recursive: true, force: true }));
  const keyFile = path.join(dir, 'client.key');
  const certFile = path.join(dir, 'client.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=hcbridge-daemon-client',
                           '-keyout', keyFile, '-out', certFile], { stdio: 'ignore' });
  // AZURE_CLIENT_CERTIFICATE_PATH: certificate and key in one PEM, readable by its owner only.
  const bundle = path.join(dir, 'client-bundle.pem');
  fs.writeFileSync(bundle, fs.readFileSync(certFile, 'utf8') + fs.readFileSync(keyFile, 'utf8'), { mode: 0o600 });
  const fedFile = path.join(dir, 'azure-identity-token');
  const rotate = () => fs.writeFileSync(fedFile, h.registerSecret(`fed-${crypto.randomBytes(18).toString('hex')}`));
  rotate();
  const secret = h.registerSecret(`cs~${crypto.randomBytes(18).toString('base64url')}`);
  const certDir = process.env.HCB_TEST_CERT_DIR;
  const caFile = path.join(certDir, 'cert.pem');
  const ts = await TokenService.start({
    tenant: TENANT, dir, lifetime, certFile: caFile, keyFile: path.join(certDir, 'key.pem'), onSecret: h.registerSecret,
    clients: { 'app-secret': { oid: OID.secret, secret }, 'app-cert': { oid: OID.cert, certFile },
               'app-fed': { oid: OID.federated, federatedFile: fedFile },
               'app-norole': { oid: OID.norole, secret } },
    identities: { system: OID.system },
  });
  t.defer('stop token service', () => ts.close());
  const rolesFile = path.join(dir, 'roles.json');
  fs.writeFileSync(rolesFile, JSON.stringify({ tenant_id: TENANT, assignments: roles || [
    OID.secret, OID.cert, OID.federated, OID.system].map((principal) => ({ principal, role: 'Owner', scope: '/' })) }));
  const relay = await t.startRelay({ logLevel: 'debug', extraArgs: ['--entra-jwks', ts.jwksFile, '--entra-roles', rolesFile] });

  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !AMBIENT.test(k)));
  const app = (clientId) => ({ AZURE_TENANT_ID: TENANT, AZURE_CLIENT_ID: clientId, AZURE_AUTHORITY_HOST: ts.authorityHost });
  const env = {
    'client-secret': { ...base, ...app('app-secret'), AZURE_CLIENT_SECRET: secret },
    'client-certificate': { ...base, ...app('app-cert'), AZURE_CLIENT_CERTIFICATE_PATH: bundle },
    'workload-identity': { ...base, ...app('app-fed'), AZURE_FEDERATED_TOKEN_FILE: fedFile },
    'managed-identity (IMDS)': { ...base, AZURE_POD_IDENTITY_AUTHORITY_HOST: ts.imdsHost },
    'managed-identity (App Service)': { ...base, IDENTITY_ENDPOINT: ts.appServiceEndpoint, IDENTITY_HEADER: ts.identityHeader },
    'managed-identity (Arc)': { ...base, IDENTITY_ENDPOINT: ts.arcEndpoint, IMDS_ENDPOINT: ts.imdsHost },
    norole: { ...base, ...app('app-norole'), AZURE_CLIENT_SECRET: secret },
  };
  // The relay part of a config file for these tests: Entra ID even though the relay is on loopback.
  const relayConfig = (entra = {}) => ({ endpoint: `${relay.base}/`, ca_file: caFile, auth: { mode: 'entra' }, entra });
  const configFile = (name, entra) => {
    const file = path.join(dir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ relay: relayConfig(entra) }));
    return file;
  };
  const daemonArgs = ['-e', `${relay.base}/`, '--ca-file', caFile, '--auth', 'entra', '--log-level', 'debug'];
  return { ts, relay, env, daemonArgs, configFile, rotate, secret, dir, OID };
}

// A random payload through 127.0.0.1:port and back (the -T side echoes): resolves when it came back byte-exact.
async function echoThrough(port, size, what) {
  const payload = crypto.randomBytes(size);
  const sock = await h.tcpConnect(port, what);
  const rx = h.readToEnd(sock, { ms: 15000, what });
  await h.writeAll(sock, payload, { end: true });
  const got = await rx;
  sock.destroy();
  h.assert.equal(got.sha256, h.sha256(payload), `${what}: echo SHA-256`);
  return got.length;
}

module.exports = { entraSetup, echoThrough, TENANT, OID };
