// The Engine API contract: every request and response body, as TypeBox schemas.
// The daemon validates with them, the OpenAPI document is generated from them,
// and the client's types are inferred from them. Shapes follow Docker's Engine API
// (camelCase here), so a Docker-compatibility layer only has to translate.
import { Type, type Static } from 'typebox';
import { LIMITS } from './limits.js';
import { DNS_OPTION_PATTERN, ENTRYPOINT_PATTERN, HOSTNAME_PATTERN, KEY_VALUE_PATTERN, NAME_PATTERN, RUN_USER_PATTERN, TAIL_PATTERN, WORKDIR_PATTERN, type RestartPolicyName } from './rules.js';
import { Mount, MountRequest } from './volumes.js';

export const API_VERSION = 'v1';

export const ErrorBody = Type.Object(
  {
    code: Type.String({ description: 'Stable error code: INVALID_ARGUMENT, NOT_FOUND, CONFLICT, INTERNAL' }),
    message: Type.String(),
    field: Type.Optional(Type.String({ description: 'The request field at fault, for INVALID_ARGUMENT' })),
  },
);
export type ErrorBody = Static<typeof ErrorBody>;

/** How an exit code was derived (families/types.ts: ExitSource). */
export const ExitSource = Type.Union([Type.Literal('guest'), Type.Literal('console'), Type.Literal('signal'), Type.Literal('unknown'), Type.Literal('vmm')]);

export const InstanceState = Type.Union(
  [Type.Literal('created'), Type.Literal('running'), Type.Literal('paused'), Type.Literal('restarting'), Type.Literal('exited'), Type.Literal('removing')],
);
export type InstanceState = Static<typeof InstanceState>;

const KeyValue = Type.String({ pattern: KEY_VALUE_PATTERN, description: 'KEY=VALUE' });
const Name = Type.String({ pattern: NAME_PATTERN, description: 'Instance name' });
/** User labels (run --label): free-form metadata, as Docker's Config.Labels. */
export const Labels = Type.Record(Type.String({ minLength: 1, maxLength: 1024 }), Type.String({ maxLength: 65536 }), { maxProperties: 256 });

export const RestartPolicy = Type.Object(
  {
    name: Type.Union([Type.Literal('no'), Type.Literal('on-failure'), Type.Literal('always'), Type.Literal('unless-stopped')]),
    maximumRetryCount: Type.Optional(Type.Integer({ minimum: LIMITS.restartRetries.min, maximum: LIMITS.restartRetries.max, description: 'on-failure: give up after this many restarts (0: never)' })),
  },
  { additionalProperties: false },
);
// The schema's names are rules.ts's list: this fails to compile when the two differ.
const SAME_RESTART_NAMES: [Static<typeof RestartPolicy>['name'], RestartPolicyName] extends [RestartPolicyName, Static<typeof RestartPolicy>['name']] ? true : never = true;
void SAME_RESTART_NAMES;

const StopSignal = Type.String({
  minLength: 1,
  maxLength: 16,
  description: 'How stop ends the instance (run --stop-signal; default SIGTERM): SIGTERM, SIGINT or SIGPWR press the guest\'s power button, then the VM is ended after the stop timeout; SIGKILL ends the VM at once. Any other signal is refused',
});
const StopTimeout = Type.Integer({ minimum: LIMITS.stopTimeoutSeconds.min, maximum: LIMITS.stopTimeoutSeconds.max, description: 'Seconds stop waits for the guest to power off before ending the VM (run --stop-timeout; default 10; stop -t overrides it)' });

export const Protocol = Type.Union([Type.Literal('tcp'), Type.Literal('udp')]);

/** A published port: a host address and port forwarded to a guest port (user mode: by the VM's passt). */
export const PortBinding = Type.Object(
  {
    guestPort: Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max }),
    proto: Protocol,
    hostIp: Type.String({ description: 'IPv4 address on the host to listen on; 0.0.0.0 means all (Docker\'s default)' }),
    hostPort: Type.Integer({ minimum: LIMITS.hostPort.min, maximum: LIMITS.hostPort.max, description: '0: a free port chosen at each start' }),
  },
  { additionalProperties: false },
);
export type PortBinding = Static<typeof PortBinding>;

