// The typed Engine API client, used by the CLI and by tests.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import type {
  CreateInstanceRequest,
  CreateInstanceResponse,
  ImageDetail,
  ImageSummary,
  InfoResponse,
  InstanceDetail,
  InstanceSummary,
  LoadResponse,
  RemoveImageResponse,
  UpdateInstanceRequest,
  UpdateInstanceResponse,
  VersionResponse,
  WaitResponse,
} from '../api/schemas.js';
import type { CheckResponse } from '../api/check.js';
import type { DiskUsageResponse, PruneBuildCacheResponse, PruneImagesResponse, PruneInstancesResponse } from '../api/prune.js';
import type { CreateNetworkRequest, Network, PruneNetworksResponse } from '../api/networks.js';
import type { CreateVolumeRequest, PruneVolumesResponse, Volume } from '../api/volumes.js';
import { HttpClient, readAll, type WireResponse } from './http.js';

export { ApiError, ConnectError } from './http.js';

const id = (s: string): string => encodeURIComponent(s);

export interface LogsOptions {
  follow?: boolean | undefined;
  /** Number of lines, or 'all' (the daemon checks it). */
  tail?: number | string | undefined;
  /** RFC 3339, Unix seconds, or a duration before now (10m). */
  since?: string | undefined;
  until?: string | undefined;
  timestamps?: boolean | undefined;
}

export class CunikClient {
  readonly http: HttpClient;

  constructor(
    readonly socketPath: string,
    onUnreachable?: () => Promise<void>,
  ) {
    this.http = new HttpClient(socketPath, onUnreachable);
  }

  ping = async (): Promise<void> => void (await readAll(await this.http.open('GET', '/v1/_ping')));
  version = (): Promise<VersionResponse> => this.http.json('GET', '/v1/version');
  info = (): Promise<InfoResponse> => this.http.json('GET', '/v1/info');

