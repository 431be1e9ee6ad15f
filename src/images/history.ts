// An image's history (docker history): the config's history entries, newest first, each
// non-empty one paired with the layer it made. Images whose config has no history, or one that
// does not match the layers (a hand-made or foreign image), get one plain entry per layer.
import type { Descriptor, ImageConfig } from './oci.js';

export interface HistoryEntry {
  created: string;
  createdBy: string;
  comment: string;
  /** Bytes of the layer the step made (as stored: compressed when the layer is); 0 when none. */
  size: number;
  /** The layer's digest; absent for a step that made no layer (empty_layer). */
  layer?: string;
}

export function imageHistory(config: ImageConfig, layers: Descriptor[]): HistoryEntry[] {
  const created = typeof config.created === 'string' ? config.created : '';
  // The config is the image's own (pulled, loaded): its history is read field by field.
  const steps = (Array.isArray(config.history) ? config.history : []).filter((h) => h !== null && typeof h === 'object');
  const filled = steps.filter((h) => h.empty_layer !== true).length;
  const out: HistoryEntry[] = [];
  if (steps.length > 0 && filled === layers.length) {
    let next = 0;
    for (const h of steps) {
      const layer = h.empty_layer === true ? undefined : layers[next++];
      out.push({
        created: typeof h.created === 'string' ? h.created : created,
        createdBy: typeof h.created_by === 'string' ? h.created_by : '',
        comment: typeof h.comment === 'string' ? h.comment : '',
        size: layer?.size ?? 0,
        ...(layer && { layer: layer.digest }),
      });
    }
  } else {
    for (const l of layers) out.push({ created, createdBy: '', comment: '', size: l.size, layer: l.digest });
  }
  return out.reverse();
}
