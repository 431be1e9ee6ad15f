// The image store's public surface, for the daemon's services and routes.
export { ImageStore } from './store.js';
export type { ImageEvent, ImageEventAction, ImageStoreOptions, RemoveOptions } from './store.js';
export { detectKernelFormat, detectKernelFormatFile, BOOT_PROTOCOLS } from './kernel-format.js';
export type { BootProtocol, KernelFormat } from './kernel-format.js';
export { parseReference, parseTaggedReference, normalizeReference, DEFAULT_TAG } from './reference.js';
export type { Reference, TaggedReference } from './reference.js';
export { LABEL as CUNIK_LABELS } from './oci.js';
export type * from './types.js';
