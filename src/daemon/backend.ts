// Wires the domain services to the narrow backend interfaces the routes declare.
import { arch, platform } from 'node:os';
import { PassThrough } from 'node:stream';
import { API_VERSION, type InfoResponse, type VersionResponse } from '../api/schemas.js';
import { VERSION } from '../config/defaults.js';
import { invalid } from '../errors.js';
import { familyNames } from '../families/index.js';
import { matchesImageFilters, parseImageFilters } from '../images/filter.js';
import type { ImageStore } from '../images/store.js';
import type { ConsoleManager } from '../instances/console.js';
import { attachSession, logsStream } from '../instances/console-streams.js';
import type { InstanceRecord } from '../instances/record.js';
import type { InstanceService } from '../instances/service.js';
import { matchesInstance, needsAll, parseInstanceFilters } from '../instances/filter.js';
import { instanceDiskSize } from '../instances/prune.js';
import { summariesJson, toDetail, withSizes } from '../instances/view.js';
import type { AccelChoice } from '../vmm/types.js';
import type { VolumeStore } from '../volumes/store.js';
import { makeVolumesBackend } from './backend-volumes.js';
import type { UploadSpool } from './spool.js';
import type { CoreBackends } from './server.js';

export interface BackendDeps {
  root: string;
  instances: InstanceService;
  images: ImageStore;
  driverName: string;
  /** VMs may use transparent huge pages (cunikd --vm-thp). */
  transparentHugepages: boolean;
  /** The host's KSM may merge guest RAM (cunikd --vm-ksm). */
  kernelSamepageMerging: boolean;
  /** cunikd --tcg-tb-size; 0 is QEMU's own. */
  tcgTbSizeMiB: number;
  confinement: InfoResponse['confinement'];
  /** cunikd --default-network, as chosen. */
  defaultNetwork?: string;
  qemuVersion: () => Promise<string>;
  accelerator: () => AccelChoice | undefined;
  consoles: ConsoleManager;
  volumes: VolumeStore;
  spool: UploadSpool;
  registry: InfoResponse['registry'];
  /** Bridge networks' forwarding state (root daemon). */
  bridgeNetworking?: () => NonNullable<InfoResponse['bridgeNetworking']>;
}

