// Images made by other unikernel tools through a registry, as typed: a KraftKit package (an index
// with a qemu/x86_64 entry) and an urunc image laid out from the test kernels, pushed with skopeo
// into registries the test starts on 127.0.0.1 (Debian's docker-registry, CunikHub), then
// `cunik pull` and `cunik run`; a `cunik push` back gives the same digests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { cli, kernels, startDaemon } from '../helpers/daemon.js';
import { kraftkitArchive, uruncArchive } from '../helpers/foreign-images.js';
import { startHub } from '../helpers/hub.js';
import { startDockerRegistry } from '../helpers/registry.js';

const scratch = mkdtempSync(join(tmpdir(), 'cunik-foreign-reg-'));
const env = { CUNIK_CONFIG: join(scratch, 'cunik.json'), DOCKER_CONFIG: join(scratch, 'docker') };
after(() => rmSync(scratch, { recursive: true, force: true }));
const unikraftElf = readFileSync(join(kernels, 'unikraft.elf'));

function skopeo(args: string[]): string {
  const r = spawnSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, `skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

for (const peer of ['docker-registry', 'CunikHub'] as const) {
  test(`KraftKit and urunc images pushed by skopeo to ${peer} are pulled and run by cunik`, { timeout: 180_000 }, async () => {
    const registry = peer === 'CunikHub' ? await startHub() : await startDockerRegistry();
    const d = await startDaemon();
    try {
      const host = registry.host;
      const kk = await kraftkitArchive(join(scratch, `kk-${peer}`), join(scratch, `kk-${peer}.tar`), { kernel: unikraftElf, args: ['exit=3', 'via', 'registry'], ref: 'unikraft.org/hello:0.16' });
      // --all: the whole index (its one entry is qemu/x86_64, which skopeo would not pick for this host).
      skopeo(['copy', '--all', '--dest-tls-verify=false', `oci-archive:${kk}:0.16`, `docker://${host}/unikraft/hello:0.16`]);
      const raw = JSON.parse(skopeo(['inspect', '--raw', '--tls-verify=false', `docker://${host}/unikraft/hello:0.16`])) as { mediaType: string; manifests: { platform: { os: string; architecture: string } }[] };
      assert.equal(raw.mediaType, 'application/vnd.oci.image.index.v1+json');
      assert.deepEqual(raw.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}`), ['qemu/x86_64']);

      const ref = `${host}/unikraft/hello:0.16`;
      const pulled = await cli(['pull', ref], { socket: d.socket, env });
      assert.equal(pulled.code, 0, pulled.stderr);
      const run = await cli(['run', '--rm', ref], { socket: d.socket, env });
      assert.equal(run.code, 3, run.stderr);
      assert.match(run.stdout, /^cmdline: exit=3 via registry$/m);

      const ur = await uruncArchive(join(scratch, `ur-${peer}`), join(scratch, `ur-${peer}.tar`), {
        kernel: unikraftElf, via: 'json', ref: 'x/urunc:1',
        annotations: { unikernelType: 'unikraft', hypervisor: 'qemu', binary: '/unikernel/kernel', cmdline: 'app exit=5' },
      });
      skopeo(['copy', '--dest-tls-verify=false', `oci-archive:${ur}:1`, `docker://${host}/urunc/hello:1`]);
      const uref = `${host}/urunc/hello:1`;
      // run pulls the missing image first.
      const urun = await cli(['run', '--rm', uref], { socket: d.socket, env });
      assert.equal(urun.code, 5, urun.stderr);
      assert.match(urun.stdout, /^cmdline: exit=5$/m);

      // Stored byte for byte: pushed back under another name, the registry has the same manifest.
      const img = await d.client.inspectImage(uref);
      assert.equal((await cli(['tag', uref, `${host}/urunc/copy:1`], { socket: d.socket, env })).code, 0);
      const pushed = await cli(['push', `${host}/urunc/copy:1`], { socket: d.socket, env });
      assert.equal(pushed.code, 0, pushed.stderr);
      const digest = JSON.parse(skopeo(['inspect', '--tls-verify=false', `docker://${host}/urunc/copy:1`])) as { Digest: string };
      assert.equal(digest.Digest, img.digest);
    } finally {
      await d.stop();
      await registry.stop();
    }
  });
}
