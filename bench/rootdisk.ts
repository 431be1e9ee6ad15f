// rootdisk (issue 16): a real container image as a microVM, its root file system on a shared
// read-only root disk (build/linux/rootdisk.ts) against the same image in an initramfs
// (`rootfs: initramfs`). The image: a Debian bookworm minbase with one web server package
// (lighttpd, not in examples/, which drops to www-data and logs to its own /var/log/lighttpd: the
// layer's owners must survive), made here with Debian's mmdebstrap (deb.debian.org) and
// turned into a `docker-archive:` tarball; its Cunikfile is four lines (family, from, ports, and
// rootfs for the initramfs side). Sides alternate in ABBA order, medians of `rounds`:
// - build_cold_s: `cunik build --no-cache` (every step recomputed); build_warm_s: the same build again;
// - first_response_s: from spawning `cunik run -d -p 127.0.0.1:PORT:80` to the first HTTP 200;
// - memory_min_mib: the image's org.cunik.memory.min label (runs use the image's default memory);
// - host_mib_per_instance: `count` instances at once (each answering), the PSS of their processes
//   (the VM's process and its descendants: /proc/PID/smaps_rollup) summed and divided by count;
//   once per side (it is the slowest part). The root disk's instances start as clones of a VM
//   template (vmm/qemu/template.ts), whose sealed RAM (a memfd cunik-memhold holds) is host memory
//   too: the template's that these instances map is added once, divided by count (template_mib);
// - first_response_template_s: the root disk's first run, a whole boot while its template is made beside it.
// The *_app figures are a third side: the same root disk built with `snapshot: app` (five lines),
// whose template is saved once lighttpd listens (docs/qemu.md, "App templates"): first_response_app_s,
// host_mib_per_instance_app (its template's memfd counted the same way, template_app_mib) and
// first_response_app_template_s; their ratios are over the initramfs side too.
// Each figure's *_ratio is the root disk's over the initramfs's. Before the runs, checkDisk makes
// sure of what the issue asks besides figures (oci-archive, writes), and fails the bench otherwise.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { cli, startDaemon, templatesMade, type TestDaemon } from '../test/helpers/daemon.js';
import { freePort } from '../test/helpers/linux-guest.js';
import { hostTscKhz } from '../src/families/host.js';
import { abba, header, median, now, round } from './harness.js';

const sha = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A docker-archive of one layer: the tar mmdebstrap wrote. */
function dockerArchive(rootTar: string, out: string, cmd: string[], entrypoint?: string[]): void {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-rdarch-'));
  try {
    const layerSha = sha(rootTar);
    mkdirSync(join(dir, layerSha));
    copyFileSync(rootTar, join(dir, layerSha, 'layer.tar'));
    const cfg = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { ...(entrypoint && { Entrypoint: entrypoint }), Cmd: cmd, Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }, rootfs: { type: 'layers', diff_ids: [`sha256:${layerSha}`] } }));
    const cfgSha = createHash('sha256').update(cfg).digest('hex');
    writeFileSync(join(dir, `${cfgSha}.json`), cfg);
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify([{ Config: `${cfgSha}.json`, RepoTags: ['debian-lighttpd:latest'], Layers: [`${layerSha}/layer.tar`] }]));
    execFileSync('tar', ['-cf', out, '-C', dir, '.']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const httpOk = (port: number): Promise<boolean> => new Promise((res) => {
  const req = get({ host: '127.0.0.1', port, path: '/', timeout: 1000 }, (r) => { r.resume(); res(r.statusCode === 200); });
  req.on('error', () => res(false));
  req.on('timeout', () => { req.destroy(); res(false); });
});

/**
 * Resolves at the first HTTP 200. A new probe (a new connection) starts every 50 ms while earlier
 * ones are still pending: under user-mode networking a connection made before the guest's NIC is
 * up waits for it (docs/networking.md, passt-fixes.c) and one made before the app listens is
 * reset, so one probe at a time measured the probes' timing, not the service.
 */
function untilOk(port: number, what: string, timeoutMs = 180_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const end = Date.now() + timeoutMs;
    let done = false;
    const timer = setInterval(() => {
      if (done) return;
      if (Date.now() > end) {
        done = true;
        clearInterval(timer);
        reject(new Error(`rootdisk: ${what} never answered on ${port}`));
        return;
      }
      void httpOk(port).then((ok) => {
        if (ok && !done) {
          done = true;
          clearInterval(timer);
          resolve();
        }
      });
    }, 50);
  });
}

