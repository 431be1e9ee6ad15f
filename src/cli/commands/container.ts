// cunik container <verb>: the instance management group (docker container ...): every instance
// verb under its Docker name, registered by the verb's own module (one implementation of each).
import type { Command } from 'commander';
import { addFilterTerm, type Filters } from '../../util/filters.js';
import { instancesReport, pruneCommand, reclaimed, WARN_INSTANCES } from '../prune.js';
import * as attach from './attach.js';
import * as create from './create.js';
import * as inspect from './inspect.js';
import * as kill from './kill.js';
import * as logs from './logs.js';
import * as pause from './pause.js';
import * as port from './port.js';
import * as ps from './ps.js';
import * as rename from './rename.js';
import * as restart from './restart.js';
import * as rm from './rm.js';
import * as run from './run.js';
import * as start from './start.js';
import * as stats from './stats.js';
import * as stop from './stop.js';
import * as top from './top.js';
import * as unpause from './unpause.js';
import * as update from './update.js';
import * as wait from './wait.js';

const VERBS = [attach, create, inspect, kill, logs, pause, port, ps, rename, restart, rm, run, start, stats, stop, top, unpause, update, wait];

export function register(program: Command): void {
  const container = program.command('container').description('Manage instances');
  for (const verb of VERBS) verb.register(container);
  // Docker's names: `container ls` (aliases list, ps); `container rm` also answers to remove.
  container.commands.find((c) => c.name() === 'ps')!.name('ls').aliases(['list', 'ps']);
  container.commands.find((c) => c.name() === 'rm')!.alias('remove');
  pruneCommand(container, 'Remove all stopped instances', WARN_INSTANCES, async (client, flags) => {
    const r = await client.pruneInstances(flags.filter);
    return instancesReport(r) + reclaimed(r.spaceReclaimed);
  }).option('--filter <KEY=VALUE>', 'until=TIME|DURATION (created before), label=KEY[=VALUE], label!=KEY[=VALUE] (repeatable)', addFilterTerm, {} as Filters);
}
