// cunik-runc's record of a container it runs: <root>/cunik/<id>/ (beside the real runc's own
// <root>/<id>/ for the bundles it hands over), with the VM's QMP socket, pidfile and exit file.
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, invalid, notFound } from '../errors.js';
import { atomicWriteFileSync } from '../util/atomic-write.js';
import { procStartTime } from '../vmm/qemu/proc.js';
import type { VmPaths } from '../vmm/types.js';

export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  created: string;
  /** created until start released the vCPUs, then running (stopped is read off the process). */
  status: 'created' | 'running' | 'paused';
  /** cunik-shim: the task's process (containerd reaps it), parent of QEMU. */
  pid: number;
  pidStart: string;
  family: string;
  annotations: Record<string, string>;
  /** The network namespace the VM joined, its tap and the interface it took over. */
  net?: { netns: string; tap: string; ifname: string };
}

/** runc's rule for container ids. */
const ID = /^[\w+.-]{1,1024}$/;

export function checkId(id: string | undefined): string {
  if (id === undefined || id === '') throw invalid('a container id is required');
  if (!ID.test(id) || id === '.' || id === '..') throw invalid(`invalid container id ${JSON.stringify(id)}: letters, digits, '_', '+', '-', '.' only`);
  return id;
}

export const containerDir = (root: string, id: string): string => join(root, 'cunik', checkId(id));

export function vmPaths(dir: string): VmPaths & { exitFile: string } {
  return { dir, pidfile: join(dir, 'qemu.pid'), qmpSocket: join(dir, 'qmp.sock'), consoleLog: join(dir, 'console.log'), consoleSocket: join(dir, 'console.sock'), exitFile: join(dir, 'exit') };
}

const recordFile = (dir: string): string => join(dir, 'cunik.json');

/** The record, or undefined when cunik-runc does not run this id (the real runc may). */
export function loadRecord(root: string, id: string): ContainerRecord | undefined {
  let raw: string;
  try {
    raw = readFileSync(recordFile(containerDir(root, id)), 'utf8');
  } catch {
    return undefined;
  }
  return JSON.parse(raw) as ContainerRecord;
}

export function mustLoad(root: string, id: string): ContainerRecord {
  const r = loadRecord(root, id);
  if (r === undefined) throw notFound(`container ${id} does not exist`);
  return r;
}

export function makeDir(root: string, id: string): string {
  const dir = containerDir(root, id);
  mkdirSync(join(root, 'cunik'), { recursive: true, mode: 0o700 });
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw conflict(`container with id ${id} already exists`);
    throw err;
  }
  return dir;
}

export const saveRecord = (root: string, r: ContainerRecord): void => atomicWriteFileSync(recordFile(containerDir(root, r.id)), JSON.stringify(r) + '\n', 0o600);

export const removeDir = (root: string, id: string): void => rmSync(containerDir(root, id), { recursive: true, force: true });

/** Whether the record's process still runs (same start time: a reused pid is not it). */
export const alive = (r: Pick<ContainerRecord, 'pid' | 'pidStart'>): boolean => procStartTime(r.pid) === r.pidStart;

/** QEMU's pid (its pidfile), while it runs. */
export function qemuPid(dir: string): number | undefined {
  try {
    const pid = Number(readFileSync(vmPaths(dir).pidfile, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 && procStartTime(pid) !== undefined ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** runc's status word for the record now. */
export const statusOf = (r: ContainerRecord): 'created' | 'running' | 'paused' | 'stopped' => (alive(r) ? r.status : 'stopped');
