// CunikHub's web UI, served by the hub at / (docs/hub.md, "Web UI"): what the hub's main wires in.
import type { FastifyInstance } from 'fastify';
import type { LoginLimiter } from '../auth/limiter.js';
import { tokenKey } from '../auth/token-key.js';
import type { HubConfig } from '../config.js';
import type { Registry } from '../registry.js';
import type { StorageDriver } from '../storage/driver.js';
import { HubCatalog } from './catalog.js';
import { uiRoutes } from './routes.js';
import { createUiAccess } from './session.js';

export async function createUi(hub: { registry: Registry; store: StorageDriver }, config: HubConfig, limiter?: LoginLimiter): Promise<(app: FastifyInstance) => Promise<void>> {
  const key = await tokenKey(config.root);
  return uiRoutes({ catalog: new HubCatalog(hub.registry, hub.store), registry: hub.registry, access: await createUiAccess(config, key, limiter), secure: config.tls !== undefined });
}
