// The Cunikfile: a YAML file describing one image. Its JSON schema (docs/cunikfile.schema.json)
// is generated from the TypeBox schema below (cunikfileJsonSchema). Parsing keeps the YAML
// node positions (yaml's LineCounter), so every error names the file, the line and the key:
//   Cunikfile:4: unknown key "colour" (known: family, kernel, app, ...)
//   Cunikfile:7: memory: expected an integer (MiB) or a size such as "256M", got "lots"

import { Type, type Static } from 'typebox';
import { Value } from 'typebox/value';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { inRange, LIMITS, rangeText } from '../api/limits.js';
import { invalid } from '../errors.js';
import { HEALTH_LABEL, parseHealthDuration, parseHttpProbe, type HealthRequest } from '../instances/health-spec.js';
import type { GroupSpec, UserSpec } from './linux/userland.js';
import { MiB, parseSize } from '../util/size.js';
import { stopSignal } from '../instances/signals.js';

const Size = Type.Union([
  Type.Integer({ minimum: LIMITS.memoryMiB.min, maximum: LIMITS.memoryMiB.max, description: 'MiB' }),
  Type.String({ pattern: '^[0-9]+ *([KkMmGg]i?[Bb]?)?$', description: 'a size such as "256M" or "1G" (no suffix: MiB)' }),
]);
const Port = Type.Union([
  Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max }),
  Type.String({ pattern: '^[0-9]{1,5}(/(tcp|udp))?$', description: '"PORT[/tcp|udp]"' }),
]);
const Scalar = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
const Mode = Type.Union([
  Type.Integer({ minimum: LIMITS.fileMode.min, maximum: LIMITS.fileMode.max, description: 'octal in YAML (0o755) or decimal' }),
  Type.String({ pattern: '^0?[0-7]{3,4}$', description: 'octal digits, e.g. "0755"' }),
]);

const Duration = Type.String({ pattern: '^[0-9.]+(ns|us|ms|s|m|h)([0-9.]+(ns|us|ms|s|m|h))*$', description: 'a duration such as "200ms", "30s" or "1m30s"' });
const Health = Type.Object({
  tcp: Type.Optional(Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max, description: 'Healthy when a TCP connection to this guest port succeeds' })),
  http: Type.Optional(Type.String({ pattern: '^([0-9]{1,5})?(/[\\x21-\\x7e]*)?$', minLength: 1, description: 'Healthy when GET of [PORT]PATH answers 2xx/3xx, e.g. "80/healthz" or "/healthz" (no port: the first published, else the first of `ports`)' })),
  interval: Type.Optional(Duration),
  timeout: Type.Optional(Duration),
  retries: Type.Optional(Type.Integer({ minimum: LIMITS.healthRetries.min, maximum: LIMITS.healthRetries.max })),
  'start-period': Type.Optional(Duration),
}, { additionalProperties: false, description: 'A health check every instance of the image gets (run --health-* override it, --no-healthcheck drops it): probes from the host, as run --health-tcp / --health-http' });

const Name = Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_.-]{0,31}$', description: 'a user or group name, as Debian\'s adduser takes it' });
const Id = Type.Integer({ minimum: 0, maximum: 4294967294 });
const User = Type.Union([Name, Type.Object({
  name: Name,
  uid: Type.Optional(Id),
  gid: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967294, description: 'primary group (default: a group named after the user)' })),
  home: Type.Optional(Type.String({ pattern: '^/' })),
  shell: Type.Optional(Type.String({ pattern: '^/' })),
  groups: Type.Optional(Type.Array(Name, { description: 'supplementary groups' })),
}, { additionalProperties: false })]);
const Group = Type.Union([Name, Type.Object({ name: Name, gid: Type.Optional(Id) }, { additionalProperties: false })]);

