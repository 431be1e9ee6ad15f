// Auth for CunikHub: htpasswd users and Docker's token flow. A client refused with
// `WWW-Authenticate: Bearer realm=...,service=...,scope=...` gets a short-lived signed token from
// GET /token (with Basic credentials, or none for anonymous pull), then sends it as Bearer.
// Basic credentials are also taken directly on /v2/ requests (curl). The token key is kept in the
// store, so several hubs over one store accept each other's tokens.
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import type { HubConfig } from '../config.js';
import { regErr } from '../errors.js';
import type { Access, Authorizer } from '../server.js';
import { allowedActions, parseScope, scopeString, type Action, type Scope } from './access.js';
import { Htpasswd } from './htpasswd.js';
import { LoginLimiter } from './limiter.js';
import { tokenKey } from './token-key.js';

type AuthConfig = NonNullable<HubConfig['auth']>;
const ISSUER = 'cunik-hub';
/** How long a refresh (offline) token lives. */
const REFRESH_TTL_SEC = 30 * 24 * 3600;

function basic(req: FastifyRequest): { user: string; password: string } | undefined {
  const h = req.headers.authorization;
  if (!h?.startsWith('Basic ')) return undefined;
  const s = Buffer.from(h.slice(6), 'base64').toString('utf8');
  const colon = s.indexOf(':');
  return colon < 0 ? undefined : { user: s.slice(0, colon), password: s.slice(colon + 1) };
}

