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
  /** The task's cgroup (cgroup.ts): its path and its directory in each hierarchy. */
  cgroup?: { path: string; dirs: string[] };
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
/**
 * Beside the record, plain files that build/bin/cunik-runc (runc-front.c) reads to answer state,
 * start, kill and delete without starting node: `status` (the word; the one place it is kept),
 * `task` ("PID STARTTIME"), `state.json` (state's answer, \x01 where the pid goes and \x02 the
 * status), `cgroups` (the leaf directories, one a line) and `net` (present when delete needs node).
 */
const statusFile = (dir: string): string => join(dir, 'status');

/** The record, or undefined when cunik-runc does not run this id (the real runc may). */
export function loadRecord(root: string, id: string): ContainerRecord | undefined {
  let raw: string;
  try {
    raw = readFileSync(recordFile(containerDir(root, id)), 'utf8');
  } catch {
    return undefined;
  }
  const r = JSON.parse(raw) as ContainerRecord;
  try {
    const status = readFileSync(statusFile(containerDir(root, id)), 'utf8').trim();
    if (status === 'created' || status === 'running' || status === 'paused') r.status = status;
  } catch {
    /* a record from before the status file: its own word */
  }
  return r;
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

export function saveRecord(root: string, r: ContainerRecord): void {
  const dir = containerDir(root, r.id);
  atomicWriteFileSync(recordFile(dir), JSON.stringify(r) + '\n', 0o600);
  atomicWriteFileSync(statusFile(dir), r.status + '\n', 0o600);
}

/** The files runc-front.c reads (see statusFile), written once at create. */
export function writeTaskFiles(root: string, r: ContainerRecord): void {
  const dir = containerDir(root, r.id);
  const doc = JSON.stringify(stateDoc(r, 0, ''), null, 2) + '\n';
  const tmpl = doc.replace('\n  "pid": 0,\n', '\n  "pid": \x01,\n').replace('\n  "status": "",\n', '\n  "status": "\x02",\n');
  atomicWriteFileSync(join(dir, 'state.json'), tmpl, 0o600);
  if (r.cgroup !== undefined) atomicWriteFileSync(join(dir, 'cgroups'), r.cgroup.dirs.map((d) => d + '\n').join(''), 0o600);
  if (r.net !== undefined) atomicWriteFileSync(join(dir, 'net'), `${r.net.netns}\n${r.net.tap}\n${r.net.ifname}\n`, 0o600);
  atomicWriteFileSync(join(dir, 'task'), `${r.pid} ${r.pidStart}\n`, 0o600);
}

/** runc state's JSON (the OCI runtime spec's state, plus runc's created/owner). */
export function stateDoc(r: ContainerRecord, pid: number, status: string): Record<string, unknown> {
  return { ociVersion: '1.0.2', id: r.id, pid, status, bundle: r.bundle, rootfs: r.rootfs, created: r.created, owner: '', annotations: r.annotations };
}

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
