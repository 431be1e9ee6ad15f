// POST /containers/create: Docker's container config translated to the native create request.
// Everything reaching here is untrusted JSON: each field is checked for its type, and a setting a
// unikernel cannot honour is refused in a sentence that names it (never silently dropped).
import type { CreateInstanceRequest, PortRequest } from '../../api/schemas.js';
import type { MountRequest } from '../../api/volumes.js';
import { invalid } from '../../errors.js';
import { mountRequest } from '../../volumes/mount-spec.js';
import { healthcheck } from './health.js';
import { familiar } from './names.js';

type Json = Record<string, unknown>;

const MiB = 1024 * 1024;

export function obj(v: unknown, field: string): Json {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw invalid(`${field} must be an object`, field);
  return v as Json;
}

function strings(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return [v];
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw invalid(`${field} must be an array of strings`, field);
  return v as string[];
}

/**
 * Entrypoint and Cmd as the native program and args: the entrypoint's first word is the program,
 * its other words go before Cmd's; [""] (docker run --entrypoint "") clears the image's, so Cmd's
 * first word is the program. A null or empty entrypoint keeps the image's.
 */
function entrypointAndArgs(entry: string[] | undefined, cmd: string[] | undefined): { entrypoint?: string; args?: string[] } {
  if (entry === undefined || entry.length === 0) return cmd !== undefined ? { args: cmd } : {};
  const words = entry.length === 1 && entry[0] === '' ? (cmd ?? []) : [...entry, ...(cmd ?? [])];
  if (words.length === 0 || words[0] === '') throw invalid('Entrypoint "" needs a command to run', 'Entrypoint');
  return { entrypoint: words[0]!, args: words.slice(1) };
}

/** A string field, absent when null or empty (Docker sends "" for what was not given). */
function text(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v !== 'string') throw invalid(`${field} must be a string`, field);
  return v;
}

export function int(v: unknown, field: string): number | undefined {
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid(`${field} must be a non-negative integer`, field);
  return v;
}

/** Set to something other than its zero value (Docker sends every field, most of them empty). */
export function isSet(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === '' || v === 0) return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v as object).length > 0;
  return true;
}

/** Set somewhere inside: the CLI sends option objects and lists holding only zero values ({Type: "", Config: {}}, [0, 0]). */
export function deepSet(v: unknown): boolean {
  if (v !== null && typeof v === 'object') return Object.values(v as object).some(deepSet);
  return isSet(v);
}

/** HostConfig.Memory (bytes) as whole MiB, rounded up (create and update). */
export function memoryMiB(v: unknown, field: string): number | undefined {
  const bytes = int(v, field);
  return bytes === undefined ? undefined : Math.ceil(bytes / MiB);
}

/** HostConfig.NanoCpus as whole vCPUs (create and update). */
export function wholeCpus(v: unknown, field: string): number | undefined {
  const nano = int(v, field);
  if (nano !== undefined && nano % 1e9 !== 0) throw invalid(`--cpus ${nano / 1e9} is not supported: a VM gets whole virtual CPUs`, field);
  return nano === undefined ? undefined : nano / 1e9;
}

/** Config.StopTimeout: null when not given, 0 is a timeout (stop at once). */
function stopTimeout(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw invalid('StopTimeout must be a non-negative number of seconds (a VM is never waited for without end)', 'StopTimeout');
  return v;
}

/** Settings a unikernel has no counterpart for, with the reason given to the user. */
const UNSUPPORTED: [path: string, pick: (c: Json, h: Json) => unknown, why: string][] = [
  ['Domainname', (c) => c['Domainname'], 'give the whole name with --hostname'],
  ['HostConfig.Privileged', (_c, h) => h['Privileged'], 'there is no host kernel to grant privileges on: the guest is a VM'],
  ['HostConfig.CapAdd', (_c, h) => h['CapAdd'], 'a VM has no Linux capabilities to add'],
  ['HostConfig.Devices', (_c, h) => h['Devices'], 'host devices are not passed to guests'],
  ['HostConfig.VolumesFrom', (_c, h) => h['VolumesFrom'], 'mount the volumes by name with -v'],
  ['HostConfig.Links', (_c, h) => h['Links'], 'legacy links are not supported: use a user-defined network'],
  ['HostConfig.CpuShares', (_c, h) => h['CpuShares'], 'give whole CPUs with --cpus'],
  ['HostConfig.CpusetCpus', (_c, h) => h['CpusetCpus'], 'give whole CPUs with --cpus'],
];

