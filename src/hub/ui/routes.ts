// The web UI's HTTP side, a Fastify plugin of its own inside the hub's server: the route table,
// handlers that read the request (session, query, form), ask the catalog or the registry, and
// render a view. Pages are server-rendered HTML; the Content-Security-Policy allows the UI's own
// stylesheet and script only.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { RegistryError } from '../errors.js';
import { checkDigest, checkName, checkTag } from '../names.js';
import type { Registry } from '../registry.js';
import { SCRIPT, STYLE } from './assets.js';
import type { HubCatalog } from './catalog.js';
import { isEmptySearch, matchesSearch, pageOf, parseSearch, splitReference } from './model.js';
import { sameOrigin, sessionCookie, setCookie, type UiAccess } from './session.js';
import { errorPage, imagePage, listPage, loginPage, repoHref, repoPage, type Viewer } from './views.js';

export interface UiDeps {
  catalog: HubCatalog;
  registry: Registry;
  access: UiAccess;
  /** Served over TLS (the session cookie is Secure). */
  secure: boolean;
}

export const CSP = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
export const PAGE_SIZE = 100;
type Query = Record<string, string | string[] | undefined>;
const one = (v: string | string[] | undefined): string => (Array.isArray(v) ? v[0] ?? '' : v ?? '');
const many = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** An error the UI answers with a page of this status. */
class UiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const STATUS: Partial<Record<string, number>> = { NAME_UNKNOWN: 404, MANIFEST_UNKNOWN: 404, NAME_INVALID: 400, MANIFEST_INVALID: 400, DIGEST_INVALID: 400 };

