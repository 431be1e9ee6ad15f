// cunik search: repositories of a registry whose name holds TERM, from its catalog
// (CunikHub serves it; other registries where they allow it). --filter family=/label= asks
// CunikHub's own search (GET /v2/_cunik/search), which other registries do not serve.
import type { Command } from 'commander';
import { credentialsFor } from '../../config/credentials.js';
import { RegistryClient } from '../../images/registry.js';
import { registryCertsDir } from '../../config/defaults.js';
import { parseSearchFilters } from '../search-filters.js';
import { action } from '../util.js';

interface SearchFlags {
  limit: string;
  insecure?: boolean;
  format?: string;
  filter: string[];
}

/** One result, with Docker's search fields (a registry has no stars or official images: 0 and false). */
interface Row {
  Name: string;
  Description: string;
  StarCount: number;
  IsOfficial: boolean;
  IsAutomated: boolean;
  /** CunikHub's: the families of the repository's tags and how many tags it has (empty and 0 from a plain catalog). */
  Families: string;
  Tags: number;
}
const HEADERS = { Name: 'NAME', Description: 'DESCRIPTION', StarCount: 'STARS', IsOfficial: 'OFFICIAL', IsAutomated: 'AUTOMATED', Families: 'FAMILY', Tags: 'TAGS' };

export const searchAction = action(async (registry: string, term: string | undefined, flags: SearchFlags) => {
  const limit = Number(flags.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 10000) throw new Error(`--limit must be an integer from 1 to 10000, got ${flags.limit}`);
  if (!/^[A-Za-z0-9.-]+(:\d+)?$|^\[[0-9A-Fa-f:.]+\](:\d+)?$/.test(registry)) throw new Error(`invalid registry ${JSON.stringify(registry)}: give HOST[:PORT]`);
  const filters = parseSearchFilters(flags.filter);
  const creds = credentialsFor(registry);
  const client = new RegistryClient(registry, '', { certsDir: registryCertsDir(), ...(creds && { credentials: creds }), ...(flags.insecure && { insecure: true }) });
  let rows: Row[];
  const row = (name: string, families: string[] = [], tags = 0): Row => ({ Name: `${registry}/${name}`, Description: '', StarCount: 0, IsOfficial: false, IsAutomated: false, Families: families.join(','), Tags: tags });
  if (filters.family.length > 0 || filters.label.length > 0) {
    const hits = await client.hubSearch({ q: term !== undefined ? [term] : [], ...filters }, limit);
    if (hits === undefined) throw new Error(`--filter family= and label= need a CunikHub: ${registry} does not serve its search (GET /v2/_cunik/search)`);
    rows = hits.slice(0, limit).map((h) => row(h.name, h.families, h.tags));
  } else {
    rows = (await client.catalog(10000)).filter((n) => term === undefined || n.includes(term)).slice(0, limit).map((n) => row(n));
  }
  if (flags.format === 'json') {
    process.stdout.write(`${JSON.stringify(rows.map((r) => ({ name: r.Name, ...(r.Families !== '' && { families: r.Families.split(',') }) })))}\n`);
    return;
  }
  if (flags.format !== undefined && flags.format !== '') {
    const { renderList } = await import('../format/output.js');
    process.stdout.write(renderList(flags.format, rows, HEADERS));
    return;
  }
  process.stdout.write('NAME\n');
  for (const r of rows) process.stdout.write(`${r.Name}\n`);
});

const collect = (v: string, prev: string[]): string[] => [...prev, v];

export function register(program: Command): void {
  program.command('search').description("Search a registry's repositories by name")
    .argument('<registry>', 'HOST[:PORT]')
    .argument('[term]', 'part of the repository name')
    .option('--limit <n>', 'at most this many results', '25')
    .option('-f, --filter <KEY=VALUE>', 'family=NAME, label=KEY[=VALUE] (CunikHub; repeatable, all must hold)', collect, [] as string[])
    .option('--format <format>', 'json for a JSON array, or a Go template (table ...; .Name .Families .Tags .Description .StarCount .IsOfficial .IsAutomated)')
    .option('--insecure', 'allow plain HTTP to this registry (loopback registries always may)')
    .action(searchAction);
}
