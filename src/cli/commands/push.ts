// cunik push: have the daemon upload an image to the registry its name holds.
import type { Command } from 'commander';
import { pushImage } from '../../client/distribution.js';
import { credentialsFor } from '../../config/credentials.js';
import { parseReference } from '../../images/reference.js';
import { progressPrinter } from '../progress.js';
import { registryOf } from './pull.js';
import { action, clientFor } from '../util.js';

interface PushFlags {
  quiet?: boolean;
  insecure?: boolean;
}

export const pushAction = action(async (reference: string, flags: PushFlags, cmd: Command) => {
  const r = parseReference(reference, 'reference');
  const client = await clientFor(cmd);
  const registry = await registryOf(client, r);
  if (registry === undefined) throw new Error(`${reference} names no registry: tag it HOST[:PORT]/${r.name}${r.tag ? `:${r.tag}` : ''} first (cunik tag), or start cunikd with --default-registry HOST[:PORT]`);
  const auth = credentialsFor(registry);
  const res = await pushImage(client, reference, { ...(flags.insecure && { insecure: true }), ...(auth && { auth }) }, progressPrinter(process.stdout, flags.quiet));
  client.close();
  if (flags.quiet) process.stdout.write(`${res.ref}@${res.digest}\n`);
});

export function register(program: Command): void {
  program.command('push').description('Upload an image to a registry')
    .argument('<image>', 'HOST[:PORT]/NAME[:TAG], or NAME[:TAG] for the default registry (cunikd --default-registry)')
    .option('-q, --quiet', 'print only the pushed reference and digest')
    .option('--insecure', 'allow plain HTTP to this registry (loopback registries always may)')
    .action(pushAction);
}