/**
 * Every other field the translation reads, or may leave aside because it changes nothing for a VM
 * (the attach flags are the CLI's own business). Any field not
 * here nor in UNSUPPORTED that is set is refused by name: a Docker setting is never dropped.
 */
const CONFIG_FIELDS = new Set([
  'Image', 'Cmd', 'Env', 'Labels', 'Volumes', 'Hostname', 'User', 'WorkingDir', 'Entrypoint', 'Tty', 'StopSignal', 'StopTimeout', 'Healthcheck', 'HostConfig', 'NetworkingConfig', 'ExposedPorts',
  'AttachStdin', 'AttachStdout', 'AttachStderr', 'OpenStdin', 'StdinOnce', 'ArgsEscaped',
  // dockerode repeats the ?name= (and ?platform=) of the query in the body.
  'name', 'platform',
]);
const HOST_CONFIG_FIELDS = new Set(['Memory', 'NanoCpus', 'Binds', 'Mounts', 'PortBindings', 'PublishAllPorts', 'AutoRemove', 'ReadonlyRootfs', 'RestartPolicy', 'NetworkMode', 'ConsoleSize', 'ExtraHosts', 'Dns', 'DnsSearch', 'DnsOptions',
  // --cidfile: the docker CLI writes the file itself.
  'ContainerIDFile']);
/** The flags users know the fields by, for the refusal's sentence. */
const FLAGS: Record<string, string> = {
  'HostConfig.CapDrop': '--cap-drop', 'HostConfig.SecurityOpt': '--security-opt', 'HostConfig.ShmSize': '--shm-size', 'HostConfig.PidsLimit': '--pids-limit',
  'HostConfig.Ulimits': '--ulimit', 'HostConfig.Init': '--init', 'HostConfig.LogConfig': '--log-driver/--log-opt', 'HostConfig.DeviceRequests': '--gpus',
  'HostConfig.MemoryReservation': '--memory-reservation', 'HostConfig.MemorySwap': '--memory-swap', 'HostConfig.OomKillDisable': '--oom-kill-disable',
  'HostConfig.CpuQuota': '--cpu-quota', 'HostConfig.CpuPeriod': '--cpu-period', 'HostConfig.BlkioWeight': '--blkio-weight', 'HostConfig.Tmpfs': '--tmpfs',
  'HostConfig.Sysctls': '--sysctl', 'HostConfig.GroupAdd': '--group-add', 'HostConfig.Runtime': '--runtime', 'HostConfig.IpcMode': '--ipc', 'HostConfig.PidMode': '--pid',
  'HostConfig.UTSMode': '--uts', 'HostConfig.UsernsMode': '--userns', 'HostConfig.CgroupnsMode': '--cgroupns', 'HostConfig.CgroupParent': '--cgroup-parent',
};

function isDefaultLogging(v: unknown): boolean {
  const o = v !== null && typeof v === 'object' ? (v as Json) : {};
  return ['', 'json-file', 'local'].includes(String(o['Type'] ?? '')) && !deepSet(o['Config']);
}

/** Fields outside what is translated, set to something: refused by name. */
function refuseUntranslated(c: Json, h: Json): void {
  const check = (fields: Set<string>, o: Json, prefix: string): void => {
    for (const [k, v] of Object.entries(o)) {
      const path = prefix + k;
      if (fields.has(k) || UNSUPPORTED.some(([p]) => p === path) || !deepSet(v)) continue;
      // -1 is Docker's "not set" for the swappiness and "no limit" for swap: nothing to honour.
      if ((path === 'HostConfig.MemorySwappiness' || path === 'HostConfig.MemorySwap') && v === -1) continue;
      // The console log is the container's log, json-file's counterpart: naming that driver without options asks nothing more.
      if (path === 'HostConfig.LogConfig' && isDefaultLogging(v)) continue;
      const flag = FLAGS[path];
      throw invalid(`${path}${flag !== undefined ? ` (${flag})` : ''} is not supported by Cunik's Docker API: a unikernel VM has no counterpart for it`, path);
    }
  };
  check(CONFIG_FIELDS, c, '');
  check(HOST_CONFIG_FIELDS, h, 'HostConfig.');
}

