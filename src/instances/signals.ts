// Signal names as kill takes them.
import { constants } from 'node:os';
import { invalid } from '../errors.js';

/** Accept "KILL", "SIGKILL" or "9"; refuse anything else with a clear message. */
export function normalizeSignal(signal: string): NodeJS.Signals {
  const upper = signal.toUpperCase();
  const named = (upper.startsWith('SIG') ? upper : `SIG${upper}`) as NodeJS.Signals;
  if (named in constants.signals) return named;
  if (/^\d+$/.test(signal)) {
    const found = Object.entries(constants.signals).find(([, n]) => n === Number(signal));
    if (found) return found[0] as NodeJS.Signals;
  }
  throw invalid(`invalid signal: ${signal}`, 'signal');
}
