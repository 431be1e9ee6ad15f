// Exactly one daemon per root: an exclusive flock(2) on <root>/cunikd.pid, which the kernel drops
// when the daemon's descriptor closes, however the daemon ends (SIGKILL included). Nothing is
// guessed from pids or command lines: a file that is not locked belongs to no daemon, whatever
// pid it holds, and a locked one belongs to a daemon even before it has written its pid.
//
// Node has no flock(), so util-linux's flock(1) (Essential on Debian, like the shell) takes it on
// our behalf: the daemon opens the file and hands that descriptor to `flock --nonblock 3` as its
// fd 3. A flock lock belongs to the open file description, which the daemon still holds after
// flock(1) has exited, so the lock is the daemon's own and lives exactly as long as it does. (A
// native addon would need node-gyp and Node's headers at build time; a child holding the lock for
// us would outlive a SIGKILLed daemon until it noticed; lock packages on npm lock with mkdir and
// stale timers, which the kernel does not release.) The descriptor is close-on-exec, so no VM,
// shim or helper the daemon starts keeps the lock.
//
// The file is never removed (a removed lock file lets a third daemon lock a new file while a
// second still holds the old one): a daemon that stops empties it. setup.sh reads the pid from it.
import { spawnSync } from 'node:child_process';
import { closeSync, constants as fs, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { conflict, CunikError } from '../errors.js';

const CONFLICT_EXIT = 75;
export const LOCK_FILE = 'cunikd.pid';

/** The pid the lock's holder wrote: it writes it right after locking, so wait a moment for it. */
async function holderPid(path: string): Promise<number | undefined> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const pid = Number(readFileSync(path, 'utf8').trim());
    if (Number.isInteger(pid) && pid > 0) return pid;
    if (Date.now() > deadline) return undefined;
    await sleep(5);
  }
}

/** Lock `root` for this process; resolves to the release function, or throws CONFLICT naming the holder. */
export async function acquireRootLock(root: string): Promise<() => Promise<void>> {
  const path = join(root, LOCK_FILE);
  const fd = openSync(path, fs.O_RDWR | fs.O_CREAT | fs.O_NOFOLLOW, 0o644);
  let locked = false;
  try {
    const r = spawnSync('flock', ['--nonblock', '--exclusive', '--conflict-exit-code', String(CONFLICT_EXIT), '3'], {
      stdio: ['ignore', 'ignore', 'pipe', fd],
      encoding: 'utf8',
    });
    if (r.error !== undefined) throw new CunikError('INTERNAL', `cannot lock root ${root}: flock (util-linux) did not run: ${r.error.message}`);
    if (r.status === CONFLICT_EXIT) {
      const pid = await holderPid(path);
      throw conflict(`another cunikd is using root ${root}${pid !== undefined ? ` (pid ${pid})` : ''}`);
    }
    if (r.status !== 0) throw new CunikError('INTERNAL', `cannot lock root ${root}: ${r.stderr.trim() || `flock exited with ${r.status}`}`);
    locked = true;
    ftruncateSync(fd, 0);
    writeSync(fd, `${process.pid}\n`, 0);
  } finally {
    if (!locked) closeSync(fd);
  }
  let released = false;
  return async () => {
    if (released) return;
    released = true;
    ftruncateSync(fd, 0);
    closeSync(fd);
  };
}
