// images --filter (src/images/filter.ts): Docker's keys, checked; matching is pure.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ImageSummary } from '../../src/api/schemas.js';
import { matchesImageFilters, parseImageFilters, referenceMatches } from '../../src/images/filter.js';

const img = (id: string, repoTags: string[], created: string): ImageSummary => ({ id, digest: '', repoTags, created, size: 1, family: 'generic', boot: 'multiboot' });
const hello = img('sha256:1', ['hello:latest', 'hello:1.2'], '2026-01-01T00:00:00Z');
const app = img('sha256:2', ['team/app:v1'], '2026-01-02T00:00:00Z');
const none = img('sha256:3', [], '2026-01-03T00:00:00Z');
const labels: Record<string, Record<string, string>> = { 'sha256:1': {}, 'sha256:2': { team: 'core', tier: '' }, 'sha256:3': { team: 'edge' } };
const byRef: Record<string, string> = { hello: hello.created, 'team/app:v1': app.created };
const ctx = {
  labels: (id: string) => labels[id]!,
  created: (ref: string) => {
    const c = byRef[ref];
    if (c === undefined) throw new Error(`no such image: ${ref}`);
    return c;
  },
};
const pick = (filters: Record<string, string[]>): string[] =>
  [hello, app, none].filter((i) => matchesImageFilters(i, parseImageFilters(JSON.stringify(filters)), ctx)).map((i) => i.id.slice(7));

test('images filters: reference globs, label, dangling, before/since; keys and values of one key', () => {
  const cases: [Record<string, string[]>, string[]][] = [
    [{}, ['1', '2', '3']],
    [{ reference: ['hello'] }, ['1']],
    [{ reference: ['hel*'] }, ['1']],
    [{ reference: ['hello:1.*'] }, ['1']],
    [{ reference: ['*/app'] }, ['2']],
    [{ reference: ['app'] }, []],
    [{ reference: ['hello', 'team/*'] }, ['1', '2']],
    [{ label: ['team'] }, ['2', '3']],
    [{ label: ['team=core'] }, ['2']],
    [{ label: ['team', 'tier'] }, ['2']],
    [{ dangling: ['true'] }, ['3']],
    [{ dangling: ['false'] }, ['1', '2']],
    [{ before: ['team/app:v1'] }, ['1']],
    [{ since: ['hello'] }, ['2', '3']],
    [{ since: ['hello'], label: ['team=edge'] }, ['3']],
  ];
  for (const [f, want] of cases) assert.deepEqual(pick(f), want, JSON.stringify(f));
  assert.equal(referenceMatches(hello, 'hello:latest'), true);
  assert.equal(referenceMatches(hello, 'hello:2'), false);
});

test('images filters: unknown keys and bad values are refused by name', () => {
  assert.throws(() => parseImageFilters('{"colour":["red"]}'), /invalid filter "colour" for images \(one of reference, label, dangling, before, since\)/);
  assert.throws(() => parseImageFilters('{"dangling":["maybe"]}'), /invalid filter dangling=maybe/);
  assert.throws(() => parseImageFilters('[1]'), /filters: not a JSON object/);
  assert.throws(() => pick({ before: ['nosuch'] }), /no such image: nosuch/);
});