/** PSS (KiB) of a process and its descendants. */
function treePssKiB(pid: number): number {
  const children = new Map<number, number[]>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(name)]);
    } catch { /* gone */ }
  }
  let total = 0;
  const visit = (p: number): void => {
    try {
      total += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))![1]);
    } catch { /* gone */ }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return total;
}

/**
 * MiB of the VM templates' RAM the VMs of these pids map (the memfd of each template's holder,
 * which a clone's QEMU names on its command line as mem-path=/proc/HOLDER/fd/3), each counted once.
 */
function templatesMiB(pids: number[]): number {
  const files = new Set<string>();
  for (const pid of pids) {
    const tree = [pid, ...readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number).filter((p) => {
      try {
        const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid;
      } catch {
        return false;
      }
    })];
    for (const p of tree) {
      try {
        const m = /mem-path=(\/proc\/\d+\/fd\/3)/.exec(readFileSync(`/proc/${p}/cmdline`, 'utf8'));
        if (m) files.add(m[1]!);
      } catch { /* gone */ }
    }
  }
  let bytes = 0;
  for (const f of files) bytes += statSync(f, { throwIfNoEntry: false })?.blocks ?? 0;
  return (bytes * 512) / 2 ** 20;
}

/** Where the image's service listens. */
const PORT = 80;

async function runAndAnswer(d: TestDaemon, image: string, name: string): Promise<{ ms: number; port: number }> {
  const port = await freePort();
  const t0 = now();
  const r = await cli(['run', '-d', '--name', name, '-p', `127.0.0.1:${port}:${PORT}`, image], { socket: d.socket });
  if (r.code !== 0) throw new Error(`rootdisk: run ${image}: ${r.stderr}`);
  await untilOk(port, name);
  return { ms: now() - t0, port };
}

/** The root disk layer's digest of an image. */
const diskOf = async (d: TestDaemon, image: string): Promise<string> => (await d.client.inspectImage(image)).layers?.[1]?.digest ?? '';

/**
 * What the issue asks of the image besides its figures: the same layer as an oci-archive (made by
 * skopeo, from a docker-archive whose Entrypoint is `sh -c`, so a run's args are a shell line)
 * builds onto the same root disk; an instance's writes go to its own layer (the image's disk is
 * unchanged, a second instance does not see them).
 */
