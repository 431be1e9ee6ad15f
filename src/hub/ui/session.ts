// Who is browsing the web UI and what they may do. The hub's own users (the htpasswd file) and
// access rules (auth.access, auth.anonymous in the config), as the API applies them: a signed-in
// user's actions on a repository are what a token for it would grant. Signing in is a form (POST
// /login) checked against the htpasswd file; the session is a cookie holding an HS256 JWT signed
// with the store's token key (as the API's tokens, with its own audience so neither is taken for
// the other), HttpOnly, SameSite=Strict. State-changing forms carry a token derived from the
// session (HMAC), and the routes check Origin as well: a cross-site request has neither.
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { HubConfig } from '../config.js';
import { allowedActions, type Action } from '../auth/access.js';
import { LoginLimiter } from '../auth/limiter.js';

export const SESSION_COOKIE = 'cunik_hub_session';
export const SESSION_HOURS = 12;
const ALL: Action[] = ['pull', 'push', 'delete'];

export interface UiAccess {
  /** Is there any sign-in (an auth section in the config)? Without one everyone may do everything. */
  readonly signIn: boolean;
  /** The signed-in user a session cookie names, or undefined (anonymous, expired, forged, removed user). */
  user(cookie: string | undefined): Promise<string | undefined>;
  actions(user: string | undefined, repository: string): Set<Action>;
  /**
   * A new session's cookie value, undefined for a wrong user name or password, or the seconds to
   * wait when this address has failed too often (the API's limiter: the password is not checked).
   */
  login(user: string, password: string, ip: string): Promise<{ cookie: string } | { retryAfter: number } | undefined>;
  /** The form token for a session (or for no session). */
  formToken(cookie: string | undefined): string;
  checkFormToken(token: string | undefined, cookie: string | undefined): boolean;
}

/** The session cookie's value from a Cookie header. */
export function sessionCookie(header: string | undefined): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

/** The Set-Cookie value that starts (value) or ends (undefined) a session. */
export function setCookie(value: string | undefined, secure: boolean): string {
  const attrs = `Path=/; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
  return value === undefined ? `${SESSION_COOKIE}=; Max-Age=0; ${attrs}` : `${SESSION_COOKIE}=${value}; Max-Age=${SESSION_HOURS * 3600}; ${attrs}`;
}

/**
 * Is a state-changing request from one of the hub's own pages? Origin (or else Referer) must name
 * this host; Sec-Fetch-Site, when sent, must be same-origin. Non-browser clients send none of them
 * (they are not a cross-site risk) and still need the form token.
 */
export function sameOrigin(h: { host?: string; origin?: string; referer?: string; 'sec-fetch-site'?: string }): boolean {
  const hostOf = (u: string): string | undefined => {
    try {
      return new URL(u).host;
    } catch {
      return undefined;
    }
  };
  if (h.host === undefined) return false;
  if (h['sec-fetch-site'] !== undefined && h['sec-fetch-site'] !== 'same-origin') return false;
  if (h.origin !== undefined) return h.origin !== 'null' && hostOf(h.origin) === h.host;
  if (h.referer !== undefined) return hostOf(h.referer) === h.host;
  return true;
}

/** jose and the htpasswd reader (bcrypt) are loaded only for a hub with users. */
export async function createUiAccess(config: HubConfig, key: Uint8Array, limiter = new LoginLimiter()): Promise<UiAccess> {
  const auth = config.auth;
  const audience = `${auth?.service ?? 'cunik-hub'}-ui`;
  const jose = auth && (await import('jose'));
  const users = auth && new (await import('../auth/htpasswd.js')).Htpasswd(auth.htpasswd);
  const withDeletes = (s: Set<Action>): Set<Action> => {
    if (!config.deletes) s.delete('delete');
    return s;
  };
  const mac = (cookie: string | undefined): Buffer => createHmac('sha256', key).update(`cunik-hub-ui-form\0${cookie ?? ''}`).digest();
  return {
    signIn: auth !== undefined,
    async user(cookie) {
      if (!jose || !users || cookie === undefined) return undefined;
      try {
        const { payload } = await jose.jwtVerify(cookie, key, { issuer: 'cunik-hub', audience, algorithms: ['HS256'] });
        const name = payload.sub;
        return typeof name === 'string' && name !== '' && (await users.has(name)) ? name : undefined;
      } catch {
        return undefined;
      }
    },
    actions(user, repository) {
      if (!auth) return withDeletes(new Set(ALL));
      return withDeletes(allowedActions(auth.access, user, repository));
    },
    async login(user, password, ip) {
      if (!jose || !users || user === '') return undefined;
      const r = await limiter.attempt(ip, user, () => users.check(user, password));
      if (!('ok' in r)) return r;
      if (!r.ok) return undefined;
      const now = Math.floor(Date.now() / 1000);
      const cookie = await new jose.SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('cunik-hub').setAudience(audience).setSubject(user)
        .setIssuedAt(now).setExpirationTime(now + SESSION_HOURS * 3600).sign(key);
      return { cookie };
    },
    formToken(cookie) {
      return mac(cookie).toString('base64url');
    },
    checkFormToken(token, cookie) {
      if (token === undefined) return false;
      const want = mac(cookie);
      const got = Buffer.from(token, 'base64url');
      return got.length === want.length && timingSafeEqual(got, want);
    },
  };
}
