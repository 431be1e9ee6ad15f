// Where each thing lives in the store (docs/hub.md, "Storage layout"). Names, tags and digests
// are validated (names.ts) before they are made into keys.
import { hexOf } from './names.js';

export const blobKey = (digest: string): string => `blobs/sha256/${hexOf(digest)}`;
export const repoKey = (name: string): string => `repositories/${name}`;
export const layerKey = (name: string, digest: string): string => `${repoKey(name)}/_layers/sha256/${hexOf(digest)}`;
export const layersPrefix = (name: string): string => `${repoKey(name)}/_layers/sha256`;
export const revisionKey = (name: string, digest: string): string => `${repoKey(name)}/_manifests/revisions/sha256/${hexOf(digest)}`;
export const revisionsPrefix = (name: string): string => `${repoKey(name)}/_manifests/revisions/sha256`;
export const tagKey = (name: string, tag: string): string => `${repoKey(name)}/_manifests/tags/${tag}`;
export const tagsPrefix = (name: string): string => `${repoKey(name)}/_manifests/tags`;
export const referrersPrefix = (name: string, subject: string): string => `${repoKey(name)}/_referrers/sha256/${hexOf(subject)}`;
export const referrerKey = (name: string, subject: string, digest: string): string => `${referrersPrefix(name, subject)}/${hexOf(digest)}`;
export const uploadData = (id: string): string => `uploads/${id}/data`;
export const uploadInfo = (id: string): string => `uploads/${id}/info`;
export const GC_LOCK = 'gc.lock';
