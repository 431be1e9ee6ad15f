// Bad input: one line on stderr starting "cunik: ", exit status 125, nothing changed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, repo, startDaemon, waitFor, type CliResult, type TestDaemon } from '../helpers/daemon.js';

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
test('malformed name on build: said before the context is sent', async () => {
  const r = await run(['build', '-t', 'BAD', repo]);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, 'cunik: invalid reference format: repository name must be lowercase: "BAD"\n');
  assert.doesNotMatch(r.stdout, /Sending build context/);
});
test('malformed reference on import', () => refused(['import', '--family', 'generic', helloKernel, 'UPPER:case'], /invalid reference format/));
test('unknown family', () => refused(['import', '--family', 'plan9', helloKernel, 'x'], /unknown family: plan9/));
test('unknown verb', () => refused(['frobnicate'], /unknown command 'frobnicate'/));
test('bad signal', () => refused(['kill', '-s', 'NOPE', 'taken'], /invalid signal: NOPE/));
test('kill of an instance that is not running', () => refused(['kill', 'taken'], /is not running/));
test('missing file on import', () => refused(['import', '--family', 'generic', '/nonexistent', 'x'], /no such file/));

test('save and load name the file and why it cannot be written or read, before any transfer; no .partial is left', async () => {
  const dir = join(d.dir, 'save-to');
  await mkdir(dir);
  await refused(['save', '-o', join(dir, 'missing', 'x.tar'), 'hello'], new RegExp(`^cunik: cannot write ${dir}/missing/x\\.tar: no such file or directory\n$`));
  await refused(['save', '-o', dir, 'hello'], new RegExp(`^cunik: cannot write ${dir}: it is a directory\n$`));
  await refused(['save', '-o', join(dir, 'x.tar'), 'nosuch'], /^cunik: no such image: nosuch\n$/);
  assert.deepEqual(readdirSync(dir), [], 'nothing written, no .partial');
  await refused(['load', '-i', dir], new RegExp(`^cunik: cannot read ${dir}: it is a directory\n$`));
  await refused(['load', '-i', join(dir, 'absent.tar')], /^cunik: cannot read \S+absent\.tar: no such file or directory\n$/);
});

test('build -f of a Cunikfile that is not there', () => refused(['build', '-t', 'x', '-f', '/nonexistent/Cunikfile', repo], /^cunik: cannot read \/nonexistent\/Cunikfile: no such file or directory\n$/));

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

/** The real CLI, with options cli() does not take (another user, stdout closed at once). */
function rawCli(args: string[], opts: { uid?: number; closeStdout?: boolean } = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${d.socket}`, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.uid !== undefined && { uid: opts.uid, gid: opts.uid, env: { ...process.env, HOME: '/' } }),
    });
    let stdout = '';
    let stderr = '';
    if (opts.closeStdout) p.stdout.destroy();
    else p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

test('a socket the user may not open: who may use the daemon, not "connect EACCES"', async () => {
  const r = await rawCli(['ps'], { uid: 65534 });
  assert.equal(r.code, 125);
  assert.equal(r.stderr, `cunik: permission denied on ${d.socket}: only root and members of the 'cunik' group may use the daemon\n`);
});

test('-H addresses the CLI cannot use are sentences', async () => {
  for (const [host, message] of [
    ['unix://', /^cunik: invalid host "unix:\/\/": no socket path after unix:\/\/ \(use unix:\/\/\/path\/to\/socket\)\n$/],
    ['tcp://127.0.0.1:2375', /^cunik: invalid host "tcp:\/\/127\.0\.0\.1:2375": tcp:\/\/ hosts need TLS/],
    ['ssh://box', /^cunik: invalid host "ssh:\/\/box": unknown scheme ssh:\/\//],
  ] as const) {
    const r = await cli(['-H', host, 'ps']);
    assert.equal(r.code, 125, host);
    assert.match(r.stderr, message);
  }
});

test('a daemon that dies mid-request: the daemon closed the connection, not "read ECONNRESET"', async () => {
  const other = await startDaemon();
  try {
    // Stopped, the daemon reads nothing: the upload fills the socket, then the daemon is killed under it.
    const big = join(other.dir, 'big.elf');
    await writeFile(big, Buffer.alloc(16 << 20));
    other.proc.kill('SIGSTOP');
    const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${other.socket}`, 'import', '--family', 'generic', big, 'big'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    // The CLI has sent a good part of the file (wchar: bytes the kernel took): the socket fills, and it waits.
    await waitFor('the upload to fill the socket', () => Number(/wchar: (\d+)/.exec(readFileSync(`/proc/${p.pid}/io`, 'utf8'))?.[1] ?? 0) > 64 << 10 || undefined);
    other.proc.kill('SIGKILL');
    const r = { code: await exited, stderr };
    assert.equal(r.code, 125);
    assert.match(r.stderr, /^cunik: the Cunik daemon at unix:\/\/.*cunik\.sock closed the connection before it was done \(did cunikd stop or crash\? its log may say why\)\n$/);
  } finally {
    await other.stop();
  }
});

test('--name says what a name may contain', () =>
  refused(['create', '--name', 'no spaces', 'hello'], /^cunik: invalid name "no spaces": a name may contain only letters, digits, '_', '\.' and '-', starting with a letter or digit/));

