// Block volumes of a linux guest are found by their serial (vol0, vol1...), not by the name the
// kernel gave the disk: the kernel names disks in the order it probes them, and a volume mounted
// at another volume's path would take the app's writes meant for the other. The instance's own
// QEMU command line (inspect's vm.argv) is started again by hand with the two volumes' devices
// swapped, so the kernel names them the other way round: each must still be mounted where the
// instance asked for it.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, startDaemon, type TestDaemon } from '../helpers/daemon.js';
import { linuxGuestMissing, tscLabelLines } from '../helpers/linux-guest.js';

const missing = linuxGuestMissing().join('; ');
let d: TestDaemon;
let ctx: string;
const run = (args: string[]) => cli(args, { socket: d.socket });

// No double quotes: the kernel's command line cannot carry a quoted blank (families/linux-cmdline.ts).
const SCRIPT = 'if [ -e /a/who ]; then echo mounted a=$(cat /a/who) b=$(cat /b/who); else echo A > /a/who; echo B > /b/who; echo written; fi';

before(async () => {
  assert.equal(missing, '', `cannot run here: ${missing} (setup.sh installs it)`);
  ctx = mkdtempSync(join(tmpdir(), 'cunik-volorder-'));
  writeFileSync(join(ctx, 'Cunikfile'), [
    'family: linux',
    'app: /bin/busybox',
    'volumes: [/a, /b]',
    'memory: 128M',
    ...tscLabelLines(),
    '',
  ].join('\n'));
  d = await startDaemon();
  const b = await run(['build', '-q', '-t', 'volorder', ctx]);
  assert.equal(b.code, 0, b.stderr + b.stdout);
});

after(async () => {
  await d?.stop();
  if (ctx !== undefined) rmSync(ctx, { recursive: true, force: true });
});

/** Every option and its value of `argv` except those `drop` names; each -device of `first` before the others. */
function rewrite(argv: string[], drop: string[], first: RegExp): string[] {
  const out: string[] = [];
  const moved: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const a = argv[i]!;
    if (drop.includes(a)) {
      i++;
      continue;
    }
    if (a === '-device' && first.test(argv[i + 1] ?? '')) {
      moved.push(a, argv[++i]!);
      continue;
    }
    out.push(a);
  }
  const at = out.indexOf('-device');
  return [...out.slice(0, at), ...moved, ...out.slice(at)];
}

test('block volumes are mounted by their serial: the kernel naming the disks the other way round changes nothing', { timeout: 300_000 }, async () => {
  for (const v of ['va', 'vb']) assert.equal((await run(['volume', 'create', '--driver', 'block', '--size', '16m', v])).code, 0);
  const first = await run(['run', '--name', 'order', '--network', 'none', '-v', 'va:/a', '-v', 'vb:/b', 'volorder', 'sh', '-c', SCRIPT]);
  assert.equal(first.code, 0, first.stderr + first.stdout);
  assert.match(first.stdout, /^written\r?$/m);
  const again = await run(['start', '-a', 'order']);
  assert.match(again.stdout, /^mounted a=A b=B\r?$/m, 'in the order Cunik attaches them');

  const argv = (await d.client.inspectInstance('order')).vm.argv;
  const vol1 = /^virtio-blk-device,.*serial=vol1\b/;
  assert.equal(argv.filter((a) => vol1.test(a)).length, 1, argv.join(' '));
  // The volume vb's device (serial vol1) first: the kernel probes it first and names it vda.
  const swapped = [...rewrite(argv, ['-chardev', '-serial', '-qmp', '-pidfile'], vol1), '-serial', 'stdio'];
  const q = spawn(argv[0]!, swapped, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  q.stdout.on('data', (c: Buffer) => (out += c.toString('latin1')));
  q.stderr.on('data', (c: Buffer) => (out += c.toString('latin1')));
  const code = await new Promise<number | null>((r) => q.once('exit', r));
  assert.match(out, /^mounted a=A b=B\r?$/m, out.slice(-2000));
  assert.equal(code, 1, 'the app exited 0 (isa-debug-exit: 0 << 1 | 1)');
  assert.equal((await run(['rm', 'order'])).code, 0);
  assert.equal((await run(['volume', 'rm', 'va', 'vb'])).code, 0);
});