export const PortRequest = Type.Object(
  {
    guestPort: Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max }),
    proto: Type.Optional(Protocol),
    hostIp: Type.Optional(Type.String({ minLength: 1, description: 'Default 0.0.0.0 (all IPv4 addresses), as Docker' })),
    hostPort: Type.Optional(Type.Integer({ minimum: LIMITS.hostPort.min, maximum: LIMITS.hostPort.max, description: 'Default (or 0): a free port chosen at each start' })),
  },
  { additionalProperties: false },
);
export type PortRequest = Static<typeof PortRequest>;

export const NetworkMode = Type.String({
  pattern: '^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$',
  description: "user: user-mode networking (passt; its gateway does not lead to the host's loopback), the default; none: no network device; bridge: the daemon's default bridge network (cunik0, root only); any other: a network made by POST /networks",
});
export type NetworkMode = Static<typeof NetworkMode>;

/** The network an instance got at its last start. */
export const NetworkSettings = Type.Object({
  mode: NetworkMode,
  ipAddress: Type.Union([Type.String(), Type.Null()], { description: "The guest's IPv4 address (user mode: inside QEMU's own network only)" }),
  prefixLen: Type.Union([Type.Integer(), Type.Null()]),
  gateway: Type.Union([Type.String(), Type.Null()]),
  dns: Type.Array(Type.String()),
  ports: Type.Array(PortBinding, { description: 'Published ports as bound at the last start' }),
  tap: Type.Optional(Type.String({ description: 'Bridge networks: the host tap device of this run' })),
  macAddress: Type.Optional(Type.String({ description: "Bridge networks: the guest NIC's MAC address" })),
  globalIPv6Address: Type.Optional(Type.String({ description: 'Networks made with --ipv6: the guest\'s IPv6 address' })),
  globalIPv6PrefixLen: Type.Optional(Type.Integer()),
  ipv6Gateway: Type.Optional(Type.String()),
});
export type NetworkSettings = Static<typeof NetworkSettings>;

/** One more bridge network of an instance (run --network a --network b): its own NIC and address. */
export const NetworkEndpoint = Type.Object(
  {
    network: NetworkMode,
    ip: Type.Optional(Type.String({ description: 'A fixed IPv4 address on this network (user-defined networks)' })),
    ip6: Type.Optional(Type.String({ description: 'A fixed IPv6 address on this network (an --ipv6 user-defined network)' })),
    macAddress: Type.Optional(Type.String({ description: "The NIC's MAC address (default: derived from its address)" })),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 16, description: "More names the instance answers to in this network's DNS (run --network name=N,alias=A; network connect --alias)" })),
  },
  { additionalProperties: false },
);
export type NetworkEndpoint = Static<typeof NetworkEndpoint>;
/** At most this many networks beyond the first (each NIC is a PCI slot or an MMIO device). */
export const MAX_EXTRA_NETWORKS = 7;

const Ms = (r: { min: number; max: number }, description: string) => Type.Optional(Type.Integer({ minimum: r.min, maximum: r.max, description }));

/** A health check as asked for (run --health-*; a Cunikfile's `health:` as the image label org.cunik.healthcheck). */
export const HealthcheckRequest = Type.Object(
  {
    tcpPort: Type.Optional(Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max, description: 'Healthy when a TCP connection to this guest port succeeds (run --health-tcp)' })),
    httpPath: Type.Optional(Type.String({ pattern: '^/[\\x21-\\x7e]*$', description: 'Healthy when GET of this path answers 2xx or 3xx (run --health-http [PORT]PATH)' })),
    httpPort: Type.Optional(Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max, description: "The HTTP probe's guest port (default: the first published TCP port, else the first the image exposes)" })),
    intervalMs: Ms(LIMITS.healthIntervalMs, 'Between probes (default 30000)'),
    timeoutMs: Ms(LIMITS.healthTimeoutMs, 'A probe taking longer fails (default 30000)'),
    retries: Ms(LIMITS.healthRetries, 'Failures in a row before unhealthy (default 3)'),
    startPeriodMs: Ms(LIMITS.healthStartPeriodMs, 'Failures this long after the start are not counted (default 0)'),
    disable: Type.Optional(Type.Boolean({ description: "No health check, not even the image's (run --no-healthcheck)" })),
  },
  { additionalProperties: false },
);