test('empty names, ids and references are refused by the CLI', async () => {
  await refused(['run', '', 'hello'], /^cunik: an image reference cannot be empty\n$/);
  await refused(['rm', ''], /^cunik: an instance name or id cannot be empty\n$/);
  await refused(['rm', 'taken', ' '], /^cunik: an instance name or id cannot be empty\n$/);
  await refused(['tag', 'hello', ''], /^cunik: an image reference cannot be empty\n$/);
  await refused(['volume', 'rm', ''], /^cunik: a name cannot be empty\n$/);
  // The unikernel's own arguments may be empty.
  const r = await run(['create', 'hello', '']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await run(['rm', r.stdout.trim()])).code, 0);
});

test('logs -n takes a number of lines or all', () => refused(['logs', '-n', 'abc', 'taken'], /^cunik: invalid --tail value: abc \(a number of lines, or "all"\)\n$/));

test('a closed stdout ends the CLI quietly', async () => {
  for (const args of [['events', '--since', '1h', '--until', '1s'], ['ps', '-a'], ['images', '--format', 'json']]) {
    const r = await rawCli(args, { closeStdout: true });
    assert.equal(r.stderr, '', `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.code, 0, args.join(' '));
  }
});

test('stats --no-stream of an unknown instance prints the error only', async () => {
  const r = await run(['stats', '--no-stream', '--format', 'json', 'nosuch']);
  assert.equal(r.code, 125);
  assert.equal(r.stderr, 'cunik: no such instance: nosuch\n');
  assert.equal(r.stdout, '');
});

test('a usage error with a suggestion is one line', async () => {
  await refused(['imagse'], /^cunik: unknown command 'imagse'; did you mean one of image, images\?\n$/);
  await refused(['run', '--nmae', 'x', 'hello'], /^cunik: unknown option '--nmae'; did you mean --name\?\n$/);
});

test('a command group without its verb prints its help and exits 0, as Docker', async () => {
  for (const group of ['volume', 'system', 'container', 'image']) {
    const r = await run([group]);
    assert.equal(r.code, 0, `${group}: ${r.stderr}`);
    assert.equal(r.stderr, '');
    assert.match(r.stdout, new RegExp(`^Usage: cunik ${group} \\[options\\] \\[command\\]\\n`));
  }
  const top = await run([]);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /^Usage: cunik \[options\] \[command\]\n/);
});

test("a Cunikfile naming files the context lacks stops the build before any step", async () => {
  const ctx = join(d.dir, 'outside');
  await mkdir(ctx);
  await writeFile(join(d.dir, 'secret'), 'x');
  for (const [file, message] of [
    ['family: linux\napp: /bin/busybox\nfiles:\n  - { src: ../secret, dst: /x }\n', /^cunik: files\[0\]\.src: \.\.\/secret is outside the build context\n$/],
    ['family: linux\napp: /bin/busybox\nfiles:\n  - { src: missing.txt, dst: /x }\n', /^cunik: files\[0\]\.src: no such file: missing\.txt \(in the build context\)\n$/],
    ['family: generic\nkernel: nokernel.elf\n', /^cunik: kernel: no such file: nokernel\.elf \(in the build context\)\n$/],
  ] as const) {
    await writeFile(join(ctx, 'Cunikfile'), file);
    const r = await run(['build', '-t', 'outside', ctx]);
    assert.equal(r.code, 125, r.stderr);
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stdout, /Step/, 'no step ran');
  }
});

test('a stream cut off by the daemon dying is an error, not a clean end', async () => {
  const other = await startDaemon();
  try {
    const p = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${other.socket}`, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => p.on('close', resolve));
    // The stream is flowing once an event made after it started reaches the CLI.
    await waitFor('cunik events to stream', async () => {
      await other.client.tagImage('hello', `hello:t${Date.now()}`).catch(async () => void (await other.client.importImage(createReadStream(helloKernel), { ref: 'hello', family: 'generic' })));
      return /image (tag|import)/.test(stdout) || undefined;
    }, 15_000);
    // And stats, which lists the instances every second.
    const stats = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${other.socket}`, 'stats'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let statsOut = '';
    let statsErr = '';
    stats.stdout.on('data', (c: Buffer) => (statsOut += c.toString()));
    stats.stderr.on('data', (c: Buffer) => (statsErr += c.toString()));
    const statsExited = new Promise<number | null>((resolve) => stats.on('close', resolve));
    await waitFor('cunik stats to draw its table', () => statsOut.includes('INSTANCE ID') || undefined, 15_000);
    other.proc.kill('SIGKILL');
    assert.equal(await exited, 125);
    assert.match(stderr, /^cunik: the Cunik daemon closed the connection before it was done \(did cunikd stop or crash\? its log may say why\)\n$/);
    assert.equal(await statsExited, 125, 'stats ends when the daemon is gone');
    // stats polls: the kill lands either between two requests (nothing listens) or during one (cut off).
    assert.match(statsErr, /^cunik: (cannot connect to the Cunik daemon at unix:\/\/.*: no daemon is listening there\. Is cunikd running\?|the Cunik daemon at unix:\/\/.* closed the connection before it was done \(did cunikd stop or crash\? its log may say why\))\n$/);
  } finally {
    await other.stop();
  }
});
