// The Engine API contract for pruning and disk usage (POST /v1/instances/prune,
// POST /v1/images/prune, GET /v1/system/df); Docker's reports, camelCase.
import { Type, type Static } from 'typebox';

export const PruneInstancesResponse = Type.Object(
  {
    deleted: Type.Array(Type.String(), { description: 'Ids of the removed instances' }),
    spaceReclaimed: Type.Integer({ description: 'Bytes freed' }),
  },
);
export type PruneInstancesResponse = Static<typeof PruneInstancesResponse>;

export const PruneImagesResponse = Type.Object(
  {
    untagged: Type.Array(Type.String()),
    deleted: Type.Array(Type.String(), { description: 'Ids of the deleted images' }),
    spaceReclaimed: Type.Integer({ description: 'Bytes freed' }),
  },
);
export type PruneImagesResponse = Static<typeof PruneImagesResponse>;

const UsageGroup = (what: string) =>
  Type.Object({
    total: Type.Integer({ description: `Number of ${what}` }),
    active: Type.Integer({ description: what === 'instances' ? 'Running or paused instances' : `${what === 'images' ? 'Images' : 'Volumes'} used by at least one instance` }),
    size: Type.Integer({ description: 'Bytes' }),
    reclaimable: Type.Integer({ description: what === 'instances' ? 'Bytes of the stopped instances' : `Bytes of the ${what} no instance uses` }),
  });

export const BuildCacheRecord = Type.Object({
  id: Type.String({ description: "The entry's key: the digest of the step's inputs, or of the context file's content" }),
  type: Type.Union([Type.Literal('step'), Type.Literal('context')], { description: "step: a build step's outputs; context: a big build context file kept by its content, so the next build of it sends only a reference" }),
  size: Type.Integer({ description: 'Bytes of its files' }),
  reclaimable: Type.Integer({ description: 'Bytes only the cache holds (its files no image links): what removing it frees' }),
  inUse: Type.Boolean({ description: 'An image links some of its files' }),
  createdAt: Type.String({ format: 'date-time' }),
  lastUsedAt: Type.String({ format: 'date-time', description: 'The last build that made or reused it' }),
});
export type BuildCacheRecord = Static<typeof BuildCacheRecord>;

export const DiskUsageQuery = Type.Object({ verbose: Type.Optional(Type.Boolean({ description: "Also list the build cache's entries (system df -v)" })) }, { additionalProperties: false });

export const PruneInstancesQuery = Type.Object(
  { filters: Type.Optional(Type.String({ maxLength: 4096, description: "Docker's filters: a JSON object of KEY: [VALUES]; keys until (created before: a timestamp, a date or a duration such as 24h), label and label! (KEY or KEY=VALUE)" })) },
  { additionalProperties: false },
);
export type PruneInstancesQuery = Static<typeof PruneInstancesQuery>;

export const PruneImagesQuery = Type.Object(
  { all: Type.Optional(Type.Boolean({ description: 'Every image no instance uses, tagged or not (image prune -a); default: only dangling ones (no tag)' })) },
  { additionalProperties: false },
);
export type PruneImagesQuery = Static<typeof PruneImagesQuery>;

export const PruneBuildCacheQuery = Type.Object(
  {
    all: Type.Optional(Type.Boolean({ description: 'Every entry, also those images still link (builder prune -a); default: only those no image links' })),
    filters: Type.Optional(Type.String({ maxLength: 4096, description: "Docker's filters: a JSON object of KEY: [VALUES]; key until (a timestamp, a date or a duration such as 24h: entries last used before it)" })),
  },
  { additionalProperties: false },
);
export const PruneBuildCacheResponse = Type.Object({
  deleted: Type.Array(Type.String(), { description: 'Ids of the removed entries' }),
  spaceReclaimed: Type.Integer({ description: 'Bytes freed' }),
});
export type PruneBuildCacheResponse = Static<typeof PruneBuildCacheResponse>;

export const DiskUsageResponse = Type.Object(
  {
    images: UsageGroup('images'),
    instances: UsageGroup('instances'),
    volumes: UsageGroup('volumes'),
    buildCache: Type.Optional(
      Type.Object(
        {
          total: Type.Integer({ description: 'Number of entries' }),
          active: Type.Integer({ description: 'Entries an image links files of' }),
          size: Type.Integer({ description: 'Bytes' }),
          reclaimable: Type.Integer({ description: 'Bytes only the cache holds (what builder prune -a frees)' }),
          entries: Type.Optional(Type.Array(BuildCacheRecord, { description: 'With verbose=true' })),
        },
        { description: "The build cache (cunik build's steps); absent when the daemon cannot build" },
      ),
    ),
    temporary: Type.Object({ size: Type.Integer({ description: 'Bytes of uploads and image staging in progress (what a killed daemon left is swept at its next start)' }) }),
  },
);
export type DiskUsageResponse = Static<typeof DiskUsageResponse>;
