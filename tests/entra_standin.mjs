// A test stand-in for Microsoft Entra ID's sign-in endpoints (OpenID Connect,
// the v2.0 endpoints), built on the OpenID Provider library `oidc-provider`
// (pinned in package.json).  Test-only: it listens on 127.0.0.1, keeps
// everything in memory and makes no network calls.  Driven from Python by
// tests/entra_standin.py, which documents the behaviour; in short:
//
//   node tests/entra_standin.mjs --port 0 --config FILE
//
//   FILE: {"tenants": ["<tenant id>", ...],
//          "clients": [{"client_id": "...", "client_secret": "...",
//                       "redirect_uris": ["..."]}, ...]}
//
// Each tenant is its own OpenID Provider, with its own RS256 signing key,
// whose issuer has the Entra v2 shape http://127.0.0.1:<port>/<tid>/v2.0
// (Entra: https://login.microsoftonline.com/<tid>/v2.0).  Every client is
// registered in every tenant, as a multi-tenant app registration is.
//
// Sign-in: no session is remembered between authorizations.  An
// authorization request whose login_hint names an account of the tenant signs
// it in at once; otherwise an HTML form (input "login", button #sign-in) asks
// for the account.  Consent is granted without asking.
//
// Test control API (JSON, outside any tenant):
//   PUT    /_accounts/<tid>/<login>  {"oid", "name", "preferred_username",
//                                     "email"?, "tid"?}          -> 204
//   DELETE /_accounts/<tid>/<login>                              -> 204
//   GET    /_health                                              -> 200
//
// After listening it prints the one line "READY <port>" to stdout.  SIGTERM
// (or SIGINT) stops it.  It logs only errors, to stderr.

import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const HOST = '127.0.0.1';
const SCOPES = ['openid', 'profile', 'email'];
const MAX_BODY_BYTES = 64 * 1024;
const INTERACTION_SEGMENT = '/interaction/';

// Entra's v2.0 endpoint paths, below each tenant's issuer path.
// (Entra itself serves them one level up, at /<tid>/oauth2/v2.0/...;
// oidc-provider mounts every endpoint below the issuer's path.)
const ROUTES = {
  authorization: '/oauth2/v2.0/authorize',
  token: '/oauth2/v2.0/token',
  jwks: '/discovery/v2.0/keys',
  end_session: '/oauth2/v2.0/logout',
  userinfo: '/oidc/userinfo',
};

// ---------------------------------------------------------------- start-up

const { Provider, interactionPolicy } = await import('oidc-provider');
const { Prompt } = interactionPolicy;

function fail(message) {
  process.stderr.write(`entra_standin: ${message}\n`);
  process.exit(2);
}

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    config: { type: 'string' },
  },
  strict: true,
});

if (!args.config) {
  fail('--config FILE is required');
}
const port = Number(args.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  fail(`--port must be 0..65535, got ${args.port}`);
}

let config;
try {
  config = JSON.parse(readFileSync(args.config, 'utf8'));
} catch (err) {
  fail(`cannot read --config ${args.config}: ${err.message}`);
}
if (!Array.isArray(config.tenants) || !config.tenants.length
    || !config.tenants.every((t) => typeof t === 'string' && /^[A-Za-z0-9-]+$/.test(t))) {
  fail('config "tenants" must be a non-empty list of tenant ids');
}
if (!Array.isArray(config.clients)
    || !config.clients.every((c) => c && typeof c.client_id === 'string' && typeof c.client_secret === 'string'
      && Array.isArray(c.redirect_uris) && c.redirect_uris.length)) {
  fail('config "clients" must be a list of {client_id, client_secret, redirect_uris}');
}

// ---------------------------------------------------------------- helpers