export async function createAuth(cfg: AuthConfig, root: string, tls: boolean, limiter = new LoginLimiter()): Promise<Authorizer> {
  const users = new Htpasswd(cfg.htpasswd);
  await users.load();
  /** A password check, refused unchecked (429, Retry-After) after too many failures from this address. */
  const passwordOk = async (req: FastifyRequest, reply: FastifyReply, user: string, password: string): Promise<boolean> => {
    const r = await limiter.attempt(req.ip, user, () => users.check(user, password));
    if ('ok' in r) return r.ok;
    reply.header('retry-after', String(r.retryAfter));
    throw regErr('TOOMANYREQUESTS', `too many failed logins from this address: try again in ${r.retryAfter} s`);
  };
  const key = await tokenKey(root);
  const grant = (user: string | undefined, wanted: Scope[]): Scope[] =>
    wanted.flatMap((s) => {
      if (s.type === 'registry' && s.name === 'catalog') return user !== undefined ? [{ ...s, actions: ['*'] }] : [];
      if (s.type !== 'repository') return [];
      const ok = allowedActions(cfg.access, user, s.name);
      const actions = s.actions.flatMap((a) => (a === '*' ? [...ok] : ok.has(a as Action) ? [a] : []));
      return actions.length > 0 ? [{ ...s, actions }] : [];
    });
  const realm = (req: FastifyRequest): string => cfg.realm ?? `${tls ? 'https' : 'http'}://${req.headers.host ?? 'localhost'}/token`;
  const challenge = (req: FastifyRequest, reply: FastifyReply, access: Access[], error?: string): void => {
    const scope = access.map((a) => scopeString(a)).join(' ');
    reply.header('www-authenticate', `Bearer realm="${realm(req)}",service="${cfg.service}"${scope ? `,scope="${scope}"` : ''}${error ? `,error="${error}"` : ''}`);
  };
  const covers = (granted: Scope[], need: Access): boolean =>
    need.actions.every((a) => granted.some((g) => g.type === need.type && g.name === need.name && (g.actions.includes(a) || g.actions.includes('*'))));

  return {
    routes(app: FastifyInstance) {
      const issue = async (user: string | undefined, wanted: Scope[], offline: boolean) => {
        const access = grant(user, wanted);
        const now = Math.floor(Date.now() / 1000);
        const token = await new SignJWT({ access })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer(ISSUER).setAudience(cfg.service).setSubject(user ?? '')
          .setIssuedAt(now).setNotBefore(now - 1).setExpirationTime(now + cfg.tokenTtlSec)
          .setJti(randomBytes(8).toString('hex'))
          .sign(key);
        // Docker's offline token (docker login asks for one): a refresh token for the refresh_token grant.
        const refresh = offline && user !== undefined
          ? await new SignJWT({ use: 'refresh' }).setProtectedHeader({ alg: 'HS256' }).setIssuer(ISSUER).setAudience(`${cfg.service}/refresh`)
            .setSubject(user).setIssuedAt(now).setExpirationTime(now + REFRESH_TTL_SEC).setJti(randomBytes(8).toString('hex')).sign(key)
          : undefined;
        return { token, access_token: token, expires_in: cfg.tokenTtlSec, issued_at: new Date(now * 1000).toISOString(), ...(refresh !== undefined && { refresh_token: refresh }) };
      };
      const scopesOf = (raw: string | string[] | undefined): Scope[] =>
        (Array.isArray(raw) ? raw : raw ? [raw] : []).flatMap((s) => s.split(' ')).map(parseScope).filter((s): s is Scope => s !== undefined);

      app.get('/token', async (req, reply) => {
        const q = req.query as Record<string, string | string[] | undefined>;
        const wanted = scopesOf(q['scope']);
        const creds = basic(req);
        if (req.headers.authorization !== undefined && !creds) throw regErr('UNAUTHORIZED', 'the token endpoint takes Basic credentials');
        if (creds && !(await passwordOk(req, reply, creds.user, creds.password))) {
          reply.header('www-authenticate', `Basic realm="${cfg.service}"`);
          throw regErr('UNAUTHORIZED', 'wrong user name or password');
        }
        return reply.send(await issue(creds?.user, wanted, q['offline_token'] === 'true'));
      });

      // Docker's OAuth2 form (distribution's token spec, "oauth"): grant_type=password with
      // username/password, or grant_type=refresh_token with a refresh token from either endpoint.
      app.post('/token', async (req, reply) => {
        let text = '';
        for await (const c of req.raw) {
          text += (c as Buffer).toString('utf8');
          if (text.length > 64 * 1024) throw regErr('UNSUPPORTED', 'the token request is larger than 64 KiB', { status: 413 });
        }
        const form = new URLSearchParams(text);
        const wanted = scopesOf(form.getAll('scope'));
        const grantType = form.get('grant_type');
        if (grantType === 'password') {
          const user = form.get('username') ?? '';
          if (!(await passwordOk(req, reply, user, form.get('password') ?? ''))) throw regErr('UNAUTHORIZED', 'wrong user name or password');
          return reply.send(await issue(user, wanted, form.get('access_type') === 'offline'));
        }
        if (grantType === 'refresh_token') {
          let user: string;
          try {
            const { payload } = await jwtVerify(form.get('refresh_token') ?? '', key, { issuer: ISSUER, audience: `${cfg.service}/refresh`, algorithms: ['HS256'] });
            if (payload['use'] !== 'refresh' || typeof payload.sub !== 'string') throw new Error('not a refresh token');
            user = payload.sub;
          } catch {
            throw regErr('UNAUTHORIZED', 'the refresh token is not valid (expired, forged, or from another hub)');
          }
          if (!(await users.has(user))) throw regErr('UNAUTHORIZED', `user ${user} is no longer known`);
          return reply.send(await issue(user, wanted, false));
        }
        throw regErr('UNSUPPORTED', `grant_type must be password or refresh_token, got ${JSON.stringify(grantType ?? '')}`, { status: 400 });
      });
    },

    async check(req, reply, access) {
      const h = req.headers.authorization;
      let user: string | undefined;
      let granted: Scope[];
      if (h?.startsWith('Bearer ')) {
        try {
          const { payload } = await jwtVerify(h.slice(7), key, { issuer: ISSUER, audience: cfg.service, algorithms: ['HS256'] });
          user = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : undefined;
          granted = Array.isArray(payload['access']) ? (payload['access'] as Scope[]) : [];
        } catch (err) {
          challenge(req, reply, access, 'invalid_token');
          const expired = (err as { code?: string }).code === 'ERR_JWT_EXPIRED';
          throw regErr('UNAUTHORIZED', expired ? 'the token has expired: get a new one' : 'the token is not valid (forged, or from another hub)');
        }
      } else if (basic(req)) {
        const c = basic(req)!;
        if (!(await passwordOk(req, reply, c.user, c.password))) {
          challenge(req, reply, access);
          throw regErr('UNAUTHORIZED', 'wrong user name or password');
        }
        user = c.user;
        granted = grant(user, access);
      } else {
        granted = grant(undefined, access);
        // /v2/ and everything anonymous users may not do: ask for credentials.
        if (access.length === 0 || !access.every((a) => covers(granted, a))) {
          challenge(req, reply, access);
          throw regErr('UNAUTHORIZED', 'authentication required');
        }
        return;
      }
      for (const a of access) {
        if (covers(granted, a)) continue;
        // Not in this token: a user the rules allow gets a new challenge (401); others are denied.
        const could = grant(user, [a]);
        if (could.length > 0 && covers(could, a)) {
          challenge(req, reply, access, 'insufficient_scope');
          throw regErr('UNAUTHORIZED', `the token does not grant ${scopeString(a)}`);
        }
        throw regErr('DENIED', `${user ?? 'anonymous'} may not ${a.actions.join('/')} ${a.name}`, { detail: { access: [a] } });
      }
    },
  };
}
