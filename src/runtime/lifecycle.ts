// The verbs after create, on cunik-runc's own containers: start (QMP cont), state (runc's JSON),
// kill, delete, ps, pause/resume. What containerd's shim expects of each is runc's behaviour
// (its error texts "container not running" / "does not exist" are what the shim matches).
import { constants } from 'node:os';
import { conflict, invalid } from '../errors.js';
import { QmpClient } from '../vmm/qemu/qmp.js';
import { detachFromNetns } from './netns.js';
import { cgroupPids, removeCgroup } from './cgroup.js';
import { alive, containerDir, mustLoad, qemuPid, removeDir, saveRecord, stateDoc, statusOf, type ContainerRecord } from './state.js';

async function qmp(root: string, r: ContainerRecord, command: string): Promise<void> {
  const client = await QmpClient.connect(`${containerDir(root, r.id)}/qmp.sock`, { timeoutMs: 10_000 });
  try {
    await client.execute(command);
  } finally {
    client.close();
  }
}

export async function start(root: string, id: string): Promise<void> {
  const r = mustLoad(root, id);
  const status = statusOf(r);
  if (status !== 'created') throw conflict(`cannot start a container that is ${status}`);
  try {
    await qmp(root, r, 'cont');
  } catch (err) {
    // A guest that ends at once (isa-debug-exit from its vCPU thread) can take QEMU down before
    // QEMU has sent cont's answer: the start happened if QEMU is gone now.
    if (qemuPid(containerDir(root, id)) !== undefined) throw err;
  }
  r.status = 'running';
  saveRecord(root, r);
}

export async function pause(root: string, id: string, on: boolean): Promise<void> {
  const r = mustLoad(root, id);
  const status = statusOf(r);
  if (status !== (on ? 'running' : 'paused')) throw conflict(`container ${id} is ${status}`);
  await qmp(root, r, on ? 'stop' : 'cont');
  r.status = on ? 'paused' : 'running';
  saveRecord(root, r);
}

/** runc state's JSON (the OCI runtime spec's state, plus runc's created/owner). */
export function state(root: string, id: string): Record<string, unknown> {
  const r = mustLoad(root, id);
  const status = statusOf(r);
  return stateDoc(r, status === 'stopped' ? 0 : r.pid, status);
}

/** "SIGTERM", "TERM" or "15" → the signal name. */
export function parseSignal(raw: string | undefined): NodeJS.Signals {
  const s = raw ?? 'SIGTERM';
  if (/^\d+$/.test(s)) {
    const found = Object.entries(constants.signals).find(([, n]) => n === Number(s));
    if (found !== undefined) return found[0] as NodeJS.Signals;
  } else {
    const name = (s.toUpperCase().startsWith('SIG') ? s.toUpperCase() : `SIG${s.toUpperCase()}`) as NodeJS.Signals;
    if (name in constants.signals) return name;
  }
  throw invalid(`unknown signal ${JSON.stringify(s)}`);
}

/**
 * The signal goes to QEMU, which decides what it means (SIGTERM: QEMU ends, as a powered-off
 * guest); cunik-shim ignores catchable signals and ends with it. --all also signals the shim.
 */
export function kill(root: string, id: string, signal: NodeJS.Signals, all: boolean): void {
  const r = mustLoad(root, id);
  if (!alive(r)) throw conflict('container not running');
  const targets = [qemuPid(containerDir(root, id)) ?? r.pid, ...(all ? [r.pid] : [])];
  for (const pid of targets) {
    try {
      process.kill(pid, signal);
    } catch {
      /* ended meanwhile */
    }
  }
}

export async function remove(root: string, id: string, force: boolean): Promise<void> {
  const r = mustLoad(root, id);
  if (alive(r)) {
    if (!force) throw conflict(`cannot delete container ${id} that is not stopped: ${statusOf(r)}`);
    const q = qemuPid(containerDir(root, id));
    for (const pid of [q, r.pid]) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    // The shim is containerd's child, not ours: wait for it to go (reaped or a zombie), bounded.
    const deadline = Date.now() + 5000;
    while (alive(r) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 20));
  }
  if (r.net !== undefined) detachFromNetns(r.net.netns, r.net.tap, r.net.ifname);
  if (r.cgroup !== undefined) removeCgroup(r.cgroup.dirs);
  removeDir(root, id);
}

/** The processes of the task: those in its cgroup (runc's answer), which are the shim and QEMU. */
export function ps(root: string, id: string): number[] {
  const r = mustLoad(root, id);
  if (!alive(r)) return [];
  if (r.cgroup !== undefined) return cgroupPids(r.cgroup.dirs);
  const q = qemuPid(containerDir(root, id));
  return [r.pid, ...(q !== undefined ? [q] : [])];
}