const HealthStatus = Type.Union([Type.Literal('starting'), Type.Literal('healthy'), Type.Literal('unhealthy')]);

/** An instance's health check as it runs (the request and the image's, defaults filled in). */
export const HealthcheckSettings = Type.Object({
  test: Type.Union([Type.Literal('tcp'), Type.Literal('http')]),
  port: Type.Integer({ description: 'The guest port probed' }),
  path: Type.Optional(Type.String({ description: 'http: the path asked for' })),
  intervalMs: Type.Integer(),
  timeoutMs: Type.Integer(),
  retries: Type.Integer(),
  startPeriodMs: Type.Integer(),
  restartOnUnhealthy: Type.Optional(Type.Boolean({ description: 'An unhealthy instance is ended and restarted by its restart policy, as a failure' })),
});

/** Docker's State.Health. */
export const HealthState = Type.Object({
  status: HealthStatus,
  failingStreak: Type.Integer({ description: 'Failed probes in a row' }),
  log: Type.Array(
    Type.Object({ start: Type.String({ format: 'date-time' }), end: Type.String({ format: 'date-time' }), exitCode: Type.Integer({ description: '0: healthy, 1: not' }), output: Type.String() }),
    { description: 'The last 5 probes, oldest first' },
  ),
});

export const CreateInstanceRequest = Type.Object(
  {
    image: Type.String({ minLength: 1, description: 'Image reference or id' }),
    name: Type.Optional(Name),
    args: Type.Optional(Type.Array(Type.String(), { description: 'Replaces the image default args when given' })),
    env: Type.Optional(Type.Array(KeyValue)),
    memoryMiB: Type.Optional(Type.Integer({ minimum: LIMITS.memoryMiB.min, maximum: LIMITS.memoryMiB.max, description: 'Guest memory, MiB' })),
    cpus: Type.Optional(Type.Integer({ minimum: LIMITS.cpus.min, maximum: LIMITS.cpus.max, description: "Virtual CPUs (default: the image's); at most the host's CPU count unless cpuOvercommit" })),
    cpuOvercommit: Type.Optional(Type.Boolean({ description: 'Allow more virtual CPUs than the host has CPUs (run --cpu-overcommit)' })),
    readOnly: Type.Optional(Type.Boolean({ description: "The root file system takes no writes (run --read-only, Docker's ReadonlyRootfs): linux images with a root disk" })),
    expose: Type.Optional(Type.Array(Type.Object({ guestPort: Type.Integer({ minimum: LIMITS.guestPort.min, maximum: LIMITS.guestPort.max }), proto: Type.Optional(Protocol) }, { additionalProperties: false }), { maxItems: 64, description: "Guest ports exposed beside the image's (run --expose): publishAll publishes them too" })),
    tty: Type.Optional(Type.Boolean({ description: "The console is used as a terminal (run -t, Docker's Config.Tty): the Docker API's attach and logs are then its raw bytes, not multiplexed" })),
    hostname: Type.Optional(Type.String({ pattern: HOSTNAME_PATTERN, maxLength: 64, description: "The guest's host name (run --hostname; linux images); default: the instance's short id, as Docker's" })),
    entrypoint: Type.Optional(Type.String({ pattern: ENTRYPOINT_PATTERN, maxLength: 1024, description: "The program to run instead of the image's (run --entrypoint; linux images): args are then the request's only, never the image's defaults" })),
    user: Type.Optional(Type.String({ pattern: RUN_USER_PATTERN, description: "USER[:GROUP] the app runs as (run --user; linux images), names resolved in the guest's /etc/passwd and /etc/group; default: the image's" })),
    workdir: Type.Optional(Type.String({ pattern: WORKDIR_PATTERN, maxLength: 1024, description: "The app's working directory (run --workdir; linux images), made if missing; default: the image's" })),
    dns: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 3, description: "The guest's resolvers instead of its network's (run --dns; linux images; on a user-defined network the guest keeps asking its gateway, which forwards the names it does not hold to these)" })),
    dnsSearch: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 6, description: "resolv.conf's search domains (run --dns-search; linux images)" })),
    dnsOptions: Type.Optional(Type.Array(Type.String({ pattern: DNS_OPTION_PATTERN }), { maxItems: 8, description: "resolv.conf's options, such as ndots:2 (run --dns-option; linux images)" })),
    extraHosts: Type.Optional(Type.Array(Type.String({ minLength: 3, maxLength: 128 }), { maxItems: 16, description: "NAME:ADDRESS lines for the guest's /etc/hosts (run --add-host; linux images); ADDRESS an IPv4 or IPv6 address, or host-gateway (the host, as the first network's gateway)" })),
    autoRemove: Type.Optional(Type.Boolean({ description: 'Remove the instance when it exits (run --rm)' })),
    restartPolicy: Type.Optional(RestartPolicy),
    network: Type.Optional(NetworkMode),
    ip: Type.Optional(Type.String({ description: 'A fixed IPv4 address on a user-defined bridge network (run --ip)' })),
    ip6: Type.Optional(Type.String({ description: 'A fixed IPv6 address on a user-defined network made with --ipv6 (run --ip6)' })),
    aliases: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 253 }), { maxItems: 16, description: "More names the instance answers to in its user-defined network's DNS (run --network-alias); several instances may share one" })),
    macAddress: Type.Optional(Type.String({ description: "The first NIC's MAC address on a bridge network (run --mac-address; default: derived from its address)" })),
    extraNetworks: Type.Optional(Type.Array(NetworkEndpoint, { maxItems: MAX_EXTRA_NETWORKS, description: 'More bridge networks (run --network a --network b), one NIC each; needs `network` to be a bridge network' })),
    ports: Type.Optional(Type.Array(PortRequest, { maxItems: 64, description: 'Ports to publish (run -p); needs a network (user or a bridge network)' })),
    publishAll: Type.Optional(Type.Boolean({ description: "Also publish every port the image exposes (its org.cunik.ports label) on a free host port (run -P)" })),
    mounts: Type.Optional(Type.Array(MountRequest, { maxItems: 32, description: "Volumes and host folders to mount (run -v); the image's declared mount points get anonymous volumes" })),
    labels: Type.Optional(Labels),
    stopSignal: Type.Optional(StopSignal),
    stopTimeout: Type.Optional(StopTimeout),
    healthcheck: Type.Optional(HealthcheckRequest),
    restartOnUnhealthy: Type.Optional(Type.Boolean({ description: 'End an unhealthy instance and apply its restart policy (on-failure, always, unless-stopped) as to a failure, counted in restartCount (run --restart-on-unhealthy)' })),
    start: Type.Optional(Type.Boolean({ description: 'Start it too, in the same request (run -d)' })),
  },
  { additionalProperties: false },
);
export type CreateInstanceRequest = Static<typeof CreateInstanceRequest>;

