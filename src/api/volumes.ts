// The Engine API contract for volumes (GET/POST /v1/volumes, GET/DELETE /v1/volumes/{name},
// POST /v1/volumes/prune) and for an instance's mounts; Docker's shapes, camelCase.
import { Type, type Static } from 'typebox';
import { LIMITS } from './limits.js';
import { VOLUME_NAME_PATTERN } from './rules.js';

const Driver = Type.Union([Type.Literal('block'), Type.Literal('share')], {
  description: 'block: a raw file with an ext4 file system, attached as virtio-blk; share: a host folder over virtio-9p',
});
const VolumeName = Type.String({ pattern: VOLUME_NAME_PATTERN, maxLength: 255, description: 'Volume name' });

export const Volume = Type.Object({
  name: Type.String(),
  driver: Driver,
  mountpoint: Type.String({ description: 'Host path: the block file or the shared folder' }),
  createdAt: Type.String({ format: 'date-time' }),
  labels: Type.Record(Type.String(), Type.String()),
  anonymous: Type.Boolean({ description: "Made for an image's declared mount point; removed with its instance by run --rm / rm -v" }),
  size: Type.Optional(Type.Integer({ description: 'Block volumes: the size the guest sees, bytes' })),
  device: Type.Optional(Type.String({ description: "Share volumes of a host folder of the user's (Docker's type=none,o=bind,device=PATH): that folder, which removing the volume leaves" })),
  usedBy: Type.Array(Type.String(), { description: 'Ids of the instances (any state) that use it' }),
});
export type Volume = Static<typeof Volume>;

export const CreateVolumeRequest = Type.Object(
  {
    name: Type.Optional(VolumeName),
    driver: Type.Optional(Driver),
    sizeBytes: Type.Optional(Type.Integer({ minimum: LIMITS.volumeSizeBytes.min, maximum: LIMITS.volumeSizeBytes.max, description: 'Block volumes: size in bytes (default 64 MiB)' })),
    labels: Type.Optional(Type.Record(Type.String(), Type.String())),
    device: Type.Optional(Type.String({ pattern: '^/', maxLength: 4096, description: "Share volumes: an existing host folder the volume is, instead of a folder of its own (Docker's type=none,o=bind,device=PATH); it keeps its owner, and removing the volume leaves it" })),
  },
  { additionalProperties: false },
);
export type CreateVolumeRequest = Static<typeof CreateVolumeRequest>;

export const VolumeListQuery = Type.Object(
  {
    dangling: Type.Optional(Type.Boolean({ description: 'true: only volumes no instance uses; false: only used ones' })),
    name: Type.Optional(Type.String({ minLength: 1, description: 'Only volumes whose name contains this' })),
    filters: Type.Optional(Type.String({ description: 'Docker\'s filters as JSON, {"KEY": ["VALUE", ...]}: name, label (KEY or KEY=VALUE), driver (share, block), dangling (true, false)' })),
  },
  { additionalProperties: false },
);
export type VolumeListQuery = Static<typeof VolumeListQuery>;

export const VolumeParams = Type.Object({ name: Type.String({ minLength: 1 }) });

export const PruneVolumesQuery = Type.Object(
  {
    all: Type.Optional(Type.Boolean({ description: 'Named volumes too (default: only anonymous ones, as Docker since 23.0)' })),
    filters: Type.Optional(Type.String({ maxLength: 4096, description: "Docker's filters: a JSON object of KEY: [VALUES]; keys label and label! (KEY or KEY=VALUE), all (true: as the all flag)" })),
  },
  { additionalProperties: false },
);
export type PruneVolumesQuery = Static<typeof PruneVolumesQuery>;

export const PruneVolumesResponse = Type.Object({
  deleted: Type.Array(Type.String(), { description: 'Names of the removed volumes' }),
  spaceReclaimed: Type.Integer({ description: 'Bytes freed' }),
});
export type PruneVolumesResponse = Static<typeof PruneVolumesResponse>;

export const MountRequest = Type.Object(
  {
    type: Type.Union([Type.Literal('volume'), Type.Literal('bind')]),
    source: Type.Optional(Type.String({ description: 'volume: its name (made if missing; none: an anonymous volume); bind: an absolute host folder' })),
    target: Type.String({ minLength: 1, description: 'Absolute path in the guest' }),
    readonly: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type MountRequest = Static<typeof MountRequest>;

export const Mount = Type.Object({
  type: Type.Union([Type.Literal('volume'), Type.Literal('bind')]),
  name: Type.Union([Type.String(), Type.Null()], { description: 'The volume, for type volume' }),
  source: Type.String({ description: 'Host path' }),
  destination: Type.String({ description: 'Guest path' }),
  driver: Driver,
  rw: Type.Boolean(),
});
export type Mount = Static<typeof Mount>;
