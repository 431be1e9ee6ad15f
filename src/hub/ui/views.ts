// The web UI's pages: pure functions from view data to HTML. Everything that comes from an image
// (names, tags, labels, annotations...) goes through the `html` template, which escapes it.
import { ago, bytes } from '../../cli/format/table.js';
import type { Descriptor } from '../media.js';
import type { ImagePage } from './catalog.js';
import { html, seg, withQuery, type Html } from './html.js';
import { families, type PageOf, type RepoSummary } from './model.js';

export interface Viewer {
  user?: string;
  /** Does the hub have users at all (a sign-in link)? */
  signIn: boolean;
  /** The form token of this viewer's session. */
  formToken: string;
}

export const repoHref = (name: string): string => `/repositories/${seg(name)}`;
export const imageHref = (name: string, ref: string): string => (ref.startsWith('sha256:') ? `/images/${seg(name)}@${ref}` : `/images/${seg(name)}:${seg(ref)}`);
const short = (digest: string): string => digest.replace(/^sha256:/, '').slice(0, 12);
const when = (ms: number, now: number): string => (ms > 0 ? ago(new Date(ms).toISOString(), now) : '');
const dash = html`<span class="muted">—</span>`;

function layout(title: string, viewer: Viewer, body: Html, q = ''): string {
  const who = viewer.user !== undefined
    ? html`<span>Signed in as <strong>${viewer.user}</strong></span>
      <form class="inline" method="post" action="/logout"><input type="hidden" name="csrf" value="${viewer.formToken}"><button type="submit">Sign out</button></form>`
    : viewer.signIn ? html`<a href="/login">Sign in</a>` : '';
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · CunikHub</title><link rel="stylesheet" href="/static/ui.css"></head>
<body><header><a class="brand" href="/">CunikHub</a>
<form class="search" method="get" action="/" role="search"><input type="search" name="q" value="${q}" placeholder="Search: name, family:unikraft, label:key=value" aria-label="Search repositories"><button type="submit">Search</button></form>
<div class="who">${who}</div></header>
<main>${body}</main><script src="/static/ui.js" defer></script></body></html>
`.text;
}

function pullLine(host: string, name: string, ref: string): Html {
  const cmd = `cunik pull ${host}/${name}${ref.startsWith('sha256:') ? '@' : ':'}${ref}`;
  return html`<div class="pull"><code data-testid="pull">${cmd}</code><button type="button" data-copy="${cmd}" hidden>Copy</button></div>`;
}

function deleteForm(viewer: Viewer, repository: string, reference: string | undefined, label: string, confirm: string): Html {
  return html`<form class="inline" method="post" action="/delete" data-confirm="${confirm}">
<input type="hidden" name="csrf" value="${viewer.formToken}"><input type="hidden" name="repository" value="${repository}">${reference !== undefined ? html`<input type="hidden" name="reference" value="${reference}">` : ''}
<button type="submit" class="danger">${label}</button></form>`;
}

const familyPills = (fs: string[]): Html => html`${fs.map((f) => html`<a class="pill" href="${withQuery('/', [['family', f]])}">${f}</a>`)}`;

export interface ListView {
  viewer: Viewer;
  page: PageOf<RepoSummary>;
  search: { q: string; family: string[]; label: string[] };
  /** Repositories this viewer may see, before the search. */
  visible: number;
  now: number;
}

export function listPage(v: ListView): string {
  const { page, search } = v;
  const filtered = search.q !== '' || search.family.length > 0 || search.label.length > 0;
  const terms = [...(search.q ? [`"${search.q}"`] : []), ...search.family.map((f) => `family ${f}`), ...search.label.map((l) => `label ${l}`)];
  const rows = page.items.map((r) => {
    const latest = [...r.tags].sort((a, b) => b.pushedMs - a.pushedMs)[0];
    return html`<tr><td><a href="${repoHref(r.name)}">${r.name}</a></td><td class="num">${r.tags.length}</td>
<td>${familyPills(families(r))}</td><td>${latest ? html`<a href="${imageHref(r.name, latest.tag)}">${latest.tag}</a>` : dash}</td><td>${when(r.updatedMs, v.now)}</td></tr>`;
  });
  const nav = (p: number, text: string): Html =>
    html`<a href="${withQuery('/', [['q', search.q], ...search.family.map((f): [string, string] => ['family', f]), ...search.label.map((l): [string, string] => ['label', l]), ['page', String(p)]])}">${text}</a>`;
  const body = html`<h1>Repositories</h1>
<p class="filters" data-testid="count">${filtered ? html`${page.total} of ${v.visible} repositories match ${terms.join(', ')} · <a href="/">clear</a>` : html`${page.total} ${page.total === 1 ? 'repository' : 'repositories'}`}</p>
${page.items.length === 0 ? html`<p class="notice">${filtered ? 'No repository matches.' : v.viewer.signIn && v.viewer.user === undefined ? html`No repository is open to anonymous users. <a href="/login">Sign in</a> to see more.` : 'No repository has been pushed yet.'}</p>`
    : html`<table data-testid="repositories"><thead><tr><th>Repository</th><th class="num">Tags</th><th>Family</th><th>Latest tag</th><th>Updated</th></tr></thead><tbody>${rows}</tbody></table>`}
${page.pages > 1 ? html`<nav class="pages">${page.page > 1 ? nav(page.page - 1, '← Previous') : ''}<span>Page ${page.page} of ${page.pages}</span>${page.page < page.pages ? nav(page.page + 1, 'Next →') : ''}</nav>` : ''}`;
  return layout('Repositories', v.viewer, body, search.q);
}

export interface RepoView {
  viewer: Viewer;
  summary: RepoSummary;
  host: string;
  canDelete: boolean;
  now: number;
}

export function repoPage(v: RepoView): string {
  const { summary: r } = v;
  const first = r.tags.find((t) => t.tag === 'latest') ?? r.tags[0];
  const rows = r.tags.map((t) => html`<tr data-tag="${t.tag}"><td><a href="${imageHref(r.name, t.tag)}">${t.tag}</a></td><td><code>${short(t.digest)}</code></td>
<td>${t.family !== undefined ? familyPills([t.family]) : dash}</td><td>${t.boot ?? dash}</td><td>${t.platforms.join(', ') || dash}</td><td class="num">${bytes(t.size)}</td><td>${when(t.pushedMs, v.now)}</td>
${v.canDelete ? html`<td>${deleteForm(v.viewer, r.name, t.tag, 'Delete', `Delete the tag ${t.tag}?`)}</td>` : ''}</tr>`);
  const body = html`<p class="muted"><a href="/">Repositories</a> /</p><h1>${r.name}</h1>
${first ? pullLine(v.host, r.name, first.tag) : ''}
<h2>Tags</h2>
${r.tags.length === 0 ? html`<p class="notice">This repository has no tags.</p>`
    : html`<table data-testid="tags"><thead><tr><th>Tag</th><th>Digest</th><th>Family</th><th>Boot</th><th>Platform</th><th class="num">Size</th><th>Pushed</th>${v.canDelete ? html`<th></th>` : ''}</tr></thead><tbody>${rows}</tbody></table>`}
${v.canDelete ? html`<h2>Danger zone</h2><div>${deleteForm(v.viewer, r.name, undefined, 'Delete repository', `Delete the repository ${r.name} with all its tags?`)}</div>` : ''}`;
  return layout(r.name, v.viewer, body);
}

const kv = (m: Record<string, string>, testid: string): Html => {
  const keys = Object.keys(m).sort();
  return html`<table data-testid="${testid}"><thead><tr><th>Key</th><th>Value</th></tr></thead><tbody>${keys.map((k) => html`<tr><td><code>${k}</code></td><td><code>${m[k]!}</code></td></tr>`)}</tbody></table>`;
};

const list = (xs: string[]): Html | string => (xs.length > 0 ? html`${xs.map((x, i) => html`${i > 0 ? ' ' : ''}<code>${x}</code>`)}` : dash);

function referrerRows(name: string, refs: Descriptor[]): Html {
  return html`${refs.map((r) => html`<tr><td>${r.artifactType ?? dash}</td><td><a href="${imageHref(name, r.digest)}"><code>${short(r.digest)}</code></a></td><td class="num">${bytes(r.size)}</td>
<td>${Object.entries(r.annotations ?? {}).map(([k, x]) => html`<div><code>${k}</code>: <code>${x}</code></div>`)}</td></tr>`)}`;
}

export interface ImageView {
  viewer: Viewer;
  page: ImagePage;
  ref: string;
  host: string;
  canDelete: boolean;
  now: number;
}

export function imagePage(v: ImageView): string {
  const { page: p, ref } = v;
  const d = p.details;
  const byDigest = ref.startsWith('sha256:');
  const title = byDigest ? `${p.name}@${short(ref)}` : `${p.name}:${ref}`;
  const fact = (label: string, value: Html | string | number | undefined, id: string): Html =>
    html`<dt>${label}</dt><dd data-fact="${id}">${value === undefined || value === '' ? dash : value}</dd>`;
  const image = d.kind === 'image';
  const facts = html`<dl class="facts">
${fact('Family', d.family !== undefined ? familyPills([d.family]) : undefined, 'family')}
${d.format !== undefined ? fact('Format', d.format === 'kraftkit' ? 'KraftKit package (run by Cunik as a unikraft image)' : 'urunc image (run by Cunik through its annotations)', 'format') : ''}
${image ? html`${fact('Boot protocol', d.boot, 'boot')}${fact('Kernel size', p.kernelBytes !== undefined ? `${bytes(p.kernelBytes)} (${p.kernelBytes} bytes)` : undefined, 'kernel')}
${fact('Default args', list(d.args), 'args')}${fact('Memory', d.memoryMiB !== undefined ? `${d.memoryMiB} MiB` : undefined, 'memory')}${fact('CPUs', d.cpus, 'cpus')}
${fact('Exposed ports', list(d.ports), 'ports')}${fact('Volumes', list(d.volumes), 'volumes')}${fact('Environment', list(d.env), 'env')}
${fact('Created', d.created !== undefined ? `${d.created} (${ago(d.created, v.now)})` : undefined, 'created')}${fact('Platform', d.platform, 'platform')}` : ''}
${fact('Digest', html`<code>${d.digest}</code>`, 'digest')}${fact('Media type', html`<code>${d.mediaType}</code>`, 'mediatype')}
${d.artifactType !== undefined ? fact('Artifact type', html`<code>${d.artifactType}</code>`, 'artifacttype') : ''}
${d.subject !== undefined ? fact('Refers to', html`<a href="${imageHref(p.name, d.subject)}"><code>${d.subject}</code></a>`, 'subject') : ''}
${fact('Size', `${bytes(d.size)} (${d.size} bytes)`, 'size')}
${fact('Tags', p.tags.length > 0 ? html`${p.tags.map((t) => html`<a class="pill" href="${imageHref(p.name, t)}">${t}</a>`)}` : undefined, 'tags')}
</dl>`;
  const body = html`<p class="muted"><a href="/">Repositories</a> / <a href="${repoHref(p.name)}">${p.name}</a> /</p><h1>${title}</h1>
${pullLine(v.host, p.name, ref)}
${d.problems.map((x) => html`<p class="notice error">${x}</p>`)}
${facts}
${d.kind === 'index' ? html`<h2>Platforms</h2><table data-testid="platforms"><thead><tr><th>Platform</th><th>Manifest</th><th class="num">Size</th></tr></thead><tbody>
${d.children.map((c) => html`<tr><td>${c.platform ?? dash}</td><td><a href="${imageHref(p.name, c.digest)}"><code>${short(c.digest)}</code></a></td><td class="num">${bytes(c.size)}</td></tr>`)}</tbody></table>` : ''}
${image ? html`<h2>Layers</h2><table data-testid="layers"><thead><tr><th>#</th><th>Digest</th><th>Media type</th><th class="num">Size</th></tr></thead><tbody>
${d.layers.map((l, i) => html`<tr><td>${i + 1}</td><td><code>${l.digest}</code></td><td><code>${l.mediaType}</code></td><td class="num">${bytes(l.size)}</td></tr>`)}</tbody></table>` : ''}
${d.foreign.length > 0 ? html`<h2>Other tools' formats</h2><table data-testid="foreign"><thead><tr><th>Format</th><th>Key</th><th>Value</th></tr></thead><tbody>
${d.foreign.map((f) => html`<tr><td>${f.format}</td><td><code>${f.key}</code></td><td><code>${f.value}</code></td></tr>`)}</tbody></table>` : ''}
${Object.keys(d.labels).length > 0 ? html`<h2>Labels</h2>${kv(d.labels, 'labels')}` : ''}
${Object.keys(d.annotations).length > 0 ? html`<h2>Annotations</h2>${kv(d.annotations, 'annotations')}` : ''}
<h2>Referrers</h2>
${p.referrers.length === 0 ? html`<p class="muted" data-testid="no-referrers">No signatures, SBOMs or other artifacts refer to this manifest.</p>`
    : html`<table data-testid="referrers"><thead><tr><th>Artifact type</th><th>Manifest</th><th class="num">Size</th><th>Annotations</th></tr></thead><tbody>${referrerRows(p.name, p.referrers)}</tbody></table>`}
${v.canDelete ? html`<h2>Danger zone</h2><div>${byDigest
    ? deleteForm(v.viewer, p.name, ref, 'Delete manifest', `Delete the manifest ${short(ref)} and every tag naming it?`)
    : deleteForm(v.viewer, p.name, ref, 'Delete tag', `Delete the tag ${ref}?`)}</div>` : ''}`;
  return layout(title, v.viewer, body);
}

export function loginPage(viewer: Viewer, opts: { error?: string; next?: string } = {}): string {
  const body = html`<h1>Sign in</h1>${opts.error !== undefined ? html`<p class="notice error" data-testid="login-error">${opts.error}</p>` : ''}
<form class="login" method="post" action="/login"><input type="hidden" name="csrf" value="${viewer.formToken}"><input type="hidden" name="next" value="${opts.next ?? '/'}">
<label>User name <input name="user" autocomplete="username" required></label><label>Password <input name="password" type="password" autocomplete="current-password" required></label>
<button type="submit">Sign in</button></form>`;
  return layout('Sign in', viewer, body);
}

export function errorPage(viewer: Viewer, status: number, message: string): string {
  const hint = status === 401 && viewer.user === undefined ? html` <a href="/login">Sign in</a>` : '';
  return layout(`Error ${status}`, viewer, html`<h1>${status === 404 ? 'Not found' : status === 401 ? 'Sign-in required' : status === 403 ? 'Not allowed' : 'Error'}</h1><p class="notice error" data-testid="error">${message}${hint}</p><p><a href="/">Back to the repositories</a></p>`);
}
