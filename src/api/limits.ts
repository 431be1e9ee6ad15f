// The ranges of every number a user gives Cunik, in one place: the API schemas, the CLI's flag
// parsers, the Cunikfile parser, image labels and the daemon's own flags all read them, so an
// entry point can never accept what another refuses. Pure data and pure checks (no I/O).

export interface Range {
  min: number;
  max: number;
  /** How a value is written in a message ("MiB", "seconds"...). */
  unit?: string;
}

const MiB = 1024 * 1024;

export const LIMITS = {
  /** Virtual CPUs: QEMU's x86 machines take at most 255 without an IOMMU; the host's count rules too (checkCpus). */
  cpus: { min: 1, max: 255 },
  /** Guest memory, MiB: the smallest unikernels boot in 4. */
  memoryMiB: { min: 4, max: 1024 * 1024, unit: 'MiB' },
  guestPort: { min: 1, max: 65535 },
  /** 0: a free port chosen at each start. */
  hostPort: { min: 0, max: 65535 },
  /** on-failure:N (0: no limit). */
  restartRetries: { min: 0, max: 1_000_000 },
  /** stop/restart -t: seconds before SIGKILL. */
  stopTimeoutSeconds: { min: 0, max: 3600, unit: 'seconds' },
  /** logs --tail: lines. */
  tailLines: { min: 0, max: 1_000_000_000 },
  /** Block volumes: small ext4 file systems waste most of their space on metadata; ext4 files stop at 16 TiB. */
  volumeSizeBytes: { min: 8 * MiB, max: 16 * 1024 * 1024 * MiB, unit: 'bytes' },
  /** cunikd --log-max-size: each instance's console log cap. */
  logMaxSizeBytes: { min: 4096, max: 1024 * 1024 * MiB, unit: 'bytes' },
  /** Health checks (run --health-*): the probe's interval and timeout, ms. */
  healthIntervalMs: { min: 10, max: 86_400_000, unit: 'ms' },
  healthTimeoutMs: { min: 10, max: 3_600_000, unit: 'ms' },
  /** Failures in a row before unhealthy. */
  healthRetries: { min: 1, max: 1000 },
  /** Failures in it are not counted (ms; 0: none). */
  healthStartPeriodMs: { min: 0, max: 86_400_000, unit: 'ms' },
  /** A file mode in a Cunikfile. */
  fileMode: { min: 0, max: 0o7777 },
} as const satisfies Record<string, Range>;

/** "from 1 to 255", "from 4 to 1048576 MiB". */
export function rangeText(r: Range): string {
  return `from ${r.min} to ${r.max}${r.unit ? ` ${r.unit}` : ''}`;
}

/** Whether n is a whole number within r. */
export function inRange(n: number, r: Range): boolean {
  return Number.isInteger(n) && n >= r.min && n <= r.max;
}

/**
 * The host rule for vCPUs, as Docker refuses --cpus above the host's count: more vCPUs than host
 * CPUs only thrash (and under TCG each is a busy thread), unless the user asks for it. Returns
 * the end of the sentence that refuses it ("more than this host's 2 CPUs: ..."), or undefined.
 */
export function cpusOverHost(cpus: number, hostCpus: number, overcommit: boolean): string | undefined {
  if (overcommit || cpus <= hostCpus) return undefined;
  return `more than this host's ${hostCpus} CPU${hostCpus === 1 ? '' : 's'}: give --cpus ${hostCpus} or fewer (or --cpu-overcommit to allow it)`;
}
