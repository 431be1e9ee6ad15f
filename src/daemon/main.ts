// cunikd: owns the root dir (one daemon per root), serves the Engine API on a unix socket.
// Instances are separate QEMU processes: stopping the daemon leaves them running.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { connect, isIPv4 } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultRoot, defaultSocketPath, installRoot, registryCertsDir, VERSION } from '../config/defaults.js';
import { socketPathOf } from '../config/host.js';
import { ensureDir } from '../util/ensure-dir.js';
import { inRange, LIMITS, rangeText } from '../api/limits.js';
import { CunikError } from '../errors.js';
import { familyAdapter, familyNames } from '../families/index.js';
import { ImageStore } from '../images/store.js';
import { isRegistryHost } from '../images/reference.js';
import { BuildService } from '../build/service.js';
import { ConsoleManager, DEFAULT_LOG_MAX_SIZE, parseSize } from '../instances/console.js';
import { InstanceService } from '../instances/service.js';
import { InstanceStore } from '../instances/store.js';
import { VolumeStore } from '../volumes/store.js';
import { chooseFirewall, execIn, NftFirewall } from '../network/bridge/firewall.js';
import { IpNftHost } from '../network/bridge/host.js';
import { IptablesFirewall } from '../network/bridge/iptables.js';
import { BridgeNetworks } from '../network/bridge/networks.js';
import { DnsService } from '../network/dns/index.js';
import { dnsServices, wireDns } from './network-dns.js';
import { probeAccelerator } from '../vmm/qemu/accel.js';
import { PASST_BINARY } from '../network/passt.js';
import { onPath } from '../util/on-path.js';
import { resolveVmUser } from '../vmm/vm-user.js';
import { QemuDriver } from '../vmm/qemu/driver.js';
import { DEFAULT_TCG_TB_SIZE_MIB } from '../vmm/qemu/argv.js';
import type { AccelChoice } from '../vmm/types.js';
import { makeBackends } from './backend.js';
import { makeOpsBackends } from './backend-ops.js';
import { makeNetworksBackend } from './backend-networks.js';
import { EventLog } from '../events/log.js';
import { imageEventRecorder, instanceEventRecorder } from '../events/sources.js';
import { raiseControlPlanePriority, raiseOpenFileLimit } from './limits.js';
import { acquireRootLock } from './lock.js';
import { DAEMON_UMASK, daemonGroup, secureRoot, secureSocket } from './permissions.js';
import { buildServer } from './server.js';
import { buildDockerServer } from '../compat/docker/server.js';
import { makeDistributionBackend, type RegistrySettings } from './backend-distribution.js';
import { lineLogger, LOG_LEVELS, makeLogger, type DaemonLogger, type LogLevel } from './log.js';
import { DEBUG_RESOURCES_ENV } from './routes/debug.js';
import { UploadSpool } from './spool.js';

interface DaemonOptions {
  root: string;
  host: string;
  accel: 'auto' | 'kvm' | 'tcg';
  qemu: string;
  probeKernel: string;
  shutdownInstances?: boolean;
  /** Console log cap per instance, bytes (--log-max-size). */
  logMaxSize?: number;
  /** Let VMs use transparent huge pages (--vm-thp); off by default for density. */
  vmThp?: boolean;
  /** TCG's translation cache per VM, MiB (--tcg-tb-size; 0: QEMU's default of 1 GiB). */
  tcgTbSize?: number;
  /** Let the host's KSM merge identical pages across VMs (--vm-ksm); off by default. */
  vmKsm?: boolean;
  /** false: every VM boots whole (--no-vm-templates); default: linux images on a root disk start as clones of a template. */
  vmTemplates?: boolean;
  /** The daemon's own log (log.ts): --log-level, --log-file (default stderr). */
  logLevel?: LogLevel;
  logFile?: string;
  /** Registries that may be spoken to over plain HTTP (--insecure-registry, repeatable). */
  insecureRegistry?: string[];
  /** The registry of names that hold none, for pull and push (--default-registry). */
  defaultRegistry?: string;
  /** Docker's certs.d folder of registry CAs (--registry-certs). */
  registryCerts?: string;
  /** The group that may use the socket (--group); default cunik if it exists (permissions.ts). */
  group?: string;
  /** Also serve the Docker Engine API on this unix socket (--docker-host; compat/docker). */
  dockerHost?: string;
  /** The default bridge network's address, ADDR/PREFIX (--bip); default a free /24 of 10.213.0.0/16. */
  bip?: string;
  /** The network of instances that name none (--default-network): bridge for a root daemon, else user. */
  defaultNetwork?: 'user' | 'bridge';
}

