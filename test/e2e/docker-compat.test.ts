// The real docker CLI (docker 28, /usr/local/bin/docker) pointed at cunikd --docker-host: what a
// Docker user types, translated onto the daemon's own services, with real QEMU guests.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, startDaemon, waitFor, type TestDaemon } from '../helpers/daemon.js';
import { hash } from '@node-rs/bcrypt';
import { startHub } from '../helpers/hub.js';
import { startDockerRegistry } from '../helpers/registry.js';
import { freePort, linuxGuestMissing } from '../helpers/linux-guest.js';

let d: TestDaemon;
let dockerSock: string;
const home = mkdtempSync(join(tmpdir(), 'cunik-docker-cfg-'));

interface Run { code: number; stdout: string; stderr: string }

/**
 * The docker CLI as typed; `shell`: a pipeline run by sh with the same environment; `interact`:
 * lines to type once the output matches (stdin stays open until they are written).
 */
function docker(args: string[], opts: { shell?: string; interact?: [RegExp, string][] } = {}): Promise<Run> {
  const env = { ...process.env, DOCKER_HOST: `unix://${dockerSock}`, DOCKER_CONFIG: join(home, 'docker') };
  const p = opts.shell !== undefined ? spawn('sh', ['-c', opts.shell], { env }) : spawn('docker', args, { env });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  p.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  if (opts.interact === undefined) p.stdin.end();
  else
    void (async () => {
      for (const [re, line] of opts.interact!) {
        await waitFor(`${re} in docker ${args.join(' ')}`, () => re.test(stdout) || undefined, 60_000);
        p.stdin.write(line);
      }
      p.stdin.end();
    })().catch(() => p.kill('SIGKILL'));
  return new Promise((resolve) => p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr })));
}

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-docker-'));
  dockerSock = join(dir, 'docker.sock');
  d = await startDaemon({ dir, args: ['--accel', 'tcg', '--docker-host', `unix://${dockerSock}`] });
  const imported = await cli(['import', '--family', 'generic', helloKernel, 'hello'], { socket: d.socket });
  assert.equal(imported.code, 0, imported.stderr);
});
after(async () => {
  await d?.stop();
  rmSync(home, { recursive: true, force: true });
});

test('docker version talks API 1.44 to Cunik; unknown endpoints answer Docker\'s error naming what is missing', async () => {
  const v = await docker(['version']);
  assert.equal(v.code, 0, v.stderr);
  assert.match(v.stdout, /^Server: Cunik /m);
  assert.match(v.stdout, /API version:\s+1\.44 \(minimum version 1\.24\)/);
  const info = await docker(['info', '--format', '{{.ServerVersion}} {{.OSType}}']);
  assert.equal(info.code, 0, info.stderr);
  assert.match(info.stdout, /^\S+ linux\n$/);
  const exec = await docker(['exec', 'nope', 'ls']);
  assert.notEqual(exec.code, 0);
  assert.match(exec.stderr, /No such container: nope/);
  // Versioned and unversioned paths are one API; below the minimum is refused in Docker's words.
  const old = await docker(['version'], { shell: `DOCKER_API_VERSION=1.12 docker version` });
  assert.match(old.stderr, /client version 1\.12 is too old|minimum supported API version/i);
});

