// Pure parsers for flag values, unit-tested.

const units: Record<string, number> = { b: 1 / (1024 * 1024), k: 1 / 1024, m: 1, g: 1024, t: 1024 * 1024 };

/** "64m", "64MiB", "1g", "512" (MiB) → MiB; throws with a clear message otherwise. */
export function parseMemoryMiB(value: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([bkmgt]?)(?:ib|i|b)?$/i.exec(value.trim());
  if (!m) throw new Error(`invalid memory value: ${value} (use e.g. 64m, 512M, 1g)`);
  const mib = Number(m[1]) * units[(m[2] || 'm').toLowerCase()]!;
  if (!Number.isInteger(mib)) throw new Error(`invalid memory value: ${value} (must be a whole number of MiB)`);
  if (mib < 4) throw new Error(`invalid memory value: ${value} (at least 4 MiB)`);
  if (mib > 1024 * 1024) throw new Error(`invalid memory value: ${value} (at most 1 TiB)`);
  return mib;
}

export function parseCpus(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new Error(`invalid cpus value: ${value} (a whole number from 1 to 64)`);
  const n = Number(value);
  if (n < 1 || n > 64) throw new Error(`invalid cpus value: ${value} (a whole number from 1 to 64)`);
  return n;
}

export function parseEnv(value: string, previous: string[] = []): string[] {
  if (!/^[A-Za-z_][A-Za-z0-9_.]*=/.test(value)) throw new Error(`invalid environment variable: ${value} (use KEY=VALUE)`);
  return [...previous, value];
}

export function parseSeconds(value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`invalid time value: ${value} (whole seconds)`);
  return Number(value);
}

type RestartPolicyName = 'no' | 'on-failure' | 'always' | 'unless-stopped';
interface RestartPolicy {
  name: RestartPolicyName;
  maximumRetryCount: number;
}

/** "on-failure:3" → { name: 'on-failure', maximumRetryCount: 3 }. */
export function parseRestartPolicy(value: string): RestartPolicy {
  const [name, count, ...rest] = value.split(':');
  const names: RestartPolicyName[] = ['no', 'on-failure', 'always', 'unless-stopped'];
  if (!names.includes(name as RestartPolicyName) || rest.length > 0) {
    throw new Error(`invalid restart policy: ${value} (no, on-failure[:N], always or unless-stopped)`);
  }
  if (count !== undefined) {
    if (name !== 'on-failure') throw new Error(`invalid restart policy: ${value} (only on-failure takes a retry count)`);
    if (!/^\d+$/.test(count)) throw new Error(`invalid restart policy: ${value} (the retry count is a whole number)`);
  }
  return { name: name as RestartPolicyName, maximumRetryCount: count === undefined ? 0 : Number(count) };
}

