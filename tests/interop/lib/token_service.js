'use strict';
// A local Microsoft Entra ID token service for tests and demos (never part of the product). It issues RS256 access
// tokens for https://relay.azure.net with its own key, whose JWKS hcrelay loads with --entra-jwks, through every
// acquisition flow hcbridge speaks (reference egress-and-identity.md 2.2 and 2.5):
//
//   HTTPS  POST /{tenant}/oauth2/v2.0/token    client_credentials with client_secret (constant-time compare), with a
//                                              certificate assertion (signature, x5t / x5t#S256, aud, iss = sub,
//                                              lifetime <= 600 s, jti never reused), or with a federated token that
//                                              must equal the client's token file at request time
//   HTTP   GET  /metadata/identity/oauth2/token IMDS (Metadata: true; client_id picks a user-assigned identity)
//   HTTP   GET  /arc/token                     Azure Arc: 401 + WWW-Authenticate Basic realm=<key file>, then the
//                                              file's contents as Basic credentials
//   HTTP   GET  /appservice/token              App Service / Container Apps (X-IDENTITY-HEADER)
//
// Scripted failures: script(kind, [{status, retryAfter, body}, {delayMs}, {drop: true}, ...]) answers the next
// requests of `kind` (token, imds, arc, appservice) that way, one step per request; down(true) refuses every request
// with a dropped connection until down(false). Counters: stats.
//
// Usage from a test: const ts = await TokenService.start({ tenant, certFile, keyFile, dir, clients, identities });
// CLI (demo): node token_service.js --tenant T --cert C --key K --dir D --clients clients.json

const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const https = require('node:https');
const path = require('node:path');

const RELAY_RESOURCE = 'https://relay.azure.net';
const RELAY_SCOPE = 'https://relay.azure.net/.default';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const b64url = (buf) => Buffer.from(buf).toString('base64url');

function oauthError(res, status, error, description) {
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ error, error_description: description }));
}

function readBody(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c) => {
      body += c;
      if (body.length > limit) reject(new Error('body too large'));
    });
    req.on('end', () => resolve(body));
    req.on('error', reject);
  });
}

function safeEqual(a, b) {
  const x = Buffer.from(String(a));
  const y = Buffer.from(String(b));
  return x.length === y.length && crypto.timingSafeEqual(x, y);
}

class TokenService {
  // opts: tenant; certFile/keyFile (TLS of the token endpoint); dir (jwks.json, Arc key files); lifetime (s, default
  // 3600); audience (default https://relay.azure.net); onSecret(s) (registers every secret and token it handles);
  // clients: { clientId: { oid, secret?, certFile?, federatedFile? } }; identities: { system: oid, [clientId]: oid }
  constructor(opts) {
    this.opts = { lifetime: 3600, audience: RELAY_RESOURCE, clients: {}, identities: {}, onSecret: () => {}, ...opts };
    this.signingKey = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.kid = b64url(crypto.randomBytes(12));
    this.usedJti = new Set();
    this.scripts = { token: [], imds: [], arc: [], appservice: [] };
    this.isDown = false;
    this.stats = { issued: 0, refused: 0, scripted: 0, dropped: 0, byKind: {}, requests: [] };
    this.arcDir = path.join(opts.dir, 'azcmagent-tokens');
    fs.mkdirSync(this.arcDir, { recursive: true, mode: 0o700 });
    this.identityHeader = b64url(crypto.randomBytes(24));
    this.opts.onSecret(this.identityHeader);
    this.jwksFile = path.join(opts.dir, 'jwks.json');
    fs.writeFileSync(this.jwksFile, JSON.stringify(this.jwks()));
  }

  static async start(opts) {
    const ts = new TokenService(opts);
    await ts.listen();
    return ts;
  }

  jwks() {
    const jwk = this.signingKey.publicKey.export({ format: 'jwk' });
    return { keys: [{ kty: 'RSA', use: 'sig', kid: this.kid, n: jwk.n, e: jwk.e }] };
  }

