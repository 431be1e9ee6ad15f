// GET /version and GET /info in Docker's shape, from the native answers and the host's facts:
// what the compat socket serves and what `cunik version`/`info --format` templates run on.
import { arch, availableParallelism, hostname, release, totalmem } from 'node:os';
import type { InfoResponse, VersionResponse } from '../../api/schemas.js';

export const DOCKER_API_VERSION = '1.44';
export const DOCKER_MIN_API_VERSION = '1.24';

export interface HostFacts {
  kernel: string;
  arch: string;
  cpus: number;
  memory: number;
  name: string;
}

/** This host's (the daemon's, which the CLI shares through the unix socket). */
export const hostFacts = (): HostFacts => ({ kernel: release(), arch: arch(), cpus: availableParallelism(), memory: totalmem(), name: hostname() });

const goArch = (a: string): string => (a === 'x64' ? 'amd64' : a === 'ia32' ? '386' : a);

export function versionView(v: VersionResponse, host: HostFacts): Record<string, unknown> {
  const details = { ApiVersion: DOCKER_API_VERSION, MinAPIVersion: DOCKER_MIN_API_VERSION, Os: v.os, Arch: goArch(v.arch), KernelVersion: host.kernel, GitCommit: '', GoVersion: `node ${v.node}` };
  return {
    Platform: { Name: `Cunik ${v.version}` },
    Components: [{ Name: 'Engine', Version: v.version, Details: details }],
    Version: v.version,
    ...details,
    BuildTime: '',
  };
}

export function infoView(i: InfoResponse, host: HostFacts): Record<string, unknown> {
  return {
    ID: '',
    Containers: i.instances.total,
    ContainersRunning: i.instances.running,
    ContainersPaused: i.instances.paused,
    ContainersStopped: i.instances.stopped,
    Images: i.images,
    Driver: i.driver,
    DriverStatus: [['Accelerator', `${i.accelerator} (${i.acceleratorReason})`], ['QEMU', i.qemu]],
    DockerRootDir: i.root,
    Plugins: { Volume: ['block', 'share'], Network: ['bridge', 'null', 'passt'], Authorization: null, Log: [] },
    MemoryLimit: true,
    SwapLimit: false,
    CpuCfsPeriod: false,
    CpuCfsQuota: false,
    OomKillDisable: false,
    IPv4Forwarding: true,
    Debug: false,
    NFd: 0,
    NGoroutines: 0,
    SystemTime: new Date().toISOString(),
    LoggingDriver: 'console',
    CgroupDriver: 'none',
    KernelVersion: host.kernel,
    OperatingSystem: `Cunik ${i.version} (unikernels under QEMU)`,
    OSType: 'linux',
    Architecture: host.arch === 'x64' ? 'x86_64' : host.arch,
    NCPU: host.cpus,
    MemTotal: host.memory,
    Name: host.name,
    ServerVersion: i.version,
    Runtimes: { qemu: { path: i.qemu } },
    DefaultRuntime: 'qemu',
    Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
    SecurityOptions: i.confinement.sandbox ? ['name=seccomp,profile=qemu-sandbox'] : [],
    Warnings: i.confinement.warnings,
    RegistryConfig: { InsecureRegistryCIDRs: [], IndexConfigs: {}, Mirrors: [] },
    ExperimentalBuild: false,
    Labels: [],
  };
}