export const CunikfileSchema = Type.Object(
  {
    family: Type.String({ minLength: 1, description: 'Unikernel family: linux, generic, unikraft, ...' }),
    kernel: Type.Optional(Type.String({ minLength: 1, description: 'A prebuilt unikernel file; for linux, a bzImage or vmlinux (default: the newest /boot/vmlinuz-*). Relative paths are in the build context, absolute ones on the daemon host.' })),
    app: Type.Optional(Type.String({ minLength: 1, description: 'linux: the program (an ELF) to run as the only process; its shared libraries are collected.' })),
    from: Type.Optional(Type.String({ pattern: '^(oci-archive|docker-archive):.+', description: 'linux: a container image tarball to run as a microVM: oci-archive:PATH or docker-archive:PATH' })),
    files: Type.Optional(Type.Array(Type.Object({
      src: Type.String({ minLength: 1, description: 'In the build context (or absolute, on the daemon host); a directory is copied whole' }),
      dst: Type.String({ pattern: '^/', description: 'Absolute path in the guest' }),
      mode: Type.Optional(Mode),
    }, { additionalProperties: false }), { description: 'linux: files to add to the initramfs' })),
    args: Type.Optional(Type.Array(Scalar, { description: 'Default arguments (replaced by those given to `cunik run`)' })),
    env: Type.Optional(Type.Union([
      Type.Record(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*$' }), Scalar, { additionalProperties: false }),
      Type.Array(Type.String({ pattern: '^[A-Za-z_][A-Za-z0-9_]*=' })),
    ], { description: 'Environment: a map, or a list of KEY=VALUE' })),
    memory: Type.Optional(Size),
    cpus: Type.Optional(Type.Integer({ minimum: LIMITS.cpus.min, maximum: LIMITS.cpus.max, description: "Virtual CPUs; an instance gets at most the host's CPU count (unless run with --cpu-overcommit)" })),
    ports: Type.Optional(Type.Array(Port, { description: 'Ports the app listens on' })),
    health: Type.Optional(Health),
    volumes: Type.Optional(Type.Array(Type.String({ pattern: '^/' }), { description: 'Mount points for volumes' })),
    labels: Type.Optional(Type.Record(Type.String({ minLength: 1 }), Scalar, { description: 'Image labels; org.cunik.machine (microvm, pc, q35) and org.cunik.tsc-khz are read by the family adapters' })),
    modules: Type.Optional(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_-]+$' }), { description: 'linux: extra kernel modules to load at boot (by name)' })),
    users: Type.Optional(Type.Array(User, { description: 'linux: users to add to /etc/passwd besides Debian\'s own (root, www-data, nobody...): a name (a system user with a group of its name) or {name, uid, gid, home, shell, groups}' })),
    groups: Type.Optional(Type.Array(Group, { description: 'linux: groups to add to /etc/group: a name or {name, gid}' })),
    stop_signal: Type.Optional(Type.String({ minLength: 1, description: "How `cunik stop` ends an instance (config StopSignal): SIGTERM (the default), SIGINT or SIGPWR press the guest's power button, then the VM is ended after the stop timeout; SIGKILL ends the VM at once" })),
    stop_timeout: Type.Optional(Type.Integer({ minimum: LIMITS.stopTimeoutSeconds.min, maximum: LIMITS.stopTimeoutSeconds.max, description: 'Seconds `cunik stop` waits for the guest to power off before ending the VM (config StopTimeout; default 10)' })),
    user: Type.Optional(Type.Union([
      Type.String({ pattern: '^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$' }),
      Type.Integer({ minimum: 0, maximum: 4294967294 }),
    ], { description: 'linux: who the app runs as, as Docker\'s USER: NAME, UID, NAME:GROUP or UID:GID (default: root, or a container image\'s User)' })),
    rootfs: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('disk'), Type.Literal('initramfs')], { description: 'linux with "from": where the container\'s root file system goes: a read-only root disk shared by every instance (disk), the initramfs (initramfs), or the disk when the tree would take over 32 MiB unpacked (auto, the default)' })),
    snapshot: Type.Optional(Type.Union([Type.Literal('boot'), Type.Literal('app'), Type.Literal('none')], { description: 'linux on a root disk: where its instances start from (docs/qemu.md, "VM templates"): a saved boot whose init waits for the instance (boot, the default), a saved boot whose app already listens on every one of `ports` (app: faster, but every instance shares the state the app had then, its own random seeds included), or a whole boot each (none)' })),
  },
  { additionalProperties: false },
);
export type CunikfileDoc = Static<typeof CunikfileSchema>;