/** A socket file that still accepts connections belongs to a live daemon. */
function socketAlive(path: string): Promise<boolean> {
  return new Promise((resolveAlive) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolveAlive(true);
    });
    s.once('error', () => resolveAlive(false));
  });
}

async function chooseAccelerator(opts: DaemonOptions): Promise<AccelChoice> {
  if (opts.accel === 'tcg') return { accel: 'tcg', reason: 'tcg requested (--accel tcg or CUNIK_ACCEL)' };
  if (opts.accel === 'kvm') return { accel: 'kvm', reason: 'kvm requested (--accel kvm or CUNIK_ACCEL)' };
  return probeAccelerator({ binary: opts.qemu, probeKernel: opts.probeKernel });
}

export async function runDaemon(opts: DaemonOptions, logger: DaemonLogger = makeLogger({ level: opts.logLevel ?? 'info', file: opts.logFile })): Promise<void> {
  const root = resolve(opts.root);
  const isRoot = process.geteuid?.() === 0;
  if (opts.defaultNetwork === 'bridge' && !isRoot) throw new CunikError('INVALID_ARGUMENT', '--default-network bridge needs a daemon running as root (this one is not): bridge networks do');
  const defaultNetwork = opts.defaultNetwork ?? (isRoot ? 'bridge' : 'user');
  // What the daemon and its VMs create is theirs alone; the root 0700/0710 all the way down (permissions.ts).
  process.umask(DAEMON_UMASK);
  const group = daemonGroup(opts.group);
  await ensureDir(root, 0o700, 'the root');
  const releaseLock = await acquireRootLock(root);
  const log = lineLogger(logger);
  const fdLimit = raiseOpenFileLimit();
  if (fdLimit !== undefined && fdLimit < 4096) log(`warning: open file limit is ${fdLimit}: at most about ${fdLimit - 64} running instances`);

  try {
    secureRoot(root, group);
    await ensureDir(dirname(opts.host), 0o755, "the socket's directory");
    if (await socketAlive(opts.host)) throw new CunikError('CONFLICT', `a daemon is already listening on ${opts.host}`);
    await rm(opts.host, { force: true });
    if (opts.dockerHost !== undefined) {
      await ensureDir(dirname(opts.dockerHost), 0o755, "the Docker socket's directory");
      if (await socketAlive(opts.dockerHost)) throw new CunikError('CONFLICT', `something is already listening on ${opts.dockerHost} (--docker-host)`);
      await rm(opts.dockerHost, { force: true });
    }

    // Probe the accelerator in the background; starts wait for it, everything else does not.
    let accel: AccelChoice | undefined;
    const accelReady = chooseAccelerator(opts).then((choice) => {
      accel = choice;
      if (choice.accel === 'tcg' && opts.accel === 'auto') log(`warning: using TCG (software emulation): ${choice.reason}`);
      else log(`accelerator: ${choice.accel} (${choice.reason})`);
      return choice;
    });

    // VMs run under cunik-shim, which cunik-spawner starts: the daemon itself never forks (docs/instances.md).
    const bin = join(installRoot(), 'build', 'bin');
    const vmNice = raiseControlPlanePriority();
    // The user VMs run as (docs/qemu.md, "Confinement"): made if missing, never root.
    const vmUser = await resolveVmUser();
    if (vmUser.warning !== undefined) log(`warning: ${vmUser.warning}`);
    const passt = onPath(PASST_BINARY);
    if (passt === undefined) log('warning: passt is not installed (apt-get install passt): instances on the user network cannot start');
    const driver = new QemuDriver({
      binary: opts.qemu,
      shim: join(bin, 'cunik-shim'),
      spawner: join(bin, 'cunik-spawner'),
      transparentHugepages: opts.vmThp === true,
      ...(opts.tcgTbSize !== undefined && { tcgTbSizeMiB: opts.tcgTbSize }),
      memMerge: opts.vmKsm === true,
      ...(vmNice !== undefined && { vmNice }),
      // Debian 12's passt: its spin and its hang on a connection that comes before the guest can answer (passt-fixes.c).
      passtPreload: join(bin, 'cunik-passt-fixes.so'),
      vmUser,
      // Linux images on a root disk start as clones of a template boot (vmm/qemu/template.ts).
      ...(opts.vmTemplates !== false && { templates: { dir: join(root, 'templates'), memhold: join(bin, 'cunik-memhold'), log } }),
    });
    const events = new EventLog();
    const recordImageEvent = imageEventRecorder(events);
    // A removed image's VM templates end with it (their memory is held until then).
    const onImageEvent: typeof recordImageEvent = (e) => {
      recordImageEvent(e);
      if (e.action === 'delete') driver.sweepTemplates();
    };
    const images = new ImageStore(root, { knownFamilies: familyNames(), onEvent: onImageEvent, onProblem: (line) => log(`warning: ${line}`) });
    for (const w of images.warnings) log(`warning: ${w}`);
    const volumes = new VolumeStore(root, { shareOwner: vmUser });
    await volumes.init();
    // Uploads a killed daemon left (nothing uploads before the socket listens).
    const spool = new UploadSpool(join(root, 'tmp'));
    spool.sweep();
    // Bridge networks need root (bridges, taps, nftables); a daemon that is not root has user and none.
    // One DNS responder per bridge network, on its gateway (network-dns.ts).
    const dns = new DnsService({ log });
    // The firewall driver: nftables, or iptables-nft where nft is missing (firewall.ts).
    const host = new IpNftHost();
    const firewall = chooseFirewall((cmd) => onPath(cmd, ['/usr/sbin', '/sbin']) !== undefined) === 'iptables-nft' ? new IptablesFirewall(execIn()) : new NftFirewall(host);
    if (isRoot && firewall.name !== 'nftables') log(`bridge networks: nft is not installed, so the firewall rules go through ${firewall.name} (chains CUNIK-*)`);
    const networks = isRoot
      ? new BridgeNetworks({ dir: join(root, 'networks'), host, firewall, tapOwner: { uid: vmUser.uid, gid: vmUser.gid }, ...(opts.bip !== undefined && { bip: opts.bip }), services: dnsServices(dns), log })
      : undefined;
    networks?.load();
    const instances = new InstanceService({
      store: new InstanceStore(root),
      volumes,
      ...(networks !== undefined && { networks }),
      defaultNetwork,
      images,
      driver,
      family: familyAdapter,
      accelerator: () => accelReady,
      log,
    });
    const instanceEvents = instanceEventRecorder(events, (id) => {
      try {
        return instances.get(id).image;
      } catch {
        return undefined; // removed
      }
    });
    instances.on('event', (e) => instanceEvents.record(e));
    // The last instance of a removed image held its boot files: its VM templates end now.
    instances.on('event', (e) => e.action === 'destroy' && driver.sweepTemplates());
    // Every state change, with its instance (the event log of GET /events keeps only the last ones).
    instances.on('event', (e) => logger.info({ instance: e.id, name: e.name, action: e.action, ...(e.exitCode !== undefined && { exitCode: e.exitCode }) }, `instance ${e.name}: ${e.action}`));
    const consoles = new ConsoleManager({ maxSize: opts.logMaxSize ?? DEFAULT_LOG_MAX_SIZE, paths: (id) => instances.paths(id) });
    instances.on('event', (e) => consoles.onEvent(e));
    if (networks !== undefined) wireDns({ dns, networks, instances, record: (id) => knownInstance(instances, id), log });
    // A VM that is gone leaves its network: its tap and address go at once.
    if (networks !== undefined) instances.on('event', (e) => (e.action === 'die' || e.action === 'destroy') && void networks.detach(e.id).catch((err: Error) => log(`warning: ${err.message}`)));
    await instances.init();
    if (networks !== undefined) {
      // What a crash left: taps, addresses and bridges of instances and networks that are gone.
      const running = instances.list(false).filter((r) => r.state === 'running' || r.state === 'paused').map((r) => r.id);
      const swept = await networks.reconcile(running);
      if (swept.taps + swept.addresses + swept.bridges + swept.ports > 0) log(`networks: removed ${swept.taps} taps, ${swept.addresses} addresses, ${swept.ports} instances' published ports and ${swept.bridges} bridges left by instances or networks that are gone`);
    }
    await consoles.init(instances.list(true));
    for (const r of instances.list(true)) instanceEvents.remember(r.id, r.image);

    let qemuVersion: Promise<string> | undefined;
    const registry: RegistrySettings = { insecure: opts.insecureRegistry ?? [], certsDir: resolve(opts.registryCerts ?? registryCertsDir()), ...(opts.defaultRegistry !== undefined && { defaultRegistry: opts.defaultRegistry }) };
    const backends = makeBackends({
      root,
      instances,
      images,
      driverName: driver.name,
      transparentHugepages: opts.vmThp === true,
      kernelSamepageMerging: opts.vmKsm === true,
      tcgTbSizeMiB: opts.tcgTbSize ?? 0,
      defaultNetwork,
      confinement: {
        sandbox: true,
        user: vmUser.name,
        uid: vmUser.uid,
        gid: vmUser.gid,
        userNetwork: passt ?? 'unavailable: passt is not installed (apt-get install passt)',
        warnings: [...(vmUser.warning !== undefined ? [vmUser.warning] : []), ...(passt === undefined ? ['passt is not installed: instances on the user network cannot start'] : [])],
      },
      accelerator: () => accel,
      consoles,
      volumes,
      spool,
      ...(networks !== undefined && { bridgeNetworking: () => { const f = networks.forwarding(); return { ipForwarding: f.enabled, ipForwardingByCunik: f.byCunik, firewall: networks.firewall.name }; } }),
      registry: { insecure: [...registry.insecure], certs: registry.certsDir, ...(registry.defaultRegistry !== undefined && { default: registry.defaultRegistry }) },
      qemuVersion: () =>
        (qemuVersion ??= promisify(execFile)(opts.qemu, ['--version']).then(
          (r) => `${opts.qemu}: ${r.stdout.split('\n')[0] ?? ''}`.trim(),
          () => `${opts.qemu}: not found`,
        )),
    });
    const build = new BuildService({ root, images });
    const all = { ...backends, networks: makeNetworksBackend(networks, instances), ...makeOpsBackends({ instances, images, events, volumes, spool, build, onCacheFreed: () => driver.sweepTemplates() }), build, distribution: makeDistributionBackend(images, registry) };
    const app = await buildServer({ ...all, ...(process.env[DEBUG_RESOURCES_ENV] === '1' && { debug: { resources: () => instances.debugResources() } }) }, { logger });
    // The Docker Engine API, translated onto the same backends (compat/docker; off by default).
    const docker = opts.dockerHost !== undefined ? await buildDockerServer(all) : undefined;
    const shutdown = async (signal: string): Promise<void> => {
      if (opts.shutdownInstances) {
        log(`${signal}: stopping instances, then shutting down`);
        await instances.shutdownAll();
      } else {
        log(`${signal}: shutting down; instances keep running`);
      }
      await consoles.close().catch(() => undefined);
      await dns.stopAll().catch(() => undefined);
      await app.close().catch(() => undefined);
      await docker?.close().catch(() => undefined);
      await rm(opts.host, { force: true });
      if (opts.dockerHost !== undefined) await rm(opts.dockerHost, { force: true });
      await releaseLock();
      process.exit(0);
    };
    // Installed before the socket answers: a SIGTERM that follows the first ping must still clean up
    // (the default action would leave the pid in the lock file and the socket behind).
    process.once('SIGTERM', () => void shutdown('SIGTERM'));
    process.once('SIGINT', () => void shutdown('SIGINT'));
    await app.listen({ path: opts.host });
    await secureSocket(opts.host, group);
    if (docker !== undefined && opts.dockerHost !== undefined) {
      await docker.listen({ path: opts.dockerHost });
      await secureSocket(opts.dockerHost, group);
      log(`Docker Engine API (1.44 subset) on ${opts.dockerHost}`);
    }
    log(`listening on ${opts.host} (root ${root}, version ${VERSION})`);

  } catch (err) {
    await releaseLock();
    throw err;
  }
}