/** Config.ExposedPorts (docker run --expose, and the -p ports again) as the native expose list. */
function exposed(v: unknown): Pick<CreateInstanceRequest, 'expose'> {
  const keys = Object.keys(obj(v, 'ExposedPorts'));
  return keys.length > 0 ? { expose: keys.map((k) => { const [guestPort, proto] = portKey(k); return { guestPort, proto }; }) } : {};
}

/** "80/tcp" → [80, 'tcp']. */
function portKey(key: string): [number, 'tcp' | 'udp'] {
  const m = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(key);
  if (!m) throw invalid(`port ${JSON.stringify(key)} is not supported: give one port, PORT[/tcp|udp] (no ranges, no sctp)`, 'HostConfig.PortBindings');
  return [Number(m[1]), (m[2] ?? 'tcp') as 'tcp' | 'udp'];
}

function ports(v: unknown): PortRequest[] | undefined {
  const bindings = obj(v, 'HostConfig.PortBindings');
  const out: PortRequest[] = [];
  for (const [key, list] of Object.entries(bindings)) {
    const [guestPort, proto] = portKey(key);
    if (list === null) continue;
    if (!Array.isArray(list)) throw invalid(`HostConfig.PortBindings[${key}] must be an array`, 'HostConfig.PortBindings');
    for (const b of list) {
      const o = obj(b, 'HostConfig.PortBindings');
      const ip = o['HostIp'] ?? '';
      const hp = o['HostPort'] ?? '';
      if (typeof ip !== 'string' || typeof hp !== 'string') throw invalid('HostConfig.PortBindings: HostIp and HostPort must be strings', 'HostConfig.PortBindings');
      if (hp !== '' && !/^\d{1,5}$/.test(hp)) throw invalid(`host port ${JSON.stringify(hp)} is not supported: give one port (no ranges)`, 'HostConfig.PortBindings');
      out.push({ guestPort, proto, ...(ip !== '' && { hostIp: ip }), ...(hp !== '' && { hostPort: Number(hp) }) });
    }
  }
  return out.length ? out : undefined;
}

/** HostConfig.Mounts (docker --mount): Type, Source, Target, ReadOnly; the *Options refused by name. */
function longMounts(v: unknown): MountRequest[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw invalid('HostConfig.Mounts must be a list', 'HostConfig.Mounts');
  return v.map((raw: unknown, n) => {
    const field = `HostConfig.Mounts[${n}]`;
    const m = obj(raw, field);
    const text = (k: string): string | undefined => {
      if (m[k] === undefined || m[k] === null) return undefined;
      if (typeof m[k] !== 'string') throw invalid(`${field}.${k} must be a string`, field);
      return m[k] as string;
    };
    if (m['ReadOnly'] !== undefined && typeof m['ReadOnly'] !== 'boolean') throw invalid(`${field}.ReadOnly must be a boolean`, field);
    const unsupported = ['BindOptions', 'VolumeOptions', 'TmpfsOptions', 'ClusterOptions'].filter((k) => deepSet(m[k]));
    const type = text('Type');
    const source = text('Source');
    const target = text('Target');
    return mountRequest({ ...(type !== undefined && { type }), ...(source !== undefined && { source }), ...(target !== undefined && { target }), readonly: m['ReadOnly'] === true, unsupported }, field);
  });
}

