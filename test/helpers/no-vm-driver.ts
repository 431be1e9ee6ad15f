// A VMM driver for unit tests of what happens before any VM: create-time checks and records. It
// starts nothing (a start is refused), so a test that reaches a VM fails instead of booting one.
import type { InstanceServiceDeps } from '../../src/instances/service.js';

export const noVmDriver: InstanceServiceDeps['driver'] = {
  name: 'fake',
  argv: () => [],
  start: () => Promise.reject(new Error('no VMs here')),
  prepareDisks: async () => [],
  removeDisks: async () => undefined,
  adopt: () => undefined,
  recordedExit: () => undefined,
  killStrays: () => 0,
  stop: async () => ({ status: 0, signal: null }),
};
