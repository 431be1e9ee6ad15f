// Names the registry accepts (OCI Distribution Spec, "Pulling manifests"): repository names,
// tags and digests. Anything else is refused before it becomes a path in the store.
import { regErr } from './errors.js';
import { PATH_COMPONENT, TAG } from '../images/reference.js';

export const MAX_NAME_LENGTH = 255;
const DIGEST = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;
const SHA256 = /^[a-f0-9]{64}$/;
export const UPLOAD_ID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

/** A repository name, or NAME_INVALID saying why. */
export function checkName(name: string): string {
  if (name.length === 0) throw regErr('NAME_INVALID', 'repository name is empty');
  if (name.length > MAX_NAME_LENGTH) throw regErr('NAME_INVALID', `repository name is longer than ${MAX_NAME_LENGTH} characters`);
  for (const part of name.split('/')) {
    if (!PATH_COMPONENT.test(part)) {
      const why = part.length === 0 ? 'an empty path component' : PATH_COMPONENT.test(part.toLowerCase()) ? 'uppercase letters' : `the path component ${JSON.stringify(part.slice(0, 64))}`;
      throw regErr('NAME_INVALID', `invalid repository name: it has ${why} (allowed: lowercase letters, digits, separators . _ __ -)`, { detail: { name: name.slice(0, 300) } });
    }
  }
  return name;
}

export function isTag(ref: string): boolean {
  return TAG.test(ref);
}

export function checkTag(tag: string): string {
  if (!TAG.test(tag)) throw regErr('MANIFEST_INVALID', `invalid tag ${JSON.stringify(tag.slice(0, 200))}`);
  return tag;
}

/** A digest the store can address (sha256 only), or DIGEST_INVALID / UNSUPPORTED. */
export function checkDigest(digest: string): string {
  const m = DIGEST.exec(digest);
  if (!m) throw regErr('DIGEST_INVALID', `invalid digest ${JSON.stringify(digest.slice(0, 200))}`);
  if (m[1] !== 'sha256') throw regErr('DIGEST_INVALID', `unsupported digest algorithm ${JSON.stringify(m[1])} (only sha256)`);
  if (!SHA256.test(m[2]!)) throw regErr('DIGEST_INVALID', `invalid sha256 digest ${JSON.stringify(digest.slice(0, 200))}`);
  return digest;
}

export function isDigestLike(ref: string): boolean {
  return ref.includes(':');
}

export const hexOf = (digest: string): string => digest.slice('sha256:'.length);
