/** Checksums used by the reader protocols in this folder. All take a byte range and never throw. */

/**
 * CRC-16 with the reflected polynomial 0x8408 (0x1021 reversed), init 0xFFFF, no final XOR
 * (CRC-16/MCRF4XX). Chafon UHFReader18 / CF-RU5102 frames end with it, low byte first
 * [UHFReader18 user manual, "Command / response data block": CRC-16 over Len..Data]. Verified: `04 00 01` -> 0x4BDB, sent `DB 4B`.
 */
export function crc16Chafon(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]!;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0x8408 : crc >>> 1;
  }
  return crc;
}

/**
 * The EPC Gen2 CRC-16 a tag backscatters after PC+EPC: polynomial 0x1021, init 0xFFFF, MSB first,
 * final complement (CRC-16/GENIBUS) [EPC UHF Gen2 Air Interface, Annex F (CRC-16)].
 * Verified on the M100 tag notice in device-protocols.md: PC 3400 + EPC 30751FEB705C5904E3D50D70 -> 3A76.
 */
export function crc16Gen2(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]! << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc ^ 0xffff;
}

/** Low byte of the plain sum (M100 `Chk` = sum(Type..Params) & 0xFF). */
export function sum8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += bytes[i]!;
  return s & 0xff;
}

/** Two's complement of the 8-bit sum, so that all bytes including it sum to 0 (R2000 `Check`). */
export function lrc8(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return (0x100 - sum8(bytes, start, end)) & 0xff;
}