/** Binds ("SRC:DST[:ro|rw]"), HostConfig.Mounts and Config.Volumes (anonymous volumes) as native mounts. */
function mounts(binds: string[] | undefined, long: MountRequest[], anonymous: Json): MountRequest[] | undefined {
  const out: MountRequest[] = [...long];
  for (const b of binds ?? []) {
    const parts = b.split(':');
    if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) throw invalid(`bind ${JSON.stringify(b)} is not SOURCE:TARGET[:ro|rw]`, 'HostConfig.Binds');
    const opts = (parts[2] ?? 'rw').split(',');
    if (opts.some((o) => o !== 'ro' && o !== 'rw')) throw invalid(`bind option ${JSON.stringify(parts[2])} is not supported: only ro and rw`, 'HostConfig.Binds');
    out.push({ type: parts[0].startsWith('/') ? 'bind' : 'volume', source: parts[0], target: parts[1], ...(opts.includes('ro') && { readonly: true }) });
  }
  for (const target of Object.keys(anonymous)) if (!out.some((m) => m.target === target)) out.push({ type: 'volume', target });
  return out.length ? out : undefined;
}

export function restartPolicy(v: unknown): CreateInstanceRequest['restartPolicy'] {
  const p = obj(v, 'HostConfig.RestartPolicy');
  const name = p['Name'] ?? '';
  if (name === '' || name === 'no') return undefined;
  if (name !== 'always' && name !== 'unless-stopped' && name !== 'on-failure') throw invalid(`restart policy ${JSON.stringify(name)} is not one of no, always, unless-stopped, on-failure`, 'HostConfig.RestartPolicy');
  const max = int(p['MaximumRetryCount'], 'HostConfig.RestartPolicy.MaximumRetryCount');
  return { name, ...(max !== undefined && { maximumRetryCount: max }) };
}

function network(mode: unknown): string | undefined {
  if (mode === undefined || mode === null || mode === '' || mode === 'default') return undefined; // the daemon's default
  if (typeof mode !== 'string') throw invalid('HostConfig.NetworkMode must be a string', 'HostConfig.NetworkMode');
  if (mode === 'host' || mode.startsWith('container:')) throw invalid(`network mode ${mode} is not supported: a VM cannot share a network stack`, 'HostConfig.NetworkMode');
  return mode;
}

/**
 * NetworkingConfig.EndpointsConfig: the primary network's aliases, --ip and --mac-address, and
 * one NIC per further network with its own (API 1.44 takes several at create).
 */
function endpoints(v: unknown, primary: string | undefined): Pick<CreateInstanceRequest, 'ip' | 'aliases' | 'macAddress' | 'extraNetworks'> & { network?: string } {
  const eps = obj(obj(v, 'NetworkingConfig')['EndpointsConfig'], 'NetworkingConfig.EndpointsConfig');
  const names = Object.keys(eps);
  if (names.length === 0) return {};
  // "default" (the CLI's name for the daemon's default network) is the primary one, unnamed.
  const first = names.includes(primary ?? 'default') ? (primary ?? 'default') : names[0]!;
  const one = (name: string) => {
    const e = obj(eps[name], `NetworkingConfig.EndpointsConfig.${name}`);
    const ip = obj(e['IPAMConfig'], 'IPAMConfig')['IPv4Address'];
    const mac = e['MacAddress'];
    if ((ip !== undefined && ip !== '' && typeof ip !== 'string') || (mac !== undefined && mac !== '' && typeof mac !== 'string')) throw invalid('IPAMConfig.IPv4Address and MacAddress must be strings', 'NetworkingConfig');
    return { ip: ip ? (ip as string) : undefined, mac: mac ? (mac as string) : undefined, aliases: strings(e['Aliases'], 'Aliases') };
  };
  const p = one(first);
  const extra = names.filter((n) => n !== first).map((n) => {
    const e = one(n);
    return { network: n, ...(e.ip && { ip: e.ip }), ...(e.mac && { macAddress: e.mac }), ...(e.aliases?.length && { aliases: e.aliases }) };
  });
  return {
    ...(primary === undefined && first !== 'default' && { network: first }),
    ...(p.ip && { ip: p.ip }),
    ...(p.mac && { macAddress: p.mac }),
    ...(p.aliases?.length && { aliases: p.aliases }),
    ...(extra.length && { extraNetworks: extra }),
  };
}