  /** `filters`: Docker's map of KEY → values (ps --filter). */
  listInstances = (all = false, filters?: Record<string, string[]>, size = false): Promise<InstanceSummary[]> =>
    this.http.json('GET', '/v1/instances', { query: { all: all || undefined, size: size || undefined, filters: filters && Object.keys(filters).length > 0 ? JSON.stringify(filters) : undefined } });
  updateInstance = (ref: string, req: UpdateInstanceRequest): Promise<UpdateInstanceResponse> => this.http.json('POST', `/v1/instances/${id(ref)}/update`, { json: req });
  renameInstance = async (ref: string, name: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/rename`, { query: { name } }));
  createInstance = (req: CreateInstanceRequest): Promise<CreateInstanceResponse> => this.http.json('POST', '/v1/instances', { json: req });
  inspectInstance = (ref: string): Promise<InstanceDetail> => this.http.json('GET', `/v1/instances/${id(ref)}`);
  startInstance = async (ref: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/start`));
  stopInstance = async (ref: string, t?: number, signal?: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/stop`, { query: { t, signal } }));
  restartInstance = async (ref: string, t?: number, signal?: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/restart`, { query: { t, signal } }));
  killInstance = async (ref: string, signal?: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/kill`, { query: { signal } }));
  pauseInstance = async (ref: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/pause`));
  unpauseInstance = async (ref: string): Promise<void> => void (await this.http.json('POST', `/v1/instances/${id(ref)}/unpause`));
  /** `volumes`: also its anonymous volumes (rm -v). */
  removeInstance = async (ref: string, force = false, volumes = false): Promise<void> =>
    void (await this.http.json('DELETE', `/v1/instances/${id(ref)}`, { query: { force: force || undefined, volumes: volumes || undefined } }));

  /** Registers the wait (resolves once the daemon has sent headers), then `exitCode` settles at exit. */
  async waitInstance(ref: string, condition: 'not-running' | 'next-exit' | 'removed' = 'not-running', signal?: AbortSignal): Promise<{ exitCode: Promise<number> }> {
    const res = await this.http.open('POST', `/v1/instances/${id(ref)}/wait`, { query: { condition }, ...(signal && { signal }) });
    const exitCode = readAll(res).catch(() => Buffer.alloc(0)).then((b) => {
      const text = b.toString('utf8');
      // The daemon stopped (instances keep running): no answer will come on this connection.
      if (text === '') throw new Error('the daemon closed the connection before the instance exited');
      const answer = JSON.parse(text) as WaitResponse;
      if (answer.error !== undefined) throw new Error(answer.error);
      return answer.exitCode;
    });
    // Handled here too: callers may await it only later (after the console closes), and an
    // early rejection must not end the process as unhandled.
    exitCode.catch(() => undefined);
    return { exitCode };
  }

  /** The console output as text; `follow` (or opts.follow) streams it until the instance exits. */
  logs = (ref: string, opts: boolean | LogsOptions = false): Promise<WireResponse> => {
    const o: LogsOptions = typeof opts === 'boolean' ? { follow: opts } : opts;
    return this.http.open('GET', `/v1/instances/${id(ref)}/logs`, {
      query: { follow: o.follow || undefined, tail: o.tail === undefined ? undefined : String(o.tail), since: o.since, until: o.until, timestamps: o.timestamps || undefined },
    });
  };

  /** Attach to the instance's console: a raw socket carrying the guest's output, and its input when stdin. */
  attach = (ref: string, opts: { stdin?: boolean; stdout?: boolean; detachKeys?: string } = {}): Promise<Socket> =>
    this.http.upgrade('GET', `/v1/instances/${id(ref)}/attach`, { query: { stdin: opts.stdin, stdout: opts.stdout, detachKeys: opts.detachKeys } });

  listImages = (filters?: Record<string, string[]>): Promise<ImageSummary[]> =>
    this.http.json('GET', '/v1/images', { query: { filters: filters && Object.keys(filters).length > 0 ? JSON.stringify(filters) : undefined } });
  inspectImage = (ref: string): Promise<ImageDetail> => this.http.json('GET', `/v1/images/${id(ref)}`);
  /** `kernelSize`: the body is a kernel of that many bytes followed by a disk image. */
  importImage = (body: Readable, q: { ref: string; family: string; memoryMiB?: number; cpus?: number; args?: string[]; kernelSize?: number }): Promise<ImageDetail> =>
    this.http.json('POST', '/v1/images/import', {
      body,
      query: { ref: q.ref, family: q.family, memoryMiB: q.memoryMiB, cpus: q.cpus, args: q.args && JSON.stringify(q.args), kernelSize: q.kernelSize },
    });
  tagImage = async (source: string, target: string): Promise<void> => void (await this.http.json('POST', `/v1/images/${id(source)}/tag`, { json: { target } }));
  removeImage = (ref: string, force = false): Promise<RemoveImageResponse> => this.http.json('DELETE', `/v1/images/${id(ref)}`, { query: { force: force || undefined } });
  exportImages = (names: string[]): Promise<WireResponse> => this.http.open('GET', '/v1/images/export', { query: { names } });
  loadImages = (body: Readable): Promise<LoadResponse> => this.http.json('POST', '/v1/images/load', { body, contentType: 'application/x-tar' });

  // Events, stats, pruning, disk usage.
  /** Newline-delimited JSON Event objects; `filters` is Docker's JSON form ({"type":["instance"]}). */
  events = (q: { since?: string; until?: string; filters?: Record<string, string[]> } = {}): Promise<WireResponse> =>
    this.http.open('GET', '/v1/events', { query: { since: q.since, until: q.until, filters: q.filters && JSON.stringify(q.filters) } });
  /** One InstanceStats (JSON) or, with stream, one per line every second. */
  stats = (ref: string, stream: boolean): Promise<WireResponse> => this.http.open('GET', `/v1/instances/${id(ref)}/stats`, { query: { stream } });
  /** `filters`: Docker's map (until, label, label!), as `container prune --filter` gives it. */
  pruneInstances = (filters: Record<string, string[]> = {}): Promise<PruneInstancesResponse> =>
    this.http.json('POST', '/v1/instances/prune', { query: { filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined } });
  pruneImages = (all = false): Promise<PruneImagesResponse> => this.http.json('POST', '/v1/images/prune', { query: { all: all || undefined } });
  diskUsage = (verbose = false): Promise<DiskUsageResponse> => this.http.json('GET', '/v1/system/df', { query: { verbose: verbose || undefined } });
  pruneBuildCache = (all: boolean, filters?: Record<string, string[]>): Promise<PruneBuildCacheResponse> =>
    this.http.json('POST', '/v1/build/prune', { query: { all: all || undefined, filters: filters && Object.keys(filters).length > 0 ? JSON.stringify(filters) : undefined } });
  /** Verify the daemon's records, image store and volumes; `repair`: drop what cannot be used. */
  systemCheck = (repair = false): Promise<CheckResponse> => this.http.json('POST', '/v1/system/check', { json: { repair } });

  /** `filters`: Docker's map of KEY → values (network/bridge/filter.ts). */
  listNetworks = (filters: Record<string, string[]> = {}): Promise<Network[]> =>
    this.http.json('GET', '/v1/networks', { query: { filters: Object.keys(filters).length > 0 ? JSON.stringify(filters) : undefined } });
  pruneNetworks = (filters: Record<string, string[]> = {}): Promise<PruneNetworksResponse> =>
    this.http.json('POST', '/v1/networks/prune', { query: { filters: Object.keys(filters).length > 0 ? JSON.stringify(filters) : undefined } });
  createNetwork = (req: CreateNetworkRequest): Promise<Network> => this.http.json('POST', '/v1/networks', { json: req });
  inspectNetwork = (ref: string): Promise<Network> => this.http.json('GET', `/v1/networks/${id(ref)}`);
  connectNetwork = async (ref: string, instance: string, opts: { ip?: string; ip6?: string; macAddress?: string; aliases?: string[] } = {}): Promise<void> =>
    void (await this.http.json('POST', `/v1/networks/${id(ref)}/connect`, { json: { instance, ...opts } }));
  disconnectNetwork = async (ref: string, instance: string): Promise<void> => void (await this.http.json('POST', `/v1/networks/${id(ref)}/disconnect`, { json: { instance } }));
  removeNetwork = async (ref: string): Promise<void> => void (await this.http.json('DELETE', `/v1/networks/${id(ref)}`));
  /** `filters`: Docker's map (name, label, driver, dangling), as `volume ls --filter` gives it. */
  listVolumes = (filters: Record<string, string[]> = {}): Promise<Volume[]> =>
    this.http.json('GET', '/v1/volumes', { query: { filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined } });
  createVolume = (req: CreateVolumeRequest): Promise<Volume> => this.http.json('POST', '/v1/volumes', { json: req });
  inspectVolume = (name: string): Promise<Volume> => this.http.json('GET', `/v1/volumes/${id(name)}`);
  removeVolume = async (name: string, force = false): Promise<void> => void (await this.http.json('DELETE', `/v1/volumes/${id(name)}`, { query: { force: force || undefined } }));
  /** Anonymous volumes no instance uses; `all`: named ones too. */
  pruneVolumes = (all = false, filters: Record<string, string[]> = {}): Promise<PruneVolumesResponse> =>
    this.http.json('POST', '/v1/volumes/prune', { query: { all: all || undefined, filters: Object.keys(filters).length ? JSON.stringify(filters) : undefined } });

  close(): void {
    this.http.close();
  }
}
