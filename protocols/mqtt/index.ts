export * from './topics.js';
// The wire contract, one file per message family (issue 15); `text`, `Instant` and `IsoDate` of
// fields.ts are building blocks of the schemas, not part of the public face.
export { SCHEMA_VERSION, MAX_BATCH, MAX_QTY, SiteId, EdgeId, DeviceRef, describeIssue } from './fields.js';
export * from './movement.js';
export * from './movement-fast.js';
export * from './movement-rows.js';
export * from './ack.js';
export * from './status.js';
export * from './remote-config.js';
export * from './seq-ranges.js';
export * from './ack-signature.js';
export * from './json-guard.js';
