// bench/method.ts and bench/goals.ts: ABBA order, medians, and the --check verdicts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { GOALS } from '../../bench/goals.js';
import { abba, abbaOrder, checkGoals, median, verdictLine } from '../../bench/method.js';
import { repo } from '../helpers/daemon.js';

test('abbaOrder: forward, then reversed, each side once per round', () => {
  const letters = (rounds: number, sides: number): string => abbaOrder(rounds, sides).map((i) => 'ABC'[i]).join('');
  assert.equal(letters(4, 2), 'ABBAABBA');
  assert.equal(letters(3, 2), 'ABBAAB');
  assert.equal(letters(2, 3), 'ABCCBA');
  assert.equal(letters(1, 1), 'A');
  for (const [r, n] of [[5, 2], [4, 3], [7, 5]] as const) {
    const order = abbaOrder(r, n);
    for (let i = 0; i < n; i++) assert.equal(order.filter((x) => x === i).length, r);
  }
});

test('abba runs the warm-up unrecorded, then the sides in ABBA order, and returns each side\'s figures', async () => {
  const calls: string[] = [];
  let t = 0;
  const rounds: number[] = [];
  const out = await abba(
    3,
    {
      a: async () => (calls.push('a'), ++t),
      b: async () => (calls.push('b'), 100 + ++t),
    },
    { warmup: 1, onRound: (r) => rounds.push(r) },
  );
  assert.equal(calls.join(''), 'ab' + 'abbaab');
  assert.deepEqual(out, { a: [3, 6, 7], b: [104, 105, 108] });
  assert.deepEqual(rounds, [1, 2, 3]);
});

test('median: the middle value, or the mean of the two middle ones', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]));
});

test('checkGoals: lower and higher goals, a figure at its goal meets it, a missing figure misses', () => {
  const verdicts = checkGoals({
    lifecycle: { ratio: 0.8 }, // higher is better, goal 0.8
    coldstart: { ratio: 1.6 }, // lower is better, goal 1.5
    'build-cache': { warm_s: 0.2 }, // one_file_ratio missing
  });
  const by = (k: string): boolean | undefined => verdicts.find((v) => `${v.goal.bench}.${v.goal.figure}` === k)?.met;
  assert.equal(by('lifecycle.ratio'), true);
  assert.equal(by('coldstart.ratio'), false);
  assert.equal(by('build-cache.warm_s'), true);
  assert.equal(by('build-cache.one_file_ratio'), false);
  assert.equal(by('density.host_vs_bare'), undefined, 'benches that did not run are not checked');
  assert.equal(verdictLine(verdicts.find((v) => v.goal.bench === 'coldstart')!), 'check coldstart.ratio = 1.6 (goal <= 1.5): MISSED');
  assert.equal(checkGoals({ lifecycle: { ratio: 0.79 } })[0]!.met, false);
  assert.equal(checkGoals({ lifecycle: { ratio: Number.NaN } })[0]!.met, false);
});

test('the goals table: one goal per figure, every bench named in it exists, every ratio is a Cunik/peer figure', () => {
  const keys = GOALS.map((g) => `${g.bench}.${g.figure}`);
  assert.equal(new Set(keys).size, keys.length);
  const benches = readdirSync(join(repo, 'bench')).map((f) => f.replace(/\.ts$/, ''));
  for (const g of GOALS) {
    assert.ok(benches.includes(g.bench), `bench/${g.bench}.ts`);
    // The bench computes the figure it is checked on.
    assert.match(readFileSync(join(repo, 'bench', `${g.bench}.ts`), 'utf8'), new RegExp(`\\b${g.figure}\\b`), `${g.bench} reports ${g.figure}`);
    if (/ratio|_vs_/.test(g.figure)) assert.match(g.what, /\//, `${g.bench}.${g.figure} says what it divides`);
  }
});

test('no bench puts a constant in its RESULT: no reference figures, no parameters', () => {
  for (const f of readdirSync(join(repo, 'bench')).filter((n) => n.endsWith('.ts'))) {
    const text = readFileSync(join(repo, 'bench', f), 'utf8');
    assert.doesNotMatch(text, /_reference|firecracker_/i, f);
  }
});

test('npm run bench -- NAME refuses an unknown benchmark in one line, before running any', () => {
  const r = spawnSync(process.execPath, [join(repo, 'dist', 'bench', 'index.js'), 'nosuch', '--check'], { encoding: 'utf8' });
  assert.equal(r.status, 2);
  // The list grows with each benchmark: it names every one, in one line.
  assert.match(r.stderr, /^bench: unknown benchmark nosuch \(known: coldstart, cli, lifecycle, density, boot-linux, build-cache(, [a-z-]+)*\)\n$/);
});
