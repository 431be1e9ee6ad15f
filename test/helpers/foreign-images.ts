// OCI archives laid out as other unikernel tools make them, from the project's own test kernels:
// KraftKit's `kraft pkg` (kernel at unikraft/bin/kernel, org.unikraft.* annotations, an index with
// a qemu/x86_64 entry) and urunc's (bunny's: com.urunc.unikernel.* as config labels and manifest
// annotations, /urunc.json with base64 values). The layouts follow docs/images.md, "Images from
// other tools"; nothing here comes from those tools' code.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export interface TarEntry {
  name: string;
  data?: Buffer;
  type?: 'file' | 'symlink' | 'link' | 'directory';
  linkname?: string;
  mode?: number;
}

/** An uncompressed tar of the entries, in order. */
export async function tarOf(entries: TarEntry[]): Promise<Buffer> {
  const pack = tarPack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
  const done = new Promise<void>((resolve, reject) => { pack.on('end', resolve); pack.on('error', reject); });
  for (const e of entries) {
    const type = e.type ?? 'file';
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644), mtime: new Date(0), ...(e.linkname !== undefined && { linkname: e.linkname }) };
      const cb = (err?: Error | null): void => (err ? reject(err) : resolve());
      if (type === 'file') pack.entry(header, e.data ?? Buffer.alloc(0), cb);
      else pack.entry(header, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

interface Blob { digest: string; size: number }
interface Layer { tar: Buffer; gzip?: boolean; annotations?: Record<string, string> }

/** Writes blobs of one OCI layout directory and, at the end, an oci-archive tar of it. */
export class LayoutWriter {
  constructor(readonly dir: string) {
    mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  }

  blob(b: Buffer): Blob {
    const digest = sha256(b);
    writeFileSync(join(this.dir, 'blobs', 'sha256', digest.slice(7)), b);
    return { digest, size: b.length };
  }

  json(v: unknown): Blob {
    return this.blob(Buffer.from(JSON.stringify(v)));
  }

  /** An image manifest over a config and layers; returns its descriptor's digest and size. */
  image(config: Record<string, unknown>, layers: Layer[], annotations?: Record<string, string>): Blob {
    const descs = layers.map((l) => {
      const body = l.gzip === true ? gzipSync(l.tar) : l.tar;
      return {
        mediaType: l.gzip === true ? 'application/vnd.oci.image.layer.v1.tar+gzip' : 'application/vnd.oci.image.layer.v1.tar',
        ...this.blob(body),
        ...(l.annotations !== undefined && { annotations: l.annotations }),
      };
    });
    const cfg = this.json({ ...config, rootfs: { type: 'layers', diff_ids: layers.map((l) => sha256(l.tar)) } });
    return this.json({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...cfg },
      layers: descs,
      ...(annotations !== undefined && { annotations }),
    });
  }

  /** index.json naming `top` (a manifest or an index) and the tar at `out`. */
  finish(top: Record<string, unknown>, out: string): string {
    writeFileSync(join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [top] }));
    const r = spawnSync('tar', ['-C', this.dir, '-cf', out, 'oci-layout', 'index.json', 'blobs'], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
    return out;
  }
}

const refAnnotations = (ref: string): Record<string, string> => ({
  'io.containerd.image.name': ref,
  'org.opencontainers.image.ref.name': ref.slice(ref.lastIndexOf(':') + 1),
});

export interface KraftKitOptions {
  kernel: Buffer;
  initrd?: Buffer;
  /** Config Cmd: the application's arguments. */
  args?: string[];
  env?: string[];
  /** "name:tag" for the archive's index.json. */
  ref: string;
  /** The Unikraft platform and architecture (qemu, x86_64). */
  plat?: string;
  arch?: string;
}

/**
 * An oci-archive as `kraft pkg` lays a package out: each file its own uncompressed layer at
 * unikraft/bin/kernel or unikraft/bin/initrd (no leading slash, no directory entries, mode 0755
 * for the kernel), the layer descriptor annotated with the path; the config's os and architecture
 * the Unikraft platform and architecture, Cmd the app's args; the manifest annotated with
 * org.unikraft.image.name, org.unikraft.kernel.version and sh.kraftkit.version; all inside an
 * image index whose entry's platform is the same os/architecture.
 */
