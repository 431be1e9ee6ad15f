// POST /containers/{id}/update: Docker's UpdateConfig translated to the native update request.
// The docker CLI sends every resource field, most of them zero: only Memory, NanoCpus and
// RestartPolicy have a counterpart; any other one set is refused by name, never dropped.
import type { UpdateInstanceRequest } from '../../api/schemas.js';
import { invalid } from '../../errors.js';
import { isSet, memoryMiB, obj, restartPolicy, wholeCpus } from './create.js';

const TRANSLATED = new Set(['Memory', 'NanoCpus', 'RestartPolicy']);

/** Why a resource Docker can update has no counterpart for a VM. */
const WHY: Record<string, string> = {
  MemorySwap: 'a VM has no swap limit on the host: only its memory (-m) can be set',
  MemoryReservation: 'a VM gets all its memory: set it with -m',
  KernelMemory: 'a VM has no host kernel memory limit',
  CpuShares: 'give whole CPUs with --cpus',
  CpuPeriod: 'give whole CPUs with --cpus',
  CpuQuota: 'give whole CPUs with --cpus',
  CpusetCpus: 'give whole CPUs with --cpus',
  CpusetMems: 'a VM has no NUMA placement to set',
  PidsLimit: "a guest's processes are inside the VM, out of the host's reach",
  BlkioWeight: 'a VM has no block I/O weight',
};

/** The native update request for a Docker update body. */
export function updateRequest(body: unknown): UpdateInstanceRequest {
  const b = obj(body, 'body');
  for (const [key, value] of Object.entries(b)) {
    if (!TRANSLATED.has(key) && isSet(value)) throw invalid(`${key} is not supported: ${WHY[key] ?? 'a VM has no counterpart for it'}`, key);
  }
  const memory = memoryMiB(b['Memory'], 'Memory');
  const cpus = wholeCpus(b['NanoCpus'], 'NanoCpus');
  const p = obj(b['RestartPolicy'], 'RestartPolicy');
  // Name "" is the CLI's "not given"; "no" sets the policy to none.
  const named = p['Name'] !== undefined && p['Name'] !== '';
  const restart = named ? (restartPolicy(p) ?? { name: 'no' as const }) : undefined;
  const req: UpdateInstanceRequest = {
    ...(memory !== undefined && { memoryMiB: memory }),
    ...(cpus !== undefined && { cpus }),
    ...(restart !== undefined && { restartPolicy: restart }),
  };
  if (Object.keys(req).length === 0) throw invalid('nothing to update: give Memory, NanoCpus or RestartPolicy', 'body');
  return req;
}