test('docker run --rm hello exit=3 shows the console and exits 3; nothing is left', async () => {
  const r = await docker(['run', '--rm', 'hello', 'exit=3']);
  assert.equal(r.code, 3, r.stderr);
  assert.match(r.stdout, /Hello from the Cunik test kernel/);
  assert.match(r.stdout, /cmdline: exit=3/);
  assert.equal((await docker(['ps', '-a', '-q'])).stdout, '');
  const none = await docker(['run', '--rm', '--network', 'none', 'hello', 'exit=0']);
  assert.equal(none.code, 0, none.stderr);
  // Without --rm: wait next-exit, then inspect's exit code as Docker's template reads it.
  const kept = await docker(['run', '--name', 'kept', 'hello', 'exit=5']);
  assert.equal(kept.code, 5, kept.stderr);
  const code = await docker(['inspect', '--format', '{{.State.ExitCode}} {{.State.Status}} {{.Name}}', 'kept']);
  assert.equal(code.stdout, '5 exited /kept\n');
  // docker start -a attaches to the exited container, then starts it: this run's output only.
  const again = await docker(['start', '-a', 'kept']);
  assert.equal(again.code, 5, again.stderr);
  assert.equal((again.stdout.match(/Hello from the Cunik test kernel/g) ?? []).length, 1, again.stdout);
  assert.equal((await docker(['rm', 'kept'])).code, 0);
});

test('docker run -i --rm: stdin reaches the guest through attach, its answers come back framed', async () => {
  const r = await docker(['run', '-i', '--rm', 'hello', 'echo'], { interact: [[/echo: ready/, 'hi there\n'], [/echo: hi there/, 'exit=6\n']] });
  assert.equal(r.code, 6, r.stderr);
  assert.match(r.stdout, /echo: ready\r?\n(.*\n)*echo: hi there/);
  assert.equal((await docker(['ps', '-a', '-q'])).stdout, '');
});

test('docker run -it on a terminal: keys reach the guest raw, its output comes back unframed; the size is taken; logs of a -t container are raw', async () => {
  // script(1) gives the docker CLI the terminal -t needs; Enter is a carriage return in raw mode.
  const r = await docker([], { shell: 'script -qec "docker run -it --rm hello echo" /dev/null', interact: [[/echo: ready/, 'typed\r'], [/echo: typed/, 'exit=5\r']] });
  assert.equal(r.code, 5, r.stderr + r.stdout);
  assert.match(r.stdout, /echo: typed/);
  assert.doesNotMatch(r.stdout + r.stderr, /resize|\x01\x00\x00\x00/, 'no resize error, no frame headers');
  const id = (await docker(['run', '-d', '-t', 'hello', 'exit=0'])).stdout.trim();
  assert.equal((await docker(['wait', id])).stdout, '0\n');
  assert.equal((await docker(['inspect', '-f', '{{.Config.Tty}}', id])).stdout, 'true\n');
  const logs = await docker(['logs', id]);
  assert.match(logs.stdout, /^Hello from the Cunik test kernel\r?\n/, 'raw bytes: no 8-byte frame header first');
  assert.equal((await docker(['rm', id])).code, 0);
});

