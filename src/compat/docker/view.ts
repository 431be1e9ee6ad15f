// The native API's views (InstanceSummary, InstanceDetail, ImageSummary, Volume, Network, Event)
// in the shapes of Docker's Engine API 1.44. Pure functions: the routes call them on what the
// backends return.
import { healthState } from './health.js';
import type { Event } from '../../api/events.js';
import type { Network } from '../../api/networks.js';
import type { ImageDetail, ImageSummary, InstanceDetail, InstanceSummary, PortBinding } from '../../api/schemas.js';
import type { InstanceStats } from '../../api/stats.js';
import type { Volume } from '../../api/volumes.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';
const unix = (iso: string): number => Math.floor(Date.parse(iso) / 1000);

function portsOf(ports: PortBinding[]): { IP: string; PrivatePort: number; PublicPort: number; Type: string }[] {
  return ports.map((p) => ({ IP: p.hostIp, PrivatePort: p.guestPort, PublicPort: p.hostPort, Type: p.proto }));
}

/** Docker's PortBindings / NetworkSettings.Ports map: {"80/tcp": [{HostIp, HostPort}]}. */
function portMap(ports: PortBinding[]): Record<string, { HostIp: string; HostPort: string }[]> {
  const out: Record<string, { HostIp: string; HostPort: string }[]> = {};
  for (const p of ports) (out[`${p.guestPort}/${p.proto}`] ??= []).push({ HostIp: p.hostIp, HostPort: p.hostPort === 0 ? '' : String(p.hostPort) });
  return out;
}

/** One entry of GET /containers/json. */
export function containerSummary(s: InstanceSummary, network: string): Record<string, unknown> {
  return {
    Id: s.id,
    Names: [`/${s.name}`],
    Image: s.image,
    ImageID: s.imageId,
    Command: s.args.join(' '),
    Created: unix(s.created),
    Ports: portsOf(s.ports),
    Labels: s.labels,
    State: s.state,
    Status: s.status,
    HostConfig: { NetworkMode: network },
    NetworkSettings: { Networks: {} },
    Mounts: [],
    ...(s.sizeRw !== undefined && { SizeRw: s.sizeRw, SizeRootFs: s.sizeRootFs ?? s.sizeRw }),
  };
}

/** GET /containers/{id}/json. */
export function containerInspect(d: InstanceDetail): Record<string, unknown> {
  const running = d.state === 'running' || d.state === 'paused';
  const net = d.network;
  const networkName = net?.mode ?? d.config.network;
  return {
    Id: d.id,
    Created: d.created,
    Path: '',
    Args: d.config.args,
    State: {
      Status: d.state === 'removing' ? 'removing' : d.state,
      Running: running,
      Paused: d.state === 'paused',
      Restarting: d.state === 'restarting',
      OOMKilled: false,
      Dead: false,
      Pid: d.pid ?? 0,
      ExitCode: d.exitCode ?? 0,
      Error: d.error ?? '',
      StartedAt: d.startedAt ?? ZERO_TIME,
      FinishedAt: d.finishedAt ?? ZERO_TIME,
      ...healthState(d),
    },
    Image: d.imageId,
    ResolvConfPath: '',
    HostnamePath: '',
    HostsPath: '',
    LogPath: d.paths.consoleLog,
    Name: `/${d.name}`,
    RestartCount: d.restartCount,
    Driver: d.vm.driver,
    Platform: 'linux',
    HostConfig: {
      Binds: d.mounts.map((m) => `${m.name ?? m.source}:${m.destination}${m.rw ? '' : ':ro'}`),
      NetworkMode: d.config.network,
      PortBindings: portMap(d.config.ports),
      RestartPolicy: { Name: d.config.restartPolicy.name, MaximumRetryCount: d.config.restartPolicy.maximumRetryCount },
      AutoRemove: d.config.autoRemove,
      Memory: d.config.memoryMiB * 1024 * 1024,
      NanoCpus: d.config.cpus * 1e9,
      Privileged: false,
    },
    Mounts: d.mounts.map((m) => ({
      Type: m.type,
      ...(m.name !== null && { Name: m.name }),
      Source: m.source,
      Destination: m.destination,
      Driver: m.type === 'volume' ? m.driver : '',
      Mode: m.rw ? '' : 'ro',
      RW: m.rw,
      Propagation: '',
    })),
    Config: {
      Hostname: d.config.hostname ?? d.id.slice(0, 12),
      Image: d.image,
      Cmd: d.config.args,
      Env: d.config.env,
      Entrypoint: null,
      Labels: d.labels,
      Tty: d.config.tty === true,
      OpenStdin: false,
      AttachStdin: false,
      AttachStdout: true,
      AttachStderr: true,
      StopSignal: d.config.stopSignal,
      StopTimeout: d.config.stopTimeout,
    },
    NetworkSettings: {
      Ports: portMap(net?.ports ?? []),
      IPAddress: net?.ipAddress ?? '',
      IPPrefixLen: net?.prefixLen ?? 0,
      Gateway: net?.gateway ?? '',
      MacAddress: net?.macAddress ?? '',
      Networks: net ? { [networkName]: { IPAddress: net.ipAddress ?? '', IPPrefixLen: net.prefixLen ?? 0, Gateway: net.gateway ?? '', MacAddress: net.macAddress ?? '' } } : {},
    },
  };
}

