// runc's log contract: with --log FILE --log-format json, one JSON object a line ({"level",
// "msg", "time"}); containerd's shim reads the last error line of the file when a command fails
// and reports its msg. Without --log, lines go to stderr as text. CUNIK_RUNC_LOG (in containerd's
// environment) names a file that gets a copy of every line with the container's command: the
// shim's log.json is removed with the bundle, so this is where an operator sees the hand-offs.
import { appendFileSync } from 'node:fs';

export type Level = 'debug' | 'info' | 'warning' | 'error';

export interface RuntimeLog {
  (level: Level, msg: string): void;
}

export function runtimeLog(file: string | undefined, format: string): RuntimeLog {
  return (level, msg) => {
    const time = new Date().toISOString();
    const line = format === 'json' ? JSON.stringify({ level, msg, time }) : `time="${time}" level=${level} msg=${JSON.stringify(msg)}`;
    const copy = process.env['CUNIK_RUNC_LOG'];
    if (copy !== undefined && copy !== '') {
      try {
        appendFileSync(copy, JSON.stringify({ level, msg, time, pid: process.pid }) + '\n');
      } catch {
        /* the copy is best effort */
      }
    }
    if (file === undefined || file === '') {
      if (level === 'error' || level === 'warning') process.stderr.write(`cunik-runc: ${msg}\n`);
      return;
    }
    try {
      appendFileSync(file, line + '\n');
    } catch {
      process.stderr.write(`cunik-runc: ${msg}\n`);
    }
  };
}
