import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { openApiDocument } from '../../src/daemon/openapi.js';
import { installRoot } from '../../src/config/defaults.js';

test('the committed docs/openapi.json matches the schemas (run `npm run openapi` after an API change)', async () => {
  const committed = await readFile(join(installRoot(), 'docs', 'openapi.json'), 'utf8');
  assert.equal(committed, await openApiDocument());
});

test('the OpenAPI document describes every route group with validated bodies', async () => {
  const doc = JSON.parse(await openApiDocument()) as { paths: Record<string, Record<string, { requestBody?: unknown }>> };
  for (const path of ['/v1/instances', '/v1/instances/{id}/start', '/v1/images', '/v1/images/import', '/v1/info', '/v1/version']) {
    assert.ok(doc.paths[path], `missing ${path}`);
  }
  assert.ok(doc.paths['/v1/instances']!['post']!.requestBody, 'create has a request body schema');
});