test('docker run -d, ps, logs -f until stop, inspect, rename, rm -f', async () => {
  const started = await docker(['run', '-d', '--name', 'idler', '--label', 'team=a', '-m', '48m', 'hello', 'idle']);
  assert.equal(started.code, 0, started.stderr);
  const id = started.stdout.trim();
  const pid = String((await d.client.inspectInstance(id)).pid); // the VMM's, which top shows
  assert.match(id, /^[0-9a-f]{64}$/);
  const ps = await docker(['ps', '--format', '{{.ID}} {{.Names}} {{.Image}} {{.Command}} {{.Labels}}']);
  assert.equal(ps.stdout, `${id.slice(0, 12)} idler hello "idle" team=a\n`);
  const none = await docker(['ps', '-q', '--filter', 'label=team=b']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout, '');
  // The CLI sends filters as a map of sets; the native list takes lists.
  assert.equal((await docker(['ps', '-q', '--no-trunc', '--filter', 'label=team=a', '--filter', 'status=running'])).stdout, `${id}\n`);
  assert.equal((await docker(['inspect', '-f', '{{.HostConfig.Memory}} {{index .Config.Labels "team"}}', 'idler'])).stdout, `${48 * 1024 * 1024} a\n`);

  const stats = await docker(['stats', '--no-stream', '--format', '{{.Name}} {{.MemUsage}}', 'idler']);
  assert.equal(stats.code, 0, stats.stderr);
  assert.match(stats.stdout, /^idler \d+(\.\d+)?MiB \/ 48MiB\n$/);
  const top = await docker(['top', 'idler']);
  assert.match(top.stdout, new RegExp(`^PID\\s+CMD\n${pid}\\s+\\S*qemu`));
  assert.equal((await docker(['pause', 'idler'])).code, 0);
  assert.match((await docker(['ps', '--format', '{{.Status}}'])).stdout, /\(Paused\)|paused/i);
  assert.equal((await docker(['unpause', 'idler'])).code, 0);

  // logs -f follows until the instance stops (framed as Docker's stdout stream).
  const follow = docker(['logs', '-f', 'idler']);
  await waitFor('ready in docker logs', async () => ((await docker(['logs', 'idler'])).stdout.includes('ready') ? true : undefined), 60_000);
  const stopped = await docker(['stop', '-t', '1', 'idler']);
  assert.equal(stopped.code, 0, stopped.stderr);
  assert.equal(stopped.stdout, 'idler\n');
  const followed = await follow;
  assert.equal(followed.code, 0, followed.stderr);
  assert.match(followed.stdout, /cmdline: idle\r?\n(.*\n)*ready/);
  const native = await d.client.inspectInstance('idler');
  assert.equal((await docker(['inspect', '--format', '{{.State.ExitCode}}', 'idler'])).stdout, `${native.exitCode}\n`);
  const tail = await docker(['logs', '--tail', '1', '-t', 'idler']);
  assert.match(tail.stdout, /^\d{4}-\d\d-\d\dT\S+Z \S.*\n$/);
  // inspect -s (size=1): the sizes docker ps -s shows.
  const [listed] = await d.client.listInstances(true, { id: [id] }, true);
  assert.equal((await docker(['inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'idler'])).stdout, `${listed!.sizeRw} ${listed!.sizeRootFs}\n`);
  assert.equal((await docker(['inspect', '-f', '{{.SizeRw}}', 'idler'])).stdout, '<nil>\n');

  assert.equal((await docker(['rename', 'idler', 'idler2'])).code, 0);
  assert.equal((await docker(['start', 'idler2'])).code, 0);
  assert.match((await docker(['ps', '--format', '{{.Names}} {{.Status}}'])).stdout, /^idler2 Up /);
  const rm = await docker(['rm', '-f', 'idler2']);
  assert.equal(rm.code, 0, rm.stderr);
  assert.equal((await docker(['ps', '-a', '-q'])).stdout, '');
  const gone = await docker(['inspect', 'idler2']);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /No such object: idler2|No such container: idler2/);
});

test('docker images, tag, rmi, save | load, volume ls, network ls', async () => {
  const images = await docker(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.equal(images.code, 0, images.stderr);
  assert.match(images.stdout, /^hello:latest$/m);
  assert.equal((await docker(['tag', 'hello', 'hello:saved'])).code, 0);
  const save = await docker([], { shell: `docker save hello:saved > ${join(home, 'saved.tar')}` });
  assert.equal(save.code, 0, save.stderr);
  const rmi = await docker(['rmi', 'hello:saved']);
  assert.equal(rmi.stdout, 'Untagged: hello:saved\n');
  const load = await docker([], { shell: `docker load < ${join(home, 'saved.tar')}` });
  assert.equal(load.code, 0, load.stderr);
  // The loaded image's references (the archive's, and those it already had here).
  assert.match(load.stdout, /^Loaded image: hello:saved$/m);
  assert.equal((await d.client.inspectImage('hello:saved')).id, (await d.client.inspectImage('hello')).id);
  // docker load takes an xz-compressed archive too (docker save | xz), as Docker's does.
  assert.equal((await docker(['rmi', 'hello:saved'])).code, 0);
  const xz = await docker([], { shell: `xz -c -0 < ${join(home, 'saved.tar')} | docker load` });
  assert.equal(xz.code, 0, xz.stderr);
  assert.match(xz.stdout, /^Loaded image: hello:saved$/m);
  // docker history: the import's two steps, newest first, the top one named by the image's id.
  const history = await docker(['history', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Comment}}', 'hello:saved']);
  assert.equal(history.code, 0, history.stderr);
  const top = (await d.client.inspectImage('hello')).id.slice('sha256:'.length, 'sha256:'.length + 12);
  assert.equal(history.stdout, `${top}|cunik import --family generic|cunik/boot.json\n<missing>|cunik import --family generic|cunik image import\n`);

  assert.equal((await docker(['volume', 'create', 'data1'])).stdout, 'data1\n');
  assert.equal((await docker(['volume', 'create', '--label', 'keep=yes', 'data2'])).stdout, 'data2\n');
  const vols = await docker(['volume', 'ls', '--format', '{{.Name}}']);
  assert.match(vols.stdout, /^data1$/m);
  assert.equal((await docker(['volume', 'ls', '-q', '--filter', 'label=keep=yes'])).stdout, 'data2\n');
  assert.equal((await docker(['volume', 'ls', '-q', '--filter', 'name=data', '--filter', 'dangling=true'])).stdout, 'data1\ndata2\n');
  assert.equal((await docker(['volume', 'rm', 'data2'])).code, 0);
  assert.equal((await docker(['volume', 'rm', 'data1'])).code, 0);
  // A named bind volume (the local driver's type=none,o=bind,device=): an existing host folder.
  const folder = mkdtempSync(join(tmpdir(), 'cunik-docker-bindvol-'));
  try {
    assert.equal((await docker(['volume', 'create', '--opt', 'type=none', '--opt', 'o=bind', '--opt', `device=${folder}`, 'bindvol'])).code, 0);
    const bv = JSON.parse((await docker(['volume', 'inspect', 'bindvol'])).stdout) as { Mountpoint: string; Options: Record<string, string> }[];
    assert.equal(bv[0]!.Mountpoint, folder);
    assert.deepEqual(bv[0]!.Options, { type: 'none', o: 'bind', device: folder });
    assert.equal((await docker(['volume', 'rm', 'bindvol'])).code, 0);
    const nfs = await docker(['volume', 'create', '--opt', 'type=nfs', '--opt', 'o=addr=192.0.2.1', '--opt', 'device=:/export', 'nfsvol']);
    assert.notEqual(nfs.code, 0);
    assert.match(nfs.stderr, /a volume of a host folder takes type=none, o=bind and device=PATH together/);
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
  const nets = await docker(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
  assert.match(nets.stdout, /^user passt$/m);
  assert.match(nets.stdout, /^none null$/m);
});

test('docker container prune and volume prune translate onto the native prunes', async () => {
  const created = await docker(['create', '--name', 'prunable', 'hello']);
  assert.equal(created.code, 0, created.stderr);
  const id = created.stdout.trim();
  // --filter: label and until (created before), as the native prune takes them.
  assert.equal((await docker(['create', '--name', 'kept', '--label', 'keep=yes', 'hello'])).code, 0);
  const none = await docker(['container', 'prune', '-f', '--filter', 'until=1h']);
  assert.equal(none.code, 0, none.stderr);
  assert.doesNotMatch(none.stdout, /Deleted Containers/, 'both were made just now');
  const labelled = await docker(['container', 'prune', '-f', '--filter', 'label=keep=yes']);
  assert.match(labelled.stdout, /^Deleted Containers:\n[0-9a-f]{64}\n/);
  assert.equal((await docker(['ps', '-a', '--format', '{{.Names}}'])).stdout, 'prunable\n');
  const bad = await docker(['container', 'prune', '-f', '--filter', 'colour=red']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid filter "colour" for container prune/);
  const pruned = await docker(['container', 'prune', '-f']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, new RegExp(`^Deleted Containers:\n${id}\n`));
  assert.equal((await docker(['ps', '-a', '-q'])).stdout, '');
  assert.equal((await docker(['volume', 'create', 'spare'])).code, 0);
  assert.equal((await docker(['volume', 'create', '--label', 'keep=yes', 'keeper'])).code, 0);
  const vp = await docker(['volume', 'prune', '-a', '-f', '--filter', 'label!=keep']);
  assert.equal(vp.code, 0, vp.stderr);
  assert.match(vp.stdout, /^Deleted Volumes:\nspare\n\n/);
  assert.equal((await docker(['volume', 'ls', '-q'])).stdout, 'keeper\n');
  assert.equal((await docker(['volume', 'rm', 'keeper'])).code, 0);
  // -a (dangling=false): every image no container uses, tagged or not.
  assert.equal((await docker(['tag', 'hello', 'hello:spare'])).code, 0);
  assert.equal((await docker(['run', '-d', '--name', 'keeper', 'hello', 'idle'])).code, 0);
  const imported = await cli(['import', '--family', 'generic', helloKernel, 'unused:1'], { socket: d.socket });
  assert.equal(imported.code, 0, imported.stderr);
  const ip = await docker(['image', 'prune', '-a', '-f']);
  assert.equal(ip.code, 0, ip.stderr);
  assert.match(ip.stdout, /untagged: unused:1\n/);
  assert.match((await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout, /^hello:latest$/m, 'the image a container uses stays');
  assert.equal((await docker(['images', '-q', 'unused'])).stdout, '');
  assert.equal((await docker(['rm', '-f', 'keeper'])).code, 0);
});

test('docker system df shows the build cache, docker builder prune empties it; docker images --filter label=', async () => {
  const ctx = mkdtempSync(join(tmpdir(), 'cunik-docker-ctx-'));
  copyFileSync(helloKernel, join(ctx, 'hello.elf'));
  writeFileSync(join(ctx, 'Cunikfile'), 'family: generic\nkernel: hello.elf\nlabels: { team: core }\n');
  const built = await cli(['build', '-t', 'cached:1', ctx], { socket: d.socket });
  rmSync(ctx, { recursive: true, force: true });
  assert.equal(built.code, 0, built.stderr);
  const labelled = await docker(['images', '--filter', 'label=team=core', '--format', '{{.Repository}}:{{.Tag}}']);
  assert.equal(labelled.stdout, 'cached:1\n', labelled.stderr);
  const native = (JSON.parse((await cli(['system', 'df', '--format', 'json'], { socket: d.socket })).stdout) as { buildCache: { total: number } }).buildCache;
  assert.ok(native.total > 0);
  const df = await docker(['system', 'df']);
  assert.equal(df.code, 0, df.stderr);
  assert.match(df.stdout, /^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$/m);
  assert.match(df.stdout, new RegExp(`^Build Cache\\s+${native.total}\\s+0\\s+`, 'm'));
  const verbose = await docker(['system', 'df', '-v']);
  assert.equal(verbose.code, 0, verbose.stderr);
  assert.match(verbose.stdout, /^Build cache usage: /m);
  // docker ps -s: the instance's own files and its image (virtual), from the native sizes.
  assert.equal((await docker(['create', '--name', 'sized', 'cached:1'])).code, 0);
  const sized = await docker(['ps', '-a', '-s', '--filter', 'name=sized', '--format', '{{.Names}} {{.Size}}']);
  assert.match(sized.stdout, /^sized \S+ \(virtual \S+\)\n$/, sized.stderr);
  assert.equal((await docker(['rm', 'sized'])).code, 0);
  const pruned = await docker(['builder', 'prune', '-a', '-f']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /Total:?\s|Total reclaimed space/);
  const after = await docker(['system', 'df', '--format', '{{.Type}} {{.TotalCount}}']);
  assert.match(after.stdout, /^Build Cache 0$/m);
  assert.equal((await cli(['rmi', 'cached:1'], { socket: d.socket })).code, 0);
});

test('docker events --since replays what happened, in Docker\'s format', async () => {
  const since = Math.floor(Date.now() / 1000) - 1;
  const r = await docker(['run', '--rm', '--name', 'evented', 'hello']);
  assert.equal(r.code, 0, r.stderr);
  const ev = await docker(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000) + 1), '--filter', 'container=evented', '--format', '{{.Type}} {{.Action}} {{.Actor.Attributes.name}}']);
  assert.equal(ev.code, 0, ev.stderr);
  assert.deepEqual(ev.stdout.trim().split('\n'), ['container create evented', 'container start evented', 'container die evented', 'container destroy evented']);
});

test('docker push and pull against CunikHub, then run of the pulled image', { timeout: 120_000 }, async () => {
  const hub = await startHub();
  try {
    const ref = `${hub.host}/demo/hello:1.0`;
    assert.equal((await docker(['tag', 'hello', ref])).code, 0);
    const push = await docker(['push', ref]);
    assert.equal(push.code, 0, push.stderr + push.stdout);
    assert.match(push.stdout, new RegExp(`The push refers to repository \\[${hub.host.replace(/\./g, '\\.')}/demo/hello\\]`));
    assert.match(push.stdout, /1\.0: digest: sha256:[0-9a-f]{64} size: \d+/);
    assert.equal((await docker(['rmi', ref])).code, 0);
    const pull = await docker(['pull', ref]);
    assert.equal(pull.code, 0, pull.stderr + pull.stdout);
    assert.match(pull.stdout, /Digest: sha256:[0-9a-f]{64}/);
    const run = await docker(['run', '--rm', ref, 'exit=4']);
    assert.equal(run.code, 4, run.stderr);
    const bad = await docker(['pull', `${hub.host}/demo/nothing:1`]);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /nothing/);
  } finally {
    await hub.stop();
  }
});

const missing = linuxGuestMissing().join('; ');

test('docker login has the daemon check the credentials; docker push then sends them; a wrong password is one line', { timeout: 120_000 }, async () => {
  const reg = await startDockerRegistry({ htpasswd: `dora:${await hash('s3cret', 5)}\n` });
  try {
    const ref = `${reg.host}/priv/hello:1`;
    assert.equal((await docker(['tag', 'hello', ref])).code, 0);
    const denied = await docker(['push', ref]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.stdout + denied.stderr, /requires a login/);
    const wrong = await docker([], { shell: `echo nope | docker login -u dora --password-stdin ${reg.host}` });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, new RegExp(`^Error response from daemon: login to ${reg.host.replace(/\./g, '\\.')}: the registry refused these credentials \\(.*\\)\n$`));
    const ok = await docker([], { shell: `echo s3cret | docker login -u dora --password-stdin http://${reg.host}` });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /Login Succeeded/);
    const pushed = await docker(['push', ref]);
    assert.equal(pushed.code, 0, pushed.stderr + pushed.stdout);
    assert.match(pushed.stdout, /1: digest: sha256:[0-9a-f]{64}/);
    assert.equal((await docker(['logout', reg.host])).code, 0);
    // Without a registry, docker login means Docker Hub, which this daemon has no default for.
    const hub = await docker([], { shell: 'echo x | docker login -u dora --password-stdin' });
    assert.notEqual(hub.code, 0);
    assert.match(hub.stderr, /no default registry/);
  } finally {
    await reg.stop();
  }
});

test('docker run -d -p 127.0.0.1:PORT:80 of an httpd image serves through the published port', { timeout: 400_000 }, async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  const ctx = mkdtempSync(join(tmpdir(), 'cunik-docker-web-'));
  try {
    mkdirSync(join(ctx, 'www'));
    writeFileSync(join(ctx, 'www', 'index.html'), '<h1>docker run on a microVM</h1>\n');
    writeFileSync(join(ctx, 'Cunikfile'), ['family: linux', 'app: /bin/busybox', 'files:', '  - { src: www/index.html, dst: /www/index.html }', 'args: [httpd, -f, -v, -p, "80", -h, /www]', 'memory: 128M', ''].join('\n'));
    const b = await cli(['build', '-q', '-t', 'httpd', ctx], { socket: d.socket });
    assert.equal(b.code, 0, b.stderr + b.stdout);
    const port = await freePort();
    const r = await docker(['run', '-d', '--name', 'web', '-p', `127.0.0.1:${port}:80`, 'httpd']);
    assert.equal(r.code, 0, r.stderr);
    const body = await waitFor('httpd through the published port', async () => {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(5000) });
        return res.ok ? await res.text() : undefined;
      } catch {
        return undefined;
      }
    }, 300_000);
    assert.equal(body, '<h1>docker run on a microVM</h1>\n');
    const ps = await docker(['ps', '--format', '{{.Names}} {{.Ports}}']);
    assert.equal(ps.stdout, `web 127.0.0.1:${port}->80/tcp\n`);
    assert.equal((await docker(['port', 'web'])).stdout, `80/tcp -> 127.0.0.1:${port}\n`);
    // ps --filter publish= / expose=: the guest port (a range, a protocol), as Docker matches them.
    const filtered = async (f: string): Promise<string> => (await docker(['ps', '-q', '--filter', f])).stdout.trim();
    assert.notEqual(await filtered('publish=80'), '');
    assert.notEqual(await filtered('expose=1-1024/tcp'), '');
    assert.equal(await filtered('publish=80/udp'), '');
    assert.equal(await filtered(`publish=${port}`), '', 'the host port is not what publish= matches');
  } finally {
    await docker(['rm', '-f', 'web']);
    rmSync(ctx, { recursive: true, force: true });
  }
});

