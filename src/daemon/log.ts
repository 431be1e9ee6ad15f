// The daemon's log: pino, one JSON object a line, to stderr or --log-file, at --log-level.
// The one-line messages cunikd always printed are each entry's `msg` ("listening on ...",
// "warning: using TCG ..."); requests, instance state changes and records set aside get fields of
// their own so that a log collector can filter on them (docs/daemon-log.md).
import { pino, type Logger } from 'pino';

export type DaemonLogger = Logger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function makeLogger(opts: { level: LogLevel; file?: string | undefined }): DaemonLogger {
  // Synchronous writes: a line is on disk before the daemon goes on (and before a crash).
  const dest = pino.destination(opts.file !== undefined ? { dest: opts.file, append: true, mkdir: true, sync: true } : { dest: 2, sync: true });
  return pino(
    {
      level: opts.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    dest,
  );
}

/**
 * The `log(line)` the domain is given (it never imports the logger): a line that starts with
 * "warning: " is logged as a warning, any other at info.
 */
export function lineLogger(logger: DaemonLogger, fields: Record<string, unknown> = {}): (line: string) => void {
  return (line) => (line.startsWith('warning: ') ? logger.warn(fields, line) : logger.info(fields, line));
}
