// A real OpenID provider (oidc-provider) for recvault's single sign-on tests.
//
// node provider.js PORT CALLBACK_URL [HOST]
//
// Issuer http://HOST:PORT (HOST: 127.0.0.1 unless given; it listens on 127.0.0.1). Users and service clients for each recvault role
// (see ACCOUNTS and SERVICES); access tokens are JWTs for the resource
// "urn:recvault" with audience "recvault" carrying "roles" and "regions" claims.
// Client credentials, device flow, PKCE and RP-initiated logout are on; the
// development login and consent pages sign anyone in whose password is "pw".
//
// Test-only endpoints (never part of a real provider):
//   GET  /admin/keys    the private signing keys (so tests can forge tokens) and a
//                       key of no one's (a stranger's), with the public key as PEM
//   POST /admin/rotate  replace every signing key with new ones (old kids vanish)
//   GET  /admin/stats   how often the key set was fetched
//   POST /admin/accounts/ID  set a person's roles and regions (JSON body) from now on
import { createServer } from 'node:http';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import Provider from 'oidc-provider';

const port = Number(process.argv[2]);
const callback = process.argv[3];
const issuer = `http://${process.argv[4] || '127.0.0.1'}:${port}`;
const RESOURCE = 'urn:recvault';
const AUDIENCE = 'recvault';

// person -> claims; "compliance-ph" is the compliance officer limited to the Philippines
const ACCOUNTS = {
  'service-ph': { roles: ['service'], regions: ['PH'] },
  'admin-ph': { roles: ['admin'], regions: ['PH'] },
  'security-ph': { roles: ['security'], regions: ['PH'] },
  'compliance-ph': { roles: ['compliance'], regions: ['PH'] },
  'dpo-ph': { roles: ['dpo'], regions: ['PH'] },
  'compliance-all': { roles: ['compliance'], regions: ['JP', 'PH'] },
  'stranger-role': { roles: ['root'], regions: ['PH'] },
  'no-region': { roles: ['compliance'], regions: [] },
  // changed by the tests (POST /admin/accounts/ID): grants that change or go while signed in
  'mover-ph': { roles: ['admin'], regions: ['PH'] },
  'leaver-ph': { roles: ['admin'], regions: ['PH'] },
};
// service clients (client credentials) -> claims
const SERVICES = {
  'svc-ph': { roles: ['service'], regions: ['PH'] },
  'svc-all': { roles: ['service', 'dpo'], regions: ['JP', 'PH'] },
};

function newKey(kind) {
  const kid = `${kind}-${randomUUID().slice(0, 8)}`;
  const pair = kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = kind === 'rsa' ? 'RS256' : 'ES256';
  return {
    jwk: { ...pair.privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
    pem: pair.publicKey.export({ format: 'pem', type: 'spki' }),
  };
}

let keys = [newKey('rsa'), newKey('ec')];
const stranger = newKey('rsa');
let jwksFetches = 0;

function claimsOf(token) {
  if (token.accountId) return ACCOUNTS[token.accountId] || { roles: [], regions: [] };
  return SERVICES[token.clientId] || {};
}

function build() {
  const provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'recvault-console',
        client_secret: 'console-secret',
        redirect_uris: [callback],
        post_logout_redirect_uris: [callback.replace(/\/console\/.*$/, '/console')],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      {
        client_id: 'recvault-cli',
        application_type: 'native',
        token_endpoint_auth_method: 'none',
        redirect_uris: ['http://127.0.0.1/callback'],
        grant_types: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'],
        response_types: ['code'],
      },
      ...Object.keys(SERVICES).map((id) => ({
        client_id: id,
        client_secret: `${id}-secret`,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
      })),
    ],
    jwks: { keys: keys.map((k) => k.jwk) },
    pkce: { required: () => true },
    findAccount: async (ctx, id) => ({ accountId: id, claims: async () => ({ sub: id }) }),
    extraTokenClaims: async (ctx, token) => claimsOf(token),
    issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
    loadExistingGrant: async (ctx) => {
      // a grant per sign-in, covering what was asked: no consent page for first-party clients
      const grant = new ctx.oidc.provider.Grant({
        clientId: ctx.oidc.client.clientId,
        accountId: ctx.oidc.session.accountId,
      });
      grant.addOIDCScope('openid profile offline_access');
      grant.addResourceScope(RESOURCE, 'recvault');
      await grant.save();
      return grant;
    },
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      rpInitiatedLogout: { enabled: true },
      revocation: { enabled: true },  // recvault logout revokes the CLI's refresh token
      resourceIndicators: {
        enabled: true,
        defaultResource: async () => RESOURCE,
        useGrantedResource: async () => true,
        getResourceServerInfo: async () => ({
          scope: 'recvault',
          audience: AUDIENCE,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    ttl: { AccessToken: 300, ClientCredentials: 300, DeviceCode: 300, Session: 3600 },
  });
  provider.on('server_error', (ctx, err) => console.error('server_error', err));
  return provider;
}

let handler = build().callback();

createServer((req, res) => {
  const json = (body) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  if (req.url === '/admin/keys') {
    return json({ keys: keys.map((k) => ({ jwk: k.jwk, pem: k.pem })), stranger });
  }
  if (req.url === '/admin/rotate' && req.method === 'POST') {
    keys = [newKey('rsa'), newKey('ec')];
    handler = build().callback();
    return json({ kids: keys.map((k) => k.jwk.kid) });
  }
  if (req.url === '/admin/stats') return json({ jwks_fetches: jwksFetches });
  const account = req.url.match(/^\/admin\/accounts\/([\w-]+)$/);
  if (account && req.method === 'POST') {
    let body = '';
    req.on('data', (chunk) => { body += chunk; });
    req.on('end', () => {
      ACCOUNTS[account[1]] = JSON.parse(body);
      json(ACCOUNTS[account[1]]);
    });
    return undefined;
  }
  if (req.url.startsWith('/jwks')) jwksFetches += 1;
  return handler(req, res);
}).listen(port, '127.0.0.1', () => console.log(`listening ${issuer}`));
