// Docker's --format, --filter and size habits in the native CLI, as typed, against a real daemon
// and QEMU (TCG): Go templates on ps, images, inspect, volume ls, network ls ("table" and plain),
// images --filter, ps -s and inspect -s, builder prune and system df's Build Cache line.
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const tmp = mkdtempSync(join(tmpdir(), 'cunik-format-'));
const run = (args: string[]) => cli(args, { socket: d.socket });
const ok = async (args: string[]): Promise<string> => {
  const r = await run(args);
  assert.equal(r.code, 0, `cunik ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const refused = async (args: string[], re: RegExp): Promise<void> => {
  const r = await run(args);
  assert.equal(r.code, 125, `cunik ${args.join(' ')}: ${r.stdout}`);
  assert.match(r.stderr, re);
  assert.equal(r.stderr.split('\n').length, 2, r.stderr);
  assert.equal(r.stdout, '');
};

before(async () => {
  d = await startDaemon();
  await ok(['import', '--family', 'generic', helloKernel, 'hello']);
  // A built image (labels, a build cache) made after the imported one.
  const ctx = join(tmp, 'ctx');
  mkdirSync(ctx);
  copyFileSync(helloKernel, join(ctx, 'hello.elf'));
  writeFileSync(join(ctx, 'Cunikfile'), 'family: generic\nkernel: hello.elf\nargs: [exit=3]\nmemory: 32\nlabels: { team: core }\n');
  await ok(['build', '-t', 'built:v1', ctx]);
});
after(async () => {
  await d.stop();
  rmSync(tmp, { recursive: true, force: true });
});

test('ps --format: Go templates, table with Docker-style headers, {{json .}} one object per line, template errors exit 125', async () => {
  assert.equal((await run(['run', '--name', 'fmt-three', '--label', 'env=prod', '--label', 'tier=web', 'hello', 'exit=3'])).code, 3);
  await ok(['create', '--name', 'fmt-new', 'hello']);
  assert.equal(await ok(['ps', '-a', '--format', '{{.Names}} {{.State}} {{.Label "env"}}|{{.Labels}}']), 'fmt-new created |\nfmt-three exited prod|env=prod,tier=web\n');
  assert.equal(await ok(['ps', '-a', '--filter', 'name=fmt-three', '--format', '{{if eq .State "exited"}}{{.Names | upper}} {{.Command}}{{else}}up{{end}}']), 'FMT-THREE "exit=3"\n');
  // Docker's "table": a header row from the fields' names, columns aligned on the tabs (typed \t).
  const lines = (await ok(['ps', '-a', '--format', 'table {{.ID}}\\t{{.Names}}\\t{{.Status}}'])).split('\n');
  assert.match(lines[0]!, /^INSTANCE ID {4}NAMES {7}STATUS$/);
  assert.match(lines[1]!, /^[0-9a-f]{12} {3}fmt-new {5}Created$/);
  assert.match(lines[2]!, /^[0-9a-f]{12} {3}fmt-three {3}Exited \(3\) /);
  // {{json .}}: one object per line, Docker's field names.
  const objects = (await ok(['ps', '-a', '--format', '{{json .}}'])).trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(objects.map((o) => o['Names']), ['fmt-new', 'fmt-three']);
  assert.equal(objects[1]!['State'], 'exited');
  assert.equal(objects[1]!['Labels'], 'env=prod,tier=web');
  assert.match(objects[1]!['CreatedAt']!, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC$/);
  assert.match(objects[1]!['RunningFor']!, /ago$/);
  // .Networks and .Mounts come from each instance's detail.
  assert.equal(await ok(['ps', '-a', '--filter', 'name=fmt-three', '--format', '{{.Networks}}|{{.Mounts}}|{{.LocalVolumes}}']), 'user||0\n');
  // The plain `--format json` stays the native summaries (one array).
  assert.equal((JSON.parse(await ok(['ps', '-a', '--format', 'json'])) as { name: string }[]).length, 2);
  await refused(['ps', '-a', '--format', '{{nosuch .Names}}'], /^cunik: template parsing error: template: :1: function "nosuch" not defined\n$/);
  await refused(['ps', '-a', '--format', '{{.Names'], /^cunik: template parsing error: template: :1: unclosed action\n$/);
  await refused(['ps', '-a', '--format', '{{.Nope}}'], /^cunik: template: :1: executing "" at <\.Nope>: can't evaluate field Nope/);
});

test('inspect -f: Docker fields (State.ExitCode, {{json .Config}}) and native ones, one line per object', async () => {
  assert.equal(await ok(['inspect', '-f', '{{.State.ExitCode}} {{.State.Status}} {{.exitCode}}', 'fmt-three']), '3 exited 3\n');
  const config = JSON.parse(await ok(['inspect', '-f', '{{json .Config}}', 'fmt-three'])) as { Labels: Record<string, string>; Image: string };
  assert.deepEqual(config.Labels, { env: 'prod', tier: 'web' });
  assert.equal(await ok(['inspect', '--format', '{{index .Config.Labels "env"}} {{.Config.Labels.absent}}', 'fmt-three']), 'prod <no value>\n');
  assert.equal(await ok(['inspect', '-f', '{{.Name}}', 'fmt-three', 'fmt-new']), '/fmt-three\n/fmt-new\n');
  // An image: Docker's image fields.
  assert.equal(await ok(['inspect', '-f', '{{index .Config.Labels "team"}} {{.family}}', 'built:v1']), 'core generic\n');
  await refused(['inspect', '-f', '{{.State.Nope}}', 'fmt-three'], /can't evaluate field Nope/);
  // A missing object still fails the command (the others printed).
  const partly = await run(['inspect', '-f', '{{.State.ExitCode}}', 'fmt-three', 'nosuch']);
  assert.equal(partly.code, 125);
  assert.equal(partly.stdout, '3\n');
});

test('images --format and --filter reference=, label=, dangling=, before=, since=', async () => {
  assert.equal(await ok(['images', '--format', '{{.Repository}}:{{.Tag}} {{.Family}}']), 'built:v1 generic\nhello:latest generic\n');
  const table = (await ok(['images', '--format', 'table {{.Repository}}\\t{{.Tag}}\\t{{.Size}}'])).split('\n');
  assert.match(table[0]!, /^REPOSITORY {3}TAG {7}SIZE$/);
  const names = async (...filters: string[]): Promise<string> => ok(['images', ...filters.flatMap((f) => ['--filter', f]), '--format', '{{.Repository}}']);
  assert.equal(await names('reference=hel*'), 'hello\n');
  assert.equal(await names('reference=built:v*'), 'built\n');
  assert.equal(await names('label=team=core'), 'built\n');
  assert.equal(await names('label=team=other'), '');
  assert.equal(await names('dangling=false'), 'built\nhello\n');
  assert.equal(await names('dangling=true'), '');
  assert.equal(await names('before=built:v1'), 'hello\n');
  assert.equal(await names('since=hello'), 'built\n');
  await refused(['images', '--filter', 'colour=red'], /invalid filter "colour" for images/);
  await refused(['images', '--filter', 'dangling=maybe'], /invalid filter dangling=maybe/);
  await refused(['images', '--filter', 'before=nosuch'], /nosuch/);
  // --digests: a DIGEST column after TAG.
  const digest = (await d.client.inspectImage('hello')).digest;
  const withDigests = (await ok(['images', '--digests', '--filter', 'reference=hello'])).split('\n');
  assert.match(withDigests[0]!, /^REPOSITORY +TAG +DIGEST +IMAGE ID +FAMILY +CREATED +SIZE$/);
  assert.match(withDigests[1]!, new RegExp(`^hello +latest +${digest} +[0-9a-f]{12} `));
});

test('stats and events take Go templates: Docker\'s fields (.Name .CPUPerc .MemUsage; .Type .Action .Actor.Attributes .ID)', async () => {
  assert.equal((await run(['run', '-d', '--name', 'tpl-idle', 'hello', 'idle'])).code, 0);
  try {
    const line = await ok(['stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.MemPerc}}|{{.PIDs}}', 'tpl-idle']);
    assert.match(line, /^tpl-idle\|\d+\.\d\d%\|[\d.]+[KMG]?i?B \/ \d+MiB\|\d+\.\d\d%\|1\n$/);
    const tableOut = (await ok(['stats', '--no-stream', '--format', 'table {{.Name}}\t{{.PIDs}}', 'tpl-idle'])).split('\n');
    assert.match(tableOut[0]!, /^NAME +PIDS$/);
    await refused(['stats', '--no-stream', '--format', '{{.Nope}}', 'tpl-idle'], /can't evaluate field Nope/);
  } finally {
    await run(['rm', '-f', 'tpl-idle']);
  }
  const until = String(Math.ceil(Date.now() / 1000) + 1);
  const events = await ok(['events', '--since', '0', '--until', until, '--filter', 'instance=tpl-idle', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.nope}} {{len .ID}}']);
  assert.deepEqual(events.trim().split('\n'), ['container create tpl-idle <no value> 64', 'container start tpl-idle <no value> 64', 'container die tpl-idle <no value> 64', 'container destroy tpl-idle <no value> 64']);
  const json = (await ok(['events', '--since', '0', '--until', until, '--filter', 'instance=tpl-idle', '--filter', 'event=start', '--format', '{{json .}}'])).trim();
  const parsed = JSON.parse(json) as Record<string, unknown>;
  assert.equal(parsed['Type'], 'container');
  assert.equal(parsed['ID'], undefined, 'the Go names are not in the JSON');
  assert.equal(typeof parsed['time'], 'number');
});

test('ps -s: the instance\'s own files and, with its image, the virtual size', async () => {
  const out = (await ok(['ps', '-a', '-s', '--filter', 'name=fmt-three'])).split('\n');
  assert.match(out[0]!, /\s+NAMES\s+SIZE$/);
  const m = / (\d+(?:\.\d+)?[kMG]?B) \(virtual (\d+(?:\.\d+)?[kMG]?B)\)$/.exec(out[1]!);
  assert.ok(m, out[1]);
  // A template that shows .Size measures too (as docker ps does), without -s.
  const sized = await ok(['ps', '-a', '--filter', 'name=fmt-three', '--format', '{{.Size}}']);
  assert.match(sized, /^\d+(\.\d+)?[kMG]?B \(virtual \d+(\.\d+)?[kMG]?B\)\n$/);
  const [listed] = JSON.parse(await ok(['ps', '-a', '-s', '--format', 'json', '--filter', 'name=fmt-three'])) as { sizeRw: number; sizeRootFs: number }[];
  const image = (JSON.parse(await ok(['images', '--format', 'json'])) as { repoTags: string[]; size: number }[]).find((i) => i.repoTags.includes('hello:latest'))!;
  assert.ok(listed!.sizeRw > 0, 'its console log at least');
  assert.equal(listed!.sizeRootFs, listed!.sizeRw + image.size);
  // inspect -s: the same sizes, native and in Docker's names.
  assert.equal(await ok(['inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}} {{.sizeRw}}', 'fmt-three']), `${listed!.sizeRw} ${listed!.sizeRootFs} ${listed!.sizeRw}\n`);
  const [detail] = JSON.parse(await ok(['inspect', '--type', 'instance', '-s', 'fmt-three'])) as { sizeRw: number; sizeRootFs: number }[];
  assert.deepEqual([detail!.sizeRw, detail!.sizeRootFs], [listed!.sizeRw, listed!.sizeRootFs]);
  assert.equal((JSON.parse(await ok(['inspect', 'fmt-three'])) as { sizeRw?: number }[])[0]!.sizeRw, undefined);
});

test('history: a build\'s steps newest first; -q, --no-trunc, --no-human, --format; image history is the same verb', async () => {
  const id = (await d.client.inspectImage('built:v1')).id;
  const lines = (await ok(['history', 'built:v1'])).trimEnd().split('\n');
  assert.match(lines[0]!, /^IMAGE +CREATED +CREATED BY +SIZE +COMMENT$/);
  assert.match(lines[1]!, new RegExp(`^${id.slice(7, 19)} +.* ago +cunik build: cunik/boot.json +[\\d.]+k?B +[0-9a-f]{12}$`));
  assert.match(lines[2]!, /^<missing> +.* ago +cunik build: kernel +[\d.]+kB +[0-9a-f]{12}$/);
  assert.equal(lines.length, 3);
  assert.equal(await ok(['history', '-q', 'built:v1']), `${id.slice(7, 19)}\n<missing>\n`);
  assert.equal(await ok(['image', 'history', '-q', '--no-trunc', 'built:v1']), `${id}\n<missing>\n`);
  const kernel = (await d.client.inspectImage('built:v1')).layers[0]!;
  const plain = await ok(['history', '--no-human', '--format', '{{.Size}} {{.CreatedSince}}', 'built:v1']);
  assert.match(plain, new RegExp(`^\\d+ \\d{4}-\\d\\d-\\d\\dT[^ ]+Z\n${kernel.size} \\d{4}-`));
  const native = JSON.parse(await ok(['history', '--format', 'json', 'built:v1'])) as { createdBy: string; layer: string }[];
  assert.deepEqual(native.map((h) => h.createdBy), ['cunik build: cunik/boot.json', 'cunik build: kernel']);
  assert.equal(native[1]!.layer, kernel.digest);
  await refused(['history', 'nope:v9'], /^cunik: no such image: nope:v9$/m);
});

test('volume ls and network ls --format', async () => {
  await ok(['volume', 'create', '--label', 'k=v', 'fmtvol']);
  assert.equal(await ok(['volume', 'ls', '--format', '{{.Name}} {{.Driver}} {{.Label "k"}} {{.Scope}}']), `fmtvol ${(JSON.parse(await ok(['volume', 'inspect', 'fmtvol'])) as { driver: string }[])[0]!.driver} v local\n`);
  assert.match(await ok(['volume', 'ls', '--format', 'table {{.Name}}\\t{{.Driver}}']), /^VOLUME NAME {3}DRIVER\nfmtvol {8}\S+\n$/);
  assert.equal(await ok(['network', 'ls', '--format', 'table {{.ID}}\\t{{.Name}}']), 'NETWORK ID   NAME\n');
  await refused(['volume', 'ls', '--format', '{{if}}'], /template parsing error/);
  // The other inspect verbs take -f too: Docker's shape and the native fields.
  const mountpoint = (JSON.parse(await ok(['volume', 'inspect', 'fmtvol'])) as { mountpoint: string }[])[0]!.mountpoint;
  assert.equal(await ok(['volume', 'inspect', '-f', '{{.Mountpoint}} {{.Labels.k}} {{.name}}', 'fmtvol']), `${mountpoint} v fmtvol\n`);
  assert.equal(await ok(['image', 'inspect', '-f', '{{index .Config.Labels "team"}} {{len .RepoTags}} {{.memoryMiB}}', 'built:v1']), 'core 1 32\n');
});

test('system df shows the build cache; builder prune keeps what images use unless -a, until= spares recent entries', async () => {
  type Df = { buildCache: { total: number; active: number; size: number; reclaimable: number; entries?: { id: string; inUse: boolean }[] } };
  const df = async (): Promise<Df['buildCache']> => (JSON.parse(await ok(['system', 'df', '-v', '--format', 'json'])) as Df).buildCache;
  const before = await df();
  assert.ok(before.total >= 2 && before.active >= 1, JSON.stringify(before));
  assert.equal(before.entries!.length, before.total);
  const table = await ok(['system', 'df']);
  assert.match(table, new RegExp(`^Build Cache\\s+${before.total}\\s+${before.active}\\s+\\S+\\s+\\S+`, 'm'));
  const verbose = await ok(['system', 'df', '-v']);
  assert.match(verbose, /^Build cache usage: \S+\n\nCACHE ID\s+CACHE TYPE\s+SIZE\s+RECLAIMABLE\s+CREATED\s+LAST USED\s+SHARED\n[0-9a-f]{12} +step /m);
  // Without -a: the entries no image links go; those the built image links stay.
  const dangling = await ok(['builder', 'prune', '-f']);
  assert.match(dangling, /^(Deleted build cache objects:\n([0-9a-f]{64}\n)+\n)?Total reclaimed space: \S+\n$/);
  const kept = await df();
  assert.ok(kept.total >= 1 && kept.entries!.every((e) => e.inUse), JSON.stringify(kept));
  // until=1h: everything was used just now, so nothing goes even with -a.
  assert.equal(await ok(['builder', 'prune', '-a', '-f', '--filter', 'until=1h']), 'Total reclaimed space: 0B\n');
  assert.equal((await df()).total, kept.total);
  const all = await ok(['builder', 'prune', '--all', '--force']);
  assert.match(all, /^Deleted build cache objects:\n/);
  assert.equal((await df()).total, 0);
  // The image still runs (it keeps its own links), and the next build makes its steps again.
  assert.equal((await run(['run', '--rm', 'built:v1'])).code, 3);
  const rebuilt = await ok(['build', '-t', 'built:v2', join(tmp, 'ctx')]);
  assert.doesNotMatch(rebuilt, /Using cache/);
  assert.ok((await df()).total >= 1);
  await refused(['builder', 'prune', '-f', '--filter', 'colour=red'], /invalid filter "colour" for builder prune/);
  await refused(['builder', 'prune', '-f', '--filter', 'until=soon'], /invalid filter until=soon/);
});
