export * from './identity.js';
export * from './quantity.js';
