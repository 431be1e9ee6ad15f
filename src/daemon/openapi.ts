// The OpenAPI document, generated from the routes' TypeBox schemas (no daemon state needed:
// generating the document never calls a handler).
// It lives beside the server it is generated from: api/ is the contract and imports nothing of the daemon.
import { buildServer, type Backends } from './server.js';

const unavailable = new Proxy({}, { get: () => () => { throw new Error('not available while generating the OpenAPI document'); } });

export async function openApiDocument(): Promise<string> {
  const app = await buildServer({ instances: unavailable, images: unavailable, system: unavailable, events: unavailable, stats: unavailable, prune: unavailable, volumes: unavailable, distribution: unavailable } as Backends);
  const doc = JSON.stringify(app.swagger(), null, 2) + '\n';
  await app.close();
  return doc;
}
