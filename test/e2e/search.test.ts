// cunik search against a real CunikHub and Debian's docker-registry: --filter family=/label=
// (CunikHub's search, GET /v2/_cunik/search), Docker Hub's filters refused by name, --limit,
// --format with a Go template and json.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ImageStore } from '../../src/images/store.js';
import { push } from '../../src/images/distribution.js';
import { cli, helloKernel } from '../helpers/daemon.js';
import { startHub, type TestHub } from '../helpers/hub.js';
import { startDockerRegistry } from '../helpers/registry.js';

const opts = { timeout: 120_000 };
const home = mkdtempSync(join(tmpdir(), 'cunik-search-'));
const env = { CUNIK_CONFIG: join(home, 'cunik.json'), DOCKER_CONFIG: join(home, 'docker') };
let hub: TestHub;

async function pushTo(host: string, ref: string, memoryMiB: number): Promise<void> {
  const store = new ImageStore(join(home, 'client', `${host}-${ref}`.replace(/[/:]/g, '_')), { knownFamilies: ['generic'] });
  await store.importKernel(helloKernel, `${host}/${ref}`, { family: 'generic', args: ['hello'], memoryMiB });
  await push(store, `${host}/${ref}`);
}

before(async () => {
  hub = await startHub();
  await pushTo(hub.host, 'demo/hello:1', 32);
  await pushTo(hub.host, 'demo/big:1', 64);
  await pushTo(hub.host, 'tools/hello-cli:1', 32);
});
after(async () => {
  await hub?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('--filter family= and label=KEY=VALUE / label=KEY, with a term; --limit; --format template and json', opts, async () => {
  const byFamily = await cli(['search', hub.host, '--filter', 'family=generic'], { env });
  assert.equal(byFamily.code, 0, byFamily.stderr);
  assert.equal(byFamily.stdout, `NAME\n${hub.host}/demo/big\n${hub.host}/demo/hello\n${hub.host}/tools/hello-cli\n`);
  const none = await cli(['search', hub.host, '--filter', 'family=unikraft'], { env });
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, 'NAME\n');
  const label = await cli(['search', hub.host, '-f', 'label=org.cunik.memory=64', '-f', 'family=generic'], { env });
  assert.equal(label.stdout, `NAME\n${hub.host}/demo/big\n`, label.stderr);
  const term = await cli(['search', hub.host, 'hello', '--filter', 'label=org.cunik.memory', '--limit', '1', '--format', '{{.Name}} {{.Families}} {{.Tags}} {{.StarCount}} {{.IsOfficial}}'], { env });
  assert.equal(term.code, 0, term.stderr);
  assert.equal(term.stdout, `${hub.host}/demo/hello generic 1 0 false\n`);
  const table = await cli(['search', hub.host, 'demo', '--format', 'table {{.Name}}\t{{.Families}}'], { env });
  assert.match(table.stdout, /^NAME\s+FAMILY\n\S+\/demo\/big\s+\n\S+\/demo\/hello\s+\n$/);
  const json = await cli(['search', hub.host, '--filter', 'family=generic', '--limit', '2', '--format', 'json'], { env });
  assert.deepEqual(JSON.parse(json.stdout), [{ name: `${hub.host}/demo/big`, families: ['generic'] }, { name: `${hub.host}/demo/hello`, families: ['generic'] }]);
});

test('Docker Hub\'s filters and malformed ones: one line, exit 125, nothing asked of the registry', opts, async () => {
  for (const [f, re] of [
    ['stars=3', /^cunik: --filter stars is not supported: stars and official or automated images are Docker Hub's/],
    ['is-official=true', /^cunik: --filter is-official is not supported/],
    ['is-automated=true', /^cunik: --filter is-automated is not supported/],
    ['color=red', /^cunik: invalid --filter "color=red": use family=NAME or label=KEY\[=VALUE\]$/],
    ['family=', /^cunik: invalid --filter "family=": family=NAME$/],
  ] as const) {
    const r = await cli(['search', '127.0.0.1:1', '--filter', f], { env });
    assert.equal(r.code, 125, f);
    assert.match(r.stderr.trim(), re, f);
    assert.equal(r.stderr.trim().split('\n').length, 1, f);
  }
});

test('a registry that is not a CunikHub: --filter family= says so in one line; plain search works through its catalog', opts, async () => {
  const reg = await startDockerRegistry();
  try {
    await pushTo(reg.host, 'demo/hello:1', 32);
    const plain = await cli(['search', reg.host, 'hel', '--format', '{{.Name}}'], { env });
    assert.equal(plain.stdout, `${reg.host}/demo/hello\n`, plain.stderr);
    const r = await cli(['search', reg.host, '--filter', 'family=generic'], { env });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr.trim(), /--filter family= and label= need a CunikHub: 127\.0\.0\.1:\d+ does not serve its search \(GET \/v2\/_cunik\/search\)$/);
  } finally {
    await reg.stop();
  }
});