/** What a build needs, normalised. */
export interface BuildSpec {
  family: string;
  kernel?: string;
  app?: string;
  from?: string;
  files: { src: string; dst: string; mode?: number }[];
  args: string[];
  env: string[];
  memoryMiB?: number;
  cpus?: number;
  /** "80/tcp" */
  ports: string[];
  volumes: string[];
  labels: Record<string, string>;
  modules: string[];
  users: UserSpec[];
  groups: GroupSpec[];
  user?: string;
  /** Canonical (SIGTERM...), one a VM honours (instances/signals.ts). */
  stopSignal?: string;
  stopTimeout?: number;
  /** The `health:` key, as the image label org.cunik.healthcheck holds it. */
  health?: HealthRequest;
  /** linux: where a container's tree goes (build/linux/rootdisk.ts); 'auto' when not given. */
  rootfs: 'auto' | 'disk' | 'initramfs';
  /** linux on a root disk: where instances start from (vmm/qemu/template.ts); 'boot' when not given. */
  snapshot: 'boot' | 'app' | 'none';
}

export const KNOWN_KEYS = Object.keys(CunikfileSchema.properties);

/** Labels cunik build derives from other keys; other org.cunik.* labels (machine, tsc-khz) may be given. */
export const DERIVED_LABELS = [
  'org.cunik.family', 'org.cunik.boot', 'org.cunik.args', 'org.cunik.memory', 'org.cunik.cpus',
  'org.cunik.ports', 'org.cunik.volumes', HEALTH_LABEL, 'org.cunik.kernel.release', 'org.cunik.init', 'org.cunik.clone', 'org.cunik.rootfs',
  'org.cunik.volume-kinds',
];

/** The schema as published in docs/cunikfile.schema.json. */
export function cunikfileJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://cunik.dev/schemas/cunikfile.schema.json',
    title: 'Cunikfile',
    description: 'Describes one Cunik image, built with `cunik build`. See docs/cunikfile.md.',
    ...JSON.parse(JSON.stringify(CunikfileSchema)) as Record<string, unknown>,
  };
}

/** Friendly "expected ..." texts by key path (array indexes written as []). */
const EXPECTED: Record<string, string> = {
  family: 'a family name such as linux',
  kernel: 'a file path', app: 'a file path', from: 'oci-archive:PATH or docker-archive:PATH (a container image tarball)',
  files: 'a list of {src, dst, mode}', 'files[]': 'a map with src, dst and optionally mode',
  'files[].src': 'a file path', 'files[].dst': 'an absolute path in the guest (starting with /)',
  'files[].mode': 'a file mode such as 0755 or "0644"',
  args: 'a list of strings', 'args[]': 'a string',
  env: 'a map of NAME: value or a list of NAME=value', 'env[]': 'NAME=value', 'env.*': 'a string, number or boolean',
  memory: `an integer (MiB, ${rangeText(LIMITS.memoryMiB)}) or a size such as "256M"`,
  cpus: `an integer ${rangeText(LIMITS.cpus)}`,
  ports: 'a list of ports', 'ports[]': 'a port (1-65535) or "PORT/tcp" / "PORT/udp"',
  volumes: 'a list of absolute paths', 'volumes[]': 'an absolute path (starting with /)',
  labels: 'a map of strings', 'labels.*': 'a string',
  modules: 'a list of module names', 'modules[]': 'a kernel module name such as ext4',
  users: 'a list of user names or {name, uid, gid, home, shell, groups}',
  'users[]': 'a user name (letters, digits, _ . -, at most 32) or a map with name and optionally uid, gid, home, shell, groups',
  'users[].name': 'a user name (letters, digits, _ . -, at most 32, not starting with a digit)',
  'users[].uid': 'an integer uid', 'users[].gid': 'an integer gid',
  'users[].home': 'an absolute path', 'users[].shell': 'an absolute path',
  'users[].groups': 'a list of group names', 'users[].groups[]': 'a group name',
  groups: 'a list of group names or {name, gid}',
  'groups[]': 'a group name (letters, digits, _ . -, at most 32) or a map with name and optionally gid',
  'groups[].name': 'a group name', 'groups[].gid': 'an integer gid',
  user: 'a user such as www-data, 33, www-data:www-data or 33:33',
  stop_signal: 'a signal name such as SIGTERM or SIGKILL',
  stop_timeout: `a whole number of seconds ${rangeText(LIMITS.stopTimeoutSeconds)}`,
  health: 'a map with tcp or http, and optionally interval, timeout, retries, start-period',
  'health.tcp': 'a port (1-65535)', 'health.http': '[PORT]PATH such as 80/healthz or /healthz',
  'health.interval': 'a duration such as 200ms, 30s or 1m30s', 'health.timeout': 'a duration such as 200ms, 30s or 1m30s',
  'health.start-period': 'a duration such as 200ms, 30s or 1m30s', 'health.retries': `an integer ${rangeText(LIMITS.healthRetries)}`,
  rootfs: 'auto, disk or initramfs',
  snapshot: 'boot, app or none',
};

