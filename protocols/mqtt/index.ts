export * from './topics.js';
export * from './messages.js';
export * from './seq-ranges.js';
export * from './ack-signature.js';
export * from './json-guard.js';
