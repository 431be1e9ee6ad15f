// Store corruption is noticed, through the real daemon and CLI: a layer blob with a flipped byte
// is not exported (save fails in one line naming the image, leaves no file, and is refused up
// front from then on); a corrupt config blob is reported at daemon start instead of the image
// silently vanishing; system check finds both and --repair drops them.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { cli, helloKernel, kernels, startDaemon, type TestDaemon } from '../helpers/daemon.js';

let d: TestDaemon;
const run = (args: string[]) => cli(args, { socket: d.socket });
const blob = (digest: string) => join(d.root, 'images', 'blobs', 'sha256', digest.slice(7));
function flip(path: string): void {
  const buf = readFileSync(path);
  const i = buf.length >> 1;
  buf[i] = buf[i]! ^ 0xff;
  writeFileSync(path, buf);
}

before(async () => {
  d = await startDaemon();
  // Two kernels, so that the images share no layer.
  assert.equal((await run(['import', '--family', 'generic', helloKernel, 'layered'])).code, 0);
  assert.equal((await run(['import', '--family', 'generic', join(kernels, 'hello-pvh.elf'), 'configured'])).code, 0);
});
after(async () => d.stop());

test('save of an image whose layer blob has a flipped byte: exit 125, one line naming the image, no archive; refused up front afterwards, also for run', async () => {
  const img = await d.client.inspectImage('layered');
  flip(blob(img.layers[0]!.digest));
  const out = join(d.dir, 'layered.tar');
  const r = await run(['save', '-o', out, 'layered']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, new RegExp(`^cunik: image layered:latest is damaged: blob ${img.layers[0]!.digest} is corrupt \\(its content's digest is sha256:[0-9a-f]{64}\\); cunik system check --repair removes it\\n$`));
  assert.equal(existsSync(out), false);
  assert.equal(existsSync(`${out}.partial`), false);
  assert.match(d.stderr(), /warning: image layered:latest is damaged: blob/);
  const again = await run(['save', '-o', out, 'layered']);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /^cunik: image layered:latest is damaged/);
  const started = await run(['run', '--rm', 'layered']);
  assert.equal(started.code, 125);
  assert.match(started.stderr, /^cunik: image layered:latest is damaged/);
  // The intact image still saves.
  assert.equal((await run(['save', '-o', join(d.dir, 'ok.tar'), 'configured'])).code, 0);
});

test('a corrupt config blob: named in the daemon log at start, reported by system check, dropped by --repair with the damaged layer image', async () => {
  const img = await d.client.inspectImage('configured');
  await d.stop({ keepFiles: true });
  flip(blob(img.id));
  d = await startDaemon({ dir: d.dir });
  assert.match(d.stderr(), new RegExp(`warning: image configured:latest cannot be used: its config ${img.id} is corrupt`));
  assert.deepEqual((await d.client.listImages()).map((i) => i.repoTags[0]), ['layered:latest']);

  const check = await run(['system', 'check']);
  assert.equal(check.code, 1);
  assert.match(check.stdout, new RegExp(`^blob ${img.id}: blob ${img.id} is corrupt`, 'm'));
  assert.match(check.stdout, /^blob sha256:[0-9a-f]{64}: .* used by image layered:latest$/m);
  assert.match(check.stdout, /^image configured:latest: cannot be used: its config /m);
  const repair = await run(['system', 'check', '--repair']);
  assert.equal(repair.code, 0, repair.stdout);
  assert.deepEqual(await d.client.listImages(), []);
  const clean = await run(['system', 'check']);
  assert.equal(clean.code, 0);
  assert.match(clean.stdout, /^Checked 0 instance records, 0 images \(0 blobs verified\), 0 volumes: no problems found$/m);
  // What was dropped can be loaded again from a good copy.
  assert.equal((await run(['load', '-i', join(d.dir, 'ok.tar')])).code, 0);
  assert.equal((await run(['system', 'check'])).code, 0);
});
