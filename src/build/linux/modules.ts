// Kernel modules for the initramfs, resolved like modprobe does from /lib/modules/<release>:
// modules.dep ("path.ko: dep.ko ..."), modules.softdep ("softdep NAME pre: A B"), modules.alias
// (softdeps often name an alias, e.g. crypto-crc32c) and modules.builtin (nothing to load).
// The result is in load order: every module after the modules it depends on.

import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { invalid } from '../../errors.js';

/**
 * Always loaded: virtio over MMIO (microvm finds its devices through ACPI) and PCI, the NIC, and
 * the ACPI power button with its input events (cunik-init turns a press into SIGTERM for the app).
 */
export const BASE_MODULES = ['virtio_mmio', 'virtio_pci', 'virtio_net', 'button', 'evdev'];
/**
 * Loaded when the command line names a volume, by kind: 9p for shared folders, virtio-blk and ext4
 * for block volumes. A kernel may lack a kind (Debian's cloud kernel has no 9p): the image then
 * records the kinds it can mount (LABEL_VOLUME_KINDS) and a run asking for another is refused.
 */
export const VOLUME_MODULES = { share: ['9pnet_virtio', '9p'], block: ['virtio_blk', 'ext4'] } as const;
export type VolumeKind = keyof typeof VOLUME_MODULES;
/**
 * Loaded by a template boot (cunik.template: the init waits for its instance on a virtio-serial
 * port, src/vmm/qemu/template.ts); a kernel without them boots every instance whole.
 */
export const TEMPLATE_MODULES = ['virtio_console'];
/** Each kind as a user knows it. */
export const VOLUME_KIND_NAMES: Record<VolumeKind, string> = { share: 'shared host folders (-v /HOST:/PATH)', block: 'named volumes (-v NAME:/PATH)' };

export interface ModuleFile {
  name: string;
  /** Absolute host path of the .ko file. */
  path: string;
  /** Path relative to /lib/modules/<release>. */
  rel: string;
}

const norm = (n: string): string => n.replace(/-/g, '_');
const nameOf = (rel: string): string => norm(basename(rel).replace(/\.ko(\.(xz|gz|zst))?$/, ''));

export class ModuleIndex {
  private readonly deps = new Map<string, { rel: string; deps: string[] }>();
  private readonly soft = new Map<string, string[]>();
  private readonly aliases = new Map<string, string[]>();
  private readonly builtin = new Set<string>();

  constructor(readonly dir: string) {
    const depFile = join(dir, 'modules.dep');
    if (!existsSync(depFile)) throw invalid(`${dir}: no modules.dep (is the kernel's modules package installed?)`);
    for (const line of readFileSync(depFile, 'utf8').split('\n')) {
      const i = line.indexOf(':');
      if (i <= 0) continue;
      const rel = line.slice(0, i);
      this.deps.set(nameOf(rel), { rel, deps: line.slice(i + 1).trim().split(/\s+/).filter(Boolean).map(nameOf) });
    }
    const read = (f: string): string[] => (existsSync(join(dir, f)) ? readFileSync(join(dir, f), 'utf8').split('\n') : []);
    for (const line of read('modules.builtin')) if (line.trim()) this.builtin.add(nameOf(line.trim()));
    for (const line of read('modules.softdep')) {
      const m = /^softdep\s+(\S+)\s+(.*)$/.exec(line.trim());
      if (!m) continue;
      const pre = /pre:\s*([^:]*?)(?:\s+post:.*)?$/.exec(m[2]!);
      if (pre) this.soft.set(norm(m[1]!), pre[1]!.trim().split(/\s+/).filter(Boolean));
    }
    for (const line of read('modules.alias')) {
      const m = /^alias\s+(\S+)\s+(\S+)$/.exec(line.trim());
      if (!m || /[*?[]/.test(m[1]!)) continue;
      const list = this.aliases.get(m[1]!) ?? [];
      list.push(norm(m[2]!));
      this.aliases.set(m[1]!, list);
    }
  }

  isBuiltin(name: string): boolean {
    return this.builtin.has(norm(name));
  }

  has(name: string): boolean {
    return this.deps.has(norm(name)) || this.builtin.has(norm(name));
  }

  /** Module files to load, dependencies first. Unknown names throw; built-in ones are skipped. */
  resolve(names: string[]): ModuleFile[] {
    const out: ModuleFile[] = [];
    const done = new Set<string>();
    const visit = (raw: string, optional: boolean, chain: string[]): void => {
      let name = norm(raw);
      if (!this.deps.has(name) && !this.builtin.has(name)) {
        // Prefer the portable implementation (crc32c_generic over crc32c_intel, which needs SSE4.2).
        const targets = (this.aliases.get(raw) ?? []).filter((t) => this.deps.has(t) || this.builtin.has(t));
        const target = targets.find((t) => t.endsWith('_generic')) ?? targets[0];
        if (target === undefined) {
          if (optional) return;
          throw invalid(`kernel module ${raw} is not in ${this.dir} (modules.dep)`, 'modules');
        }
        name = target;
      }
      if (done.has(name) || chain.includes(name)) return;
      done.add(name);
      if (this.builtin.has(name)) return;
      for (const s of this.soft.get(name) ?? []) visit(s, true, [...chain, name]);
      const entry = this.deps.get(name)!;
      for (const d of entry.deps) visit(d, false, [...chain, name]);
      out.push({ name, rel: entry.rel, path: join(this.dir, entry.rel) });
    };
    for (const n of names) visit(n, false, []);
    return out;
  }
}

/** What an image packs: `files` loaded at every boot, `onDemand` when a volume is named. */
export interface ModuleChoice {
  files: ModuleFile[];
  onDemand: ModuleFile[];
  /** The volume kinds this kernel can mount (those whose modules it has or builds in). */
  volumeKinds: VolumeKind[];
  /** What a template boot loads besides `files` (TEMPLATE_MODULES), undefined when the kernel lacks them. */
  template?: ModuleFile[];
}

/**
 * The modules of an image: `wanted` (base, root disk, the Cunikfile's), which must all resolve,
 * and the modules of each volume kind the kernel has. Every image can take volumes (-v needs no
 * rebuild), so those are packed and loaded only when the command line names a volume; a kind the
 * kernel lacks is left out rather than costing the image all its modules.
 */
export function selectModules(index: ModuleIndex, wanted: string[]): ModuleChoice {
  const files = index.resolve(wanted);
  const atBoot = new Set(files.map((f) => f.name));
  const volumeKinds = (Object.keys(VOLUME_MODULES) as VolumeKind[]).filter((k) => {
    try {
      index.resolve([...VOLUME_MODULES[k]]);
      return true;
    } catch {
      return false;
    }
  });
  const onDemand = index.resolve([...wanted, ...volumeKinds.flatMap((k) => VOLUME_MODULES[k])]).filter((f) => !atBoot.has(f.name));
  let template: ModuleFile[] | undefined;
  try {
    template = index.resolve([...wanted, ...TEMPLATE_MODULES]).filter((f) => !atBoot.has(f.name));
  } catch {
    template = undefined;
  }
  return { files, onDemand, volumeKinds, ...(template !== undefined && { template }) };
}
