// The flags `cunik run` and `cunik create` share, and the create request they make: one place,
// so neither verb imports the other.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fsReason } from '../util/fs-reason.js';
import type { CreateInstanceRequest } from '../api/schemas.js';
import { parseMountCsv } from '../volumes/mount-spec.js';
import { parseGuestPort } from './format/ports.js';
import { parseCpus, parseEnv, parseEnvFileText, parseLabel, parseLabelFileText, parseMemoryMiB, parseNetwork, parsePublish, parseRestartPolicy, parseSeconds, parseVolumeSpec, type NetworkSpec, type PublishSpec, type VolumeSpec } from './parse.js';
import { parsePullPolicy, type PullPolicy } from './commands/pull.js';
import { healthRequest, parseHealthHttp, parseHealthInterval, parseHealthRetries, parseHealthStartPeriod, parseHealthTcp, parseHealthTimeout, type HealthFlags } from './parse-health.js';

export function instanceFlags(cmd: Command): Command {
  return cmd
    .option('--name <name>', 'assign a name to the instance')
    .option('-m, --memory <size>', 'guest memory (e.g. 64m, 1g)', parseMemoryMiB)
    .option('--cpus <n>', "number of virtual CPUs (at most the host's CPUs)", parseCpus)
    .option('--cpu-overcommit', 'allow more virtual CPUs than the host has CPUs')
    .option('--read-only', "mount the root file system read-only, with no writable layer (linux images with a root disk)")
    .option('--hostname <name>', "the guest's host name (linux images; default: the instance's short id, as Docker's)")
    .option('--entrypoint <program>', "run this program instead of the image's, with the args given after the image only (linux images)")
    .option('-u, --user <user[:group]>', 'the user the app runs as, a name or number (linux images; default: the image\'s)')
    .option('-w, --workdir <dir>', "the app's working directory, made if missing (linux images; default: the image's)")
    .option('--dns <address>', "a resolver for the guest instead of its network's (repeatable, at most 3; linux images; on a user-defined network, where its gateway forwards the names it does not hold)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--dns-search <domain>', 'a search domain for the guest (repeatable; linux images)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--dns-option <option>', "a resolv.conf option for the guest, such as ndots:2 (repeatable; linux images)", (v: string, prev: string[] = []) => [...prev, v])
    .option('--add-host <name:address>', "add a line to the guest's /etc/hosts (repeatable; linux images); address host-gateway: the host", (v: string, prev: string[] = []) => [...prev, v])
    .option('-e, --env <KEY=VALUE>', 'set an environment variable (repeatable)', parseEnv, [] as string[])
    .option('--env-file <file>', 'read environment variables from a file of KEY=VALUE lines (repeatable; -e wins)', (f: string, prev: string[]) => [...prev, ...parseEnvFileText(readText(f), f)], [] as string[])
    .option('-l, --label <KEY=VALUE>', 'set a label on the instance (repeatable)', parseLabel, {} as Record<string, string>)
    .option('--label-file <file>', 'read labels from a file of KEY=VALUE lines (repeatable)', (f: string, prev: Record<string, string>) => parseLabelFileText(readText(f), prev), {} as Record<string, string>)
    .option('--restart <policy>', 'restart policy: no, on-failure[:N], always, unless-stopped', parseRestartPolicy)
    .option('--stop-signal <signal>', "how stop ends the instance: SIGTERM (the default), SIGINT or SIGPWR press the guest's power button, then the VM is ended after the stop timeout; SIGKILL ends the VM at once")
    .option('--stop-timeout <seconds>', 'seconds stop waits for the guest to power off before ending the VM (default 10; stop -t overrides it)', parseSeconds)
    .option('--network <network>', "network: user (user-mode networking), none, bridge (the default bridge network, root daemon) or a network made by `cunik network create` (default: the daemon's, bridge for a root daemon unless -p is given, else user); repeatable (bridge networks, one NIC each); long form name=NAME[,ip=ADDR][,ip6=ADDR][,mac-address=MAC][,alias=A] (alias repeatable)", parseNetwork)
    .option('--ip <address>', 'a fixed IPv4 address on the (first) user-defined bridge network')
    .option('--ip6 <address>', 'a fixed IPv6 address on the (first) user-defined network, one made with --ipv6')
    .option('--mac-address <mac>', "the (first) bridge network NIC's MAC address (default: derived from its address)")
    .option('--network-alias <name>', "another name the instance answers to in its user-defined network's DNS (repeatable)", (v: string, prev: string[] = []) => [...prev, v])
    .option('-p, --publish <[ip:][hostPort:]guestPort[/udp]>', 'publish a guest port on the host (repeatable; default address 0.0.0.0)', parsePublish, [] as PublishSpec[])
    .option('--expose <guestPort[/udp]>', 'expose a guest port beside those the image exposes, for -P (repeatable)', (v: string, prev: { guestPort: number; proto: 'tcp' | 'udp' }[] = []) => [...prev, parseGuestPort(v)])
    .option('-P, --publish-all', "publish every port the image exposes on a free host port")
    .option('-v, --volume <NAME|/host/dir:/guest/path[:ro]>', 'mount a named volume (made if missing) or a host folder (repeatable)', parseVolumeSpec, [] as VolumeSpec[])
    .option('--mount <type=volume|bind,source=S,target=T[,readonly]>', "Docker's long form of -v (repeatable; no source: an anonymous volume)", (v: string, prev: VolumeSpec[] = []) => [...prev, parseMountCsv(v)])
    .option('--health-tcp <port>', 'health check: healthy when a TCP connection to this guest port succeeds (probed from the host)', parseHealthTcp)
    .option('--health-http <[port]path>', 'health check: healthy when GET of this path answers 2xx/3xx, e.g. 80/healthz (no port: the first published, else exposed, TCP port)', parseHealthHttp)
    .option('--health-interval <duration>', 'time between health probes (e.g. 200ms, 30s; default 30s)', parseHealthInterval)
    .option('--health-timeout <duration>', 'a health probe taking longer fails (default 30s)', parseHealthTimeout)
    .option('--health-retries <n>', 'failed probes in a row before unhealthy (default 3)', parseHealthRetries)
    .option('--health-start-period <duration>', 'failed probes this long after the start are not counted (default 0s)', parseHealthStartPeriod)
    .option('--no-healthcheck', "disable any health check, the image's too")
    .option('--restart-on-unhealthy', 'end an unhealthy instance and let --restart (on-failure, always, unless-stopped) restart it as a failure')
    .option('--pull <policy>', 'pull the image first: missing (the default), always or never', parsePullPolicy, 'missing' as PullPolicy)
    .argument('<image>', 'image reference or id')
    .argument('[args...]', 'arguments passed to the unikernel')
    .passThroughOptions();
}

/** A file named by a flag, or one sentence saying why it cannot be read. */
function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`cannot read ${file}: ${fsReason(err)}`);
  }
}

