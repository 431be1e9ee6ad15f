// Signal names as kill takes them, and the stop signals a VM can honour (run --stop-signal).
import { isSignal, signalName } from '../util/signals.js';
import { invalid } from '../errors.js';
import { VM_STOP_SIGNALS } from '../images/oci.js';

/** Accept "KILL", "SIGKILL" or "9"; refuse anything else with a clear message. */
export function normalizeSignal(signal: string, field = 'signal'): NodeJS.Signals {
  const upper = signal.toUpperCase();
  const named = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (isSignal(named)) return named;
  if (/^\d+$/.test(signal)) {
    const found = signalName(Number(signal));
    if (found) return found;
  }
  throw invalid(`invalid signal: ${signal}`, field);
}

/**
 * What a stop signal means for a VM, whose guest no host signal reaches: the graceful ones press
 * the guest's power button (ACPI; QEMU's SIGTERM where the machine has none) and, after the stop
 * timeout, end the VM; SIGKILL ends the VM at once. Any other signal has no meaning for a guest.
 */
export const STOP_SIGNALS: Readonly<Record<string, 'powerdown' | 'kill'>> = Object.fromEntries(VM_STOP_SIGNALS.map((s) => [s, s === 'SIGKILL' ? 'kill' : 'powerdown']));
export const DEFAULT_STOP_SIGNAL = 'SIGTERM';
/** Seconds stop waits for the guest to power off before ending the VM, as Docker's default. */
export const DEFAULT_STOP_TIMEOUT = 10;

/** A stop signal in its canonical name ("term", "15" → SIGTERM), or one line saying which ones a VM takes. */
export function stopSignal(signal: string, field = 'stopSignal'): string {
  const sig = normalizeSignal(signal, field);
  if (STOP_SIGNALS[sig] === undefined) {
    throw invalid(`stop signal ${sig} cannot be delivered to a unikernel guest: use SIGTERM, SIGINT or SIGPWR (the guest's power button, then the VM is ended after the stop timeout) or SIGKILL (the VM is ended at once)`, field);
  }
  return sig;
}
