// Creating an instance (create, and the first half of run): everything the request could get
// wrong is refused before its name is reserved; then the volumes it needs are made and its
// directory (boot files, and the record unless a start writes it) is written. Undone on failure.
// The caller (service.ts) holds the names, the records and the volume reservations.
import { randomBytes } from 'node:crypto';
import { conflict, invalid } from '../errors.js';
import { DEFAULT_NETWORK } from '../network/bridge/spec.js';
import { bootConfig, checkImageMemory, exposedPorts, instanceConfig, networkSettings, type CreateOptions, type HostFacts } from './boot-config.js';
import { checkNetworks } from './connect.js';
import { imageHealth, resolveHealth } from './health-spec.js';
import { createVolumes, instanceMounts, removeVolumes, type VolumeUse } from './mounts.js';
import { generateName } from './names.js';
import type { InstanceRecord } from './record.js';
import type { InstanceServiceDeps } from './service-deps.js';

export interface CreateContext {
  deps: Pick<InstanceServiceDeps, 'images' | 'family' | 'store' | 'driver' | 'volumes' | 'networks' | 'defaultNetwork'>;
  host(): HostFacts;
  /** Names in use (reserved here synchronously, released here if the create fails). */
  names: Set<string>;
  volumeUse: VolumeUse;
  /** The id of the instance holding a name (for the conflict's sentence). */
  idOf(name: string): string;
  /** The record is stored: the service makes it known and announces it. */
  created(record: InstanceRecord): void;
}

