// The worker thread that applies a container image's layers (rootfs.ts: applyLayers): its
// synchronous file system calls then block neither the daemon's event loop nor anyone's request.
import { parentPort, workerData } from 'node:worker_threads';
import { applyLayersHere, replyOfError, type WorkerReply } from './rootfs.js';

const { root, layers } = workerData as { root: string; layers: { file: string; what: string }[] };
let reply: WorkerReply;
try {
  reply = { ok: await applyLayersHere(root, layers) };
} catch (err) {
  reply = replyOfError(err);
}
parentPort!.postMessage(reply);