function htmlEscape(value) {
  return String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${htmlEscape(title)}</title></head>
<body>
${body}
</body>
</html>
`;
}

function send(res, status, body, type = 'application/json') {
  const payload = body === undefined ? '' : (typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, {
    'Content-Type': `${type}; charset=utf-8`,
    'Content-Length': Buffer.byteLength(payload),
    'Cache-Control': 'no-store',
  });
  res.end(payload);
}

function sendHtml(res, status, html) {
  send(res, status, html, 'text/html');
}

class BodyTooLarge extends Error {}

async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      throw new BodyTooLarge(`request body over ${MAX_BODY_BYTES} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sha256Base64url(text) {
  return createHash('sha256').update(text, 'utf8').digest('base64url');
}

// A per-provider in-memory store for oidc-provider's models (sessions,
// interactions, grants, codes, tokens): the adapter interface of
// oidc-provider's configuration "adapter".  Each tenant gets its own, so one
// tenant's codes and sessions are unknown to the others.
function memoryAdapter() {
  const records = new Map(); // `${model}:${id}` -> { payload, expiresAt }
  const sessionIdByUid = new Map();
  const idByUserCode = new Map();
  let writes = 0;

  function sweep() {
    const now = Date.now();
    for (const [key, record] of records) {
      if (record.expiresAt <= now) {
        records.delete(key);
      }
    }
  }

  return class MemoryAdapter {
    constructor(model) {
      this.model = model;
    }

    key(id) {
      return `${this.model}:${id}`;
    }

    async upsert(id, payload, expiresIn) {
      writes += 1;
      if (writes % 256 === 0) {
        sweep();
      }
      const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : Infinity;
      records.set(this.key(id), { payload, expiresAt });
      if (this.model === 'Session' && payload.uid) {
        sessionIdByUid.set(payload.uid, id);
      }
      if (payload.userCode) {
        idByUserCode.set(payload.userCode, id);
      }
    }

    async find(id) {
      const key = this.key(id);
      const record = records.get(key);
      if (!record) {
        return undefined;
      }
      if (record.expiresAt <= Date.now()) {
        records.delete(key);
        return undefined;
      }
      return record.payload;
    }

    async findByUid(uid) {
      const id = sessionIdByUid.get(uid);
      return id === undefined ? undefined : this.find(id);
    }

    async findByUserCode(userCode) {
      const id = idByUserCode.get(userCode);
      return id === undefined ? undefined : this.find(id);
    }

    async consume(id) {
      const record = records.get(this.key(id));
      if (record) {
        record.payload.consumed = Math.floor(Date.now() / 1000);
      }
    }

    async destroy(id) {
      const key = this.key(id);
      const record = records.get(key);
      records.delete(key);
      if (record?.payload.uid && sessionIdByUid.get(record.payload.uid) === id) {
        sessionIdByUid.delete(record.payload.uid);
      }
      if (record?.payload.userCode && idByUserCode.get(record.payload.userCode) === id) {
        idByUserCode.delete(record.payload.userCode);
      }
    }

    async revokeByGrantId(grantId) {
      for (const [key, record] of records) {
        if (record.payload.grantId === grantId) {
          records.delete(key);
        }
      }
    }
  };
}

function signingKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicPart = JSON.stringify({ e: jwk.e, kty: jwk.kty, n: jwk.n });
  return { ...jwk, kid: sha256Base64url(publicPart), alg: 'RS256', use: 'sig' };
}

function clientMetadata(client) {
  const metadata = {
    client_id: client.client_id,
    client_secret: client.client_secret,
    redirect_uris: client.redirect_uris,
    response_types: ['code'],
    grant_types: ['authorization_code'],
    token_endpoint_auth_method: client.token_endpoint_auth_method ?? 'client_secret_post',
    subject_type: 'pairwise',
  };
  if (Array.isArray(client.post_logout_redirect_uris)) {
    metadata.post_logout_redirect_uris = client.post_logout_redirect_uris;
  }
  // oidc-provider wants a sector_identifier_uri for a pairwise client whose
  // redirect URIs are on more than one host.  Its value is never fetched
  // (sectorIdentifierUriValidate below) and plays no part in "sub", which,
  // as in Entra, depends on the account and the app (client id) only.
  if (new Set(client.redirect_uris.map((uri) => new URL(uri).host)).size > 1) {
    metadata.sector_identifier_uri = `https://${HOST}/unused-sector-identifier`;
  }
  return metadata;
}

// ---------------------------------------------------------------- accounts

// tenant id -> Map(login, in lower case -> account)
const accounts = new Map(config.tenants.map((tid) => [tid, new Map()]));

function findAccountRecord(tid, login) {
  const store = accounts.get(tid);
  if (!store || typeof login !== 'string' || !login) {
    return undefined;
  }
  const key = login.toLowerCase();
  if (store.has(key)) {
    return { key, account: store.get(key) };
  }
  for (const [candidate, account] of store) {
    if (account.preferred_username.toLowerCase() === key) {
      return { key: candidate, account };
    }
  }
  return undefined;
}

