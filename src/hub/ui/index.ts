// CunikHub's web UI, served by the hub at / (docs/hub.md, "Web UI"): what the hub's main wires in.
import type { FastifyInstance } from 'fastify';
import type { LoginLimiter } from '../auth/limiter.js';
import { tokenKey } from '../auth/token-key.js';
import type { HubConfig } from '../config.js';
import type { Registry } from '../registry.js';
import type { StorageDriver } from '../storage/driver.js';
import type { HubSearch } from '../server.js';
import { HubCatalog } from './catalog.js';
import { families, isEmptySearch, matchesSearch, parseSearch } from './model.js';
import { uiRoutes } from './routes.js';
import { createUiAccess } from './session.js';

export interface Ui {
  routes: (app: FastifyInstance) => Promise<void>;
  /** The UI's search (name words, families, labels) over the same catalog, for the API's /v2/_cunik/search. */
  search: HubSearch;
}

export async function createUi(hub: { registry: Registry; store: StorageDriver }, config: HubConfig, limiter?: LoginLimiter): Promise<Ui> {
  const key = await tokenKey(config.root);
  const catalog = new HubCatalog(hub.registry, hub.store);
  const routes = uiRoutes({ catalog, registry: hub.registry, access: await createUiAccess(config, key, limiter), secure: config.tls !== undefined });
  const search: HubSearch = async (q) => {
    const terms = parseSearch(q.q, q.family, q.label);
    const all = await catalog.summaries();
    return (isEmptySearch(terms) ? all : all.filter((r) => matchesSearch(r, terms))).map((r) => ({
      name: r.name, tags: r.tags.length, families: families(r), updated: r.updatedMs > 0 ? new Date(r.updatedMs).toISOString() : undefined,
    }));
  };
  return { routes, search };
}
