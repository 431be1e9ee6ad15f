// cunik volume <verb>: named volumes (docker volume ...); one file per verb (volume-*.ts).
import type { Command } from 'commander';
import { volumeCreateCommand } from './volume-create.js';
import { volumeInspectCommand } from './volume-inspect.js';
import { volumeLsCommand } from './volume-ls.js';
import { volumePruneCommand } from './volume-prune.js';
import { volumeRmCommand } from './volume-rm.js';

export function register(program: Command): void {
  const volume = program.command('volume').description('Manage volumes');
  volumeCreateCommand(volume);
  volumeLsCommand(volume);
  volumeInspectCommand(volume);
  volumeRmCommand(volume);
  volumePruneCommand(volume);
}