function validateAccount(body) {
  if (!body || typeof body !== 'object' || Array.isArray(body)) {
    return 'body must be a JSON object';
  }
  for (const name of ['oid', 'name', 'preferred_username']) {
    if (typeof body[name] !== 'string' || !body[name]) {
      return `"${name}" must be a non-empty string`;
    }
  }
  for (const name of ['email', 'tid']) {
    if (body[name] !== undefined && body[name] !== null && typeof body[name] !== 'string') {
      return `"${name}" must be a string or null`;
    }
  }
  return undefined;
}

// ---------------------------------------------------------------- providers

const cookieKeys = [randomBytes(32).toString('base64url')];

function buildTenant(tid, origin) {
  const prefix = `/${tid}/v2.0`;
  const issuer = `${origin}${prefix}`;

  const policy = interactionPolicy.base();
  // Entra accepts prompt=select_account; the sign-in page resolves it.
  policy.add(new Prompt({ name: 'select_account', requestable: true }));

  const provider = new Provider(issuer, {
    adapter: memoryAdapter(),
    clients: config.clients.map(clientMetadata),
    jwks: { keys: [signingKey()] },
    routes: ROUTES,
    responseTypes: ['code'],
    scopes: SCOPES,
    claims: {
      // Entra v2 ID token claims
      // (https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference):
      // tid and ver always; oid, name and preferred_username with "profile";
      // email with "email", when the account has one.
      openid: ['sub', 'tid', 'ver'],
      profile: ['oid', 'name', 'preferred_username'],
      email: ['email'],
    },
    conformIdTokenClaims: false,
    subjectTypes: ['pairwise'],
    async pairwiseIdentifier(ctx, accountId, client) {
      const found = findAccountRecord(tid, accountId);
      return sha256Base64url(`${found ? found.account.oid : accountId}${client.clientId}`);
    },
    sectorIdentifierUriValidate: () => false,
    clientAuthMethods: ['client_secret_post', 'client_secret_basic'],
    enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
    pkce: { required: () => false },
    async findAccount(ctx, id) {
      const found = findAccountRecord(tid, id);
      if (!found) {
        return undefined;
      }
      const account = { ...found.account };
      return {
        accountId: id,
        async claims() {
          return {
            sub: id, // oidc-provider makes it pairwise (pairwiseIdentifier above)
            tid: account.tid ?? tid,
            ver: '2.0',
            oid: account.oid,
            name: account.name,
            preferred_username: account.preferred_username,
            ...(account.email ? { email: account.email } : {}),
          };
        },
      };
    },
    interactions: {
      policy,
      url: (ctx, interaction) => new URL(`${prefix}${INTERACTION_SEGMENT}${interaction.uid}`, ctx.href).href,
    },
    // The session cookie is scoped to the tenant's path, so that tenants on
    // this one host do not see each other's; oidc-provider scopes the
    // interaction cookies to the one sign-in's own paths itself.
    cookies: {
      keys: cookieKeys,
      long: { httpOnly: true, sameSite: 'lax', path: prefix },
      short: { httpOnly: true, sameSite: 'lax' },
    },
    // Nothing outlives an authorization: codes and tokens must not depend on
    // the session, which is ended as soon as a code is issued (see below).
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: 3600,
      AuthorizationCode: 600,
      IdToken: 3600,
      Interaction: 600,
      Session: 600,
      Grant: 3600,
    },
    features: {
      devInteractions: { enabled: false },
      dPoP: { enabled: false },
      pushedAuthorizationRequests: { enabled: false },
      resourceIndicators: { enabled: false },
      userinfo: { enabled: true },
      rpInitiatedLogout: {
        enabled: true,
        async logoutSource(ctx, form) {
          ctx.body = page('Sign out', `${form}
<button type="submit" form="op.logoutForm" id="sign-out" name="logout" value="yes">Sign out</button>`);
        },
        async postLogoutSuccessSource(ctx) {
          ctx.body = page('Signed out', '<p>You have signed out.</p>');
        },
      },
    },
    clientBasedCORS: () => false,
    async renderError(ctx, out) {
      ctx.type = 'html';
      ctx.body = page('Sign-in error', Object.entries(out)
        .map(([key, value]) => `<p><strong>${htmlEscape(key)}</strong>: ${htmlEscape(value)}</p>`)
        .join('\n'));
    },
  });

  provider.on('server_error', (ctx, err) => {
    process.stderr.write(`entra_standin: ${tid}: server error: ${err?.stack ?? err}\n`);
  });

  // No remembered sign-in: once an authorization has been answered (a code,
  // or an error, sent to the client), the session that the sign-in created is
  // destroyed and its cookie cleared, so the next authorization has to sign
  // in again (login_hint or the form), whoever signed in before.
  const interactionUrlPrefix = `${prefix}${INTERACTION_SEGMENT}`;
  provider.use(async (ctx, next) => {
    await next();
    const route = ctx._matchedRouteName;
    if (route !== 'authorization' && route !== 'resume') {
      return;
    }
    const location = ctx.response.get('location');
    if (location && new URL(location, ctx.href).pathname.startsWith(interactionUrlPrefix)) {
      return; // sign-in still under way
    }
    const session = ctx.oidc?.session;
    if (session?.accountId && !session.destroyed) {
      await session.destroy();
      ctx.cookies.set(provider.cookieName('session'), null, {
        path: prefix, httpOnly: true, sameSite: 'lax', overwrite: true,
      });
    }
  });

  return { tid, prefix, issuer, provider, callback: provider.callback() };
}

