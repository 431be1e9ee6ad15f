// CunikHub's web UI in a real browser: Debian's chromium driven by playwright-core. A hub with two
// users (alice may delete, bob may not) and anonymous pull of public/**; images pushed by Cunik's
// own push path (ImageStore + distribution.push) and, for a KraftKit-style index with an SBOM
// referrer, through the registry API. Screenshots go to test-results/hub-ui/ at the repo root.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashSync } from '@node-rs/bcrypt';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { pack } from 'tar-stream';
import { installRoot } from '../../src/config/defaults.js';
import { push } from '../../src/images/distribution.js';
import { ImageStore } from '../../src/images/store.js';
import { helloKernel } from '../helpers/daemon.js';
import { startHub, type TestHub } from '../helpers/hub.js';

const opts = { timeout: 180_000 };
const shots = join(installRoot(), 'test-results', 'hub-ui');
const XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">';
const sha = (b: Buffer | string): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const basic = (u: string, p: string): string => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const ALICE = basic('alice', 'wonderland');
let hub: TestHub;
let dir: string;
let browser: Browser;
const digests: Record<string, string> = {};

async function api(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${hub.url}${path}`, { ...init, headers: { authorization: ALICE, ...(init.headers as Record<string, string>) } });
}
async function putBlob(name: string, b: Buffer): Promise<string> {
  const r = await api(`/v2/${name}/blobs/uploads/?digest=${sha(b)}`, { method: 'POST', body: new Uint8Array(b), headers: { 'content-type': 'application/octet-stream' } });
  assert.equal(r.status, 201, await r.text());
  return sha(b);
}
/** PUT by tag, or by its own digest when `tag` is undefined. */
async function putManifest(name: string, tag: string | undefined, doc: object): Promise<string> {
  const body = JSON.stringify(doc);
  const r = await api(`/v2/${name}/manifests/${tag ?? sha(body)}`, { method: 'PUT', body, headers: { 'content-type': (doc as { mediaType: string }).mediaType } });
  assert.equal(r.status, 201, await r.text());
  return sha(body);
}

/** A KraftKit-style image: the kernel at /unikraft/bin/kernel, org.unikraft.* annotations, platform qemu/amd64, in an index. */
async function pushKraftKit(name: string): Promise<{ index: string; image: string; kernel: number }> {
  const kernel = readFileSync(join(installRoot(), 'build', 'kernels', 'unikraft.elf'));
  const p = pack();
  p.entry({ name: '/unikraft/bin/kernel', size: kernel.length }, kernel);
  p.finalize();
  const parts: Buffer[] = [];
  for await (const c of p) parts.push(c as Buffer);
  const layer = Buffer.concat(parts);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'qemu', created: '2026-01-01T00:00:00Z', config: {}, rootfs: { type: 'layers', diff_ids: [sha(layer)] } }));
  const ann = { 'org.unikraft.kernel.version': '0.17.0', 'org.unikraft.image.cmdline': XSS };
  const image = await putManifest(name, undefined, {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: await putBlob(name, config), size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: await putBlob(name, layer), size: layer.length }],
    annotations: ann,
  });
  const imageSize = Number((await api(`/v2/${name}/manifests/${image}`, { method: 'HEAD' })).headers.get('content-length'));
  const index = await putManifest(name, 'latest', {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image, size: imageSize, platform: { os: 'qemu', architecture: 'amd64' }, annotations: ann }],
  });
  // An SBOM referring to the image (OCI 1.1 referrers).
  const empty = Buffer.from('{}');
  const sbom = Buffer.from('{"spdxVersion":"SPDX-2.3"}');
  await putManifest(name, undefined, {
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/spdx+json',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await putBlob(name, empty), size: 2 },
    layers: [{ mediaType: 'application/spdx+json', digest: await putBlob(name, sbom), size: sbom.length }],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: image, size: imageSize },
    annotations: { 'org.opencontainers.image.description': `SBOM ${XSS}` },
  });
  return { index, image, kernel: kernel.length };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cunik-hub-ui-'));
  mkdirSync(shots, { recursive: true });
  writeFileSync(join(dir, 'htpasswd'), `alice:${hashSync('wonderland', 4)}\nbob:${hashSync('builder', 4)}\ncarol:${hashSync('singer', 4)}\n`);
  hub = await startHub({
    dir,
    config: `auth:\n  htpasswd: ${join(dir, 'htpasswd')}\n  access:\n    - {user: alice, repository: "**", actions: [pull, push, delete]}\n    - {user: bob, repository: "**", actions: [pull, push]}\n  anonymous:\n    - {repository: "public/**", actions: [pull]}\n`,
  });
  const credentials = { username: 'alice', password: 'wonderland' };
  for (const [ref, args] of [['public/hello:1.0', ['exit=0', XSS]], ['public/hello:2.0', ['exit=2']], ['team/app:v1', ['app']]] as const) {
    // A client store per repository, so each repository's page shows blobs uploaded to it
    // (cross-repository mounts are tested in distribution-mount-auth.test.ts).
    const store = new ImageStore(join(dir, 'client', ref.split(':')[0]!), { knownFamilies: ['generic'] });
    await store.importKernel(helloKernel, `${hub.host}/${ref}`, { family: 'generic', args: [...args], memoryMiB: 32 });
    digests[ref] = (await push(store, `${hub.host}/${ref}`, { credentials })).digest;
  }
  Object.assign(digests, await pushKraftKit('public/kraft'));
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox'] });
});

after(async () => {
  await browser?.close();
  await hub?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** A page whose every script-made dialog other than our delete confirmations is recorded. */
async function newPage(ctx: BrowserContext): Promise<{ page: Page; dialogs: string[] }> {
  const page = await ctx.newPage();
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void (d.message().startsWith('Delete') ? d.accept() : d.dismiss());
  });
  return { page, dialogs };
}
const rows = (page: Page, testid: string): Promise<string[]> => page.locator(`[data-testid=${testid}] tbody tr td:first-child`).allInnerTexts();
const fact = (page: Page, id: string): Promise<string> => page.locator(`[data-fact=${id}]`).innerText();
const noXss = async (page: Page): Promise<void> => assert.equal(await page.evaluate(() => (window as unknown as { __xss?: number }).__xss), undefined);

async function signIn(page: Page, user: string, password: string): Promise<void> {
  await page.goto(`${hub.url}/login`);
  await page.fill('input[name=user]', user);
  await page.fill('input[name=password]', password);
  await page.click('form.login button[type=submit]');
  await page.waitForURL(`${hub.url}/`);
}

test('anonymous browsing: public repositories only, search, tags, an image page with the same data as the API', opts, async () => {
  const ctx = await browser.newContext();
  const { page, dialogs } = await newPage(ctx);
  const res = await page.goto(hub.url);
  assert.equal(res!.status(), 200);
  assert.match(res!.headers()['content-security-policy']!, /default-src 'none'/);
  assert.deepEqual(await rows(page, 'repositories'), ['public/hello', 'public/kraft']);
  await page.screenshot({ path: join(shots, 'list-anonymous.png'), fullPage: true });

  await page.fill('input[name=q]', 'hello');
  await page.press('input[name=q]', 'Enter');
  await page.waitForURL(/\?q=hello$/);
  assert.deepEqual(await rows(page, 'repositories'), ['public/hello']);
  await page.goto(`${hub.url}/?family=unikraft`);
  assert.deepEqual(await rows(page, 'repositories'), ['public/kraft']);
  await page.goto(`${hub.url}/?label=org.cunik.boot=multiboot`);
  assert.deepEqual(await rows(page, 'repositories'), ['public/hello']);
  await page.goto(`${hub.url}/?q=label:org.cunik.memory=32+family:generic`);
  assert.deepEqual(await rows(page, 'repositories'), ['public/hello']);
  await page.screenshot({ path: join(shots, 'search.png'), fullPage: true });
  await page.goto(`${hub.url}/?q=nothing-like-this`);
  assert.match(await page.innerText('main'), /No repository matches/);

  await page.goto(hub.url);
  await page.click('a[href="/repositories/public/hello"]');
  await page.waitForURL(/\/repositories\/public\/hello$/);
  assert.deepEqual(await rows(page, 'tags'), ['1.0', '2.0']);
  assert.equal(await page.locator('form[action="/delete"]').count(), 0, 'anonymous users get no delete buttons');
  assert.match(await page.locator('[data-tag="1.0"]').innerText(), /\d+(\.\d)?kB/);
  await page.screenshot({ path: join(shots, 'repository-anonymous.png'), fullPage: true });

  await page.click('[data-tag="1.0"] a');
  await page.waitForURL(/\/images\/public\/hello:1\.0$/);
  const kernelBytes = statSync(helloKernel).size;
  assert.equal(await fact(page, 'family'), 'generic');
  assert.equal(await fact(page, 'boot'), 'multiboot');
  assert.match(await fact(page, 'kernel'), new RegExp(`\\(${kernelBytes} bytes\\)`));
  assert.equal(await fact(page, 'memory'), '32 MiB');
  assert.equal(await fact(page, 'platform'), 'linux/amd64');
  assert.ok((await fact(page, 'args')).includes(XSS), 'the args are shown as text');
  await noXss(page);
  assert.deepEqual(dialogs, []);
  assert.equal(await page.innerText('[data-testid=pull]'), `cunik pull ${hub.host}/public/hello:1.0`);
  // The same digest and layers as the registry API serves.
  const tok = (await (await fetch(`${hub.url}/token?service=cunik-hub&scope=repository:public/hello:pull`)).json()) as { token: string };
  const m = await fetch(`${hub.url}/v2/public/hello/manifests/1.0`, { headers: { authorization: `Bearer ${tok.token}`, accept: 'application/vnd.oci.image.manifest.v1+json' } });
  const manifest = (await m.json()) as { layers: { digest: string }[] };
  assert.equal(await fact(page, 'digest'), m.headers.get('docker-content-digest'));
  assert.equal(await fact(page, 'digest'), digests['public/hello:1.0']);
  assert.deepEqual(await page.locator('[data-testid=layers] tbody tr td:nth-child(2)').allInnerTexts(), manifest.layers.map((l) => l.digest));
  await page.screenshot({ path: join(shots, 'image.png'), fullPage: true });

  // A private repository: neither listed nor shown to anonymous users.
  const priv = await page.goto(`${hub.url}/repositories/team/app`);
  assert.equal(priv!.status(), 401);
  assert.match(await page.innerText('[data-testid=error]'), /Sign in to see team\/app/);
  await ctx.close();
});

test('a KraftKit-style index: platforms, other tools\' annotations, kernel size and an SBOM referrer, all escaped', opts, async () => {
  const ctx = await browser.newContext();
  const { page, dialogs } = await newPage(ctx);
  await page.goto(`${hub.url}/images/public/kraft:latest`);
  assert.equal(await fact(page, 'family'), 'unikraft');
  assert.equal(await fact(page, 'digest'), digests['index']);
  assert.deepEqual(await rows(page, 'platforms'), ['qemu/amd64']);
  await page.click('[data-testid=platforms] a');
  await page.waitForURL(new RegExp(`/images/public/kraft@${digests['image']}$`));
  assert.match(await fact(page, 'kernel'), new RegExp(`\\(${digests['kernel']} bytes\\)`));
  assert.equal(await fact(page, 'platform'), 'qemu/amd64');
  assert.match(await fact(page, 'format'), /^KraftKit package/);
  const foreign = await page.locator('[data-testid=foreign] tbody tr').allInnerTexts();
  assert.ok(foreign.some((r) => r.includes('org.unikraft.kernel.version') && r.includes('0.17.0')), foreign.join('\n'));
  assert.ok(foreign.some((r) => r.includes(XSS)), 'the annotation is shown as text');
  const refs = await page.locator('[data-testid=referrers] tbody tr').allInnerTexts();
  assert.equal(refs.length, 1);
  assert.match(refs[0]!, /application\/spdx\+json/);
  await page.screenshot({ path: join(shots, 'image-kraftkit.png'), fullPage: true });
  await page.click('[data-testid=referrers] a');
  assert.equal(await fact(page, 'artifacttype'), 'application/spdx+json');
  assert.equal(await fact(page, 'subject'), digests['image']);
  await noXss(page);
  assert.deepEqual(dialogs, []);
  await ctx.close();
});

test('bob (no delete scope) sees private repositories but no delete buttons, and a forged delete is refused 403', opts, async () => {
  const ctx = await browser.newContext();
  const { page } = await newPage(ctx);
  await page.goto(`${hub.url}/login`);
  await page.fill('input[name=user]', 'bob');
  await page.fill('input[name=password]', 'wrong');
  await page.click('form.login button[type=submit]');
  assert.match(await page.innerText('[data-testid=login-error]'), /Wrong user name or password/);
  await signIn(page, 'bob', 'builder');
  assert.match(await page.innerText('header .who'), /Signed in as bob/);
  assert.deepEqual(await rows(page, 'repositories'), ['public/hello', 'public/kraft', 'team/app']);
  await page.goto(`${hub.url}/repositories/team/app`);
  assert.deepEqual(await rows(page, 'tags'), ['v1']);
  assert.equal(await page.locator('form[action="/delete"]').count(), 0);
  await page.screenshot({ path: join(shots, 'repository-no-delete-scope.png'), fullPage: true });
  // Forged from bob's own session, with its valid form token (from the sign-out form) and this origin.
  const csrf = await page.locator('form[action="/logout"] input[name=csrf]').getAttribute('value');
  const forged = await page.request.post(`${hub.url}/delete`, { form: { csrf: csrf!, repository: 'team/app', reference: 'v1' }, headers: { origin: hub.url } });
  assert.equal(forged.status(), 403);
  assert.match(await forged.text(), /bob may not delete in team\/app/);
  const noToken = await page.request.post(`${hub.url}/delete`, { form: { repository: 'team/app', reference: 'v1' }, headers: { origin: hub.url } });
  assert.equal(noToken.status(), 403);
  assert.equal((await api('/v2/team/app/manifests/v1', { method: 'HEAD' })).status, 200, 'the tag is still there');
  await ctx.close();
});

test('alice deletes a tag and a repository; a cross-site POST with her session is refused; without JavaScript browsing still works', opts, async () => {
  const ctx = await browser.newContext();
  const { page, dialogs } = await newPage(ctx);
  await signIn(page, 'alice', 'wonderland');
  await page.goto(`${hub.url}/repositories/public/hello`);
  assert.equal(await page.locator('[data-tag] form[action="/delete"]').count(), 2);
  await page.screenshot({ path: join(shots, 'repository-delete-scope.png'), fullPage: true });
  // The session cookie with another site's Origin (and its form token): refused.
  const csrf = await page.locator('form[action="/logout"] input[name=csrf]').getAttribute('value');
  const cross = await page.request.post(`${hub.url}/delete`, { form: { csrf: csrf!, repository: 'public/hello', reference: '2.0' }, headers: { origin: 'http://evil.example' } });
  assert.equal(cross.status(), 403);
  await page.click('[data-tag="2.0"] button.danger');
  await page.waitForURL(/\/repositories\/public\/hello$/);
  await page.waitForSelector('[data-tag="1.0"]');
  assert.deepEqual(await rows(page, 'tags'), ['1.0']);
  assert.deepEqual(dialogs, ['Delete the tag 2.0?']);
  assert.deepEqual(((await (await api('/v2/public/hello/tags/list')).json()) as { tags: string[] }).tags, ['1.0']);
  await page.screenshot({ path: join(shots, 'after-tag-delete.png'), fullPage: true });

  await page.goto(`${hub.url}/repositories/team/app`);
  await page.click('button:has-text("Delete repository")');
  await page.waitForURL(`${hub.url}/`);
  assert.deepEqual(await rows(page, 'repositories'), ['public/hello', 'public/kraft']);
  assert.deepEqual(((await (await api('/v2/_catalog')).json()) as { repositories: string[] }).repositories, ['public/hello', 'public/kraft']);
  await page.click('form[action="/logout"] button');
  await page.waitForURL(`${hub.url}/`);
  assert.match(await page.innerText('header .who'), /Sign in/);
  await ctx.close();

  const noJs = await browser.newContext({ javaScriptEnabled: false });
  const p2 = await noJs.newPage();
  await p2.goto(hub.url);
  await p2.click('a[href="/repositories/public/kraft"]');
  await p2.waitForURL(/public\/kraft$/);
  await p2.click('[data-tag="latest"] a');
  await p2.waitForURL(/public\/kraft:latest$/);
  assert.equal(await p2.locator('button[data-copy]').isHidden(), true, 'the copy button needs the script');
  assert.match(await p2.innerText('[data-testid=pull]'), /^cunik pull .*\/public\/kraft:latest$/);
  await p2.screenshot({ path: join(shots, 'image-no-javascript.png'), fullPage: true });
  await noJs.close();
});

test('the sign-in form shares the API\'s limit on failed passwords: 429 with a readable page and Retry-After, the right password refused too, other users unaffected', opts, async () => {
  const ctx = await browser.newContext();
  const { page } = await newPage(ctx);
  const attempt = async (user: string, password: string) => {
    await page.goto(`${hub.url}/login`);
    await page.fill('input[name=user]', user);
    await page.fill('input[name=password]', password);
    const [res] = await Promise.all([
      page.waitForResponse((r) => new URL(r.url()).pathname === '/login' && r.request().method() === 'POST'),
      page.click('form.login button[type=submit]'),
    ]);
    return res;
  };
  for (let i = 0; i < 5; i++) {
    const res = await attempt('carol', `guess${i}`);
    assert.equal(res.status(), 401, `attempt ${i + 1}`);
    assert.match(await page.innerText('[data-testid=login-error]'), /Wrong user name or password/);
  }
  const limited = await attempt('carol', 'singer');
  assert.equal(limited.status(), 429);
  const retry = Number(limited.headers()['retry-after']);
  assert.ok(retry >= 1 && retry <= 60, `Retry-After ${limited.headers()['retry-after']}`);
  assert.match(await page.innerText('[data-testid=login-error]'), /^Too many failed sign-ins from this address: try again in \d+ s\.$/);
  assert.equal(await page.locator('form.login').count(), 1, 'the page still offers the form');
  assert.doesNotMatch(await page.innerText('header .who'), /Signed in/);
  await page.screenshot({ path: join(shots, 'login-rate-limited.png'), fullPage: true });
  // The same count as the API's: carol's right password over Basic is refused as well.
  const api429 = await fetch(`${hub.url}/token?service=cunik-hub&scope=repository:public/hello:pull`, { headers: { authorization: basic('carol', 'singer') } });
  assert.equal(api429.status, 429);
  assert.equal(((await api429.json()) as { errors: { code: string }[] }).errors[0]!.code, 'TOOMANYREQUESTS');
  await signIn(page, 'bob', 'builder');
  assert.match(await page.innerText('header .who'), /Signed in as bob/);
  await ctx.close();
});