async function checkDisk(d: TestDaemon, work: string, common: string): Promise<void> {
  dockerArchive(join(work, 'root.tar'), join(work, 'shell.tar'), ['echo ready'], ['/bin/sh', '-c']);
  execFileSync('skopeo', ['copy', '--quiet', `docker-archive:${join(work, 'shell.tar')}`, `oci-archive:${join(work, 'image-oci.tar')}`]);
  writeFileSync(join(work, 'Cunikfile.oci'), common.replace('docker-archive:image.tar', 'oci-archive:image-oci.tar'));
  const b = await cli(['build', '-t', 'rd-oci', '-f', join(work, 'Cunikfile.oci'), work], { socket: d.socket });
  if (b.code !== 0) throw new Error(`rootdisk: build of the oci-archive: ${b.stderr}`);
  if (!/ ---> root disk: Using cache /.test(b.stdout) || (await diskOf(d, 'rd-oci')) !== (await diskOf(d, 'rd-disk'))) throw new Error(`rootdisk: the oci-archive of the same image made another root disk:\n${b.stdout}`);
  const before = await diskOf(d, 'rd-disk');
  const sh = async (line: string): Promise<string> => {
    const r = await cli(['run', '--rm', 'rd-oci', line], { socket: d.socket });
    if (r.code !== 0) throw new Error(`rootdisk: run ${line}: ${r.stderr}${r.stdout.slice(-500)}`);
    return r.stdout;
  };
  if (!/^written$/m.test(await sh('echo written > /var/www/html/mark && cat /var/www/html/mark'))) throw new Error('rootdisk: an instance could not write to its writable layer');
  if (!/^unseen$/m.test(await sh('[ -e /var/www/html/mark ] && echo seen || echo unseen'))) throw new Error('rootdisk: a second instance saw the first one\'s write');
  if ((await diskOf(d, 'rd-disk')) !== before) throw new Error('rootdisk: the image changed');
  console.log('rootdisk: the oci-archive shares the root disk; writes stay in each instance\'s own layer');
  // Its runs made a template of their own: not beside the figures' runs.
  await templatesMade(d);
}