/** docker update: each field given replaces the instance's; memory and cpus of a running VM apply at its next start. */
export const UpdateInstanceRequest = Type.Object(
  {
    memoryMiB: Type.Optional(Type.Integer({ minimum: LIMITS.memoryMiB.min, maximum: LIMITS.memoryMiB.max, description: "Guest memory, MiB (at least the image's minimum); a running VM keeps its memory until its next start" })),
    cpus: Type.Optional(Type.Integer({ minimum: LIMITS.cpus.min, maximum: LIMITS.cpus.max, description: "Virtual CPUs (at most the host's unless cpuOvercommit); a running VM keeps its vCPUs until its next start" })),
    cpuOvercommit: Type.Optional(Type.Boolean({ description: 'Allow more virtual CPUs than the host has CPUs' })),
    restartPolicy: Type.Optional(RestartPolicy),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateInstanceRequest = Static<typeof UpdateInstanceRequest>;

export const UpdateInstanceResponse = Type.Object({
  warnings: Type.Array(Type.String(), { description: "What did not change at once (a running VM's memory and cpus), as Docker's Warnings" }),
});
export type UpdateInstanceResponse = Static<typeof UpdateInstanceResponse>;

export const CreateInstanceResponse = Type.Object({ id: Type.String(), name: Type.String() });
export type CreateInstanceResponse = Static<typeof CreateInstanceResponse>;

export const InstanceSummary = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    image: Type.String({ description: 'The reference the instance was created from' }),
    imageId: Type.String(),
    family: Type.String(),
    state: InstanceState,
    status: Type.String({ description: 'Human-readable, e.g. "Up 3 seconds", "Exited (3) 2 minutes ago"' }),
    created: Type.String({ format: 'date-time' }),
    args: Type.Array(Type.String()),
    ports: Type.Array(PortBinding, { description: 'Published ports while running (empty otherwise), as docker ps shows them' }),
    labels: Type.Record(Type.String(), Type.String(), { description: 'User labels (run --label)' }),
    sizeRw: Type.Optional(Type.Integer({ description: "With size=true: bytes of the instance's own files on disk (its state folder: console log, writable disks)" })),
    sizeRootFs: Type.Optional(Type.Integer({ description: "With size=true: sizeRw plus its image's size (Docker's virtual size)" })),
  },
);
export type InstanceSummary = Static<typeof InstanceSummary>;