const NESTED_KEYS: Record<string, string[]> = {
  files: ['src', 'dst', 'mode'], health: ['tcp', 'http', 'interval', 'timeout', 'retries', 'start-period'], users: ['name', 'uid', 'gid', 'home', 'shell', 'groups'], groups: ['name', 'gid'],
};

type Seg = string | number;

export class CunikfileReader {
  private readonly lines = new LineCounter();
  private readonly doc: Document.Parsed;

  constructor(readonly text: string, readonly file = 'Cunikfile') {
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false });
  }

  /** An invalid-argument error naming file:line and the key. */
  fail(path: Seg[], message: string, opts: { keyPos?: boolean } = {}): never {
    const line = this.lineOf(path, opts.keyPos ?? false);
    const key = keyName(path);
    throw invalid(`${this.file}${line ? `:${line}` : ''}: ${key ? `${key}: ` : ''}${message}`, key || this.file);
  }

  lineOf(path: Seg[], keyPos: boolean): number | undefined {
    let node: unknown = this.doc.contents;
    let keyNode: unknown;
    for (const seg of path) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
        if (!pair) break;
        keyNode = pair.key;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        keyNode = undefined;
        node = node.items[seg];
      } else break;
    }
    const target = (keyPos && keyNode) || node || keyNode;
    const range = (target as Node | undefined)?.range;
    return range ? this.lines.linePos(range[0]).line : undefined;
  }

  parse(): BuildSpec {
    const err = this.doc.errors[0];
    if (err) {
      const line = this.lines.linePos(err.pos[0]).line;
      const msg = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw invalid(`${this.file}${line ? `:${line}` : ''}: invalid YAML: ${msg}`, this.file);
    }
    const value: unknown = this.doc.toJS();
    if (value === null || value === undefined) throw invalid(`${this.file}: the file is empty; it needs at least "family"`, 'family');
    if (typeof value !== 'object' || Array.isArray(value)) this.fail([], 'expected a map of keys (family, app, kernel, ...)');
    this.checkSchema(value);
    return this.normalise(value as CunikfileDoc);
  }

  private checkSchema(value: unknown): void {
    const errors = [...Value.Errors(CunikfileSchema, value)];
    if (errors.length === 0) return;
    // Report the first problem in the file's order; unknown keys before type errors on a line.
    const ranked = errors.map((e) => {
      const path = pointer(e.instancePath);
      const unknown = e.keyword === 'boolean' && e.schemaPath.endsWith('/additionalProperties');
      return { e, path, unknown, line: this.lineOf(path, unknown) ?? 0, depth: path.length };
    }).filter((r) => r.e.keyword !== 'additionalProperties');
    // A union (a name or a map) fails as a whole and in the branch that fits: keep the deeper error.
    const under = (a: Seg[], b: Seg[]): boolean => b.length > a.length && a.every((s, i) => String(s) === String(b[i]));
    const specific = ranked.filter((r) => !ranked.some((o) => under(r.path, o.path)));
    specific.sort((a, b) => a.line - b.line || Number(b.unknown) - Number(a.unknown) || b.depth - a.depth);
    const first = specific[0] ?? { e: errors[0]!, path: pointer(errors[0]!.instancePath), unknown: false };
    if (first.unknown) {
      const parent = first.path.slice(0, -1);
      if (parent[0] === 'env') this.fail(first.path, 'not a valid variable name (letters, digits and _, not starting with a digit)', { keyPos: true });
      const known = parent.length === 0 ? KNOWN_KEYS : (NESTED_KEYS[String(parent[0])] ?? []);
      this.fail(first.path, `unknown key${known.length ? ` (known: ${known.join(', ')})` : ''}`, { keyPos: true });
    }
    if (first.e.keyword === 'required') {
      const missing = (first.e.params as { requiredProperties?: string[] }).requiredProperties ?? [];
      this.fail(first.path, `missing required key${missing.length > 1 ? 's' : ''} ${missing.map((k) => `"${k}"`).join(', ')}`);
    }
    const got = valueAt(value, first.path);
    this.fail(first.path, `expected ${EXPECTED[pattern(first.path)] ?? first.e.message}, got ${JSON.stringify(got)}`);
  }

  private normalise(d: CunikfileDoc): BuildSpec {
    const str = (v: string | number | boolean): string => String(v);
    const spec: BuildSpec = {
      family: d.family,
      files: (d.files ?? []).map((f, i) => {
        if (f.dst.split('/').includes('..')) this.fail(['files', i, 'dst'], 'must not contain ".."');
        return { src: f.src, dst: f.dst, ...(f.mode !== undefined && { mode: typeof f.mode === 'number' ? f.mode : parseInt(f.mode, 8) }) };
      }),
      args: (d.args ?? []).map(str),
      env: Array.isArray(d.env) ? [...d.env] : Object.entries(d.env ?? {}).map(([k, v]) => `${k}=${str(v)}`),
      ports: (d.ports ?? []).map((p, i) => {
        const [num, proto = 'tcp'] = String(p).split('/');
        const n = Number(num);
        if (!inRange(n, LIMITS.guestPort)) this.fail(['ports', i], `port ${n} is out of range (${rangeText(LIMITS.guestPort)})`);
        return `${n}/${proto}`;
      }),
      volumes: [...(d.volumes ?? [])],
      labels: Object.fromEntries(Object.entries(d.labels ?? {}).map(([k, v]) => [k, str(v)])),
      modules: [...(d.modules ?? [])],
      users: (d.users ?? []).map((u) => (typeof u === 'string' ? { name: u } : { ...u })),
      groups: (d.groups ?? []).map((g) => (typeof g === 'string' ? { name: g } : { ...g })),
      rootfs: d.rootfs ?? 'auto',
      snapshot: d.snapshot ?? 'boot',
    };
    for (const key of ['users', 'groups'] as const) {
      const seen = new Set<string>();
      spec[key].forEach((u, i) => {
        if (seen.has(u.name)) this.fail([key, i], `${u.name} is named twice`);
        seen.add(u.name);
      });
    }
    if (d.kernel !== undefined) spec.kernel = d.kernel;
    if (d.app !== undefined) spec.app = d.app;
    if (d.from !== undefined) spec.from = d.from;
    if (d.cpus !== undefined) spec.cpus = d.cpus;
    if (d.user !== undefined) spec.user = String(d.user);
    if (d.memory !== undefined) spec.memoryMiB = this.memory(d.memory);
    if (d.stop_signal !== undefined) {
      try {
        spec.stopSignal = stopSignal(d.stop_signal);
      } catch (err) {
        this.fail(['stop_signal'], (err as Error).message);
      }
    }
    if (d.stop_timeout !== undefined) spec.stopTimeout = d.stop_timeout;
    if (d.health !== undefined) spec.health = this.health(d.health);
    for (const k of Object.keys(spec.labels)) {
      if (DERIVED_LABELS.includes(k)) this.fail(['labels', k], `${k} is set by cunik build from the other keys`, { keyPos: true });
    }
    this.familyRules(spec);
    return spec;
  }

  private health(h: NonNullable<CunikfileDoc['health']>): HealthRequest {
    if (h.tcp !== undefined && h.http !== undefined) this.fail(['health', 'http'], 'give either tcp or http, not both', { keyPos: true });
    if (h.tcp === undefined && h.http === undefined) this.fail(['health'], 'needs a probe: tcp: PORT or http: [PORT]PATH');
    const out: HealthRequest = {};
    if (h.tcp !== undefined) out.tcpPort = h.tcp;
    if (h.http !== undefined) {
      const probe = parseHttpProbe(h.http);
      if (probe === undefined) this.fail(['health', 'http'], `expected [PORT]PATH such as 80/healthz, got ${JSON.stringify(h.http)}`);
      out.httpPath = probe.path;
      if (probe.port !== undefined) out.httpPort = probe.port;
    }
    const times = [['interval', 'intervalMs', LIMITS.healthIntervalMs], ['timeout', 'timeoutMs', LIMITS.healthTimeoutMs], ['start-period', 'startPeriodMs', LIMITS.healthStartPeriodMs]] as const;
    for (const [key, field, range] of times) {
      const v = h[key];
      if (v === undefined) continue;
      const ms = parseHealthDuration(v, range);
      if (ms === undefined) this.fail(['health', key], `expected a duration such as 200ms or 30s, ${rangeText(range)}, got ${JSON.stringify(v)}`);
      out[field] = ms;
    }
    if (h.retries !== undefined) out.retries = h.retries;
    return out;
  }

  private memory(v: number | string): number {
    if (typeof v === 'number') return v;
    // The schema's pattern let only sizes through; k rounds up to whole MiB.
    const mib = Math.ceil(parseSize(v, 'm')! / MiB);
    if (!inRange(mib, LIMITS.memoryMiB)) this.fail(['memory'], `expected ${rangeText(LIMITS.memoryMiB)} (1 TiB), got ${JSON.stringify(v)}`);
    return mib;
  }

  private familyRules(s: BuildSpec): void {
    if (s.family === 'linux') {
      if (s.app === undefined && s.from === undefined) this.fail(['family'], 'the linux family needs "app" (a program to run) or "from" (a container image)');
      if (s.app !== undefined && s.from !== undefined) this.fail(['from'], 'give either "app" or "from", not both', { keyPos: true });
      if (s.rootfs === 'disk' && s.from === undefined) this.fail(['rootfs'], 'a root disk is made of a container image: "rootfs: disk" needs "from"', { keyPos: true });
      if (s.snapshot === 'app' && s.ports.length === 0) this.fail(['snapshot'], '"snapshot: app" saves the VM once its app listens on its ports: it needs "ports"', { keyPos: true });
      if (s.snapshot === 'app' && (s.from === undefined || s.rootfs === 'initramfs')) this.fail(['snapshot'], '"snapshot: app" needs a root disk: "from" a container image, without "rootfs: initramfs"', { keyPos: true });
      return;
    }
    if (s.rootfs !== 'auto') this.fail(['rootfs'], `only the linux family takes "rootfs" (family is ${JSON.stringify(s.family)})`, { keyPos: true });
    if (s.snapshot !== 'boot') this.fail(['snapshot'], `only the linux family takes "snapshot" (family is ${JSON.stringify(s.family)})`, { keyPos: true });
    for (const key of ['app', 'from', 'files', 'modules', 'users', 'groups', 'user'] as const) {
      const v = s[key];
      if (v !== undefined && !(Array.isArray(v) && v.length === 0)) {
        this.fail([key], `only the linux family takes "${key}" (family is ${JSON.stringify(s.family)})`, { keyPos: true });
      }
    }
    if (s.kernel === undefined) this.fail(['family'], `the ${s.family} family needs "kernel": the unikernel file to package`);
  }
}

/** Parse and check a Cunikfile's text; throws invalid(...) naming the line and key. */
export function parseCunikfile(text: string, file = 'Cunikfile'): BuildSpec {
  return new CunikfileReader(text, file).parse();
}

function pointer(p: string): Seg[] {
  if (p === '') return [];
  return p.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).map((s) => (/^[0-9]+$/.test(s) ? Number(s) : s));
}

function keyName(path: Seg[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

function pattern(path: Seg[]): string {
  return path.map((s, i) => (typeof s === 'number' ? '[]' : i === 0 ? s : i === 1 && (path[0] === 'env' || path[0] === 'labels') ? '.*' : `.${s}`)).join('');
}

function valueAt(v: unknown, path: Seg[]): unknown {
  let cur = v;
  for (const s of path) cur = (cur as Record<string | number, unknown> | undefined)?.[s];
  return cur;
}
