// Wires pull and push (images/distribution.ts) to the distribution routes: the daemon's
// --insecure-registry list, the request's credentials, progress as Docker's JSON lines.
import { pull, push, type Progress } from '../images/distribution.js';
import { parseReference } from '../images/reference.js';
import type { ImageStore } from '../images/store.js';
import type { DistributionBackend, Send } from './routes/distribution.js';

const toMessage = (p: Progress) => ({
  status: p.status,
  ...(p.id !== undefined && { id: p.id }),
  ...(p.total !== undefined && { progressDetail: { current: p.current ?? 0, total: p.total } }),
});

export function makeDistributionBackend(images: ImageStore, insecureRegistries: readonly string[]): DistributionBackend {
  const insecure = (reference: string, asked: boolean | undefined): boolean => {
    const d = parseReference(reference, 'reference').domain;
    return asked === true || (d !== undefined && insecureRegistries.includes(d));
  };
  return {
    pull(req) {
      const plain = insecure(req.reference, req.insecure);
      return {
        run: async (send: Send) => {
          const r = await pull(images, req.reference, { insecure: plain, ...(req.auth && { credentials: req.auth }), onProgress: (p) => send(toMessage(p)) });
          return { ref: r.ref, digest: r.digest, id: r.id };
        },
      };
    },
    push(ref, req) {
      const plain = insecure(ref, req.insecure);
      return {
        run: async (send: Send) => {
          const r = await push(images, ref, { insecure: plain, ...(req.auth && { credentials: req.auth }), onProgress: (p) => send(toMessage(p)) });
          return { ref: r.ref, digest: r.digest, size: r.size };
        },
      };
    },
  };
}