export const InstanceDetail = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    image: Type.String(),
    imageId: Type.String(),
    family: Type.String(),
    state: InstanceState,
    status: Type.String(),
    created: Type.String({ format: 'date-time' }),
    labels: Type.Record(Type.String(), Type.String(), { description: 'User labels (run --label)' }),
    startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    finishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    exitCode: Type.Union([Type.Integer(), Type.Null()]),
    exitCodeKnown: Type.Union([Type.Boolean(), Type.Null()], {
      description: "false when QEMU's exit status does not carry the guest's code (e.g. Solo5): exitCode is then a stand-in",
    }),
    exitNote: Type.Union([Type.String(), Type.Null()], { description: 'Why the exit code is unknown, or what it stands for' }),
    exitSource: Type.Union([ExitSource, Type.Null()], {
      description:
        "How exitCode was derived: guest (the guest's own report through the VMM, e.g. isa-debug-exit), console (an exit line the guest printed), signal (128 + the signal that ended the VM), unknown (nothing tells it: a stand-in), vmm (the VMM failed to start: 125); null before the first exit",
    }),
    error: Type.Union([Type.String(), Type.Null()], { description: "Why the last start failed, or else what the VMM wrote on stderr during the last run (warnings), as Docker's State.Error; null when there is neither" }),
    pid: Type.Union([Type.Integer(), Type.Null()]),
    config: Type.Object({
      args: Type.Array(Type.String()),
      env: Type.Array(Type.String()),
      memoryMiB: Type.Integer(),
      cpus: Type.Integer(),
      cpuOvercommit: Type.Optional(Type.Boolean({ description: 'More virtual CPUs than host CPUs were allowed' })),
      readOnly: Type.Optional(Type.Boolean({ description: 'The root file system is read-only (run --read-only)' })),
      hostname: Type.Optional(Type.String({ description: "The guest's host name (absent in records made before it: none is set)" })),
      tty: Type.Optional(Type.Boolean({ description: 'The console is used as a terminal (run -t)' })),
      expose: Type.Optional(Type.Array(Type.Object({ guestPort: Type.Integer(), proto: Type.String() }), { description: "Guest ports exposed beside the image's (run --expose)" })),
      extraHosts: Type.Optional(Type.Array(Type.String(), { description: 'NAME:ADDRESS lines added to the guest\'s /etc/hosts (run --add-host)' })),
      entrypoint: Type.Optional(Type.String({ description: "The program run instead of the image's (run --entrypoint)" })),
      user: Type.Optional(Type.String({ description: 'USER[:GROUP] the app runs as (run --user); absent: the image\'s' })),
      dns: Type.Optional(Type.Array(Type.String(), { description: 'Resolvers instead of the network\'s (run --dns)' })),
      dnsSearch: Type.Optional(Type.Array(Type.String(), { description: 'Search domains (run --dns-search)' })),
      dnsOptions: Type.Optional(Type.Array(Type.String(), { description: 'resolv.conf options (run --dns-option)' })),
      workdir: Type.Optional(Type.String({ description: "The app's working directory (run --workdir); absent: the image's" })),
      autoRemove: Type.Boolean(),
      restartPolicy: Type.Object({ name: Type.String(), maximumRetryCount: Type.Integer() }),
      network: NetworkMode,
      ip: Type.Optional(Type.String({ description: 'The fixed address asked for (run --ip)' })),
      ip6: Type.Optional(Type.String({ description: 'The fixed IPv6 address asked for (run --ip6)' })),
      aliases: Type.Optional(Type.Array(Type.String(), { description: "Its names on its network's DNS beyond its own (run --network-alias)" })),
      macAddress: Type.Optional(Type.String({ description: 'The MAC address asked for (run --mac-address)' })),
      extraNetworks: Type.Optional(Type.Array(NetworkEndpoint, { description: 'The networks beyond the first, as asked for (network connect adds to them)' })),
      ports: Type.Array(PortBinding, { description: 'Ports as requested (hostPort 0: any free port)' }),
      stopSignal: Type.String({ description: 'How stop ends it (run --stop-signal or the image\'s StopSignal; default SIGTERM)' }),
      stopTimeout: Type.Integer({ description: 'Seconds stop waits before ending the VM (run --stop-timeout or the image\'s StopTimeout; default 10)' }),
      health: Type.Optional(HealthcheckSettings),
    }),
    health: Type.Union([HealthState, Type.Null()], { description: "The health check's state, as Docker's State.Health; null without a health check" }),
    network: Type.Union([NetworkSettings, Type.Null()], { description: 'Set at the first start' }),
    extraNetworks: Type.Optional(Type.Array(NetworkSettings, { description: "The other networks' NICs of the last start, in config.extraNetworks' order" })),
    mounts: Type.Array(Mount),
    restartCount: Type.Integer({ description: 'Restarts made by the restart policy' }),
    vm: Type.Object({
      driver: Type.String(),
      machine: Type.String(),
      accelerator: Type.Union([Type.String(), Type.Null()]),
      argv: Type.Array(Type.String(), { description: 'The exact argv of the last start' }),
    }),
    paths: Type.Object({ dir: Type.String(), consoleLog: Type.String() }),
  },
);
export type InstanceDetail = Static<typeof InstanceDetail>;

