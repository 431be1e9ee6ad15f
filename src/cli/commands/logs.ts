// cunik logs: the instance's console output (the rotated backup, then the current log);
// -f follows it until the instance exits. Times are those the daemon saw the lines at.
import type { Command } from 'commander';
import { parseTail } from '../parse.js';
import { TruncatedResponse } from '../../client/wire.js';
import { action, clientFor, fail } from '../util.js';

interface LogsFlags {
  follow?: boolean;
  tail: number | 'all';
  since?: string;
  until?: string;
  timestamps?: boolean;
}

export function register(program: Command): void {
  program
    .command('logs')
    .description("Show an instance's console output")
    .option('-f, --follow', 'follow the output until the instance exits')
    .option('-n, --tail <lines>', 'number of lines to show from the end ("all")', parseTail, 'all' as const)
    .option('--since <time>', 'show lines since a time: RFC 3339 (2026-11-22T10:00:00Z), Unix seconds, or relative (10s, 5m, 1h)')
    .option('--until <time>', 'show lines before a time (same forms as --since)')
    .option('-t, --timestamps', 'show the time of each line')
    .argument('<instance>', 'name or id')
    .action(
      action(async (target: string, flags: LogsFlags, cmd: Command) => {
        const client = await clientFor(cmd);
        const res = await client.logs(target, {
          follow: flags.follow,
          tail: flags.tail === 'all' ? undefined : flags.tail,
          since: flags.since,
          until: flags.until,
          timestamps: flags.timestamps,
        });
        try {
          for await (const chunk of res) process.stdout.write(chunk as Buffer);
        } catch (err) {
          // The daemon went away mid-answer: say so and fail, as attach does (never a silent 0).
          if (flags.follow && err instanceof TruncatedResponse) fail('the daemon closed the connection before the instance exited');
          throw err;
        }
        client.close();
      }),
    );
}
