// Signal names and numbers: the one place that maps between them (os.constants.signals).
import { constants } from 'node:os';

/** The name of signal number `n` (15 → SIGTERM), undefined for a number that is none. */
export function signalName(n: number): NodeJS.Signals | undefined {
  return Object.entries(constants.signals).find(([, v]) => v === n)?.[0] as NodeJS.Signals | undefined;
}

/** The number of a signal (SIGTERM → 15); 0 for a name this platform lacks. */
export function signalNumber(signal: NodeJS.Signals): number {
  return constants.signals[signal] ?? 0;
}

/** Whether `name` is a signal of this platform ("SIGTERM"). */
export function isSignal(name: string): name is NodeJS.Signals {
  return name in constants.signals;
}