export interface CreateFlags extends HealthFlags {
  name?: string;
  memory?: number;
  cpus?: number;
  cpuOvercommit?: boolean;
  readOnly?: boolean;
  hostname?: string;
  addHost?: string[];
  user?: string;
  workdir?: string;
  entrypoint?: string;
  dns?: string[];
  dnsSearch?: string[];
  dnsOption?: string[];
  env: string[];
  envFile?: string[];
  label?: Record<string, string>;
  labelFile?: Record<string, string>;
  restart?: { name: 'no' | 'on-failure' | 'always' | 'unless-stopped'; maximumRetryCount: number };
  stopSignal?: string;
  stopTimeout?: number;
  network?: NetworkSpec[];
  ip?: string;
  ip6?: string;
  networkAlias?: string[];
  macAddress?: string;
  publish: PublishSpec[];
  publishAll?: boolean;
  expose?: { guestPort: number; proto: 'tcp' | 'udp' }[];
  volume: VolumeSpec[];
  mount?: VolumeSpec[];
  pull?: PullPolicy;
}

export function createRequest(image: string, args: string[], flags: CreateFlags): CreateInstanceRequest {
  const labels = { ...flags.labelFile, ...flags.label };
  return {
    image,
    ...(args.length > 0 && { args }),
    ...(flags.name !== undefined && { name: flags.name }),
    ...(flags.memory !== undefined && { memoryMiB: flags.memory }),
    ...(flags.cpus !== undefined && { cpus: flags.cpus }),
    ...(flags.cpuOvercommit && { cpuOvercommit: true }),
    ...(flags.readOnly === true && { readOnly: true }),
    ...(flags.hostname !== undefined && { hostname: flags.hostname }),
    ...(flags.addHost !== undefined && { extraHosts: flags.addHost }),
    ...(flags.entrypoint !== undefined && { entrypoint: flags.entrypoint }),
    ...(flags.dns !== undefined && { dns: flags.dns }),
    ...(flags.dnsSearch !== undefined && { dnsSearch: flags.dnsSearch }),
    ...(flags.dnsOption !== undefined && { dnsOptions: flags.dnsOption }),
    ...(flags.user !== undefined && { user: flags.user }),
    ...(flags.workdir !== undefined && { workdir: flags.workdir }),
    // Docker's order: the files first, then -e (a later KEY wins in the guest's environment).
    ...((flags.envFile ?? []).length + flags.env.length > 0 && { env: [...(flags.envFile ?? []), ...flags.env] }),
    ...(Object.keys(labels).length > 0 && { labels }),
    ...(flags.restart !== undefined && { restartPolicy: flags.restart }),
    ...(flags.stopSignal !== undefined && { stopSignal: flags.stopSignal }),
    ...(flags.stopTimeout !== undefined && { stopTimeout: flags.stopTimeout }),
    ...networkRequest(flags),
    ...(flags.publish.length > 0 && { ports: flags.publish }),
    ...(flags.publishAll === true && { publishAll: true }),
    ...(flags.expose !== undefined && { expose: flags.expose }),
    ...(flags.volume.length + (flags.mount?.length ?? 0) > 0 && { mounts: [...flags.volume, ...(flags.mount ?? [])] }),
    ...healthRequest(flags),
  };
}

/** The first --network (with --ip, --mac-address and --network-alias, as Docker applies them), the others as extraNetworks. */
function networkRequest(flags: CreateFlags): Pick<CreateInstanceRequest, 'network' | 'ip' | 'ip6' | 'macAddress' | 'aliases' | 'extraNetworks'> {
  const [first, ...more] = flags.network ?? [];
  const ip = flags.ip ?? first?.ip;
  const ip6 = flags.ip6 ?? first?.ip6;
  const mac = flags.macAddress ?? first?.macAddress;
  const aliases = [...(first?.aliases ?? []), ...(flags.networkAlias ?? [])];
  return {
    ...(first !== undefined && { network: first.network }),
    ...(ip !== undefined && { ip }),
    ...(ip6 !== undefined && { ip6 }),
    ...(mac !== undefined && { macAddress: mac }),
    ...(aliases.length > 0 && { aliases }),
    ...(more.length > 0 && { extraNetworks: more }),
  };
}