// ---------------------------------------------------------------- sign-in page

function signInForm(tenant, uid, { error, login } = {}) {
  const action = `${tenant.prefix}${INTERACTION_SEGMENT}${encodeURIComponent(uid)}`;
  return page('Sign in to your account', `<h1>Sign in</h1>
${error ? `<p id="error" role="alert">${htmlEscape(error)}</p>\n` : ''}<form method="post" action="${htmlEscape(action)}" autocomplete="off">
<label for="login">Email, phone, or Skype</label>
<input type="text" id="login" name="login" value="${htmlEscape(login ?? '')}" autofocus>
<button type="submit" id="sign-in">Sign in</button>
</form>`);
}

// Sign in `accountKey` (or, for a consent-only prompt, the signed-in account)
// and grant the requested scopes, then send the browser back to the
// authorization endpoint.
async function finishInteraction(tenant, req, res, details, accountKey) {
  const { provider } = tenant;
  const accountId = accountKey ?? details.session?.accountId;
  const requested = String(details.params.scope ?? '').split(' ').filter((s) => SCOPES.includes(s));

  const grant = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
  const consentGrant = grant && grant.accountId === accountId
    ? grant
    : new provider.Grant({ accountId, clientId: details.params.client_id });
  consentGrant.addOIDCScope(requested.join(' '));
  const missingClaims = details.prompt?.details?.missingOIDCClaims;
  if (Array.isArray(missingClaims) && missingClaims.length) {
    consentGrant.addOIDCClaims(missingClaims);
  }
  const grantId = await consentGrant.save();

  const result = { consent: { grantId }, select_account: {} };
  if (accountKey) {
    result.login = { accountId: accountKey, remember: false };
  }
  await provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
}

async function handleInteraction(tenant, req, res, uid) {
  if (req.method !== 'GET' && req.method !== 'POST') {
    sendHtml(res, 405, page('Method not allowed', '<p>Method not allowed</p>'));
    return;
  }
  let details;
  try {
    details = await tenant.provider.interactionDetails(req, res);
  } catch (err) {
    if (err?.name === 'SessionNotFound') {
      sendHtml(res, 400, page('Sign-in error', `<p>${htmlEscape(err.error_description ?? err.message)}</p>`));
      return;
    }
    throw err;
  }
  if (details.uid !== uid) {
    sendHtml(res, 400, page('Sign-in error', '<p>interaction mismatch</p>'));
    return;
  }

  if (details.prompt.name === 'consent' && details.session?.accountId) {
    await finishInteraction(tenant, req, res, details, undefined);
    return;
  }

  if (req.method === 'GET') {
    const hinted = findAccountRecord(tenant.tid, details.params.login_hint);
    if (hinted) {
      await finishInteraction(tenant, req, res, details, hinted.key);
      return;
    }
    sendHtml(res, 200, signInForm(tenant, uid, { login: details.params.login_hint }));
    return;
  }

  const form = new URLSearchParams(await readBody(req));
  const login = form.get('login') ?? '';
  const found = findAccountRecord(tenant.tid, login.trim());
  if (!found) {
    sendHtml(res, 200, signInForm(tenant, uid, { error: 'unknown account', login }));
    return;
  }
  await finishInteraction(tenant, req, res, details, found.key);
}

