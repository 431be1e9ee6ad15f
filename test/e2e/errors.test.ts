// Bad input: one line on stderr starting "cunik: ", exit status 125, nothing changed.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });

/** A snapshot of everything stored: instance records and the image index. */
function storeState(): string {
  const instances = readdirSync(join(d.root, 'instances')).sort();
  const records = instances.map((id) => readFileSync(join(d.root, 'instances', id, 'instance.json'), 'utf8'));
  const images = readdirSync(join(d.root, 'images'), { recursive: true }).map(String).sort();
  return JSON.stringify({ instances, records, images });
}

async function refused(args: string[], message: RegExp): Promise<void> {
  const before = storeState();
  const r = await run(args);
  assert.equal(r.code, 125, `${args.join(' ')}: exit ${r.code}, stderr ${r.stderr}`);
  assert.match(r.stderr, /^cunik: [^\n]+\n$/, `one line: ${JSON.stringify(r.stderr)}`);
  assert.match(r.stderr, message);
  assert.equal(storeState(), before, `${args.join(' ')} changed the store`);
}

before(async () => {
  d = await startDaemon();
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'hello'])).code, 0);
  assert.equal((await run(['create', '--name', 'taken', 'hello'])).code, 0);
});
after(async () => d.stop());

test('unknown image', () => refused(['run', '--rm', 'nosuch'], /no such image: nosuch/));
test('unknown instance', () => refused(['start', 'ghost'], /no such instance: ghost/));
test('duplicate name', () => refused(['create', '--name', 'taken', 'hello'], /name "taken" is already in use/));
test('bad memory value', () => refused(['run', '-m', 'lots', 'hello'], /invalid memory value: lots/));
test('memory too small', () => refused(['run', '-m', '1m', 'hello'], /invalid memory value: 1m/));
test('bad cpu value', () => refused(['run', '--cpus', '0', 'hello'], /invalid cpus value: 0/));
test('bad env', () => refused(['run', '-e', 'NOEQUALS', 'hello'], /invalid environment variable: NOEQUALS/));
test('malformed reference', () => refused(['tag', 'hello', 'Bad Name!'], /invalid reference format/));
test('malformed reference on import', () => refused(['import', '--family', 'generic', helloKernel, 'UPPER:case'], /invalid reference format/));
test('unknown family', () => refused(['import', '--family', 'plan9', helloKernel, 'x'], /unknown family: plan9/));
test('unknown verb', () => refused(['frobnicate'], /unknown command 'frobnicate'/));
test('bad signal', () => refused(['kill', '-s', 'NOPE', 'taken'], /invalid signal: NOPE/));
test('kill of an instance that is not running', () => refused(['kill', 'taken'], /is not running/));
test('missing file on import', () => refused(['import', '--family', 'generic', '/nonexistent', 'x'], /no such file/));

test('a file that is not an ELF', async () => {
  const file = join(d.dir, 'text.bin');
  await writeFile(file, 'just some text, not a kernel\n');
  await refused(['import', '--family', 'generic', file, 'notakernel'], /not a bootable kernel: .*not an ELF/);
});

test('an ELF without a multiboot header or PVH note', async () => {
  await refused(['import', '--family', 'generic', process.execPath, 'node'], /not a bootable kernel: .*(no|without a) multiboot header/);
});

test('ambiguous id prefix', async () => {
  for (let i = 0; i < 17; i++) assert.equal((await run(['create', '--name', `amb${i}`, 'hello'])).code, 0);
  const all = JSON.parse((await run(['ps', '-a', '--format', 'json'])).stdout) as { id: string }[];
  // 18 ids over 16 hex digits: two share their first digit.
  const counts = new Map<string, number>();
  for (const { id } of all) counts.set(id[0]!, (counts.get(id[0]!) ?? 0) + 1);
  const prefix = [...counts].find(([, n]) => n > 1)![0];
  await refused(['inspect', '--type', 'instance', prefix], new RegExp(`ambiguous instance id prefix: ${prefix}`));
  await run(['rm', ...Array.from({ length: 17 }, (_, i) => `amb${i}`)]);
});

test('rm of a running instance without -f', async () => {
  const r = await run(['run', '-d', '--name', 'busy', 'hello', 'idle']);
  assert.equal(r.code, 0, r.stderr);
  await refused(['rm', 'busy'], /cannot remove running instance busy: stop it first or use -f/);
  assert.equal((await run(['rm', '-f', 'busy'])).code, 0);
});

test('no daemon at an explicit -H socket', async () => {
  const r = await cli(['ps'], { socket: join(d.dir, 'nothing.sock') });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /^cunik: cannot connect to the Cunik daemon at unix:\/\/.*nothing\.sock/);
});

test('more vCPUs than the host has, from a flag or from the image, are refused unless overcommitted', async () => {
  const host = availableParallelism();
  await refused(['run', '--rm', '--cpus', String(host + 1), 'hello'], new RegExp(`cpus: ${host + 1} is more than this host's ${host} CPUs?: give --cpus ${host} or fewer \\(or --cpu-overcommit to allow it\\)`));
  await refused(['run', '--cpus', '256', 'hello'], /invalid cpus value: 256 \(a whole number from 1 to 255\)/);
  // A Cunikfile takes the same range as the flag, and its cpus are checked against the host at create.
  const ctx = join(d.dir, 'bigcpu');
  await mkdir(ctx);
  await copyFile(helloKernel, join(ctx, 'hello.elf'));
  await writeFile(join(ctx, 'Cunikfile'), 'family: generic\nkernel: hello.elf\ncpus: 300\n');
  const tooMany = await run(['build', '-t', 'bigcpu', ctx]);
  assert.equal(tooMany.code, 125, tooMany.stderr);
  assert.match(tooMany.stderr, /cpus: expected an integer from 1 to 255, got 300/);
  await writeFile(join(ctx, 'Cunikfile'), `family: generic\nkernel: hello.elf\ncpus: ${host + 1}\n`);
  assert.equal((await run(['build', '-q', '-t', 'bigcpu', ctx])).code, 0);
  await refused(['create', 'bigcpu'], new RegExp(`the image asks for ${host + 1} virtual CPUs, more than this host's ${host} CPUs?: give --cpus ${host} or fewer`));
  const lower = await run(['create', '--cpus', '1', 'bigcpu']);
  assert.equal(lower.code, 0, lower.stderr);
  const forced = await run(['create', '--cpu-overcommit', 'bigcpu']);
  assert.equal(forced.code, 0, forced.stderr);
  const detail = JSON.parse((await run(['inspect', forced.stdout.trim()])).stdout) as { config: { cpus: number; cpuOvercommit?: boolean } }[];
  assert.deepEqual([detail[0]!.config.cpus, detail[0]!.config.cpuOvercommit], [host + 1, true]);
  assert.equal((await run(['rm', lower.stdout.trim(), forced.stdout.trim()])).code, 0);
});
