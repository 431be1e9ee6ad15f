// Build-time warnings about files a linux-family image may need at run time that the builder
// cannot see in DT_NEEDED (libs.ts), so a missing one shows at build time rather than as a failed
// service in the guest:
//   - NSS: a service in the image's /etc/nsswitch.conf that the image's libc does not have built in
//     (glibc 2.34+ builds in files and dns; older ones, and systemd, compat, mdns4..., are a
//     libnss_<service>.so.2 that glibc dlopens) with no such library in the image;
//   - dlopen: a "lib*.so*" name in the app's or a library's strings that is neither needed nor in the
//     image (glibc's own libc.so.6 and loader are not scanned: their dlopens are NSS, which is
//     checked above, libgcc_s for thread cancellation and libidn2 for IDN lookups);
//   - data: a /usr/share/<pkg> or /usr/lib/<pkg> directory the app names that exists on the build
//     host and has nothing in the image.
// A statically linked app is not scanned (its strings are mostly those of the libc linked into it).
// These are hints ("may"): a name in a binary's strings is not proof it is loaded.

import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, posix } from 'node:path';
import type { CpioEntry } from './cpio.js';
import { DEFAULT_LIB_DIRS, GUEST_LIB_DIR } from './libs.js';
import { BUILTIN_NSS, nssServices } from './userland.js';

export interface RuntimeCheckInput {
  /** The app's ELF on the host (an app build); a container image's entry is not scanned. */
  app?: { host: string; guest: string };
  /** Shared objects in the image, with their host files. */
  libs: { guest: string; host: string }[];
  entries: CpioEntry[];
  /** Where /usr/share/... paths named by the app are looked for; default "/". */
  hostRoot?: string;
  /** scanStrings' result for this app and these libraries (the builder caches it). */
  scan?: StringScan;
}

/** What the app and its libraries name: library names (and which object names each), the app's data directories. */
export interface StringScan {
  libs: [name: string, by: string][];
  dirs: string[];
  /** The app's guest basename, when it was scanned. */
  app?: string;
}

/**
 * The costly part (reading every object's bytes), which depends only on the app and libraries:
 * a statically linked app (no libraries) is not scanned, its strings are mostly its libc's.
 */
export async function scanStrings(inp: { app?: { host: string; guest: string }; libs: { guest: string; host: string }[] }): Promise<StringScan> {
  const app = inp.libs.length > 0 ? inp.app : undefined;
  const objects = [...(app ? [app] : []), ...inp.libs.filter((l) => !GLIBC_OWN.test(basename(l.guest)))];
  const seen = new Set<string>();
  const libs: [string, string][] = [];
  const dirs = new Set<string>();
  for (const o of objects) {
    if (seen.has(o.host)) continue;
    seen.add(o.host);
    const text = (await readFile(o.host)).toString('latin1');
    const own = basename(o.guest);
    for (const name of new Set([...text.matchAll(SO_NAME)].map((m) => m[0]))) if (name !== own) libs.push([name, own]);
    if (o === app) for (const m of text.matchAll(DATA_DIR)) dirs.add(m[0].replace(/\.$/, ''));
  }
  return { libs, dirs: [...dirs].sort(), ...(app && { app: basename(app.guest) }) };
}

const SO_NAME = /(?<![A-Za-z0-9_.+-])lib[A-Za-z0-9_+-]+(?:\.[A-Za-z0-9_+-]+)*?\.so(?:\.[0-9]+)*(?![A-Za-z0-9_])/g;
const DATA_DIR = /\/usr\/(?:share|lib)\/[A-Za-z0-9][A-Za-z0-9._+-]*/g;
/** Directories that are the loader's own, or translations (read only when a locale is set). */
const NOT_PACKAGE_DIRS = new Set(['/usr/lib/x86_64-linux-gnu', '/usr/lib64', '/usr/lib/locale', '/usr/share/locale', '/usr/lib/os-release', '/usr/lib/debug']);
const GLIBC_OWN = /^(libc\.so\.6|ld-linux-x86-64\.so\.2)$/;

async function content(e: CpioEntry | undefined): Promise<Buffer | undefined> {
  if (e?.type !== 'file') return undefined;
  return Buffer.isBuffer(e.source) ? e.source : readFile(e.source).catch(() => undefined);
}

export async function runtimeWarnings(inp: RuntimeCheckInput): Promise<string[]> {
  const warnings: string[] = [];
  const byName = new Map(inp.entries.map((e) => [e.name, e]));
  const soInImage = new Set(inp.entries.filter((e) => e.type !== 'dir' && /\.so(\.|$)/.test(basename(e.name))).map((e) => basename(e.name)));
  const hasSo = (name: string): boolean => soInImage.has(name) || [...soInImage].some((n) => n.startsWith(`${name}.`));

  // NSS: what the image's nsswitch.conf asks for against what its libc can do without a module.
  const nsswitch = (await content(byName.get('/etc/nsswitch.conf')))?.toString('utf8');
  if (nsswitch !== undefined) {
    const libcEntry = inp.entries.find((e) => e.type === 'file' && basename(e.name) === 'libc.so.6');
    const libc = await content(libcEntry);
    const builtIn = libc !== undefined && libc.includes('_nss_files_getpwnam_r') ? BUILTIN_NSS : new Set<string>();
    const hasLibc = libcEntry !== undefined;
    for (const svc of nssServices(nsswitch)) {
      if (builtIn.has(svc) || !hasLibc) continue;
      const lib = `libnss_${svc}.so.2`;
      if (!hasSo(lib)) warnings.push(`/etc/nsswitch.conf names "${svc}", but ${lib} is not in the image: lookups through it will fail (add it with files:, or drop "${svc}" from nsswitch.conf)`);
    }
  }

  // Libraries named but not needed: perhaps dlopen'd.
  const scan = inp.scan ?? (await scanStrings(inp));
  const named = new Map<string, string>();
  for (const [name, by] of scan.libs) if (!hasSo(name) && !named.has(name)) named.set(name, by);
  for (const [name, by] of named) {
    const host = DEFAULT_LIB_DIRS.map((d) => posix.join(d, name)).find((p) => existsSync(p));
    const hint = host !== undefined ? `add it with files: { src: ${host}, dst: ${posix.join(GUEST_LIB_DIR, name)} }` : 'it is not on this host either';
    warnings.push(`${by} names ${name}, which is not in the image: if it loads it at run time (dlopen), ${hint}`);
  }

  // Package data the app names.
  const root = inp.hostRoot ?? '/';
  const names = inp.entries.map((e) => e.name);
  for (const dir of scan.dirs) {
    if (NOT_PACKAGE_DIRS.has(dir) || !existsSync(posix.join(root, dir))) continue;
    if (names.some((n) => n === dir || n.startsWith(`${dir}/`))) continue;
    warnings.push(`${scan.app ?? 'the app'} refers to ${dir}, which is on this host but not in the image: if it reads it at run time, add it with files: { src: ${dir}, dst: ${dir} }`);
  }
  return warnings;
}