// ---------------------------------------------------------------- control API

async function handleControl(req, res, path) {
  if (path === '/_health') {
    if (req.method !== 'GET') {
      send(res, 405, { error: 'method not allowed' });
      return;
    }
    send(res, 200, { status: 'ok', tenants: config.tenants });
    return;
  }
  const match = /^\/_accounts\/([^/]+)\/([^/]+)$/.exec(path);
  if (!match) {
    send(res, 404, { error: 'not found' });
    return;
  }
  let tid;
  let login;
  try {
    tid = decodeURIComponent(match[1]);
    login = decodeURIComponent(match[2]);
  } catch {
    send(res, 400, { error: 'bad percent-encoding' });
    return;
  }
  const store = accounts.get(tid);
  if (!store) {
    send(res, 404, { error: `unknown tenant ${tid}` });
    return;
  }
  if (req.method === 'DELETE') {
    store.delete(login.toLowerCase());
    send(res, 204);
    return;
  }
  if (req.method !== 'PUT') {
    send(res, 405, { error: 'method not allowed' });
    return;
  }
  let body;
  try {
    body = JSON.parse(await readBody(req));
  } catch (err) {
    send(res, err instanceof BodyTooLarge ? 413 : 400, { error: `bad JSON body: ${err.message}` });
    return;
  }
  const problem = validateAccount(body);
  if (problem) {
    send(res, 400, { error: problem });
    return;
  }
  store.set(login.toLowerCase(), {
    oid: body.oid,
    name: body.name,
    preferred_username: body.preferred_username,
    email: body.email ?? undefined,
    tid: body.tid ?? undefined,
  });
  send(res, 204);
}

// ---------------------------------------------------------------- server

const tenants = new Map();

async function route(req, res) {
  const rawUrl = req.url ?? '/';
  const queryAt = rawUrl.indexOf('?');
  const path = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);

  if (path.startsWith('/_')) {
    await handleControl(req, res, path);
    return;
  }

  const tid = path.split('/')[1];
  const tenant = tenants.get(tid);
  if (!tenant || !(path === tenant.prefix || path.startsWith(`${tenant.prefix}/`))) {
    send(res, 404, { error: 'not found' });
    return;
  }

  const inner = path.slice(tenant.prefix.length) || '/';
  if (inner.startsWith(INTERACTION_SEGMENT)) {
    const uid = inner.slice(INTERACTION_SEGMENT.length);
    if (uid && !uid.includes('/')) {
      await handleInteraction(tenant, req, res, uid);
      return;
    }
  }

  // Mount the provider at the tenant prefix the way Express's app.use(prefix)
  // does: req.url loses the prefix, req.originalUrl keeps it.  oidc-provider
  // builds its endpoint URLs (discovery, redirects) from the difference of
  // the two; without originalUrl they would lose the prefix.
  req.originalUrl = rawUrl;
  req.url = `${inner}${queryAt === -1 ? '' : rawUrl.slice(queryAt)}`;
  tenant.callback(req, res);
}

const server = createServer((req, res) => {
  route(req, res).catch((err) => {
    process.stderr.write(`entra_standin: ${req.method} ${req.url}: ${err?.stack ?? err}\n`);
    if (!res.headersSent) {
      send(res, err instanceof BodyTooLarge ? 413 : 500, { error: String(err?.message ?? err) });
    } else {
      res.destroy();
    }
  });
});

server.on('error', (err) => fail(`cannot listen on ${HOST}:${port}: ${err.message}`));

server.listen(port, HOST, async () => {
  const actual = server.address().port;
  const origin = `http://${HOST}:${actual}`;
  try {
    for (const tid of config.tenants) {
      const tenant = buildTenant(tid, origin);
      // oidc-provider checks a client's metadata when the client is first
      // used; check them all now, so that a bad one fails the start-up.
      for (const client of config.clients) {
        await tenant.provider.Client.find(client.client_id);
      }
      tenants.set(tid, tenant);
    }
  } catch (err) {
    fail(`cannot configure the providers: ${err?.error_description ?? ''} ${err?.stack ?? err}`);
  }
  process.stdout.write(`READY ${actual}\n`);
});

function stop() {
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