export const WaitResponse = Type.Object({
  exitCode: Type.Integer({ description: 'The exit code; -1 with error' }),
  error: Type.Optional(Type.String({ description: 'Why the wait ended without an exit: the instance was removed first' })),
});
export type WaitResponse = Static<typeof WaitResponse>;

export const ImageSummary = Type.Object(
  {
    id: Type.String(),
    digest: Type.String(),
    repoTags: Type.Array(Type.String()),
    created: Type.String({ format: 'date-time' }),
    size: Type.Integer(),
    family: Type.String(),
    boot: Type.String(),
  },
);
export type ImageSummary = Static<typeof ImageSummary>;

export const ImageDetail = Type.Object(
  {
    id: Type.String(),
    digest: Type.String(),
    repoTags: Type.Array(Type.String()),
    created: Type.String({ format: 'date-time' }),
    size: Type.Integer(),
    family: Type.String(),
    boot: Type.String(),
    labels: Type.Record(Type.String(), Type.String()),
    args: Type.Array(Type.String()),
    env: Type.Array(Type.String()),
    memoryMiB: Type.Integer(),
    cpus: Type.Integer(),
    architecture: Type.String(),
    os: Type.String(),
    layers: Type.Array(Type.Object({ digest: Type.String(), size: Type.Integer(), mediaType: Type.String() })),
    history: Type.Array(
      Type.Object({
        created: Type.String({ description: "the step's time as the image config gives it (ISO 8601), or empty" }),
        createdBy: Type.String(),
        comment: Type.String(),
        size: Type.Integer({ description: "bytes of the step's layer as stored; 0 for a step that made none" }),
        layer: Type.Optional(Type.String({ description: "the layer's digest; absent for a step that made no layer" })),
      }),
      { description: 'the steps that made the image, newest first (cunik history)' },
    ),
  },
);
export type ImageDetail = Static<typeof ImageDetail>;

export const ImportQuery = Type.Object(
  {
    ref: Type.String({ minLength: 1, description: 'name[:tag] to give the image' }),
    family: Type.String({ minLength: 1 }),
    memoryMiB: Type.Optional(Type.Integer({ minimum: LIMITS.memoryMiB.min, maximum: LIMITS.memoryMiB.max })),
    cpus: Type.Optional(Type.Integer({ minimum: LIMITS.cpus.min, maximum: LIMITS.cpus.max })),
    args: Type.Optional(Type.String({ description: 'Default args, as a JSON array of strings' })),
    kernelSize: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'With a disk image: the body is the kernel file (this many bytes) followed by the disk image (osv, nanos)' })),
  },
  { additionalProperties: false },
);
export type ImportQuery = Static<typeof ImportQuery>;