/** `withRecord`: write the record now (create); run leaves it to the start (store.create). */
export async function createInstance(ctx: CreateContext, opts: CreateOptions, withRecord: boolean): Promise<InstanceRecord> {
  const { deps, names } = ctx;
  if (opts.name !== undefined && names.has(opts.name)) {
    throw conflict(`the name "${opts.name}" is already in use by instance ${ctx.idOf(opts.name).slice(0, 12)}`);
  }
  const image = await deps.images.inspect(opts.image);
  const boot = await deps.images.bootInfo(image.id);
  const adapter = deps.family(boot.family);
  const artefacts = await deps.images.bootArtifacts(image.id);
  // The daemon's default network (`bridge` for a root daemon) when the request names none (with or
  // without -p: bridge networks publish ports too), unless the family cannot take a bridge's static
  // address: then `user`, as before (docs/networking.md).
  const implicitBridge = opts.network === undefined && deps.defaultNetwork === DEFAULT_NETWORK && deps.networks !== undefined && adapter.staticAddress !== false;
  // Everything the request could get wrong is refused before the name is reserved.
  // -P publishes what the image exposes and what --expose adds.
  const request = opts.publishAll === true ? { ...opts, ports: [...(opts.ports ?? []), ...exposedPorts(boot.labels, opts.ports ?? [], opts.expose)] } : opts;
  const id = randomBytes(32).toString('hex');
  // Docker's default host name is the short id; only a linux guest's init sets one.
  let config = instanceConfig({ ...request, hostname: request.hostname ?? id.slice(0, 12), network: request.network ?? (implicitBridge ? DEFAULT_NETWORK : 'user') }, boot, ctx.host());
  const health = resolveHealth(request.healthcheck, imageHealth(boot.labels), request.restartOnUnhealthy === true, {
    ports: config.ports,
    exposed: exposedPorts(boot.labels, [], opts.expose).flatMap((p) => (p.proto === 'tcp' ? [p.guestPort] : [])),
    network: config.network,
    restartPolicy: config.restartPolicy?.name ?? 'no',
  });
  if (health !== undefined) config.health = health;
  let network = networkSettings(config, config.ports);
  const base = bootConfig(config, network, ctx.host());
  // The mounts first: a family may need a volume to boot at all (a Solo5 block device).
  const { mounts, missing } = await instanceMounts(opts.mounts ?? [], adapter, boot, base, deps.volumes);
  if (mounts.length > 0) config.mounts = mounts;
  let spec = adapter.bootSpec(boot, mounts.length > 0 ? bootConfig(config, network, ctx.host()) : base);
  if (implicitBridge && !(spec.nics ?? []).some((n) => n.backend.type === 'tap')) {
    // No NIC for this image (a generic kernel, a Solo5 manifest without a net device): as before.
    config = { ...config, network: 'user' };
    network = networkSettings(config, config.ports);
    spec = adapter.bootSpec(boot, bootConfig(config, network, ctx.host()));
  }
  if (config.ports.length > 0 && !(spec.nics ?? []).some((n) => n.backend.type === 'passt' || n.backend.type === 'tap')) {
    throw invalid(`the ${boot.family} family attaches no network device for this image: ports cannot be published`, 'ports');
  }
  checkNetworks(deps.networks, adapter, boot.family, spec, config);
  checkImageMemory(config.memoryMiB, boot.labels);
  const linuxOnly = [
    [opts.entrypoint, 'entrypoint', "only a linux image's init runs another program"],
    [opts.user, 'user', "only a linux image's init runs its app as a user"],
    [opts.workdir, 'workdir', "only a linux image's init runs its app in a directory"],
    [opts.dns?.[0], 'dns', "only a linux image's init writes a resolv.conf"],
    [opts.dnsSearch?.[0], 'dns-search', "only a linux image's init writes a resolv.conf"],
    [opts.dnsOptions?.[0], 'dns-option', "only a linux image's init writes a resolv.conf"],
  ] as const;
  for (const [given, field, why] of linuxOnly) {
    if (given !== undefined && boot.family !== 'linux') throw invalid(`--${field} is not supported by the ${boot.family} family: ${why}`, field);
  }
  if ((opts.extraHosts?.length ?? 0) > 0 && boot.family !== 'linux') throw invalid(`--add-host is not supported by the ${boot.family} family: only a linux image's init writes /etc/hosts`, 'extraHosts');
  if (opts.hostname !== undefined && boot.family !== 'linux') throw invalid(`--hostname is not supported by the ${boot.family} family: only a linux image's init sets a host name`, 'hostname');
  if (config.readOnly === true && boot.family !== 'linux') throw invalid(`--read-only is not supported by the ${boot.family} family: only a linux image with a root disk has a root file system it can keep from writes`, 'readOnly');
  // Re-check after the awaits: the name is reserved synchronously from here on.
  if (opts.name !== undefined && names.has(opts.name)) throw conflict(`the name "${opts.name}" is already in use`);
  const name = opts.name ?? generateName((n) => names.has(n));
  names.add(name);
  const volumeNames = mounts.flatMap((m) => (m.name !== undefined ? [m.name] : []));
  ctx.volumeUse.reserve(volumeNames, 1);
  const made = await createVolumes(deps.volumes, missing).catch((err: unknown) => {
    names.delete(name);
    ctx.volumeUse.reserve(volumeNames, -1);
    throw err;
  });
  const draft: InstanceRecord = {
    id,
    name,
    image: opts.image,
    imageId: image.id,
    family: boot.family,
    state: 'created',
    created: new Date().toISOString(),
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    pid: null,
    config,
    restartCount: 0,
    manuallyStopped: false,
    boot,
    vm: { driver: deps.driver.name, machine: spec.machine, accelerator: null, argv: [] },
  };
  const files: Record<string, string> = {};
  if (artefacts.kernel) files['kernel'] = artefacts.kernel;
  if (artefacts.initrd) files['initrd'] = artefacts.initrd;
  if (artefacts.disk) files['disk'] = artefacts.disk;
  try {
    const record = await deps.store.create(draft, files, withRecord);
    ctx.created(record);
    return record;
  } catch (err) {
    names.delete(name);
    await removeVolumes(deps.volumes, made);
    throw err;
  } finally {
    ctx.volumeUse.reserve(volumeNames, -1);
  }
}