/** One entry of GET /images/json. */
export function imageSummary(i: ImageSummary): Record<string, unknown> {
  return { Id: i.id, ParentId: '', RepoTags: i.repoTags, RepoDigests: [], Created: unix(i.created), Size: i.size, SharedSize: -1, Labels: {}, Containers: -1 };
}

/** GET /images/{name}/json. */
export function imageInspect(i: ImageDetail): Record<string, unknown> {
  return {
    Id: i.id,
    RepoTags: i.repoTags,
    RepoDigests: [],
    Parent: '',
    Comment: '',
    Created: i.created,
    Config: { Cmd: i.args, Env: i.env, Labels: i.labels, Entrypoint: null },
    Architecture: i.architecture,
    Os: i.os,
    Size: i.size,
    RootFS: { Type: 'layers', Layers: i.layers.map((l) => l.digest) },
    Metadata: { LastTagTime: ZERO_TIME },
  };
}

/** GET /images/{name}/history: the top step carries the image's id and tags, the others `<missing>`. */
export function imageHistoryView(i: ImageDetail): Record<string, unknown>[] {
  return i.history.map((h, n) => ({
    Id: n === 0 ? i.id : '<missing>',
    Created: Number.isFinite(unix(h.created)) ? unix(h.created) : 0,
    CreatedBy: h.createdBy,
    Tags: n === 0 ? i.repoTags : null,
    Size: h.size,
    Comment: h.comment,
  }));
}

export function volumeView(v: Volume): Record<string, unknown> {
  const options = v.device !== undefined ? { type: 'none', o: 'bind', device: v.device } : v.size !== undefined ? { size: String(v.size) } : {};
  return { Name: v.name, Driver: v.driver, Mountpoint: v.mountpoint, CreatedAt: v.createdAt, Labels: v.labels, Scope: 'local', Options: options };
}

export function networkView(n: Network): Record<string, unknown> {
  return {
    Name: n.name,
    Id: n.id,
    Created: n.createdAt,
    Scope: 'local',
    Driver: n.driver,
    EnableIPv6: false,
    IPAM: { Driver: 'default', Config: [{ Subnet: n.subnet, Gateway: n.gateway, ...(n.ipRange !== undefined && { IPRange: n.ipRange }) }] },
    Internal: n.internal,
    Attachable: false,
    Ingress: false,
    Containers: Object.fromEntries(n.instances.map((i) => [i.id, { Name: i.name, IPv4Address: i.ipAddress }])),
    Options: { 'com.docker.network.bridge.name': n.bridge },
    Labels: n.labels,
  };
}

/** The network modes that are no bridge network record: listed so that --network can name them. */
export function modeNetwork(name: 'user' | 'none'): Record<string, unknown> {
  return { Name: name, Id: name, Created: ZERO_TIME, Scope: 'local', Driver: name === 'user' ? 'passt' : 'null', EnableIPv6: false, IPAM: { Driver: 'default', Config: [] }, Internal: false, Attachable: false, Ingress: false, Containers: {}, Options: {}, Labels: {} };
}

/** One line of GET /events. */
export function eventView(e: Event): Record<string, unknown> {
  const type = e.type === 'instance' ? 'container' : e.type;
  return {
    Type: type,
    Action: e.action,
    Actor: { ID: e.id, Attributes: e.attributes },
    scope: 'local',
    time: e.time,
    timeNano: e.timeNano,
    // The pre-1.22 fields, which the CLI still reads.
    status: e.action,
    id: e.id,
    ...(e.attributes['image'] !== undefined && { from: e.attributes['image'] }),
  };
}

/**
 * GET /containers/{id}/stats. The CLI's CPU % is Δcpu / Δsystem × online CPUs; with the system
 * counter as wall time × CPUs that is the VMM's share of one CPU, as the native stats give it.
 */
export function statsView(s: InstanceStats, pre: InstanceStats | undefined, cpus: number): Record<string, unknown> {
  const cpu = (x: InstanceStats | undefined) => ({
    cpu_usage: { total_usage: x ? Math.round(x.cpuSeconds * 1e9) : 0, usage_in_kernelmode: 0, usage_in_usermode: 0 },
    system_cpu_usage: x ? Date.parse(x.read) * 1e6 * cpus : 0,
    online_cpus: cpus,
    throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 },
  });
  return {
    id: s.id,
    name: `/${s.name}`,
    read: s.read,
    preread: pre?.read ?? ZERO_TIME,
    pids_stats: { current: s.pid === null ? 0 : 1 },
    cpu_stats: cpu(s),
    precpu_stats: cpu(pre),
    memory_stats: { usage: s.memory.rss, limit: s.memory.guest, stats: {} },
    blkio_stats: {},
    networks: {},
  };
}
