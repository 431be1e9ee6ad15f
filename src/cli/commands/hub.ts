// cunik hub serve|gc: CunikHub, the registry server (src/hub/). It runs as its own program
// (bin/cunik-hub.js) so that none of it is loaded, or bundled, into the CLI: this verb only
// starts it with the same arguments and passes signals on.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
import { HUB_NODE_FLAGS, installRoot } from '../../config/defaults.js';

function runHub(args: string[]): Promise<never> {
  const child = spawn(process.execPath, [...HUB_NODE_FLAGS, join(installRoot(), 'bin', 'cunik-hub.js'), ...args], { stdio: 'inherit' });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  return new Promise((_resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => process.exit(code ?? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGINT' ? 2 : 15)));
  });
}

export function register(program: Command): void {
  const hub = program.command('hub').description('Run CunikHub, an OCI registry for unikernel images');
  // Everything after `hub` goes to cunik-hub as typed (its own parser checks and explains it).
  const pass = () => () => runHub(process.argv.slice(process.argv.indexOf('hub') + 1));
  hub.command('serve').description('Serve a registry (OCI Distribution Spec v1.1); see docs/hub.md')
    .allowUnknownOption().helpOption(false).argument('[args...]').action(pass());
  hub.command('gc').description("Collect a hub store's garbage (safe while it serves)")
    .allowUnknownOption().helpOption(false).argument('[args...]').action(pass());
}