test('health checks through the Docker API: exec checks refused by name, State.Health and "(unhealthy)" of a host-side probe', async () => {
  const refused = await docker(['run', '-d', '--name', 'hc', '--health-cmd', 'true', 'hello', 'idle']);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /Healthcheck\.Test CMD-SHELL is not supported: health checks that exec inside the guest/);
  assert.equal((await docker(['ps', '-a', '-q', '--filter', 'name=hc'])).stdout, '');
  const none = await docker(['create', '--name', 'nohc', '--no-healthcheck', 'hello', 'idle']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal((await docker(['inspect', '-f', '{{json .State}}', 'nohc'])).stdout.includes('"Health"'), false); // none, as Docker's nil
  assert.equal((await docker(['rm', 'nohc'])).code, 0);
  // A probe made natively (nothing listens in `hello idle`): Docker's view of its health.
  const made = await cli(['run', '-d', '--name', 'sick', '--health-tcp', '80', '--health-interval', '200ms', '--health-retries', '1', 'hello', 'idle'], { socket: d.socket });
  assert.equal(made.code, 0, made.stderr);
  await waitFor('sick unhealthy in docker inspect', async () => ((await docker(['inspect', '-f', '{{.State.Health.Status}} {{.State.Health.FailingStreak}}', 'sick'])).stdout.startsWith('unhealthy ') ? true : undefined), 60_000);
  assert.match((await docker(['ps', '--filter', 'health=unhealthy', '--format', '{{.Names}} {{.Status}}'])).stdout, /^sick Up .* \(unhealthy\)\n$/);
  assert.equal((await docker(['ps', '-q', '--filter', 'health=healthy'])).stdout, '');
  assert.match((await docker(['inspect', '-f', '{{(index .State.Health.Log 0).ExitCode}}', 'sick'])).stdout, /^1\n$/);
  assert.equal((await docker(['rm', '-f', 'sick'])).code, 0);
});
