// cunik-runc create: the bundle's unikernel booted through its family adapter (the same BootSpec
// cunikd builds), QEMU started with its vCPUs stopped (-S) under cunik-shim, whose pid is the
// task's: containerd's shim reaps it and takes its exit status, which cunik-shim makes the
// guest's code as the family maps it (exit-codes.ts). The task's stdio (fds 0-2) is the serial
// console. `start` releases the vCPUs over QMP.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { installRoot } from '../config/defaults.js';
import { CunikError, invalid } from '../errors.js';
import { familyAdapter, hostTscKhz } from '../families/index.js';
import type { ImageBootInfo, InstanceNetwork } from '../families/types.js';
import { atomicWriteFileSync } from '../util/atomic-write.js';
import { accelModeFromEnv, chooseAccelerator } from '../vmm/qemu/accel.js';
import { QBOOT_ROM, qemuArgv } from '../vmm/qemu/argv.js';
import { prepareBootDir } from '../vmm/qemu/boot-dir.js';
import { createOverlays } from '../vmm/qemu/overlay.js';
import { procStartTime, recordedExit } from '../vmm/qemu/proc.js';
import { QmpClient } from '../vmm/qemu/qmp.js';
import type { Accelerator } from '../vmm/types.js';
import { taskArgsEnv, type RuntimeSpec } from './bundle.js';
import { exitCodeTable } from './exit-codes.js';
import type { RuntimeLog } from './log.js';
import { makeCgroup, removeCgroup, type TaskCgroup } from './cgroup.js';
import { attachToNetns, detachFromNetns, nameservers } from './netns.js';
import { makeDir, removeDir, saveRecord, vmPaths, writeTaskFiles, type ContainerRecord } from './state.js';

export interface CreateRequest {
  root: string;
  id: string;
  bundle: string;
  pidFile?: string | undefined;
  consoleSocket?: string | undefined;
  spec: RuntimeSpec;
  boot: ImageBootInfo;
  /** --systemd-cgroup: linux.cgroupsPath is "slice:prefix:name". */
  systemdCgroup?: boolean;
  log?: RuntimeLog;
}

/** The accelerator, probed once per runtime root (cunikd's probe; CUNIK_ACCEL forces it). */
async function accelerator(root: string): Promise<Accelerator> {
  const mode = accelModeFromEnv();
  const cache = join(root, 'cunik', 'accel.json');
  if (mode === 'auto' && existsSync(cache)) {
    const a = (JSON.parse(readFileSync(cache, 'utf8')) as { accel?: string }).accel;
    if (a === 'kvm' || a === 'tcg') return a;
  }
  const choice = await chooseAccelerator(mode, { probeKernel: join(installRoot(), 'build', 'kernels', 'probe.elf') });
  if (mode === 'auto') atomicWriteFileSync(cache, JSON.stringify(choice) + '\n');
  return choice.accel;
}

/** The pod's DNS: the resolv.conf the spec mounts (CRI's), if any. */
function podDns(spec: RuntimeSpec, bundle: string): string[] {
  try {
    const cfg = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as { mounts?: { destination?: string; source?: string }[] };
    const m = (cfg.mounts ?? []).find((x) => x.destination === '/etc/resolv.conf' && typeof x.source === 'string');
    return m?.source !== undefined ? nameservers(readFileSync(m.source, 'utf8')) : [];
  } catch {
    return [];
  }
}

