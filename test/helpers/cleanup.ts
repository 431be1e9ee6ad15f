// A test or bench process that gets SIGTERM or SIGINT (a CI timeout, Ctrl-C) must not leave its
// daemons and VMs behind: each harness that starts something registers how to end it here, and
// the first such signal runs every registered cleanup (synchronously: SIGKILLs), then exits as the
// signal would have (128 + its number).
import { constants } from 'node:os';

const cleanups = new Set<() => void>();
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  for (const cleanup of [...cleanups]) {
    try {
      cleanup();
    } catch {
      // the next one still runs
    }
  }
  process.exit(128 + (constants.signals[signal] ?? 15));
}

/** Run `cleanup` if this process gets SIGTERM or SIGINT; the returned function unregisters it. */
export function onExitSignal(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }
  cleanups.add(cleanup);
  return () => void cleanups.delete(cleanup);
}

/** SIGKILL `child` (its process group when it was spawned detached) on SIGTERM/SIGINT, until it exits. */
export function killOnExitSignal(child: { pid?: number | undefined; once(event: 'exit', l: () => void): unknown }, group = false): void {
  const pid = child.pid;
  if (pid === undefined) return;
  const off = onExitSignal(() => {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
    } catch {
      // gone already
    }
  });
  child.once('exit', off);
}
