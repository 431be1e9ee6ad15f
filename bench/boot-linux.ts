// boot-linux: the httpd example (examples/httpd: busybox httpd as the only app of a Linux microVM on
// Debian's kernel, built here with `cunik build`) booted to its ready line three ways, in ABBA order
// (A B C, C B A, ...) so that all three see the same machine conditions:
// - cunik_ms: `cunik run --rm httpd` as a user types it, from spawning the CLI until the example's
//   ready line ("httpd: ready on port 80", printed by examples/httpd/start.sh once httpd listens)
//   appears on the CLI's stdout. The guest serves and never ends by itself: after the ready line the
//   CLI gets SIGINT (Ctrl-C, which stops the instance) and the round waits for it to exit (not timed).
// - bare_ms: qemu-system-x86_64 with exactly the daemon's argv for that instance (the same
//   uncompressed vmlinux the builder extracted, the same initrd and command line; its instance
//   directory and sockets swapped for private ones), from spawn until the ready line is in the
//   console log QEMU writes; then SIGKILL (not timed).
// - bzimage_ms: the bare argv again, booting Debian's compressed bzImage (/boot/vmlinuz-<release>,
//   the kernel the image was built from) in place of the vmlinux.
// Medians of 8 rounds after one warm-up round. ratio = cunik_ms / bare_ms (goal <= 1.10);
// bzimage_ratio = cunik_ms / bzimage_ms (goal <= 0.4: the bzImage at least 2.5 times slower).
import { killOnExitSignal } from '../test/helpers/cleanup.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, repo, startDaemon, type TestDaemon } from '../test/helpers/daemon.js';
import { abba, bareNetwork, header, median, now, round } from './harness.js';

export const READY = 'httpd: ready on port 80';
const TIMEOUT_MS = 120_000;

/** Resolves with the time `text` first shows up in what `subscribe` feeds; rejects after a timeout. */
function waitForText(what: string, text: string, subscribe: (check: (all: string) => void) => () => void): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    let unsubscribe: (() => void) | undefined;
    const finish = (): void => {
      done = true;
      clearTimeout(timer);
      unsubscribe?.();
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`boot-linux: no "${text}" from ${what} within ${TIMEOUT_MS / 1000} s`));
    }, TIMEOUT_MS);
    unsubscribe = subscribe((all) => {
      if (done || !all.includes(text)) return;
      const t = now();
      finish();
      resolve(t);
    });
    if (done) unsubscribe();
  });
}

/** `text` in a file that QEMU appends to (event-driven, as the daemon's log follower). */
function textInFile(file: string, text: string): Promise<number> {
  return waitForText(file, text, (check) => {
    const watcher = watch(file, () => check(readFileSync(file, 'latin1')));
    check(readFileSync(file, 'latin1'));
    return () => watcher.close();
  });
}

const exited = (child: ChildProcess): Promise<void> =>
  new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** One `cunik run --rm --name NAME httpd`: ms to the ready line; `whileUp` runs before the stop. */
