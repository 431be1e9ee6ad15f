import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseSearchFilters } from '../../src/cli/search-filters.js';

test('search --filter terms: family= and label= kept in order; Docker Hub\'s and malformed ones refused in one line', () => {
  assert.deepEqual(parseSearchFilters([]), { family: [], label: [] });
  assert.deepEqual(parseSearchFilters(['family=unikraft', 'label=a=b', 'label=k', 'family=linux']), { family: ['unikraft', 'linux'], label: ['a=b', 'k'] });
  for (const [term, re] of [
    ['stars=3', /^--filter stars is not supported/],
    ['is-official=true', /^--filter is-official is not supported/],
    ['is-automated', /^--filter is-automated is not supported/],
    ['name=x', /^invalid --filter "name=x": use family=NAME or label=KEY\[=VALUE\]$/],
    ['family', /^invalid --filter "family": family=NAME$/],
    ['label==v', /^invalid --filter "label==v": label=KEY\[=VALUE\]$/],
  ] as const) assert.throws(() => parseSearchFilters([term]), { message: re }, term);
});
