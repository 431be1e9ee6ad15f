// Wires pull and push (images/distribution.ts) to the distribution routes: the daemon's registry
// settings (--default-registry, --insecure-registry), the request's credentials, progress as
// Docker's JSON lines.
import { invalid } from '../errors.js';
import { checkLogin, pull, push, remoteOf, type Progress } from '../images/distribution.js';
import { isRegistryHost, parseReference } from '../images/reference.js';
import type { ImageStore } from '../images/store.js';
import type { DistributionBackend, Send } from './routes/distribution.js';

/** The daemon's registry settings (cunikd flags), also shown by GET /info. */
export interface RegistrySettings {
  /** Registry of names that hold none ("team/app" → DEFAULT/team/app), if any. */
  defaultRegistry?: string;
  /** Registries that may be spoken to over plain HTTP besides loopback ones. */
  insecure: readonly string[];
  /** Docker's certs.d folder of registry CAs (--registry-certs). */
  certsDir: string;
}

const toMessage = (p: Progress) => ({
  status: p.status,
  ...(p.id !== undefined && { id: p.id }),
  ...(p.total !== undefined && { progressDetail: { current: p.current ?? 0, total: p.total } }),
});

export function makeDistributionBackend(images: ImageStore, settings: RegistrySettings): DistributionBackend {
  const { defaultRegistry } = settings;
  const forDomain = (domain: string, asked: boolean | undefined) =>
    ({ insecure: asked === true || settings.insecure.includes(domain), certsDir: settings.certsDir, ...(defaultRegistry !== undefined && { defaultRegistry }) });
  const options = (reference: string, asked: boolean | undefined) => forDomain(remoteOf(parseReference(reference, 'reference'), defaultRegistry).domain, asked);
  return {
    pull(req) {
      const o = options(req.reference, req.insecure);
      return {
        run: async (send: Send, signal: AbortSignal) => {
          // A client that goes away cancels the pull (as Docker's); the bytes so far are kept for the next one.
          const r = await pull(images, req.reference, { ...o, ...(req.auth && { credentials: req.auth }), onProgress: (p) => send(toMessage(p)), signal });
          return { ref: r.ref, digest: r.digest, id: r.id };
        },
      };
    },
    push(ref, req) {
      const o = options(ref, req.insecure);
      return {
        run: async (send: Send) => {
          const r = await push(images, ref, { ...o, ...(req.auth && { credentials: req.auth }), onProgress: (p) => send(toMessage(p)) });
          return { ref: r.ref, digest: r.digest, size: r.size };
        },
      };
    },
    async login(given, auth) {
      const registry = given ?? defaultRegistry;
      if (registry === undefined) throw invalid('give a registry to log in to (HOST[:PORT]): the daemon has no default registry (cunikd --default-registry)', 'serveraddress');
      if (!isRegistryHost(registry)) throw invalid(`invalid registry ${JSON.stringify(registry)}: give HOST[:PORT]`, 'serveraddress');
      await checkLogin(registry, { ...forDomain(registry, false), credentials: auth });
      return registry;
    },
  };
}
