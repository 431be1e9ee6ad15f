// cunik search: repositories of a registry whose name holds TERM, from its catalog
// (CunikHub serves it; other registries where they allow it).
import type { Command } from 'commander';
import { credentialsFor } from '../../config/credentials.js';
import { RegistryClient } from '../../images/registry.js';
import { registryCertsDir } from '../../config/defaults.js';
import { action } from '../util.js';

interface SearchFlags {
  limit: string;
  insecure?: boolean;
  format?: string;
}

export const searchAction = action(async (registry: string, term: string | undefined, flags: SearchFlags) => {
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new Error(`--limit must be an integer from 1 to 10000, got ${flags.limit}`);
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(registry)) throw new Error(`invalid registry ${JSON.stringify(registry)}: give HOST[:PORT]`);
  const creds = credentialsFor(registry);
  const client = new RegistryClient(registry, '', { certsDir: registryCertsDir(), ...(creds && { credentials: creds }), ...(flags.insecure && { insecure: true }) });
  const names = (await client.catalog(10000)).filter((n) => term === undefined || n.includes(term)).slice(0, limit);
  if (flags.format === 'json') {
    process.stdout.write(`${JSON.stringify(names.map((n) => ({ name: `${registry}/${n}` })))}\n`);
    return;
  }
  process.stdout.write('NAME\n');
  for (const n of names) process.stdout.write(`${registry}/${n}\n`);
});

export function register(program: Command): void {
  program.command('search').description("Search a registry's repositories by name")
    .argument('<registry>', 'HOST[:PORT]')
    .argument('[term]', 'part of the repository name')
    .option('--limit <n>', 'at most this many results', '25')
    .option('--format <format>', 'json for a JSON array')
    .option('--insecure', 'allow plain HTTP to this registry (loopback registries always may)')
    .action(searchAction);
}