export async function createContainer(req: CreateRequest): Promise<void> {
  const { root, id, spec, boot } = req;
  // Node cannot pass a file descriptor over a unix socket (SCM_RIGHTS): refused before anything is made.
  if (req.consoleSocket !== undefined || spec.terminal) {
    throw invalid('a terminal (-t, --console-socket) is not supported for unikernels: run without -t (the guest\'s serial console is the task\'s stdin and stdout)');
  }
  const adapter = familyAdapter(boot.family);
  const accel = await accelerator(root);
  const dir = makeDir(root, id);
  const paths = vmPaths(dir);
  let net: ContainerRecord['net'];
  let cgroup: TaskCgroup | undefined;
  let child: ReturnType<typeof spawn> | undefined;
  try {
    const networks: InstanceNetwork[] = [];
    if (spec.netns !== undefined && spec.netns !== 'new') {
      const a = attachToNetns(spec.netns, id, podDns(spec, req.bundle));
      net = { netns: spec.netns, tap: a.tap, ifname: a.pod.ifname };
      networks.push(a.network);
    }
    const { args, env } = taskArgsEnv(spec, boot);
    const bootSpec = adapter.bootSpec(boot, {
      args,
      env,
      ...(spec.memoryMiB !== undefined && { memoryMiB: spec.memoryMiB }),
      ...(spec.cpus !== undefined && { cpus: spec.cpus }),
      ...(networks.length > 0 && { networks }),
      ...(hostTscKhz() !== undefined && { tscKhz: hostTscKhz()! }),
    });
    await createOverlays(bootSpec, dir);
    const argv = qemuArgv(bootSpec, paths, accel, {
      ...(existsSync(QBOOT_ROM) && { bios: QBOOT_ROM }),
      confine: {},
      console: 'stdio',
      paused: true,
    });
    const cwd = prepareBootDir(bootSpec, dir);
    // The task's cgroup (runc's placement): cunik-shim joins it before it forks QEMU.
    cgroup = makeCgroup(spec.cgroupsPath, req.systemdCgroup === true, id, {
      ...(spec.memoryLimit !== undefined && { memoryBytes: spec.memoryLimit }),
      ...(spec.cpuQuota !== undefined && { cpu: spec.cpuQuota }),
    });
    req.log?.('info', `${id}: cgroup ${cgroup.path}${spec.memoryLimit !== undefined ? `, memory limit ${spec.memoryLimit}` : ''}${spec.cpuQuota !== undefined ? `, cpu ${spec.cpuQuota.quota}/${spec.cpuQuota.period}` : ''}`);
    const shim = join(installRoot(), 'build', 'bin', 'cunik-shim');
    const command = [
      ...(net !== undefined ? ['nsenter', `--net=${net.netns}`] : []),
      shim, '--exit-codes', exitCodeTable(adapter), '--no-thp', '--confine', ...(cwd !== undefined ? ['--chdir', cwd] : []),
      ...cgroup.dirs.flatMap((d) => ['--cgroup', join(d, 'cgroup.procs')]),
      paths.exitFile, ...argv,
    ];
    // The task's stdio goes to QEMU as they are (fds 0-2); detached: containerd's shim, a
    // subreaper, becomes the parent once this process exits.
    child = spawn(command[0]!, command.slice(1), { detached: true, stdio: 'inherit' });
    const spawned = child;
    const pid = await new Promise<number>((resolve, reject) => {
      spawned.once('spawn', () => resolve(spawned.pid!));
      spawned.once('error', (err) => reject(new CunikError('INTERNAL', `cannot start ${command[0]}: ${err.message}`)));
    });
    // Up once QMP answers (QEMU checked its command line and loaded the kernel); not if it ends first.
    const ended = new AbortController();
    const exit = new Promise<string>((resolve) => spawned.once('exit', (code, sig) => {
      ended.abort();
      resolve(sig !== null ? `was killed by ${sig}` : `exited with status ${code}`);
    }));
    try {
      (await QmpClient.connect(paths.qmpSocket, { timeoutMs: 30_000, signal: ended.signal })).close();
    } catch (err) {
      // QEMU exiting while the connection is made can show as a reset before its exit: wait for it a little.
      let how = await Promise.race([exit, new Promise<undefined>((r) => setTimeout(r, 2000))]);
      if (how !== undefined) {
        // The shim's status is already mapped to a guest code: how QEMU itself ended is in its exit file.
        const raw = recordedExit(paths);
        if (raw !== undefined) how = raw.signal !== null ? `was killed by ${raw.signal}` : `exited with status ${raw.status}`;
        throw new CunikError('INTERNAL', `the VM failed to start: QEMU ${how} (its error is on the task's stderr)`);
      }
      throw err;
    }
    const record: ContainerRecord = {
      id,
      bundle: req.bundle,
      rootfs: spec.rootfs,
      created: new Date().toISOString(),
      status: 'created',
      pid,
      pidStart: procStartTime(pid) ?? '',
      family: boot.family,
      annotations: spec.annotations,
      ...(net !== undefined && { net }),
      cgroup,
    };
    saveRecord(root, record);
    writeTaskFiles(root, record);
    if (req.pidFile !== undefined) writeFileSync(req.pidFile, String(pid));
    spawned.unref();
  } catch (err) {
    if (child?.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    if (net !== undefined) detachFromNetns(net.netns, net.tap, net.ifname);
    if (cgroup !== undefined) {
      try {
        removeCgroup(cgroup.dirs);
      } catch {
        /* the first error is the one to report */
      }
    }
    removeDir(root, id);
    throw err;
  }
}
