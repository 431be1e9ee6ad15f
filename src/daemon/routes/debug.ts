// GET /_debug/resources: what the daemon holds (pending waits, listeners, connections, heap after a
// full GC), for the leak tests. Served only when cunikd runs with CUNIK_DEBUG_RESOURCES=1; never
// part of the API (not under /v1, not in the OpenAPI document).
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { FastifyInstance } from 'fastify';

export const DEBUG_RESOURCES_ENV = 'CUNIK_DEBUG_RESOURCES';

export interface DebugResources {
  pendingWaits: number;
  /** Listeners on the instance service's events (all event names). */
  instanceListeners: number;
  /** Running instances whose health is being probed (a timer each). */
  healthProbes: number;
  connections: number;
  /** process.memoryUsage().heapUsed right after a full garbage collection. */
  heapUsedBytes: number;
}

export interface DebugBackend {
  resources(): Omit<DebugResources, 'connections' | 'heapUsedBytes'>;
}

export function debugRoutes(app: FastifyInstance, backend: DebugBackend): void {
  // The daemon does not run with --expose-gc; a gc() obtained this way is the same collector.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  app.get('/_debug/resources', { schema: { hide: true } }, async (): Promise<DebugResources> => {
    const connections = await new Promise<number>((resolve) => app.server.getConnections((_err, n) => resolve(n)));
    gc();
    gc(); // the second pass collects what the first one's finalizers released
    return { ...backend.resources(), connections, heapUsedBytes: process.memoryUsage().heapUsed };
  });
}