export function makeBackends(deps: BackendDeps): CoreBackends {
  const { instances, images } = deps;
  const spooled = deps.spool.spooled.bind(deps.spool);

  return {
    instances: {
      listJson: (all, filters, size) => {
        const f = parseInstanceFilters(filters);
        let list = instances.list(all || needsAll(f));
        if (Object.keys(f).length > 0) {
          const ctx = { resolve: (ref: string) => instances.get(ref), health: (r: InstanceRecord) => instances.healthStatus(r) };
          list = list.filter((r) => matchesInstance(r, f, ctx));
        }
        if (!size) return summariesJson(list);
        const imageSizes = new Map(images.list().map((i) => [i.id, i.size]));
        return withSizes(list, summariesJson(list), (id) => instanceDiskSize(instances, id), (r) => imageSizes.get(r.imageId) ?? 0);
      },
      inspect: (ref) => {
        const r = instances.get(ref);
        return toDetail(r, instances.paths(r.id));
      },
      create: async ({ start, ...req }) => {
        const r = await (start === true ? instances.run(req) : instances.create(req));
        return { id: r.id, name: r.name };
      },
      start: async (ref) => void (await instances.start(ref)),
      stop: async (ref, t, signal) => void (await instances.stop(ref, t, signal)),
      restart: async (ref, t, signal) => void (await instances.restart(ref, t, signal)),
      kill: async (ref, signal) => void (await instances.kill(ref, signal)),
      pause: async (ref) => void (await instances.pause(ref)),
      rename: async (ref, name) => void (await instances.rename(ref, name)),
      update: async (ref, req) => ({ warnings: (await instances.update(ref, req)).warnings }),
      unpause: async (ref) => void (await instances.unpause(ref)),
      remove: (ref, force, volumes) => instances.remove(ref, force, volumes),
      wait: (ref, condition, signal) => instances.wait(ref, condition, signal),
      logs: (ref, q) => logsStream({ instances, consoles: deps.consoles }, ref, q),
      attach: (ref, q) => attachSession({ instances, consoles: deps.consoles }, ref, q),
    },
    images: {
      list: (filters) => {
        const f = parseImageFilters(filters);
        const list = images.list();
        if (Object.keys(f).length === 0) return list;
        const ctx = { labels: (id: string) => images.inspect(id).labels, created: (ref: string) => images.inspect(ref).created };
        return list.filter((i) => matchesImageFilters(i, f, ctx));
      },
      inspect: (ref) => images.inspect(ref),
      import: (body, q) => {
        let args: string[] | undefined;
        if (q.args !== undefined) {
          try {
            args = JSON.parse(q.args) as string[];
          } catch {
            throw invalid('invalid query: args must be a JSON array of strings', 'args');
          }
          if (!Array.isArray(args) || args.some((a) => typeof a !== 'string')) throw invalid('invalid query: args must be a JSON array of strings', 'args');
        }
        return spooled(body, (file) =>
          images.importKernel(file, q.ref, {
            family: q.family,
            ...(args && { args }),
            ...(q.memoryMiB !== undefined && { memoryMiB: q.memoryMiB }),
            ...(q.cpus !== undefined && { cpus: q.cpus }),
            ...(q.kernelSize !== undefined && { kernelSize: q.kernelSize }),
          }),
        );
      },
      tag: async (source, target) => void (await images.tag(source, target)),
      remove: async (ref, force) => images.remove(ref, { force, inUse: (id) => instances.usesImage(id) }),
      export: (refs) => {
        // Unknown references, and images known to be damaged, fail before the stream starts.
        for (const ref of refs) images.usable(ref);
        // The archive is written into `inner` and copied to `out`, so that a failure midway ends
        // `out` cleanly (the route then sends the reason in a trailer) instead of cutting it.
        const inner = new PassThrough();
        const out = new PassThrough();
        let failure: string | undefined;
        inner.pipe(out, { end: false });
        inner.once('end', () => out.end());
        out.once('close', () => inner.destroy()); // client gone: save() must not wait on it
        images.save(refs, inner).catch((err: Error) => {
          failure = err.message.split('\n')[0];
          inner.unpipe(out);
          out.end();
        });
        return { stream: out, failure: () => failure };
      },
      load: (body) => spooled(body, async (_file, open) => ({ loaded: await images.load(open()) })),
    },
    volumes: makeVolumesBackend({ volumes: deps.volumes, instances }),
    system: {
      check: async (repair) => {
        const records = instances.checkRecords(repair);
        const store = await images.check(repair);
        const vols = await deps.volumes.check(repair);
        return {
          checked: { instances: instances.counts().total + records.length, images: store.images, blobs: store.blobs, volumes: vols.volumes },
          problems: [...records, ...store.problems, ...vols.problems],
        };
      },
      version: (): VersionResponse => ({ version: VERSION, apiVersion: API_VERSION, node: process.version, os: platform(), arch: arch() }),
      info: async (): Promise<InfoResponse> => {
        const accel = deps.accelerator();
        return {
          version: VERSION,
          root: deps.root,
          driver: deps.driverName,
          qemu: await deps.qemuVersion(),
          accelerator: accel?.accel ?? 'probing',
          acceleratorReason: accel?.reason ?? 'the accelerator probe is still running',
          transparentHugepages: deps.transparentHugepages,
          kernelSamepageMerging: deps.kernelSamepageMerging,
          tcgTbSizeMiB: deps.tcgTbSizeMiB,
          ...(deps.defaultNetwork !== undefined && { defaultNetwork: deps.defaultNetwork }),
          confinement: deps.confinement,
          instances: instances.counts(),
          quarantined: instances.checkRecords(false).length,
          images: images.list().length,
          families: familyNames(),
          registry: deps.registry,
          ...(deps.bridgeNetworking !== undefined && { bridgeNetworking: deps.bridgeNetworking() }),
        };
      },
    },
  };
}
