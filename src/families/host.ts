// Host facts some families need at boot. The adapters stay pure: the instances layer reads these
// once (they do not change while the daemon runs) and passes them in InstanceBootConfig.
import { readFileSync } from 'node:fs';

/**
 * The TSC frequency in kHz from /proc/cpuinfo text, or undefined. Needs constant_tsc (else the
 * TSC follows the clock speed and has no one frequency). Intel's model name carries the nominal
 * (= TSC) frequency ("@ 2.00GHz"); otherwise "cpu MHz", which on a VM or without frequency scaling
 * is the TSC's. Under TCG the guest's TSC runs at the host's rate (QEMU reads the host TSC).
 */
export function tscKhzFromCpuinfo(cpuinfo: string): number | undefined {
  const first = cpuinfo.split(/\n\s*\n/)[0] ?? '';
  const field = (name: string): string | undefined => new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm').exec(first)?.[1];
  if (!/\bconstant_tsc\b/.test(field('flags') ?? '')) return undefined;
  const ghz = /@\s*(\d+(?:\.\d+)?)\s*GHz/i.exec(field('model name') ?? '');
  if (ghz) return Math.round(Number(ghz[1]) * 1e6);
  const mhz = Number(field('cpu MHz'));
  return Number.isFinite(mhz) && mhz > 0 ? Math.round(mhz * 1000) : undefined;
}

let cached: number | undefined | null = null;

/** The host's TSC frequency in kHz (read once), or undefined when it cannot be told. */
export function hostTscKhz(): number | undefined {
  if (cached === null) {
    try {
      cached = tscKhzFromCpuinfo(readFileSync('/proc/cpuinfo', 'utf8'));
    } catch {
      cached = undefined;
    }
  }
  return cached;
}
