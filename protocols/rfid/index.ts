/** UHF RFID: reader frame codecs and the EPC Tag Data Standard. See README.md. */
export * from './rfid-frame.js';
export * from './rfid-parser.js';
export * from './checksums.js';
export * from './length-framer.js';
export * from './uhfreader18.js';
export * from './m100.js';
export * from './r2000.js';
export * from './epc.js';
