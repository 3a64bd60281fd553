/** Scale protocols: parsers, encoders, command builders, stability and count by weight. See README.md. */
export * from './scale-frame.js';
export * from './scale-parser.js';
export * from './create-scale-parser.js';
export * from './mt-sics.js';
export * from './mt-sics-commands.js';
export * from './toledo.js';
export * from './ascii.js';
export * from './xk3190.js';
export * from './encode.js';
export * from './units.js';
export * from './stability.js';
export * from './count.js';
