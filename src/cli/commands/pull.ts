// cunik pull: have the daemon fetch an image from a registry (credentials from cunik login,
// or Docker's config), showing its progress.
import type { Command } from 'commander';
import { pullImage } from '../../client/distribution.js';
import { credentialsFor } from '../../config/credentials.js';
import { parseReference, type Reference } from '../../images/reference.js';
import { progressPrinter } from '../progress.js';
import { action, clientFor } from '../util.js';
import { ApiError, type CunikClient } from '../../client/index.js';

interface PullFlags {
  quiet?: boolean;
  insecure?: boolean;
}

/** The daemon's default registry (cunikd --default-registry), if it has one. */
export async function defaultRegistry(client: CunikClient): Promise<string | undefined> {
  return (await client.info()).registry.default;
}

/** The registry a reference names, or the daemon's default one for a name without (undefined: none). */
export async function registryOf(client: CunikClient, r: Reference): Promise<string | undefined> {
  return r.domain ?? defaultRegistry(client);
}

/** Pull through the daemon; also used by run/create for a missing image. */
export async function pullWith(client: CunikClient, reference: string, flags: PullFlags, out: NodeJS.WriteStream): Promise<{ ref: string; digest: string }> {
  const r = parseReference(reference, 'reference');
  const registry = await registryOf(client, r);
  const auth = registry !== undefined ? credentialsFor(registry) : undefined;
  return pullImage(client, { reference, ...(flags.insecure && { insecure: true }), ...(auth && { auth }) }, progressPrinter(out, flags.quiet));
}

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(v: string): PullPolicy {
  if (v === 'missing' || v === 'always' || v === 'never') return v;
  throw new Error(`--pull must be missing, always or never, got ${JSON.stringify(v)}`);
}

/**
 * Before run/create: pull the image when it is missing (or always), as Docker does. Only
 * references naming a registry are pulled, or any when the daemon has a default registry (a
 * local image is found first all the same); progress goes to stderr, the console owns stdout.
 */
export async function ensureImage(client: CunikClient, image: string, policy: PullPolicy): Promise<void> {
  if (policy === 'never') return;

  if (policy === 'missing') {
    try {
      await client.inspectImage(image);
      return;
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
    }
    let r: Reference;
    try {
      r = parseReference(image);
    } catch {
      return; // the create then says why the name is not valid
    }
    if ((await registryOf(client, r)) === undefined) return; // the create then says the image is not found
    process.stderr.write(`Unable to find image '${image}' locally\n`);
  }
  await pullWith(client, image, {}, process.stderr);
}

export const pullAction = action(async (reference: string, flags: PullFlags, cmd: Command) => {
  const client = await clientFor(cmd);
  const res = await pullWith(client, reference, flags, process.stdout);
  client.close();
  process.stdout.write(flags.quiet ? `${res.ref}\n` : `Digest: ${res.digest}\n${res.ref}\n`);
});

export function register(program: Command): void {
  program.command('pull').description('Download an image from a registry')
    .argument('<image>', 'HOST[:PORT]/NAME[:TAG|@DIGEST], or NAME of the default registry (cunikd --default-registry)')
    .option('-q, --quiet', 'print only the image reference')
    .option('--insecure', 'allow plain HTTP to this registry (loopback registries always may)')
    .action(pullAction);
}