export async function rootdiskBench(rounds = 5, count = 10): Promise<Record<string, number>> {
  header('rootdisk', { rounds, count, service: 'lighttpd on a Debian bookworm minbase (mmdebstrap)' });
  const work = mkdtempSync(join(tmpdir(), 'cunik-rootdisk-bench-'));
  const d = await startDaemon({ args: ['--default-network', 'user'] });
  try {
    const t0 = now();
    execFileSync('mmdebstrap', ['--quiet', '--variant=minbase', '--include=lighttpd', '--format=tar', 'bookworm', join(work, 'root.tar'), 'http://deb.debian.org/debian'], { stdio: ['ignore', 'ignore', 'inherit'] });
    console.log(`rootdisk: mmdebstrap made ${round(statSync(join(work, 'root.tar')).size / 2 ** 20, 1)} MiB in ${round((now() - t0) / 1000, 1)} s`);
    dockerArchive(join(work, 'root.tar'), join(work, 'image.tar'), ['lighttpd', '-D', '-f', '/etc/lighttpd/lighttpd.conf']);
    const tsc = hostTscKhz();
    const common = `family: linux\nfrom: docker-archive:image.tar\nports: [${PORT}]\n${tsc !== undefined ? `labels: { org.cunik.tsc-khz: ${tsc} }\n` : ''}`;
    writeFileSync(join(work, 'Cunikfile.disk'), common);
    writeFileSync(join(work, 'Cunikfile.initramfs'), `${common}rootfs: initramfs\n`);
    writeFileSync(join(work, 'Cunikfile.app'), `${common}snapshot: app\n`);
    const build = async (side: 'disk' | 'initramfs' | 'app', cold: boolean): Promise<number> => {
      const t = now();
      const b = await cli(['build', '-q', ...(cold ? ['--no-cache'] : []), '-t', `rd-${side}`, '-f', join(work, `Cunikfile.${side}`), work], { socket: d.socket });
      if (b.code !== 0) throw new Error(`rootdisk: build ${side}: ${b.stderr}`);
      return (now() - t) / 1000;
    };
    const cold = await abba(rounds, { disk: () => build('disk', true), initramfs: () => build('initramfs', true) });
    const warm = await abba(rounds, { disk: () => build('disk', false), initramfs: () => build('initramfs', false) });
    await build('app', false);
    await checkDisk(d, work, common);
    const minOf = async (side: string): Promise<number> => Number((await d.client.inspectImage(`rd-${side}`)).labels['org.cunik.memory.min']);
    let n = 0;
    // The initramfs side may not boot at all (the issue's case): its figures are then NaN, said on
    // a line with the end of its console, and its ratios left out.
    const orNaN = async (side: string, what: string, fn: () => Promise<number>): Promise<number> => {
      try {
        return await fn();
      } catch (err) {
        if (side === 'disk') throw err;
        console.log(`rootdisk: the initramfs side failed (${what}): ${(err as Error).message}`);
        return NaN;
      }
    };
    const first = (side: string): Promise<number> => orNaN(side, 'first response', async () => {
      const name = `rd-first-${n++}`;
      try {
        const secs = (await runAndAnswer(d, `rd-${side}`, name)).ms / 1000;
        // A first run boots whole while its template is made beside it: the next ones are clones.
        await templatesMade(d);
        return secs;
      } catch (err) {
        const dir = (await d.client.inspectInstance(name).catch(() => undefined))?.paths.dir;
        const tail = dir !== undefined ? readFileSync(join(dir, 'console.log'), 'latin1').split('\n').slice(-5).join(' | ') : '';
        throw new Error(`${(err as Error).message}; console: ${tail}`);
      } finally {
        await cli(['rm', '-f', name], { socket: d.socket });
      }
    });
    const firstResp = await abba(rounds, { disk: () => first('disk'), app: () => first('app'), initramfs: () => first('initramfs') });
    const perInstance = (side: string): Promise<number> => orNaN(side, 'instances at once', async () => {
      const names = Array.from({ length: count }, (_, i) => `rd-many-${side}-${i}`);
      try {
        await Promise.all(names.map((name) => runAndAnswer(d, `rd-${side}`, name)));
        let kib = 0;
        const pids: number[] = [];
        for (const name of names) {
          const pid = (await d.client.inspectInstance(name)).pid;
          if (typeof pid === 'number') {
            kib += treePssKiB(pid);
            pids.push(pid);
          }
        }
        const template = templatesMiB(pids);
        if (side === 'disk') templateMiB = template;
        if (side === 'app') templateAppMiB = template;
        return kib / 1024 / count + template / count;
      } finally {
        await cli(['rm', '-f', ...names], { socket: d.socket });
      }
    });
    let templateMiB = 0;
    let templateAppMiB = 0;
    const host = { disk: await perInstance('disk'), app: await perInstance('app'), initramfs: await perInstance('initramfs') };
    const figures = {
      build_cold_s: median(cold.disk), build_cold_initramfs_s: median(cold.initramfs),
      build_warm_s: median(warm.disk), build_warm_initramfs_s: median(warm.initramfs),
      first_response_s: median(firstResp.disk), first_response_initramfs_s: median(firstResp.initramfs),
      memory_min_mib: await minOf('disk'), memory_min_initramfs_mib: await minOf('initramfs'),
      host_mib_per_instance: host.disk, host_mib_per_instance_initramfs: host.initramfs,
      template_mib: templateMiB,
      first_response_template_s: firstResp.disk[0]!,
      first_response_app_s: median(firstResp.app), host_mib_per_instance_app: host.app,
      template_app_mib: templateAppMiB, first_response_app_template_s: firstResp.app[0]!,
    };
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(figures)) if (Number.isFinite(v)) out[k] = round(v, 2);
    for (const f of ['build_cold', 'build_warm', 'first_response', 'memory_min', 'host_mib_per_instance']) {
      const disk = Object.entries(figures).find(([k]) => k.startsWith(f) && !k.includes('initramfs'))![1];
      const init = Object.entries(figures).find(([k]) => k.startsWith(f) && k.includes('initramfs'))![1];
      if (Number.isFinite(disk / init)) out[`${f}_ratio`] = round(disk / init, 3);
    }
    for (const [f, app, init] of [['first_response_app', figures.first_response_app_s, figures.first_response_initramfs_s], ['host_mib_per_instance_app', figures.host_mib_per_instance_app, figures.host_mib_per_instance_initramfs]] as const) {
      if (Number.isFinite(app / init)) out[`${f}_ratio`] = round(app / init, 3);
    }
    return out;
  } finally {
    await d.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
