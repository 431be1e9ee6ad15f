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

export const DiskUsageResponse = Type.Object(
  {
    images: UsageGroup('images'),
    instances: UsageGroup('instances'),
    volumes: UsageGroup('volumes'),
    temporary: Type.Object({ size: Type.Integer({ description: 'Bytes of uploads and image staging in progress (what a killed daemon left is swept at its next start)' }) }),
  },
);
export type DiskUsageResponse = Static<typeof DiskUsageResponse>;
