// The event log's public surface, for the daemon's wiring and routes.
export { EventLog, DEFAULT_CAPACITY, eventUs, type CunikEvent, type EventInput, type EventType } from './log.js';
export { parseFilters, matches, FILTER_KEYS, type EventFilter } from './filter.js';
export { parseTimestamp, parseDurationUs } from './time.js';
export { eventStream, parseEventQuery, type EventQuery, type EventStreamOptions } from './stream.js';
export { instanceEventRecorder, imageEventRecorder, type InstanceEventRecorder } from './sources.js';