async function cunikRun(d: TestDaemon, name: string, whileUp?: () => Promise<void>): Promise<number> {
  const t0 = now();
  const child = spawn(join(repo, 'bin', 'cunik'), ['-H', `unix://${d.socket}`, 'run', '--rm', '--name', name, 'httpd'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const gone = exited(child);
  try {
    const ready = waitForText('cunik run', READY, (check) => {
      const onData = (c: Buffer): void => check((out += c.toString('latin1')));
      child.stdout!.on('data', onData);
      return () => child.stdout!.off('data', onData);
    });
    const t1 = await Promise.race([ready, gone.then(() => Promise.reject(new Error(`cunik run ended before its ready line: ${err}${out}`)))]);
    if (whileUp) await whileUp();
    return t1 - t0;
  } finally {
    child.stdout!.resume();
    child.kill('SIGINT');
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    await gone;
    clearTimeout(killer);
  }
}

/** The daemon's argv for one instance, made to run anywhere: private directory for its files and sockets. */
interface BareTemplate {
  argv: string[];
  instanceDir: string;
  socketDir: string;
  files: string; // where kernel and initrd were copied
}

async function bareBoot(t: BareTemplate, kernel?: string): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'cunik-bare-'));
  let passt: ChildProcess | undefined;
  try {
    writeFileSync(join(dir, 'console.log'), '');
    const args = t.argv.map((a) => {
      if (a === join(t.instanceDir, 'kernel')) return kernel ?? join(t.files, 'kernel');
      if (a === join(t.instanceDir, 'initrd')) return join(t.files, 'initrd');
      return a.split(t.instanceDir).join(dir).split(t.socketDir).join(dir);
    });
    if (!args.includes(kernel ?? join(t.files, 'kernel'))) throw new Error(`boot-linux: no -kernel ${join(t.instanceDir, 'kernel')} in the daemon's argv`);
    // The daemon's VM gets its network from a passt that cunik-shim starts beside it, on a socket
    // passed by descriptor: the bare run gets the same passt, on a unix socket, started first.
    passt = await bareNetwork(args, dir);
    const ready = textInFile(join(dir, 'console.log'), READY);
    const t0 = now();
    const child = spawn(args[0]!, args.slice(1), { detached: true, stdio: 'ignore' });
    killOnExitSignal(child, true); // a killed bench leaves no VM behind
    const gone = exited(child);
    try {
      const t1 = await Promise.race([ready, gone.then(() => Promise.reject(new Error(`bare QEMU exited before the ready line: ${readFileSync(join(dir, 'console.log'), 'latin1')}`)))]);
      return t1 - t0;
    } finally {
      child.kill('SIGKILL');
      await gone;
    }
  } finally {
    passt?.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function bootLinux(rounds = 8): Promise<Record<string, number>> {
  header('boot-linux', { rounds, warmup: 1 });
  const d = await startDaemon();
  const files = mkdtempSync(join(tmpdir(), 'cunik-bootlinux-'));
  try {
    const b = await cli(['build', '-q', '-t', 'httpd', join(repo, 'examples', 'httpd')], { socket: d.socket });
    if (b.code !== 0) throw new Error(`boot-linux: building examples/httpd failed: ${b.stderr}`);
    const release = (await d.client.inspectImage('httpd')).labels['org.cunik.kernel.release'];
    const bzImage = `/boot/vmlinuz-${release}`;
    if (!existsSync(bzImage)) throw new Error(`boot-linux: ${bzImage} (the bzImage the image was built from) is missing`);

    // Warm-up round: also takes the daemon's argv from the running instance.
    let template: BareTemplate | undefined;
    await cunikRun(d, 'boot-linux-0', async () => {
      const detail = await d.client.inspectInstance('boot-linux-0');
      for (const f of ['kernel', 'initrd']) copyFileSync(join(detail.paths.dir, f), join(files, f));
      template = { argv: detail.vm.argv, instanceDir: detail.paths.dir, socketDir: join(d.root, 'sock'), files };
    });
    await bareBoot(template!);
    await bareBoot(template!, bzImage);

    let n = 0;
    const ms = await abba(
      rounds,
      {
        cunik: () => cunikRun(d, `boot-linux-${++n}`),
        bare: () => bareBoot(template!),
        bzimage: () => bareBoot(template!, bzImage),
      },
      { onRound: (i, last) => console.log(`boot-linux: round ${i}: cunik ${round(last.cunik, 0)} ms, bare ${round(last.bare, 0)} ms, bzImage ${round(last.bzimage, 0)} ms`) },
    );
    const cunik_ms = median(ms.cunik);
    const bare_ms = median(ms.bare);
    const bzimage_ms = median(ms.bzimage);
    return {
      cunik_ms: round(cunik_ms),
      bare_ms: round(bare_ms),
      ratio: round(cunik_ms / bare_ms, 3),
      bzimage_ms: round(bzimage_ms),
      bzimage_ratio: round(cunik_ms / bzimage_ms, 3),
    };
  } finally {
    await d.stop();
    rmSync(files, { recursive: true, force: true });
  }
}
