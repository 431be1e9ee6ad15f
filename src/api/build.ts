// The build API (POST /v1/build), shaped like Docker's: the body is the build context as a tar,
// the query names the image and the Cunikfile, and the answer is a stream of JSON lines.
import { Type, type Static } from 'typebox';

export const BuildQuery = Type.Object(
  {
    t: Type.String({ minLength: 1, description: 'NAME[:TAG] for the image' }),
    file: Type.Optional(Type.String({ minLength: 1, description: 'Path of the Cunikfile inside the context (default: Cunikfile)' })),
    nocache: Type.Optional(Type.Boolean({ description: 'Rebuild every step, ignoring the build cache' })),
  },
  { additionalProperties: false },
);
export type BuildQuery = Static<typeof BuildQuery>;

/**
 * One line of the build's output stream (application/x-ndjson), one of:
 * {"stream": "Step 1/4 : ...\n"} progress text; {"aux": {"id", "ref"}} the image built (last line on
 * success); {"error": "...", "errorDetail": {"message", "code"}} the build failed (last line).
 */
export const BuildMessage = Type.Object({
  stream: Type.Optional(Type.String()),
  aux: Type.Optional(Type.Object({ id: Type.String(), ref: Type.String() })),
  error: Type.Optional(Type.String()),
  errorDetail: Type.Optional(Type.Object({ message: Type.String(), code: Type.String(), field: Type.Optional(Type.String()) })),
});
export type BuildMessage = Static<typeof BuildMessage>;
