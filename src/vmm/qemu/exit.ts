// How a QEMU run ended, from its exit status (or the shim's record of it) and what it wrote on
// stderr during that run. Pure: table-tested in test/unit/qemu-exit.test.ts.
//
// - QEMU ends on SIGTERM, SIGINT and SIGHUP by itself, with status 0, after printing
//   "terminating on signal N from pid P" (QEMU's system/runstate.c): that run was ended by signal N,
//   as Docker records a container ended by SIGTERM (143).
// - QEMU fails to start (bad argv, unloadable kernel, a host port taken) with status 1 and a line
//   saying why, before the guest runs. A guest leaving through isa-debug-exit with code 0 also ends
//   QEMU with status 1, and any other status is the guest's or QEMU's own end: only a status of 1
//   with an error line and no sign that the guest ran (or 127: the shim could not run QEMU; 125:
//   the shim failed before it) is a failure of the VMM. Warnings (a 9p "degraded performance",
//   say) never are.
// - cunik-shim ends the VM (SIGKILL) when its network helper (passt) dies: that is the VMM's
//   failure too, told with passt's own lines (passt prefixes nothing; its "Failed to send N bytes
//   to syslog" on a host without syslog is left out).
import { signalName } from '../../util/signals.js';
import type { VmExit } from '../types.js';

/** The line the driver appends to the VMM log before each start: where a run's stderr begins. */
export const RUN_MARKER = 'cunik: VM started';

/** Most of the stderr kept for inspect (the whole text stays in qemu.log). */
const MAX_STDERR = 4096;

const QEMU = /^qemu(?:-system-[\w-]+)?: /;
const SHIM = 'cunik-shim: ';
const SYSLOG = /^Failed to send \d+ bytes to syslog$/;
const NOT_AN_ERROR = /(?:^|: )(?:warning|info): /;
const TERMINATED = /^qemu(?:-system-[\w-]+)?: terminating on signal (\d+)/;

/**
 * @param raw how the process ended (status or killing signal)
 * @param stderr what the VMM wrote on stderr during this run
 * @param guestRan whether the guest is known to have run (its console grew); undefined: not known
 */
export function qemuExit(raw: VmExit, stderr: string, guestRan?: boolean): VmExit {
  const lines = stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l !== '' && !l.startsWith(RUN_MARKER));
  const out: VmExit = { status: raw.status, signal: raw.signal };
  if (lines.length > 0) {
    let text = lines.join('\n');
    if (text.length > MAX_STDERR) text = `...${text.slice(text.length - MAX_STDERR)}`;
    out.stderr = text;
  }
  const qemuErrors = lines.filter((l) => QEMU.test(l) && !NOT_AN_ERROR.test(l) && !TERMINATED.test(l));
  const shim = lines.filter((l) => l.startsWith(SHIM));
  if (shim.some((l) => l.includes('network helper'))) {
    const passt = lines.filter((l) => !QEMU.test(l) && !l.startsWith(SHIM) && !SYSLOG.test(l)).map((l) => `passt: ${l}`);
    return { ...out, vmmError: [...qemuErrors, ...passt, ...shim].join('; ') };
  }
  if (raw.signal !== null) return out;
  const term = lines.map((l) => TERMINATED.exec(l)).find((m) => m !== null);
  if (raw.status === 0 && term) {
    const signal = signalName(Number(term[1]));
    if (signal !== undefined) return { ...out, status: null, signal };
  }
  const errors = [...qemuErrors, ...shim];
  const failed = errors.length > 0 && ((raw.status === 1 && guestRan !== true) || raw.status === 127 || raw.status === 125);
  return failed ? { ...out, vmmError: errors.join('; ') } : out;
}