  async listen() {
    const tls = { cert: fs.readFileSync(this.opts.certFile), key: fs.readFileSync(this.opts.keyFile) };
    this.sockets = new Set();
    const track = (server) => server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.httpsServer = https.createServer(tls, (req, res) => this.route(req, res, 'https'));
    this.httpServer = http.createServer((req, res) => this.route(req, res, 'http'));
    track(this.httpsServer);
    track(this.httpServer);
    await Promise.all([this.httpsServer, this.httpServer].map((s) => new Promise((resolve, reject) => {
      s.once('error', reject);
      s.listen(0, '127.0.0.1', resolve);
    })));
    this.httpsPort = this.httpsServer.address().port;
    this.httpPort = this.httpServer.address().port;
    this.authorityHost = `https://127.0.0.1:${this.httpsPort}/`;
    this.tokenUrl = `${this.authorityHost}${this.opts.tenant}/oauth2/v2.0/token`;
    this.imdsHost = `http://127.0.0.1:${this.httpPort}`;
    this.arcEndpoint = `http://127.0.0.1:${this.httpPort}/arc/token`;
    this.appServiceEndpoint = `http://127.0.0.1:${this.httpPort}/appservice/token`;
  }

  async close() {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.httpsServer, this.httpServer].map((s) => new Promise((resolve) => s.close(() => resolve()))));
  }

  script(kind, steps) {
    this.scripts[kind].push(...steps);
  }

  down(on) {
    this.isDown = on;
  }

  // An access token for `oid`, lifetime seconds from now.
  issue(oid, kind, { lifetime = this.opts.lifetime, audience = this.opts.audience, appid } = {}) {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      aud: audience, iss: `https://sts.windows.net/${this.opts.tenant}/`, iat: now, nbf: now, exp: now + lifetime,
      oid, sub: oid, tid: this.opts.tenant, appid: appid || oid, ver: '1.0',
    };
    const input = `${b64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: this.kid }))}.${b64url(JSON.stringify(claims))}`;
    const token = `${input}.${b64url(crypto.sign('sha256', Buffer.from(input), this.signingKey.privateKey))}`;
    this.opts.onSecret(token);
    this.stats.issued++;
    this.stats.byKind[kind] = (this.stats.byKind[kind] || 0) + 1;
    return { token, expiresIn: lifetime, expiresOn: now + lifetime };
  }

  // Applies the next scripted step of `kind`; true when it answered the request.
  async scripted(kind, res) {
    if (this.isDown) {
      this.stats.dropped++;
      res.socket.destroy();
      return true;
    }
    const step = this.scripts[kind].shift();
    if (!step) return false;
    this.stats.scripted++;
    if (step.delayMs) await new Promise((r) => setTimeout(r, step.delayMs));
    if (step.drop) {
      res.socket.destroy();
      return true;
    }
    if (!step.status) return false;
    const headers = { 'Content-Type': 'application/json' };
    if (step.retryAfter !== undefined) headers['Retry-After'] = String(step.retryAfter);
    res.writeHead(step.status, headers);
    res.end(step.body || JSON.stringify({ error: 'temporarily_unavailable', error_description: `scripted ${step.status}` }));
    return true;
  }

  async route(req, res, scheme) {
    const url = new URL(req.url, `${scheme}://127.0.0.1`);
    this.stats.requests.push({ path: url.pathname, method: req.method, at: Date.now() });
    try {
      if (scheme === 'https' && req.method === 'POST' && url.pathname === `/${this.opts.tenant}/oauth2/v2.0/token`)
        return await this.tokenEndpoint(req, res);
      if (scheme === 'https' && /\/oauth2\/v2\.0\/token$/.test(url.pathname))
        return oauthError(res, 400, 'invalid_request', `AADSTS90002: Tenant '${url.pathname.split('/')[1]}' not found.`);
      if (scheme === 'http' && url.pathname === '/metadata/identity/oauth2/token') return await this.imds(req, res, url);
      if (scheme === 'http' && url.pathname === '/arc/token') return await this.arc(req, res, url);
      if (scheme === 'http' && url.pathname === '/appservice/token') return await this.appService(req, res, url);
      oauthError(res, 404, 'not_found', `no such endpoint ${url.pathname}`);
    } catch (e) {
      oauthError(res, 500, 'server_error', e.message);
    }
  }

  refuse(res, status, error, description) {
    this.stats.refused++;
    oauthError(res, status, error, description);
  }

  async tokenEndpoint(req, res) {
    const form = new URLSearchParams(await readBody(req));
    if (await this.scripted('token', res)) return;
    if (form.get('grant_type') !== 'client_credentials')
      return this.refuse(res, 400, 'unsupported_grant_type', 'AADSTS70003: only client_credentials');
    if (form.get('scope') !== RELAY_SCOPE)
      return this.refuse(res, 400, 'invalid_scope', `AADSTS70011: The provided value for scope ${form.get('scope')} is not valid.`);
    const clientId = form.get('client_id');
    const client = this.opts.clients[clientId];
    if (!client) return this.refuse(res, 400, 'unauthorized_client', `AADSTS700016: Application ${clientId} not found.`);
    let problem;
    if (form.has('client_secret')) {
      problem = client.secret && safeEqual(form.get('client_secret'), client.secret) ? null : 'AADSTS7000215: Invalid client secret provided.';
    } else if (form.get('client_assertion_type') === JWT_BEARER && form.has('client_assertion')) {
      problem = this.checkAssertion(client, clientId, form.get('client_assertion'));
    } else {
      problem = 'AADSTS7000216: client_assertion or client_secret is required.';
    }
    if (problem) return this.refuse(res, 401, 'invalid_client', problem);
    const kind = form.has('client_secret') ? 'secret' : client.federatedFile ? 'federated' : 'certificate';
    const t = this.issue(client.oid, kind, { appid: clientId });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ token_type: 'Bearer', expires_in: t.expiresIn, ext_expires_in: t.expiresIn, access_token: t.token }));
  }

  // null when the assertion is acceptable, else the AADSTS-style reason.
  checkAssertion(client, clientId, assertion) {
    if (client.federatedFile) {
      const expected = fs.readFileSync(client.federatedFile, 'utf8').trim();
      return safeEqual(assertion, expected) ? null : 'AADSTS700024: Client assertion is not the current federated token.';
    }
    if (!client.certFile) return 'AADSTS700027: No certificate registered for this client.';
    const parts = assertion.split('.');
    if (parts.length !== 3) return 'AADSTS50027: Invalid JWT token.';
    let header;
    let claims;
    try {
      header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
      claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    } catch {
      return 'AADSTS50027: Invalid JWT token.';
    }
    const cert = new crypto.X509Certificate(fs.readFileSync(client.certFile));
    const sha1 = b64url(crypto.createHash('sha1').update(cert.raw).digest());
    const sha256 = b64url(crypto.createHash('sha256').update(cert.raw).digest());
    if (header['x5t#S256'] !== sha256 && header.x5t !== sha1) return 'AADSTS700027: The certificate thumbprint does not match.';
    const data = Buffer.from(`${parts[0]}.${parts[1]}`);
    const sig = Buffer.from(parts[2], 'base64url');
    let valid = false;
    if (header.alg === 'PS256') {
      valid = crypto.verify('sha256', data, { key: cert.publicKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING,
                                               saltLength: 32 }, sig);
    } else if (header.alg === 'RS256') {
      valid = crypto.verify('sha256', data, cert.publicKey, sig);
    } else {
      return `AADSTS5002730: Unsupported assertion algorithm ${header.alg}.`;
    }
    if (!valid) return 'AADSTS7000274: The client assertion signature is invalid.';
    const now = Math.floor(Date.now() / 1000);
    if (claims.aud !== this.tokenUrl) return `AADSTS700212: The assertion's audience ${claims.aud} is not ${this.tokenUrl}.`;
    if (claims.iss !== clientId || claims.sub !== clientId) return 'AADSTS700023: iss and sub must be the client id.';
    if (typeof claims.exp !== 'number' || typeof claims.nbf !== 'number' || claims.exp - claims.nbf > 600)
      return 'AADSTS700024: The assertion lifetime is missing or longer than 10 minutes.';
    if (claims.nbf > now + 300 || claims.exp <= now) return 'AADSTS700024: The assertion is not within its valid time range.';
    if (!claims.jti || this.usedJti.has(claims.jti)) return 'AADSTS700025: The assertion jti was used before.';
    this.usedJti.add(claims.jti);
    return null;
  }

  identityFor(clientId) {
    const oid = clientId ? this.opts.identities[clientId] : this.opts.identities.system;
    return oid;
  }

  managedAnswer(res, oid, kind, resource, numbersAsStrings) {
    const t = this.issue(oid, kind);
    const body = { access_token: t.token, expires_in: String(t.expiresIn), expires_on: String(t.expiresOn),
                   resource, token_type: 'Bearer' };
    if (!numbersAsStrings) body.expires_in = t.expiresIn;
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  checkResource(res, url) {
    const resource = url.searchParams.get('resource');
    if (resource !== RELAY_RESOURCE && resource !== `${RELAY_RESOURCE}/`) {
      this.refuse(res, 400, 'invalid_resource', `AADSTS500011: The resource ${resource} was not found.`);
      return null;
    }
    return resource;
  }

  async imds(req, res, url) {
    if (await this.scripted('imds', res)) return;
    if (req.headers.metadata !== 'true') return this.refuse(res, 400, 'invalid_request', 'Required metadata header not specified');
    const resource = this.checkResource(res, url);
    if (!resource) return;
    const oid = this.identityFor(url.searchParams.get('client_id'));
    if (!oid) return this.refuse(res, 400, 'invalid_request', 'Identity not found');
    this.managedAnswer(res, oid, 'imds', resource, true);
  }

  async arc(req, res, url) {
    if (await this.scripted('arc', res)) return;
    if (req.headers.metadata !== 'true') return this.refuse(res, 400, 'invalid_request', 'Required metadata header not specified');
    const resource = this.checkResource(res, url);
    if (!resource) return;
    const auth = req.headers.authorization || '';
    const presented = auth.startsWith('Basic ') ? auth.slice(6) : null;
    if (presented && this.arcSecret && safeEqual(presented, this.arcSecret)) {
      this.arcSecret = null; // one use per challenge
      return this.managedAnswer(res, this.opts.identities.system, 'arc', resource, true);
    }
    this.arcSecret = b64url(crypto.randomBytes(32));
    this.opts.onSecret(this.arcSecret);
    const file = path.join(this.arcDir, `${crypto.randomUUID()}.key`);
    fs.writeFileSync(file, this.arcSecret, { mode: 0o600 });
    this.stats.refused++;
    res.writeHead(401, { 'WWW-Authenticate': `Basic realm=${file}` });
    res.end();
  }

  async appService(req, res, url) {
    if (await this.scripted('appservice', res)) return;
    if (!safeEqual(req.headers['x-identity-header'] || '', this.identityHeader))
      return this.refuse(res, 401, 'unauthorized', 'X-IDENTITY-HEADER is missing or wrong');
    const resource = this.checkResource(res, url);
    if (!resource) return;
    const oid = this.identityFor(url.searchParams.get('client_id'));
    if (!oid) return this.refuse(res, 400, 'invalid_request', 'Identity not found');
    this.managedAnswer(res, oid, 'appservice', resource, true);
  }
}

module.exports = { TokenService, RELAY_RESOURCE, RELAY_SCOPE };

if (require.main === module) {
  const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
    if (a.startsWith('--')) acc.push([a.slice(2), all[i + 1]]);
    return acc;
  }, []));
  const clients = args.clients ? JSON.parse(fs.readFileSync(args.clients, 'utf8')) : {};
  TokenService.start({ tenant: args.tenant, certFile: args.cert, keyFile: args.key, dir: args.dir,
                       clients: clients.clients || {}, identities: clients.identities || {},
                       lifetime: Number(args.lifetime || 3600) })
    .then((ts) => {
      console.log(`token service: authority ${ts.authorityHost}, IMDS/Arc/App Service on ${ts.imdsHost}, JWKS ${ts.jwksFile}`);
    });
}
