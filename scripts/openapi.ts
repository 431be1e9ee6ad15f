// Writes docs/openapi.json from the API schemas: `npm run openapi` after changing the API.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openApiDocument } from '../src/daemon/openapi.js';
import { installRoot } from '../src/config/defaults.js';

await writeFile(join(installRoot(), 'docs', 'openapi.json'), await openApiDocument());
console.log('wrote docs/openapi.json');
