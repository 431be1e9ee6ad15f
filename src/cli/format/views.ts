// What a --format template sees for each row of ps, images, volume ls and network ls: Docker's
// field names (docker/cli's formatter contexts) over the native summaries, and each list's column
// names for "table" formats. Pure.
import type { Network } from '../../api/networks.js';
import type { ImageSummary, InstanceDetail, InstanceSummary } from '../../api/schemas.js';
import type { Volume } from '../../api/volumes.js';
import { psPorts } from './ports.js';
import { ago, bytes, shortId } from './table.js';
import { asMap } from './template.js';

/** Go's time.Time.String() in UTC: "2026-12-03 05:34:21 +0000 UTC". */
export const goTime = (iso: string): string => `${new Date(iso).toISOString().slice(0, 19).replace('T', ' ')} +0000 UTC`;

/** docker/cli's Ellipsis: at most `n` characters, the last one "…" when cut. */
export const ellipsis = (s: string, n: number): string => ([...s].length > n ? [...s].slice(0, n - 1).join('') + '…' : s);

const labelList = (labels: Record<string, string>): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(',');

export interface PsExtra {
  /** From inspect, when the template reads .Mounts, .Networks or .LocalVolumes. */
  detail?: InstanceDetail;
  /** From ps -s (or a template reading .Size): bytes of the instance's own files and of its image. */
  size?: { rw: number; rootFs: number };
}

/** "1.2MB (virtual 5.3MB)": the instance's own files, and those plus its image. */
export const psSize = (s: { rw: number; rootFs: number }): string => (s.rootFs > 0 ? `${bytes(s.rw)} (virtual ${bytes(s.rootFs)})` : bytes(s.rw));

export function psRow(i: InstanceSummary, trunc: boolean, extra: PsExtra = {}): object {
  const d = extra.detail;
  const mounts = d ? d.mounts.map((m) => (trunc ? ellipsis(m.name ?? m.source, 15) : (m.name ?? m.source))) : [];
  const networks = d ? [d.config.network, ...(d.config.extraNetworks ?? []).map((n) => n.network)].sort() : [];
  return {
    ID: trunc ? shortId(i.id) : i.id,
    Image: i.image,
    Command: JSON.stringify(trunc ? ellipsis(i.args.join(' '), 20) : i.args.join(' ')),
    CreatedAt: goTime(i.created),
    RunningFor: ago(i.created),
    Ports: psPorts(i.ports ?? []),
    State: i.state,
    Status: i.status,
    Size: extra.size ? psSize(extra.size) : '0B',
    Names: i.name,
    Labels: labelList(i.labels),
    Label: (k: string): string => i.labels[k] ?? '',
    Mounts: mounts.join(','),
    Networks: networks.join(','),
    LocalVolumes: String(d ? d.mounts.filter((m) => m.type === 'volume').length : 0),
    Family: i.family,
  };
}

export const PS_HEADERS = {
  ID: 'INSTANCE ID', Image: 'IMAGE', Command: 'COMMAND', CreatedAt: 'CREATED AT', RunningFor: 'CREATED', Ports: 'PORTS', State: 'STATE', Status: 'STATUS',
  Size: 'SIZE', Names: 'NAMES', Labels: 'LABELS', Label: (): string => 'LABEL', Mounts: 'MOUNTS', Networks: 'NETWORKS', LocalVolumes: 'LOCAL VOLUMES', Family: 'FAMILY',
};

/** One row per reference, as docker images prints them ("<none>" for an untagged image). */
export function imageRows(list: ImageSummary[], trunc: boolean): object[] {
  const rows: object[] = [];
  for (const i of list) {
    for (const ref of i.repoTags.length ? i.repoTags : ['<none>:<none>']) {
      const colon = ref.lastIndexOf(':');
      rows.push({
        ID: trunc ? shortId(i.id) : i.id,
        Repository: ref.slice(0, colon),
        Tag: ref.slice(colon + 1),
        Digest: i.digest || '<none>',
        CreatedSince: ago(i.created),
        CreatedAt: goTime(i.created),
        Size: bytes(i.size),
        VirtualSize: bytes(i.size),
        Family: i.family,
      });
    }
  }
  return rows;
}

export const IMAGE_HEADERS = {
  ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', CreatedAt: 'CREATED AT', Size: 'SIZE', VirtualSize: 'VIRTUAL SIZE', Family: 'FAMILY',
};

export function volumeRow(v: Volume): object {
  return {
    Name: v.name,
    Driver: v.driver,
    Scope: 'local',
    Mountpoint: v.mountpoint,
    Labels: labelList(v.labels),
    Label: (k: string): string => v.labels[k] ?? '',
    Links: String(v.usedBy.length),
    Size: v.size !== undefined ? bytes(v.size) : 'N/A',
    CreatedAt: goTime(v.createdAt),
  };
}

export const VOLUME_HEADERS = {
  Name: 'VOLUME NAME', Driver: 'DRIVER', Scope: 'SCOPE', Mountpoint: 'MOUNTPOINT', Labels: 'LABELS', Label: (): string => 'LABEL', Links: 'LINKS', Size: 'SIZE', CreatedAt: 'CREATED AT',
};

export function networkRow(n: Network, trunc: boolean): object {
  return {
    ID: trunc ? n.id.slice(0, 12) : n.id,
    Name: n.name,
    Driver: n.driver,
    Scope: 'local',
    IPv6: String(n.subnet6 !== undefined),
    Internal: String(n.internal),
    Labels: labelList(n.labels),
    Label: (k: string): string => n.labels[k] ?? '',
    CreatedAt: goTime(n.createdAt),
    Subnet: n.subnet,
    Gateway: n.gateway,
  };
}

export const NETWORK_HEADERS = {
  ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER', Scope: 'SCOPE', IPv6: 'IPV6', Internal: 'INTERNAL', Labels: 'LABELS', Label: (): string => 'LABEL', CreatedAt: 'CREATED AT', Subnet: 'SUBNET', Gateway: 'GATEWAY',
};

/** What inspect's template sees: Docker's shape of the object (State.ExitCode, Config.Labels ...) and the native fields beside it. */
export function withMaps<T>(v: T): T {
  // Labels, options and port or network maps are Go maps in Docker's types (a missing key is "<no value>").
  const MAP_KEYS = new Set(['Labels', 'labels', 'Options', 'Ports', 'Networks', 'ExposedPorts', 'Volumes', 'PortBindings', 'DriverOpts']);
  const visit = (x: unknown, key: string): void => {
    if (x === null || typeof x !== 'object') return;
    if (!Array.isArray(x) && MAP_KEYS.has(key)) asMap(x);
    for (const [k, y] of Object.entries(x)) visit(y, Array.isArray(x) ? key : k);
  };
  visit(v, '');
  return v;
}
