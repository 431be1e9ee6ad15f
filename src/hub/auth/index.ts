// Placeholder replaced by the auth step.
import type { Authorizer } from '../server.js';
import type { HubConfig } from '../config.js';

export async function createAuth(_cfg: NonNullable<HubConfig['auth']>, _tls: boolean): Promise<Authorizer> {
  throw new Error('auth is not implemented yet');
}
