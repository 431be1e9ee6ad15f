// Signal names as kill takes them.
import { isSignal, signalName } from '../util/signals.js';
import { invalid } from '../errors.js';

/** Accept "KILL", "SIGKILL" or "9"; refuse anything else with a clear message. */
export function normalizeSignal(signal: string): NodeJS.Signals {
  const upper = signal.toUpperCase();
  const named = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (isSignal(named)) return named;
  if (/^\d+$/.test(signal)) {
    const found = signalName(Number(signal));
    if (found) return found;
  }
  throw invalid(`invalid signal: ${signal}`, 'signal');
}