/** The native create request for a Docker create body and its ?name=. */
export function createRequest(body: unknown, name: string | undefined): CreateInstanceRequest {
  const c = obj(body, 'body');
  const h = obj(c['HostConfig'], 'HostConfig');
  for (const [path, pick, why] of UNSUPPORTED) if (isSet(pick(c, h))) throw invalid(`${path} is not supported: ${why}`, path);
  refuseUntranslated(c, h);
  const image = c['Image'];
  if (typeof image !== 'string' || image === '') throw invalid('Image must be given (a reference or id)', 'Image');
  const memory = memoryMiB(h['Memory'], 'HostConfig.Memory');
  const cpus = wholeCpus(h['NanoCpus'], 'HostConfig.NanoCpus');
  const stopSignal = c['StopSignal'];
  if (stopSignal !== undefined && stopSignal !== null && typeof stopSignal !== 'string') throw invalid('StopSignal must be a string', 'StopSignal');
  const timeout = stopTimeout(c['StopTimeout']);
  const binds = strings(h['Binds'], 'HostConfig.Binds');
  const cmd = strings(c['Cmd'], 'Cmd');
  const { entrypoint, args } = entrypointAndArgs(strings(c['Entrypoint'], 'Entrypoint'), cmd);
  const env = strings(c['Env'], 'Env');
  const p = ports(h['PortBindings']);
  const m = mounts(binds, longMounts(h['Mounts']), obj(c['Volumes'], 'Volumes'));
  const restart = restartPolicy(h['RestartPolicy']);
  const net = network(h['NetworkMode']);
  const labels = isSet(c['Labels']) ? obj(c['Labels'], 'Labels') : undefined;
  const extraHosts = strings(h['ExtraHosts'], 'HostConfig.ExtraHosts');
  const dns = strings(h['Dns'], 'HostConfig.Dns');
  const dnsSearch = strings(h['DnsSearch'], 'HostConfig.DnsSearch');
  const dnsOptions = strings(h['DnsOptions'], 'HostConfig.DnsOptions');
  const user = text(c['User'], 'User');
  const workdir = text(c['WorkingDir'], 'WorkingDir');
  const hostname = text(c['Hostname'], 'Hostname');
  const tty = c['Tty'];
  if (tty !== undefined && tty !== null && typeof tty !== 'boolean') throw invalid('Tty must be a boolean', 'Tty');
  const readOnly = h['ReadonlyRootfs'];
  if (readOnly !== undefined && readOnly !== null && typeof readOnly !== 'boolean') throw invalid('HostConfig.ReadonlyRootfs must be a boolean', 'HostConfig.ReadonlyRootfs');
  return {
    image: familiar(image),
    ...(name !== undefined && name !== '' && { name: name.replace(/^\//, '') }),
    ...(args !== undefined && { args }),
    ...(env !== undefined && env.length > 0 && { env }),
    ...(memory !== undefined && { memoryMiB: memory }),
    ...(cpus !== undefined && { cpus }),
    ...(h['AutoRemove'] === true && { autoRemove: true }),
    ...(readOnly === true && { readOnly: true }),
    ...(tty === true && { tty: true }),
    ...(hostname !== undefined && { hostname }),
    ...(extraHosts !== undefined && extraHosts.length > 0 && { extraHosts }),
    ...(dns !== undefined && dns.length > 0 && { dns }),
    ...(dnsSearch !== undefined && dnsSearch.length > 0 && { dnsSearch }),
    ...(dnsOptions !== undefined && dnsOptions.length > 0 && { dnsOptions }),
    ...(entrypoint !== undefined && { entrypoint }),
    ...(user !== undefined && { user }),
    ...(workdir !== undefined && { workdir }),
    ...(restart && { restartPolicy: restart }),
    ...(net !== undefined && { network: net }),
    ...endpoints(c['NetworkingConfig'], net),
    ...(h['PublishAllPorts'] === true && { publishAll: true }),
    ...exposed(c['ExposedPorts']),
    ...(p && { ports: p }),
    ...(labels && { labels: labels as Record<string, string> }),
    ...(m && { mounts: m }),
    ...healthcheck(c['Healthcheck']),
    ...(typeof stopSignal === 'string' && stopSignal !== '' && { stopSignal }),
    ...(timeout !== undefined && { stopTimeout: timeout }),
  };
}