/** The instance with this id, or undefined once it is gone. */
function knownInstance(instances: InstanceService, id: string): ReturnType<InstanceService['get']> | undefined {
  try {
    return instances.get(id);
  } catch {
    return undefined;
  }
}

/** A registry flag's value: HOST[:PORT], as a reference's first component names it. */
function registryHost(v: string): string {
  if (!isRegistryHost(v)) throw new InvalidArgumentError(`give a registry as HOST[:PORT], got ${JSON.stringify(v)}`);
  return v;
}

/** --bip: ADDR/PREFIX with ADDR a host address of its subnet. */
function bipOption(v: string): string {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(v);
  if (!m || !isIPv4(m[1]!) || Number(m[2]) < 8 || Number(m[2]) > 30) throw new InvalidArgumentError(`give the bridge's address as ADDRESS/PREFIX (prefix 8-30), e.g. 10.213.0.1/24, got ${JSON.stringify(v)}`);
  return v;
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('cunikd')
    .description('The Cunik daemon: serves the Engine API and runs unikernel instances under QEMU')
    .version(VERSION)
    .option('--root <dir>', 'state directory', defaultRoot())
    .option('-H, --host <address>', `unix socket to listen on: unix:///path or a path (default: $CUNIK_HOST or ${defaultSocketPath()})`)
    .addOption(new Option('--accel <accel>', 'accelerator').choices(['auto', 'kvm', 'tcg']).default(process.env['CUNIK_ACCEL'] ?? 'auto'))
    .option('--qemu <binary>', 'QEMU binary', process.env['CUNIK_QEMU'] ?? 'qemu-system-x86_64')
    .option('--group <name>', 'group whose members may use the socket, which is root-equivalent (default: cunik if it exists, else root only)')
    .option('--vm-thp', 'let VMs use transparent huge pages (default: off, about 1.5 MiB less per small VM; large guests under KVM may run faster with them)')
    .option('--tcg-tb-size <MiB>', `TCG's translation cache per VM under software emulation, MiB (default 0: QEMU's own, 1 GiB, of which a Linux guest fills ~80 MiB; 32 saves ~55 MiB per Linux VM for a slower first boot)`, (v: string) => {
      const n = Number(v);
      if (!/^\d+$/.test(v) || n > 2048) throw new InvalidArgumentError('give a number of MiB, 0-2048');
      return n;
    }, DEFAULT_TCG_TB_SIZE_MIB)
    .option('--vm-ksm', "let the host's KSM merge identical pages across VMs (default: off, each VM's RAM is marked unmergeable: a guest can time copy-on-write faults to learn what another guest holds)")
    .option('--no-vm-templates', 'boot every VM whole (default: instances of a linux image on a root disk start as copy-on-write clones of one saved boot, docs/qemu.md "VM templates")')
    .option('--shutdown-instances', 'stop the instances when the daemon stops (default: they keep running)')
    .option('--log-max-size <size>', 'cap on each instance\'s console log, e.g. 10m, 512k (one rotated backup holds as much again)', (v: string) => {
      let n: number;
      try {
        n = parseSize(v);
      } catch (err) {
        throw new InvalidArgumentError((err as Error).message);
      }
      if (!inRange(n, LIMITS.logMaxSizeBytes)) throw new InvalidArgumentError(`${rangeText(LIMITS.logMaxSizeBytes)}`);
      return n;
    }, DEFAULT_LOG_MAX_SIZE)
    .option('--probe-kernel <file>', 'accelerator probe kernel', join(installRoot(), 'build', 'kernels', 'probe.elf'))
    .addOption(new Option('--log-level <level>', 'what the daemon logs (JSON lines)').choices(LOG_LEVELS).default(process.env['CUNIK_LOG_LEVEL'] ?? 'info'))
    .option('--log-file <file>', 'append the daemon log to this file instead of stderr')
    .option('--insecure-registry <host[:port]>', 'a registry that may be spoken to over plain HTTP (repeatable; loopback ones always may)', (v: string, prev: string[] = []) => [...prev, registryHost(v)])
    .option('--registry-certs <dir>', `registries' CA certificates, DIR/HOST[:PORT]/*.crt as Docker's certs.d (default: ${registryCertsDir()})`)
    .option('--bip <address/prefix>', "the default bridge network's gateway address and subnet, e.g. 10.213.0.1/24 (default: a free /24 of 10.213.0.0/16)", bipOption)
    .addOption(new Option('--default-network <network>', 'the network of instances that name none: bridge (the default bridge network cunik0; the default for a daemon running as root) or user (user-mode networking; the default otherwise)').choices(['user', 'bridge']))
    .option('--docker-host <address>', 'also serve the Docker Engine API (the subset the docker CLI needs) on this unix socket: unix:///path or a path (default: off)')
    .option('--default-registry <host[:port]>', 'the registry of image names that hold none, for pull, push and login (default: none; such names are local only)', registryHost);
  // commander's own refusals (a bad option value) read like the daemon's: one `cunikd: ...` line.
  program.configureOutput({ outputError: (text, write) => write(text.replace(/^error: /, 'cunikd: ')) });
  program.parse(argv);
  const o = program.opts<Omit<DaemonOptions, 'host'> & { host?: string }>();
  let logger: DaemonLogger | undefined;
  try {
    logger = makeLogger({ level: o.logLevel ?? 'info', file: o.logFile });
    // The CLI's address forms (config/host.ts), from the flag or the environment alike.
    const host = o.host ?? process.env['CUNIK_HOST'];
    await runDaemon({ ...o, host: host ? socketPathOf(host) : defaultSocketPath(), ...(o.dockerHost !== undefined && { dockerHost: socketPathOf(o.dockerHost) }) }, logger);
  } catch (err) {
    // On stderr in any case (whoever started the daemon sees why it did not); in the log file too.
    if (o.logFile !== undefined) logger?.fatal((err as Error).message);
    process.stderr.write(`cunikd: ${(err as Error).message}\n`);
    process.exit(1);
  }
}