export function uiRoutes(deps: UiDeps): (app: FastifyInstance) => Promise<void> {
  const { catalog, registry, access } = deps;
  const started = new WeakMap<FastifyRequest, bigint>();

  const viewer = async (req: FastifyRequest): Promise<Viewer> => {
    const cookie = sessionCookie(req.headers.cookie);
    const user = await access.user(cookie);
    return { ...(user !== undefined && { user }), signIn: access.signIn, formToken: access.formToken(cookie) };
  };
  const host = (req: FastifyRequest): string => (req.headers.host ?? 'localhost').slice(0, 255);
  const page = (req: FastifyRequest, reply: FastifyReply, text: string, status = 200): FastifyReply => {
    const t0 = started.get(req);
    if (t0 !== undefined) reply.header('server-timing', `app;dur=${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)}`);
    return reply.status(status).header('cache-control', 'no-store').type('text/html; charset=utf-8').send(text);
  };
  /** Pull is needed to see a repository: anonymous users are asked to sign in, others refused. */
  const mayPull = (v: Viewer, name: string): void => {
    if (access.actions(v.user, name).has('pull')) return;
    if (v.user === undefined) throw new UiError(401, `Sign in to see ${name}.`);
    throw new UiError(403, `${v.user} may not pull ${name}.`);
  };
  /** A state-changing form: from this hub's own page (Origin) and with the session's form token. */
  const form = (req: FastifyRequest): URLSearchParams => {
    const body = req.body;
    if (!(body instanceof URLSearchParams)) throw new UiError(400, 'This form must be sent as application/x-www-form-urlencoded.');
    const h = req.headers;
    const headers = { ...(h.host !== undefined && { host: h.host }), ...(h.origin !== undefined && { origin: h.origin }), ...(h.referer !== undefined && { referer: h.referer }), ...(typeof h['sec-fetch-site'] === 'string' && { 'sec-fetch-site': h['sec-fetch-site'] }) };
    if (!sameOrigin(headers) || !access.checkFormToken(body.get('csrf') ?? undefined, sessionCookie(h.cookie))) {
      throw new UiError(403, 'Refused: this request did not come from a page of this hub (reload the page and try again).');
    }
    return body;
  };

  return async function ui(app: FastifyInstance): Promise<void> {
    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_req, body, done) => done(null, new URLSearchParams(body as string)));
    app.addHook('onRequest', async (req, reply) => {
      started.set(req, process.hrtime.bigint());
      reply.header('content-security-policy', CSP).header('x-content-type-options', 'nosniff').header('referrer-policy', 'same-origin').header('x-frame-options', 'DENY');
    });
    app.setErrorHandler(async (err, req, reply) => {
      let status = 500;
      let message = 'Internal error.';
      if (err instanceof UiError) [status, message] = [err.status, err.message];
      else if (err instanceof RegistryError) [status, message] = [STATUS[err.code] ?? err.status, err.message];
      else if (typeof (err as { statusCode?: number }).statusCode === 'number' && (err as { statusCode: number }).statusCode < 500) [status, message] = [(err as { statusCode: number }).statusCode, (err as Error).message];
      else process.stderr.write(`cunik-hub: web UI: ${(err as Error).stack ?? String(err)}\n`);
      return page(req, reply, errorPage(await viewer(req), status, message), status);
    });

    app.get('/static/ui.css', async (_req, reply) => reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(STYLE));
    app.get('/static/ui.js', async (_req, reply) => reply.type('text/javascript; charset=utf-8').header('cache-control', 'public, max-age=3600').send(SCRIPT));

    app.get('/', async (req, reply) => {
      const q = req.query as Query;
      const v = await viewer(req);
      const search = { q: one(q['q']).trim(), family: many(q['family']), label: many(q['label']) };
      const terms = parseSearch(search.q, search.family, search.label);
      const visible = (await catalog.summaries()).filter((r) => access.actions(v.user, r.name).has('pull'));
      const hits = isEmptySearch(terms) ? visible : visible.filter((r) => matchesSearch(r, terms));
      return page(req, reply, listPage({ viewer: v, page: pageOf(hits, Number(one(q['page'])) || 1, PAGE_SIZE), search, visible: visible.length, now: Date.now() }));
    });

    app.get('/repositories/*', async (req, reply) => {
      const name = checkName((req.params as { '*': string })['*']);
      const v = await viewer(req);
      mayPull(v, name);
      const summary = await catalog.summary(name);
      return page(req, reply, repoPage({ viewer: v, summary, host: host(req), canDelete: access.actions(v.user, name).has('delete'), now: Date.now() }));
    });

    app.get('/images/*', async (req, reply) => {
      const ref = splitReference((req.params as { '*': string })['*']);
      if (!ref) throw new UiError(404, 'An image page is /images/NAME:TAG or /images/NAME@DIGEST.');
      const name = checkName(ref.name);
      const reference = ref.digest !== undefined ? checkDigest(ref.digest) : checkTag(ref.tag!);
      const v = await viewer(req);
      mayPull(v, name);
      const img = await catalog.image(name, reference);
      return page(req, reply, imagePage({ viewer: v, page: img, ref: reference, host: host(req), canDelete: access.actions(v.user, name).has('delete'), now: Date.now() }));
    });

    app.post('/delete', async (req, reply) => {
      const f = form(req);
      const name = checkName(f.get('repository') ?? '');
      const reference = f.get('reference') ?? undefined;
      if (reference !== undefined) (reference.startsWith('sha256:') ? checkDigest : checkTag)(reference);
      const v = await viewer(req);
      if (!registry.opts.deletes) throw new UiError(405, 'Deletes are disabled on this hub (deletes: false in its config).');
      if (!access.actions(v.user, name).has('delete')) throw new UiError(403, `${v.user ?? 'Anonymous users'} may not delete in ${name}.`);
      if (reference === undefined) await registry.deleteRepository(name);
      else await registry.deleteManifest(name, reference);
      catalog.forget(name);
      return reply.redirect(reference === undefined ? '/' : repoHref(name), 303);
    });

    app.get('/login', async (req, reply) => {
      const v = await viewer(req);
      if (!access.signIn) throw new UiError(404, 'This hub has no users (no auth section in its config): everyone may browse it.');
      return page(req, reply, loginPage(v, { next: safeNext(one((req.query as Query)['next'])) }));
    });

    app.post('/login', async (req, reply) => {
      const f = form(req);
      if (!access.signIn) throw new UiError(404, 'This hub has no users (no auth section in its config).');
      const r = await access.login(f.get('user') ?? '', f.get('password') ?? '', req.ip);
      const next = safeNext(f.get('next') ?? '/');
      if (r === undefined) return page(req, reply, loginPage(await viewer(req), { error: 'Wrong user name or password.', next }), 401);
      if ('retryAfter' in r) {
        const error = `Too many failed sign-ins from this address: try again in ${r.retryAfter} s.`;
        return page(req, reply.header('retry-after', String(r.retryAfter)), loginPage(await viewer(req), { error, next }), 429);
      }
      return reply.header('set-cookie', setCookie(r.cookie, deps.secure)).redirect(next, 303);
    });

    app.post('/logout', async (req, reply) => {
      form(req);
      return reply.header('set-cookie', setCookie(undefined, deps.secure)).redirect('/', 303);
    });
  };
}

/** Where to go after signing in: a path of this hub only (never another site). */
export function safeNext(next: string): string {
  return /^\/(?![/\\])[^\s]*$/.test(next) ? next : '/';
}
