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

/** A digest of a context file the client would rather not send (cunik build: files of 1 MiB or more). */
const ContextDigest = Type.String({ pattern: '^sha256:[0-9a-f]{64}$' });

/** POST /build/context/missing: which of these digests the daemon lacks (the client sends those files, and refers to the others). */
export const ContextFilesQuery = Type.Object({ digests: Type.Array(ContextDigest, { maxItems: 10000 }) }, { additionalProperties: false });
export type ContextFilesQuery = Static<typeof ContextFilesQuery>;
export const ContextFilesMissing = Type.Object({ missing: Type.Array(ContextDigest) });
export type ContextFilesMissing = Static<typeof ContextFilesMissing>;