export const TagRequest = Type.Object({ target: Type.String({ minLength: 1 }) }, { additionalProperties: false });
export type TagRequest = Static<typeof TagRequest>;

export const RemoveImageResponse = Type.Object(
  { untagged: Type.Array(Type.String()), deleted: Type.Array(Type.String()) },
);
export type RemoveImageResponse = Static<typeof RemoveImageResponse>;

export const LoadResponse = Type.Object({ loaded: Type.Array(ImageSummary) });
export type LoadResponse = Static<typeof LoadResponse>;

export const VersionResponse = Type.Object(
  {
    version: Type.String(),
    apiVersion: Type.String(),
    node: Type.String(),
    os: Type.String(),
    arch: Type.String(),
  },
);
export type VersionResponse = Static<typeof VersionResponse>;

export const InfoResponse = Type.Object(
  {
    version: Type.String(),
    root: Type.String(),
    driver: Type.String(),
    qemu: Type.String({ description: 'QEMU binary and version' }),
    accelerator: Type.Union([Type.Literal('kvm'), Type.Literal('tcg'), Type.Literal('probing')]),
    acceleratorReason: Type.String(),
    transparentHugepages: Type.Boolean({ description: 'whether VMs may use transparent huge pages (cunikd --vm-thp)' }),
    kernelSamepageMerging: Type.Boolean({ description: "whether the host's KSM may merge guest RAM (cunikd --vm-ksm; off: -machine mem-merge=off)" }),
    tcgTbSizeMiB: Type.Integer({ minimum: 0, description: "TCG's translation cache per VM in MiB (cunikd --tcg-tb-size); 0: QEMU's own default" }),
    defaultNetwork: Type.Optional(Type.String({ description: 'the network of instances that name none (cunikd --default-network): bridge (cunik0) or user' })),
    confinement: Type.Object(
      {
        sandbox: Type.Boolean({ description: "QEMU's seccomp sandbox (-sandbox on)" }),
        user: Type.String({ description: 'the user VMs run as (QEMU -runas, passt --runas)' }),
        uid: Type.Integer(),
        gid: Type.Integer(),
        userNetwork: Type.String({ description: 'what carries user-mode networks: the passt binary, or why there is none' }),
        warnings: Type.Array(Type.String(), { description: 'where VMs are less confined than they should be, and why' }),
      },
      { description: 'how VMs are confined (docs/qemu.md, "Confinement")' },
    ),
    instances: Type.Object({ total: Type.Integer(), running: Type.Integer(), paused: Type.Integer(), stopped: Type.Integer() }),
    quarantined: Type.Integer({ description: 'Instance records set aside at daemon start because they could not be used (cunik system check)' }),
    images: Type.Integer(),
    families: Type.Array(Type.String()),
    registry: Type.Object(
      {
        default: Type.Optional(Type.String({ description: 'registry of names that hold none, for pull, push and login (cunikd --default-registry)' })),
        insecure: Type.Array(Type.String(), { description: 'registries spoken to over plain HTTP besides loopback ones (cunikd --insecure-registry)' }),
        certs: Type.String({ description: "Docker's certs.d folder: DIR/HOST[:PORT]/*.crt are a registry's CAs (cunikd --registry-certs)" }),
      },
      { description: 'the registry settings of pull and push (docs/distribution.md)' },
    ),
    bridgeNetworking: Type.Optional(
      Type.Object(
        {
          ipForwarding: Type.Boolean({ description: 'net.ipv4.ip_forward in the daemon\'s network namespace' }),
          ipForwardingByCunik: Type.Boolean({ description: 'whether this daemon turned it on (only when a non-internal network needed it)' }),
          firewall: Type.Optional(Type.Union([Type.Literal('nftables'), Type.Literal('iptables-nft')], { description: "the firewall driver Cunik's rules go through: nftables (table inet cunik), or iptables-nft (chains CUNIK-*) where nft is missing" })),
        },
        { description: 'bridge networks (root daemon only; docs/networking.md)' },
      ),
    ),
  },
);
export type InfoResponse = Static<typeof InfoResponse>;

