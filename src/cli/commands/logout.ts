// cunik logout: forget a registry's credentials in Cunik's config (Docker's own file is left alone).
import type { Command } from 'commander';
import { removeCredentials } from '../../config/credentials.js';
import { action } from '../util.js';
import { daemonDefault } from './login.js';

export const logoutAction = action(async (given: string | undefined, _flags: unknown, cmd: Command) => {
  const registry = given ?? (await daemonDefault(cmd, 'logout'));
  const removed = removeCredentials(registry);
  process.stdout.write(removed ? `Removing login credentials for ${registry}\n` : `Not logged in to ${registry}\n`);
});

export function register(program: Command): void {
  program.command('logout').description('Log out from a registry').argument('[registry]', 'HOST[:PORT] (default: the daemon\'s default registry)').action(logoutAction);
}
