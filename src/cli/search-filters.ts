// cunik search --filter terms, checked before anything is asked of the registry. Pure.
// family=NAME and label=KEY[=VALUE] are answered by CunikHub's search (GET /v2/_cunik/search);
// Docker Hub's own filters (stars, is-official, is-automated) have no counterpart in a registry's
// catalog and are refused by name.
export interface SearchFilters {
  family: string[];
  label: string[];
}

const DOCKER_HUB_ONLY = new Set(['stars', 'is-official', 'is-automated']);

/** The --filter terms (KEY=VALUE each) as hub search parameters; one clear line for anything else. */
export function parseSearchFilters(terms: readonly string[]): SearchFilters {
  const out: SearchFilters = { family: [], label: [] };
  for (const term of terms) {
    const eq = term.indexOf('=');
    const key = eq < 0 ? term : term.slice(0, eq);
    const value = eq < 0 ? '' : term.slice(eq + 1);
    if (DOCKER_HUB_ONLY.has(key)) {
      throw new Error(`--filter ${key} is not supported: stars and official or automated images are Docker Hub's, registries do not record them (use family= or label=)`);
    }
    if (key !== 'family' && key !== 'label') throw new Error(`invalid --filter ${JSON.stringify(term)}: use family=NAME or label=KEY[=VALUE]`);
    if (value === '' || value.startsWith('=')) throw new Error(`invalid --filter ${JSON.stringify(term)}: ${key === 'family' ? 'family=NAME' : 'label=KEY[=VALUE]'}`);
    out[key].push(value);
  }
  return out;
}
