// The distribution API (POST /v1/images/pull, POST /v1/images/{ref}/push), shaped like Docker's:
// a JSON request, and an answer streamed as JSON lines (DistributionMessage).
import { Type, type Static } from 'typebox';

export const RegistryAuth = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 1024 }),
    password: Type.String({ maxLength: 65536 }),
  },
  { additionalProperties: false, description: 'Credentials for the registry (the CLI sends those of cunik login)' },
);
export type RegistryAuth = Static<typeof RegistryAuth>;

export const PullRequest = Type.Object(
  {
    reference: Type.String({ minLength: 1, maxLength: 1024, description: 'HOST[:PORT]/NAME[:TAG][@DIGEST]' }),
    insecure: Type.Optional(Type.Boolean({ description: 'Allow plain HTTP to this registry (loopback registries always may)' })),
    auth: Type.Optional(RegistryAuth),
  },
  { additionalProperties: false },
);
export type PullRequest = Static<typeof PullRequest>;

export const PushRequest = Type.Object(
  {
    insecure: Type.Optional(Type.Boolean({ description: 'Allow plain HTTP to this registry (loopback registries always may)' })),
    auth: Type.Optional(RegistryAuth),
  },
  { additionalProperties: false },
);
export type PushRequest = Static<typeof PushRequest>;

/**
 * One line of a pull's or push's stream (application/x-ndjson), one of:
 * {"status", "id"?, "progressDetail"?: {"current", "total"}} progress; {"aux": {...}} the result
 * (last line on success); {"error", "errorDetail": {"message", "code"}} the failure (last line).
 */
export const DistributionMessage = Type.Object({
  status: Type.Optional(Type.String()),
  id: Type.Optional(Type.String()),
  progressDetail: Type.Optional(Type.Object({ current: Type.Optional(Type.Integer()), total: Type.Optional(Type.Integer()) })),
  aux: Type.Optional(Type.Object({ ref: Type.String(), digest: Type.String(), id: Type.Optional(Type.String()), size: Type.Optional(Type.Integer()) })),
  error: Type.Optional(Type.String()),
  errorDetail: Type.Optional(Type.Object({ message: Type.String(), code: Type.String(), field: Type.Optional(Type.String()) })),
});
export type DistributionMessage = Static<typeof DistributionMessage>;