export async function kraftkitArchive(dir: string, out: string, o: KraftKitOptions): Promise<string> {
  const w = new LayoutWriter(dir);
  const plat = o.plat ?? 'qemu';
  const arch = o.arch ?? 'x86_64';
  const name = o.ref.slice(0, o.ref.lastIndexOf(':'));
  const layers: Layer[] = [{ tar: await tarOf([{ name: 'unikraft/bin/kernel', data: o.kernel, mode: 0o755 }]), annotations: { 'org.unikraft.kernel.image': '/unikraft/bin/kernel' } }];
  if (o.initrd !== undefined) {
    layers.push({ tar: await tarOf([{ name: 'unikraft/bin/initrd', data: o.initrd }]), annotations: { 'org.unikraft.kernel.initrd': '/unikraft/bin/initrd' } });
  }
  const annotations = {
    'org.unikraft.image.name': name,
    'org.unikraft.kernel.version': '0.16.3',
    'org.opencontainers.image.ref.name': name,
    'org.opencontainers.image.created': '2026-12-02T00:00:00Z',
    'sh.kraftkit.version': '0.9.4',
    'io.containerd.image.name': o.ref,
  };
  const platform = { architecture: arch, os: plat, 'os.version': '0.16.3' };
  const m = w.image({ architecture: arch, os: plat, 'os.version': '0.16.3', config: { Cmd: o.args ?? [], Env: o.env ?? [] } }, layers, annotations);
  const index = w.json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations, platform }],
    annotations: { 'org.opencontainers.image.ref.name': name, 'sh.kraftkit.version': '0.9.4', 'io.containerd.image.name': o.ref },
  });
  return w.finish({ mediaType: 'application/vnd.oci.image.index.v1+json', ...index, annotations: refAnnotations(o.ref) }, out);
}

export interface UruncOptions {
  kernel: Buffer;
  /** Where the binary lies in the root filesystem (default /unikernel/kernel). */
  binaryPath?: string;
  initrd?: Buffer;
  /** The annotations (plain values), e.g. unikernelType, hypervisor, cmdline (the com.urunc.unikernel. prefix is added). */
  annotations: Record<string, string>;
  /** Where they go: labels and manifest annotations (bunny's), only /urunc.json (base64), or both. */
  via: 'annotations' | 'json' | 'both';
  cmd?: string[];
  ref: string;
  /** More layers after the kernel's (for hostile layouts). */
  extraLayers?: TarEntry[][];
}

/** urunc.json's bytes: each com.urunc.unikernel.* value base64-encoded. */
export function uruncJson(annotations: Record<string, string>): Buffer {
  return Buffer.from(JSON.stringify(Object.fromEntries(Object.entries(annotations).map(([k, v]) => [`com.urunc.unikernel.${k}`, Buffer.from(v).toString('base64')]))));
}

/**
 * An oci-archive as bunny packs an image for urunc: a linux/amd64 image whose gzip layers hold the
 * binary (and initrd) at their paths and /urunc.json, the annotations also as config labels and
 * manifest annotations with plain values.
 */
export async function uruncArchive(dir: string, out: string, o: UruncOptions): Promise<string> {
  const w = new LayoutWriter(dir);
  const binary = o.binaryPath ?? '/unikernel/kernel';
  const files: TarEntry[] = [{ name: 'unikernel/', type: 'directory' }, { name: binary.replace(/^\/+/, ''), data: o.kernel, mode: 0o755 }];
  if (o.initrd !== undefined) files.push({ name: 'unikernel/initrd', data: o.initrd });
  const ann = Object.fromEntries(Object.entries(o.annotations).map(([k, v]) => [`com.urunc.unikernel.${k}`, v]));
  const layers: Layer[] = [{ tar: await tarOf(files), gzip: true }];
  if (o.via !== 'annotations') layers.push({ tar: await tarOf([{ name: 'urunc.json', data: uruncJson(o.annotations) }]), gzip: true });
  for (const extra of o.extraLayers ?? []) layers.push({ tar: await tarOf(extra), gzip: true });
  const labelled = o.via !== 'json';
  const m = w.image({
    architecture: 'amd64', os: 'linux',
    config: { ...(labelled && { Labels: ann }), ...(o.cmd !== undefined && { Cmd: o.cmd }) },
  }, layers, labelled ? ann : undefined);
  return w.finish({ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: refAnnotations(o.ref), platform: { architecture: 'amd64', os: 'linux' } }, out);
}
