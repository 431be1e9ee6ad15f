// The Engine API contract for `cunik system check` (POST /v1/system/check): what the daemon found
// wrong in its own state (instance records set aside, image blobs whose content does not match
// their digest, images that cannot be read, volumes without a usable record), and what --repair did.
import { Type, type Static } from 'typebox';

export const CheckRequest = Type.Object(
  { repair: Type.Optional(Type.Boolean({ description: 'Drop what cannot be used (damaged images and blobs, set-aside instance records); volume data is moved aside, never deleted' })) },
  { additionalProperties: false },
);
export type CheckRequest = Static<typeof CheckRequest>;

export const CheckProblem = Type.Object({
  kind: Type.Union([Type.Literal('instance'), Type.Literal('image'), Type.Literal('blob'), Type.Literal('volume')]),
  subject: Type.String({ description: 'What is at fault: an instance id, an image name or digest, a blob digest, a volume name' }),
  problem: Type.String({ description: 'One sentence' }),
  path: Type.Optional(Type.String({ description: 'Where it is on the host' })),
  repaired: Type.Boolean({ description: 'Dropped (or moved aside) by --repair' }),
});
export type CheckProblem = Static<typeof CheckProblem>;

export const CheckResponse = Type.Object({
  checked: Type.Object({
    instances: Type.Integer({ description: 'Instance records read' }),
    images: Type.Integer(),
    blobs: Type.Integer({ description: 'Blobs whose content was hashed and compared with their digest' }),
    volumes: Type.Integer(),
  }),
  problems: Type.Array(CheckProblem),
});
export type CheckResponse = Static<typeof CheckResponse>;
