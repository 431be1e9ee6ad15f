// The instances the service knows: records by id in creation order, the names in use, and Docker's
// resolution of a reference (a full id, a name, or a unique id prefix). Memory only: the store
// (store.ts) holds what is on disk.
import { invalid, notFound } from '../errors.js';
import type { InstanceRecord } from './record.js';

export class InstanceRegistry {
  /** Kept in creation order (sorted once at restore, appended to since), so list() needs no sort. */
  private readonly records = new Map<string, InstanceRecord>();
  /** Names in use: reserved by create.ts and rename before their record is known or changed. */
  readonly names = new Set<string>();

  add(record: InstanceRecord): void {
    this.records.set(record.id, record);
    this.names.add(record.name);
  }

  forget(record: InstanceRecord): void {
    this.records.delete(record.id);
    this.names.delete(record.name);
  }

  has(id: string): boolean {
    return this.records.has(id);
  }

  byId(id: string): InstanceRecord | undefined {
    return this.records.get(id);
  }

  values(): IterableIterator<InstanceRecord> {
    return this.records.values();
  }

  /** Put the records in creation order (ISO timestamps sort as strings), after a restore added them in any. */
  sortByCreation(): void {
    const sorted = [...this.records.values()].sort((a, b) => (a.created < b.created ? -1 : a.created > b.created ? 1 : 0));
    this.records.clear();
    for (const r of sorted) this.records.set(r.id, r);
  }

  /** Resolve a name, a full id or a unique id prefix, as Docker does. */
  resolve(ref: string): InstanceRecord {
    const byId = this.records.get(ref);
    if (byId) return byId;
    for (const r of this.records.values()) if (r.name === ref) return r;
    const matches = [...this.records.values()].filter((r) => r.id.startsWith(ref));
    if (matches.length === 1) return matches[0]!;
    if (matches.length > 1) throw invalid(`ambiguous instance id prefix: ${ref} matches ${matches.length} instances`);
    throw notFound(`no such instance: ${ref}`);
  }

  /** Newest first; `all`: the stopped ones too. */
  list(all: boolean): InstanceRecord[] {
    const list: InstanceRecord[] = [];
    for (const r of this.records.values()) if (all || r.state === 'running' || r.state === 'paused' || r.state === 'restarting') list.push(r);
    return list.reverse();
  }

  usesImage(imageId: string): boolean {
    for (const r of this.records.values()) if (r.imageId === imageId) return true;
    return false;
  }

  counts(): { total: number; running: number; paused: number; stopped: number } {
    const c = { total: 0, running: 0, paused: 0, stopped: 0 };
    for (const r of this.records.values()) {
      c.total++;
      if (r.state === 'running') c.running++;
      else if (r.state === 'paused') c.paused++;
      else c.stopped++;
    }
    return c;
  }
}
