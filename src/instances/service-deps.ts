// What the instances service is built from, and the types it shares with its helper modules
// (launch.ts, restore.ts, restart-scheduler.ts). Kept apart so those modules need not import service.ts.
import type { PortBinding } from '../api/schemas.js';
import type { FamilyAdapter, ImageBootInfo } from '../families/types.js';
import type { BootArtifacts } from '../images/types.js';
import type { AccelChoice, VmmDriver } from '../vmm/types.js';
import type { Endpoint } from '../network/bridge/networks.js';
import type { BridgeAttachment, HostFacts } from './boot-config.js';
import type { VolumeAccess } from './mounts.js';
import type { InstanceStore } from './store.js';

/** What the service needs from the image store. */
export interface ImageLookup {
  inspect(ref: string): { id: string } | Promise<{ id: string }>;
  bootInfo(imageId: string): ImageBootInfo | Promise<ImageBootInfo>;
  bootArtifacts(imageId: string): BootArtifacts | Promise<BootArtifacts>;
}

/** The VMs themselves (start, stop, adopt, recorded exits, strays, disks) are all the driver's. */
export interface InstanceServiceDeps {
  store: InstanceStore;
  images: ImageLookup;
  driver: VmmDriver;
  family: (name: string) => FamilyAdapter;
  accelerator: () => Promise<AccelChoice>;
  /** Host facts for the adapters; default: read from this host (families/host.ts). */
  host?: () => HostFacts;
  /** Check published ports and choose free ones for hostPort 0; default network/probe.ts. */
  bindPorts?: (ports: PortBinding[]) => Promise<PortBinding[]>;
  /** One line for the daemon's log (records set aside at restore). */
  log?: (msg: string) => void;
  /** Bridge networks (network/bridge/networks.ts); without them (a daemon that is not root) only user and none. */
  networks?: NetworkAttacher;
  /** The network of an instance whose request names none (cunikd --default-network); default 'user'. */
  defaultNetwork?: 'user' | 'bridge';
  /** Named volumes (volumes/store.ts); without it only host folders can be mounted. */
  volumes?: VolumeAccess;
}

/** What instances need of the bridge networks: a check at create, a NIC for each run of a VM. */
export interface NetworkAttacher {
  /** Refuse an unknown network or a --ip that cannot be on it (one line). */
  check(name: string, ip?: string, ip6?: string): void;
  /** Whether the network is --internal (nothing reaches its instances from outside). */
  isInternal(name: string): boolean;
  /** An address and a tap on each network for the instance's next run, in this order (all or none); its published ports (host ports chosen) go to the first. */
  attachAll(instanceId: string, endpoints: Endpoint[], ports?: PortBinding[]): Promise<BridgeAttachment[]>;
  /** The run is over (or never began): its tap and address go. */
  detach(instanceId: string): Promise<void>;
}

export { EXIT_VMM_FAILED } from './exit-status.js';

/** `attributes`: more of Docker's event attributes (rename: oldName; health_status: the probe's output). */
export type InstanceEvent = { action: string; id: string; name: string; exitCode?: number; attributes?: Record<string, string> };

/** What a wait waits for: 'removed' also waits for the instance's removal after its exit (run --rm). */
export type WaitCondition = 'not-running' | 'next-exit' | 'removed';
