// The persisted shape of an instance, and the Docker-style status line derived from it.
import type { InstanceState, NetworkEndpoint, NetworkMode, NetworkSettings, PortBinding } from '../api/schemas.js';
import type { ExitSource, ImageBootInfo } from '../families/types.js';
import type { MountRecord } from '../volumes/mounts.js';
import { healthSuffix, type HealthSettings, type HealthState } from './health-spec.js';
import type { HealthTarget } from './health.js';
import type { RestartPolicy } from './restart.js';

export interface InstanceRecord {
  id: string;
  name: string;
  /** The reference the user gave at create time. */
  image: string;
  imageId: string;
  family: string;
  state: InstanceState;
  created: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  /** false when the family cannot tell the guest's own exit code (exitCode is a stand-in); see exitNote. */
  exitCodeKnown?: boolean | null;
  exitNote?: string | null;
  /** How exitCode was derived (families/types.ts: ExitSource); absent in records made before it. */
  exitSource?: ExitSource | null;
  /** Why the last start failed, or else what the VMM wrote on stderr during the last run (warnings), as Docker's State.Error; null when there is neither. */
  error?: string | null;
  /** The VM process (QEMU). */
  pid: number | null;
  /** The process the daemon watches and signals: the VM's cunik-shim (its process group leader). */
  supervisorPid?: number | null;
  /**
   * Where the last start's console output begins, as a logical offset (console-index.ts: rotation
   * never changes it): a daemon that adopts the VM reads that run's console from there. Absent in
   * records made before it.
   */
  consoleStart?: number | null;
  config: {
    args: string[];
    env: string[];
    memoryMiB: number;
    cpus: number;
    /** More vCPUs than the host has CPUs were allowed (run --cpu-overcommit); absent: no. */
    cpuOvercommit?: boolean;
    /** The root file system takes no writes (run --read-only); absent: it does. */
    readOnly?: boolean;
    /** The guest's host name (run --hostname, else the short id); absent in older records: none is set. */
    hostname?: string;
    /** run --add-host, as NAME:ADDRESS (ADDRESS may be host-gateway); absent: none. */
    extraHosts?: string[];
    /** run --expose: guest ports exposed beside the image's (run -P publishes them too). */
    expose?: { guestPort: number; proto: 'tcp' | 'udp' }[];
    /** run -t: the console is a terminal (the Docker API's attach and logs unframed); absent: no. */
    tty?: boolean;
    /** run --dns, --dns-search, --dns-option: the guest's resolv.conf; absent: the network's resolvers only. */
    dns?: string[];
    dnsSearch?: string[];
    dnsOptions?: string[];
    /** run --entrypoint; absent: the image's program. */
    entrypoint?: string;
    /** run --user USER[:GROUP]; absent: the image's. */
    user?: string;
    /** run --workdir; absent: the image's. */
    workdir?: string;
    autoRemove: boolean;
    restartPolicy?: RestartPolicy;
    /** Absent in records made before networking: those have no NIC ('none'). */
    network?: NetworkMode;
    /** A fixed address on a bridge network (run --ip); absent: the next free one at each start. */
    ip?: string;
    /** A fixed IPv6 address on an --ipv6 bridge network (run --ip6); absent: the next free one. */
    ip6?: string;
    /** More DNS names on its (user-defined) network (run --network-alias). */
    aliases?: string[];
    /** The first NIC's MAC on a bridge network (run --mac-address); absent: derived from its address. */
    macAddress?: string;
    /** Bridge networks beyond the first, one NIC each (run --network a --network b, network connect). */
    extraNetworks?: NetworkEndpoint[];
    /** Published ports as requested (hostPort 0: any free port, chosen at each start). */
    ports?: PortBinding[];
    /** Volumes and bound folders (absent in records made before volumes: none). */
    mounts?: MountRecord[];
    /** User labels (run --label); absent: none. */
    labels?: Record<string, string>;
    /** How stop ends it (run --stop-signal, or the image's StopSignal): absent, SIGTERM (signals.ts). */
    stopSignal?: string;
    /** Seconds stop waits for the guest before ending the VM (run --stop-timeout): absent, 10. */
    stopTimeout?: number;
    /** The health check (run --health-*, or the image's); absent: none. */
    health?: HealthSettings;
  };
  /** The health check's state (kept across runs: each start makes it "starting" again). */
  health?: HealthState | null;
  /** Where this run's health probes go: the guest's bridge address, or the host end of a user-mode forward. */
  healthTarget?: HealthTarget | null;
  /** The network of the last start (host ports as bound). */
  network?: NetworkSettings | null;
  /** The NICs of config.extraNetworks at the last start, in that order. */
  extraNetworks?: NetworkSettings[];
  /** Restarts made by the restart policy. */
  restartCount?: number;
  /** Stopped by the user: restart policies leave it alone (unless-stopped even across daemon restarts). */
  manuallyStopped?: boolean;
  /** The image's boot facts, snapshotted at create time; artefact paths point into the instance dir. */
  boot: ImageBootInfo;
  vm: { driver: string; machine: string; accelerator: string | null; argv: string[] };
}

export function humanDuration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (s < 1) return 'Less than a second';
  if (s < 60) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hour${h === 1 ? '' : 's'}`;
  return `${Math.round(h / 24)} days`;
}

/** The exit code as ps shows it: "unknown" when the family cannot tell it (Solo5, OSv...). */
const exitShown = (r: InstanceRecord): string => (r.exitCodeKnown === false ? 'unknown' : String(r.exitCode ?? 0));

export function statusLine(r: InstanceRecord, now = Date.now()): string {
  switch (r.state) {
    case 'created':
      return 'Created';
    case 'running':
      return `Up ${humanDuration(now - Date.parse(r.startedAt ?? r.created))}${r.health && r.config.health !== undefined ? ` ${healthSuffix(r.health.status)}` : ''}`;
    case 'paused':
      return `Up ${humanDuration(now - Date.parse(r.startedAt ?? r.created))} (Paused)`;
    case 'restarting':
      return `Restarting (${exitShown(r)}) ${humanDuration(now - Date.parse(r.finishedAt ?? r.created))} ago`;
    case 'exited':
      return `Exited (${exitShown(r)}) ${humanDuration(now - Date.parse(r.finishedAt ?? r.created))} ago`;
    case 'removing':
      return 'Removal In Progress';
  }
}
