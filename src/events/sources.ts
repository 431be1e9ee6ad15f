// Where events come from: the instances service's and the image store's own notifications,
// turned into log entries with Docker-style attributes (name, image, exitCode).
import type { ImageEvent } from '../images/store.js';
import type { InstanceEvent } from '../instances/service.js';
import type { EventLog } from './log.js';

export interface InstanceEventRecorder {
  record(e: InstanceEvent): void;
  /** Remember an instance's image reference (e.g. for instances loaded at start-up). */
  remember(id: string, image: string): void;
}

/**
 * Records instance events. `imageOf` finds the reference an instance was created from while its
 * record exists; the recorder keeps it too, so `destroy` (published once the record is gone)
 * still carries it.
 */
export function instanceEventRecorder(log: EventLog, imageOf: (id: string) => string | undefined): InstanceEventRecorder {
  const images = new Map<string, string>();
  return {
    record(e) {
      const image = images.get(e.id) ?? imageOf(e.id);
      if (e.action === 'destroy') images.delete(e.id);
      else if (image !== undefined) images.set(e.id, image);
      log.publish({ type: 'instance', action: e.action, id: e.id, attributes: { ...e.attributes, name: e.name, image, exitCode: e.exitCode } });
    },
    remember(id, image) {
      images.set(id, image);
    },
  };
}

export function imageEventRecorder(log: EventLog): (e: ImageEvent) => void {
  return (e) => void log.publish({ type: 'image', action: e.action, id: e.id, attributes: { name: e.ref } });
}
