/**
 * Independent checksum implementations for cross-checking fixtures: table-driven, written from the
 * algorithm parameters (CRC catalogue entries), not from protocols/rfid/checksums.ts.
 */

function reflectedTable(poly: number): number[] {
  return Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    return c;
  });
}

function normalTable(poly: number): number[] {
  return Array.from({ length: 256 }, (_, n) => {
    let c = n << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? ((c << 1) ^ poly) & 0xffff : (c << 1) & 0xffff;
    return c;
  });
}

const MCRF = reflectedTable(0x8408);
const CCITT = normalTable(0x1021);

/** CRC-16/MCRF4XX: width 16, poly 0x1021 reflected, init 0xFFFF, refin/refout, xorout 0. */
export function refCrcMcrf4xx(bytes: Iterable<number>): number {
  let crc = 0xffff;
  for (const b of bytes) crc = (crc >>> 8) ^ MCRF[(crc ^ b) & 0xff]!;
  return crc;
}

/** CRC-16/GENIBUS (EPC Gen2): poly 0x1021, init 0xFFFF, no reflection, xorout 0xFFFF. */
export function refCrcGenibus(bytes: Iterable<number>): number {
  let crc = 0xffff;
  for (const b of bytes) crc = ((crc << 8) & 0xffff) ^ CCITT[((crc >>> 8) ^ b) & 0xff]!;
  return crc ^ 0xffff;
}

export const bytesOf = (hex: string): number[] => Array.from(Buffer.from(hex.replace(/\s/g, ''), 'hex'));
export const sumOf = (bytes: number[]): number => bytes.reduce((a, b) => a + b, 0);