// Path and query parameter shapes shared by routes.
export const IdParams = Type.Object({ id: Type.String({ minLength: 1 }) });
export const RefParams = Type.Object({ ref: Type.String({ minLength: 1 }) });
export const ForceQuery = Type.Object({ force: Type.Optional(Type.Boolean()) }, { additionalProperties: false });
export const RemoveInstanceQuery = Type.Object(
  { force: Type.Optional(Type.Boolean()), volumes: Type.Optional(Type.Boolean({ description: 'Also remove its anonymous volumes (rm -v)' })) },
  { additionalProperties: false },
);
export const StopQuery = Type.Object(
  {
    t: Type.Optional(Type.Integer({ minimum: LIMITS.stopTimeoutSeconds.min, maximum: LIMITS.stopTimeoutSeconds.max, description: "Seconds to wait for the guest before ending the VM (default: the instance's stop timeout)" })),
    signal: Type.Optional(Type.String({ minLength: 1, maxLength: 16, description: "This stop's signal instead of the instance's stop signal: SIGTERM, SIGINT, SIGPWR (the power button) or SIGKILL (the VM ended at once)" })),
  },
  { additionalProperties: false },
);
export const KillQuery = Type.Object({ signal: Type.Optional(Type.String({ minLength: 1 })) }, { additionalProperties: false });
export const WaitQuery = Type.Object(
  { condition: Type.Optional(Type.Union([Type.Literal('not-running'), Type.Literal('next-exit'), Type.Literal('removed')], { description: 'removed: the next exit, answered once the instance is removed as well (run --rm)' })) },
  { additionalProperties: false },
);
export const ListQuery = Type.Object(
  {
    all: Type.Optional(Type.Boolean()),
    size: Type.Optional(Type.Boolean({ description: 'Also measure each instance on disk: sizeRw and sizeRootFs (ps -s)' })),
    filters: Type.Optional(Type.String({ maxLength: 4096, description: 'Docker\'s filters: a JSON object of KEY: [VALUES]; keys id, name, label, status, ancestor, before, since, exited, network, volume' })),
  },
  { additionalProperties: false },
);
export const ImageListQuery = Type.Object(
  { filters: Type.Optional(Type.String({ maxLength: 4096, description: "Docker's filters: a JSON object of KEY: [VALUES]; keys reference, label, dangling, before, since" })) },
  { additionalProperties: false },
);
export const RenameQuery = Type.Object({ name: Name }, { additionalProperties: false });
export const LogsQuery = Type.Object(
  {
    follow: Type.Optional(Type.Boolean({ description: 'Stream new output until the instance exits' })),
    tail: Type.Optional(Type.String({ pattern: TAIL_PATTERN, description: 'Only the last N lines ("all": everything, the default)' })),
    since: Type.Optional(Type.String({ minLength: 1, description: 'Only lines written at or after this time: RFC 3339, Unix seconds, or a duration before now such as 10m' })),
    until: Type.Optional(Type.String({ minLength: 1, description: 'Only lines written at or before this time (same forms as since)' })),
    timestamps: Type.Optional(Type.Boolean({ description: 'Prefix each line with the time the daemon saw it (RFC 3339, nine fractional digits) and a space' })),
  },
  { additionalProperties: false },
);
export type LogsQuery = Static<typeof LogsQuery>;
export const AttachQuery = Type.Object(
  {
    stdin: Type.Optional(Type.Boolean({ description: "Pass the client's bytes to the guest's console (default true)" })),
    stdout: Type.Optional(Type.Boolean({ description: "Send the guest's console output to the client (default true)" })),
    detachKeys: Type.Optional(Type.String({ minLength: 1, description: 'The key sequence that ends the session without stopping the instance (default ctrl-p,ctrl-q)' })),
  },
  { additionalProperties: false },
);
export type AttachQuery = Static<typeof AttachQuery>;
export const ExportQuery = Type.Object(
  { names: Type.Union([Type.String({ minLength: 1 }), Type.Array(Type.String({ minLength: 1 }), { minItems: 1 })]) },
  { additionalProperties: false },
);

