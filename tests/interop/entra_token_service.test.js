'use strict';
// The local Entra token service (lib/token_service.js) and hcrelay's Entra branch together: every acquisition flow
// issues a token hcrelay accepts for the principal's role; the service's own checks (secret, certificate assertion,
// jti reuse, federated file, IMDS/Arc/App Service shapes) and scripted failures behave as documented.
const { execFileSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const https = require('node:https');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const h = require('./lib/harness');
const { TokenService } = require('./lib/token_service');

const { assert, ok, run, registerSecret } = h;
const TENANT = 'aaaaaaaa-0000-4000-8000-000000000001';
const OID = { secret: 'oid-secret-listener', cert: 'oid-cert-sender', federated: 'oid-federated-norole', system: 'oid-mi-listener' };

function request(url, { method = 'GET', headers = {}, body } = {}) {
  const lib = url.startsWith('https:') ? https : http;
  return h.withDeadline(new Promise((resolve, reject) => {
    const req = lib.request(url, { method, headers, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { text += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  }), 10000, `${method} ${url}`);
}

function form(fields) {
  return { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() };
}

function assertion(ts, clientId, keyPem, certDer, { alg = 'PS256', jti = crypto.randomUUID(), aud = ts.tokenUrl } = {}) {
  const now = Math.floor(Date.now() / 1000);
  const header = alg === 'PS256'
    ? { alg, typ: 'JWT', 'x5t#S256': crypto.createHash('sha256').update(certDer).digest('base64url') }
    : { alg, typ: 'JWT', x5t: crypto.createHash('sha1').update(certDer).digest('base64url') };
  const claims = { aud, iss: clientId, sub: clientId, jti, nbf: now, iat: now, exp: now + 300 };
  const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const key = alg === 'PS256' ? { key: keyPem, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : keyPem;
  return `${input}.${crypto.sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

run('Entra token service flows and hcrelay verifying their tokens', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hcb-entra-'));
  t.defer('remove temp dir', () => fs.rmSync(dir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=hcbridge-test-client',
                           '-keyout', path.join(dir, 'client.key'), '-out', path.join(dir, 'client.pem')], { stdio: 'ignore' });
  const clientKey = fs.readFileSync(path.join(dir, 'client.key'), 'utf8');
  const certDer = new crypto.X509Certificate(fs.readFileSync(path.join(dir, 'client.pem'))).raw;
  const fedFile = path.join(dir, 'federated-token');
  fs.writeFileSync(fedFile, registerSecret(`federated-${crypto.randomBytes(16).toString('hex')}`));
  const secret = registerSecret(`secret-${crypto.randomBytes(16).toString('hex')}`);
  const certDir = process.env.HCB_TEST_CERT_DIR;
  const ts = await TokenService.start({
    tenant: TENANT, dir, certFile: path.join(certDir, 'cert.pem'), keyFile: path.join(certDir, 'key.pem'), onSecret: registerSecret,
    clients: { 'app-secret': { oid: OID.secret, secret }, 'app-cert': { oid: OID.cert, certFile: path.join(dir, 'client.pem') },
               'app-fed': { oid: OID.federated, federatedFile: fedFile } },
    identities: { system: OID.system },
  });
  t.defer('stop token service', () => ts.close());
  const roles = path.join(dir, 'roles.json');
  fs.writeFileSync(roles, JSON.stringify({ tenant_id: TENANT, assignments: [
    { principal: OID.secret, role: 'Listener', scope: '/' }, { principal: OID.system, role: 'Azure Relay Listener', scope: 'mi' },
    { principal: OID.cert, role: 'Sender', scope: 'entra' }] }));
  const relay = await t.startRelay({ extraArgs: ['--entra-jwks', ts.jwksFile, '--entra-roles', roles] });
  const tokenOf = (res) => {
    assert.equal(res.status, 200, `token request: ${res.body}`);
    return JSON.parse(res.body).access_token;
  };

  // Client secret -> Listener on the namespace.
  const listenerToken = tokenOf(await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-secret',
                                                                   client_secret: secret, scope: 'https://relay.azure.net/.default' })));
  const listener = await t.ws8(relay.url('entra', 'listen'), { headers: { ServiceBusAuthorization: listenerToken }, what: 'secret listener' });
  ok('client-secret token opens a control channel');
  const wrong = await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-secret', client_secret: 'nope-nope',
                                                  scope: 'https://relay.azure.net/.default' }));
  assert.equal(wrong.status, 401);
  assert.match(JSON.parse(wrong.body).error_description, /Invalid client secret/);
  const badScope = await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-secret', client_secret: secret,
                                                     scope: 'https://vault.azure.net/.default' }));
  assert.equal(badScope.status, 400);

  // Certificate assertion (PS256 and RS256) -> Sender on 'entra': the listener gets the accept.
  const ps = assertion(ts, 'app-cert', clientKey, certDer);
  const senderToken = tokenOf(await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-cert',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: ps, scope: 'https://relay.azure.net/.default' })));
  const accepted = h.waitFor(listener, 'message', 10000, 'accept on the Entra listener');
  // Nobody answers the accept: the sender stays pending and is dropped at the end.
  const pending = new h.WS8(relay.url('entra', 'connect'), { headers: { ServiceBusAuthorization: senderToken } });
  pending.on('error', () => {});
  t.defer('drop the pending sender', () => pending.terminate());
  const [msg] = await accepted;
  assert.ok(JSON.parse(msg.toString()).accept, 'an accept message');
  ok('certificate (PS256) token connects a sender, offered to the listener');
  const reuse = await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-cert',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: ps, scope: 'https://relay.azure.net/.default' }));
  assert.equal(reuse.status, 401);
  assert.match(JSON.parse(reuse.body).error_description, /jti/);
  const rs = assertion(ts, 'app-cert', clientKey, certDer, { alg: 'RS256' });
  tokenOf(await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-cert',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: rs, scope: 'https://relay.azure.net/.default' })));
  const wrongAud = assertion(ts, 'app-cert', clientKey, certDer, { aud: 'https://login.microsoftonline.com/x/oauth2/v2.0/token' });
  assert.equal((await request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-cert',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: wrongAud, scope: 'https://relay.azure.net/.default' }))).status, 401);
  ok('assertion checks: jti reuse and a foreign audience refused, RS256 accepted');

  // Sender token has no Listener role: 403 naming it.
  await assert.rejects(t.ws8(relay.url('entra', 'listen'), { headers: { ServiceBusAuthorization: senderToken }, what: 'sender as listener', trackClose: false }),
                       /HTTP 403 .*Azure Relay Listener/);
  // Federated: the file's current contents only.
  const fedRequest = (value) => request(ts.tokenUrl, form({ grant_type: 'client_credentials', client_id: 'app-fed',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer', client_assertion: value, scope: 'https://relay.azure.net/.default' }));
  const oldFed = fs.readFileSync(fedFile, 'utf8');
  const fedToken = tokenOf(await fedRequest(oldFed));
  fs.writeFileSync(fedFile, registerSecret(`federated-${crypto.randomBytes(16).toString('hex')}`));
  assert.equal((await fedRequest(oldFed)).status, 401);
  tokenOf(await fedRequest(fs.readFileSync(fedFile, 'utf8')));
  await assert.rejects(t.ws8(relay.url('entra', 'listen'), { headers: { ServiceBusAuthorization: fedToken }, what: 'no-role listener', trackClose: false }),
                       /HTTP 403 .*Azure Relay Listener/);
  ok('federated token: the rotated file is what counts; a principal without a role gets 403 naming the role');

  // IMDS, Arc, App Service shapes.
  const q = 'api-version=2018-02-01&resource=https%3A%2F%2Frelay.azure.net%2F';
  assert.equal((await request(`${ts.imdsHost}/metadata/identity/oauth2/token?${q}`)).status, 400);
  const imds = await request(`${ts.imdsHost}/metadata/identity/oauth2/token?${q}`, { headers: { Metadata: 'true' } });
  assert.equal(typeof JSON.parse(imds.body).expires_in, 'string');
  await t.ws8(relay.url('mi', 'listen'), { headers: { ServiceBusAuthorization: tokenOf(imds) }, what: 'IMDS listener' });
  const challenge = await request(`${ts.arcEndpoint}?${q}`, { headers: { Metadata: 'true' } });
  assert.equal(challenge.status, 401);
  const realm = /^Basic realm=(.+)$/.exec(challenge.headers['www-authenticate'])[1];
  const arc = await request(`${ts.arcEndpoint}?${q}`, { headers: { Metadata: 'true', Authorization: `Basic ${fs.readFileSync(realm, 'utf8')}` } });
  tokenOf(arc);
  assert.equal((await request(`${ts.appServiceEndpoint}?${q}`)).status, 401);
  tokenOf(await request(`${ts.appServiceEndpoint}?${q}`, { headers: { 'X-IDENTITY-HEADER': ts.identityHeader } }));
  ok('IMDS (Metadata header, string expires_in), Arc (401 challenge + key file) and App Service shapes issue valid tokens');

  // Scripted failures, then normal service again; down() drops connections.
  ts.script('imds', [{ status: 429, retryAfter: 1 }, { status: 503 }, { status: 410 }]);
  for (const want of [429, 503, 410]) assert.equal((await request(`${ts.imdsHost}/metadata/identity/oauth2/token?${q}`, { headers: { Metadata: 'true' } })).status, want);
  ts.script('imds', [{ delayMs: 300 }]);
  const slowStart = Date.now();
  tokenOf(await request(`${ts.imdsHost}/metadata/identity/oauth2/token?${q}`, { headers: { Metadata: 'true' } }));
  assert.ok(Date.now() - slowStart >= 300, 'slow answer');
  ts.down(true);
  await assert.rejects(request(`${ts.imdsHost}/metadata/identity/oauth2/token?${q}`, { headers: { Metadata: 'true' } }));
  ts.down(false);
  ok('scripted 429/503/410, a slow answer and a dropped connection');

  // A token for another audience is refused by hcrelay with a clear reason.
  const otherAud = ts.issue(OID.secret, 'test', { audience: 'https://vault.azure.net' }).token;
  await assert.rejects(t.ws8(relay.url('entra', 'listen'), { headers: { ServiceBusAuthorization: otherAud }, what: 'wrong audience', trackClose: false }),
                       /HTTP 401 .*InvalidAudience/);
  ok('wrong audience: 401 InvalidAudience');
});
