/**
 * EPC Tag Data Standard: binary EPCs (as read from the EPC bank) to GS1 keys and EPC URIs, and
 * SGTIN-96 encoding. References are to GS1 EPC Tag Data Standard 1.13 ("TDS"): coding tables in
 * §14.5, partition tables beside each, decoding procedure in §14.4, URIs in §6 and §12.
 *
 * Our own decoder rather than `epc-tds`: see protocols/rfid/README.md (in short, epc-tds decodes
 * wrong-length EPCs and out-of-range fields silently and crashes on partition 7, where the TDS
 * says decoding fails; we need a total function that keeps such tags as raw hex).
 */
import { ProtocolError } from '../errors.js';
import { gs1CheckDigit } from '../barcode/check-digit.js';

/** SGTIN-96 [TDS §14.5.1]: a serialised trade item. */
export interface Sgtin96Epc {
  scheme: 'sgtin-96';
  /** `urn:epc:tag:sgtin-96:F.C.I.S` (EPC Tag URI) [TDS §12]. */
  tagUri: string;
  /** `urn:epc:id:sgtin:C.I.S` [TDS §6.3.1]. */
  pureUri: string;
  /** GTIN-14: indicator digit moved back in front, check digit computed [TDS §7.1]. */
  gtin: string;
  /** Serial number (AI 21) as a decimal string, the form it has in the URIs and element string. */
  serial: string;
  /** Filter value 0..7 (1 POS item, 2 case, 4 inner pack, 6 unit load) [TDS §10]. */
  filter: number;
  /** GS1 Company Prefix with its leading zeros (its length is the partition's digit count). */
  companyPrefix: string;
  /** Indicator digit followed by the item reference, as in the URI. */
  itemReference: string;
}

/** SSCC-96 [TDS §14.5.2]: a logistic unit. */
export interface Sscc96Epc {
  scheme: 'sscc-96';
  tagUri: string;
  pureUri: string;
  /** SSCC as the 18-digit AI (00) value: extension digit, company prefix, serial, check digit. */
  sscc: string;
  filter: number;
  companyPrefix: string;
  /** Extension digit followed by the serial reference, as in the URI. */
  serialReference: string;
}

/** GRAI-96 [TDS §14.5.4]: a returnable asset. */
export interface Grai96Epc {
  scheme: 'grai-96';
  tagUri: string;
  pureUri: string;
  /**
   * The AI (8003) element value [GS1 GenSpecs 3.9, AI (8003)]: `0`, company prefix, asset type, check
   * digit, serial.
   */
  grai: string;
  filter: number;
  companyPrefix: string;
  /** Asset type with leading zeros; empty for a 12-digit company prefix. */
  assetType: string;
  serial: string;
}

/** GIAI-96 [TDS §14.5.5]: an individual asset. */
export interface Giai96Epc {
  scheme: 'giai-96';
  tagUri: string;
  pureUri: string;
  /** The AI (8004) element value: company prefix followed by the individual asset reference. */
  giai: string;
  filter: number;
  companyPrefix: string;
  assetReference: string;
}

/**
 * Anything that is not one of the schemes above, or not a valid instance of one: factory EPCs
 * (E2...), other headers, other lengths. Kept as the hex read from the tag.
 */
export interface RawEpc {
  scheme: 'raw';
  /** Upper-case hex. */
  hex: string;
  /** Why a GS1 header did not decode (the TDS says decoding fails); absent for non-GS1 headers. */
  reason?: string;
}

export type DecodedEpc = Sgtin96Epc | Sscc96Epc | Grai96Epc | Giai96Epc | RawEpc;

/** EPC header values [TDS §14.2, Table 14-1]. */
export const EPC_HEADERS = { 'sgtin-96': 0x30, 'sscc-96': 0x31, 'grai-96': 0x33, 'giai-96': 0x34 } as const;

/** One partition row: company prefix bits/digits, second field bits/digits. */
interface PartitionRow {
  cBits: number;
  cDigits: number;
  bits: number;
  digits: number;
}

const rows = (spec: number[][]): PartitionRow[] =>
  spec.map(([cBits, cDigits, bits, digits]) => ({ cBits: cBits!, cDigits: cDigits!, bits: bits!, digits: digits! }));

/** SGTIN partition table: item reference digits include the indicator [TDS §14.5.1, partition table]. */
const SGTIN_PARTITIONS = rows([[40, 12, 4, 1], [37, 11, 7, 2], [34, 10, 10, 3], [30, 9, 14, 4], [27, 8, 17, 5], [24, 7, 20, 6], [20, 6, 24, 7]]);
/** SSCC partition table: serial reference digits include the extension digit [TDS §14.5.2, partition table]. */
const SSCC_PARTITIONS = rows([[40, 12, 18, 5], [37, 11, 21, 6], [34, 10, 24, 7], [30, 9, 28, 8], [27, 8, 31, 9], [24, 7, 34, 10], [20, 6, 38, 11]]);
/** GRAI partition table [TDS §14.5.4, partition table]. */
const GRAI_PARTITIONS = rows([[40, 12, 4, 0], [37, 11, 7, 1], [34, 10, 10, 2], [30, 9, 14, 3], [27, 8, 17, 4], [24, 7, 20, 5], [20, 6, 24, 6]]);
/** GIAI partition table [TDS §14.5.5, partition table]. */
const GIAI_PARTITIONS = rows([[40, 12, 42, 13], [37, 11, 45, 14], [34, 10, 48, 15], [30, 9, 52, 16], [27, 8, 55, 17], [24, 7, 58, 18], [20, 6, 62, 19]]);

const SERIAL_BITS_96 = 38;

/** The GS1 mod-10 check digit, defined once in protocols/barcode/check-digit.ts (issue 15). */
export { gs1CheckDigit };

class DecodeFailure extends Error {}

/** Reads fields MSB first from a 96-bit value. */
class Bits96 {
  private offset = 0;
  constructor(private readonly value: bigint) {}
  take(bits: number): bigint {
    const shift = BigInt(96 - this.offset - bits);
    this.offset += bits;
    return (this.value >> shift) & ((1n << BigInt(bits)) - 1n);
  }
}

/**
 * Integer field decoding [TDS §14.3.1 / §14.4]: decoding fails when the value has more than
 * `digits` digits. Written with leading zeros to exactly `digits` (company prefix, item reference),
 * or as a plain integer when `pad` is false (GIAI asset reference). Zero digits gives ''.
 */
function decimal(value: bigint, digits: number, what: string, pad = true): string {
  if (value >= 10n ** BigInt(digits)) throw new DecodeFailure(`${what} ${value} has more than ${digits} digits`);
  if (digits === 0) return '';
  return pad ? value.toString().padStart(digits, '0') : value.toString();
}

function partitionOf(table: PartitionRow[], p: bigint): PartitionRow {
  const row = table[Number(p)];
  if (!row) throw new DecodeFailure(`partition ${p} is reserved (0..6 allowed)`);
  return row;
}

function decodeSgtin(r: Bits96): Sgtin96Epc {
  const filter = Number(r.take(3));
  const row = partitionOf(SGTIN_PARTITIONS, r.take(3));
  const companyPrefix = decimal(r.take(row.cBits), row.cDigits, 'company prefix');
  const itemReference = decimal(r.take(row.bits), row.digits, 'item reference');
  const serial = r.take(SERIAL_BITS_96).toString();
  const gtin13 = itemReference[0] + companyPrefix + itemReference.slice(1);
  return {
    scheme: 'sgtin-96',
    tagUri: `urn:epc:tag:sgtin-96:${filter}.${companyPrefix}.${itemReference}.${serial}`,
    pureUri: `urn:epc:id:sgtin:${companyPrefix}.${itemReference}.${serial}`,
    gtin: gtin13 + gs1CheckDigit(gtin13),
    serial,
    filter,
    companyPrefix,
    itemReference,
  };
}

function decodeSscc(r: Bits96): Sscc96Epc {
  const filter = Number(r.take(3));
  const row = partitionOf(SSCC_PARTITIONS, r.take(3));
  const companyPrefix = decimal(r.take(row.cBits), row.cDigits, 'company prefix');
  const serialReference = decimal(r.take(row.bits), row.digits, 'serial reference');
  // The remaining 24 bits are unallocated [TDS §14.5.2]; we do not reject tags that use them.
  const sscc17 = serialReference[0] + companyPrefix + serialReference.slice(1);
  return {
    scheme: 'sscc-96',
    tagUri: `urn:epc:tag:sscc-96:${filter}.${companyPrefix}.${serialReference}`,
    pureUri: `urn:epc:id:sscc:${companyPrefix}.${serialReference}`,
    sscc: sscc17 + gs1CheckDigit(sscc17),
    filter,
    companyPrefix,
    serialReference,
  };
}

function decodeGrai(r: Bits96): Grai96Epc {
  const filter = Number(r.take(3));
  const row = partitionOf(GRAI_PARTITIONS, r.take(3));
  const companyPrefix = decimal(r.take(row.cBits), row.cDigits, 'company prefix');
  const assetType = decimal(r.take(row.bits), row.digits, 'asset type');
  const serial = r.take(SERIAL_BITS_96).toString();
  const key12 = companyPrefix + assetType;
  return {
    scheme: 'grai-96',
    tagUri: `urn:epc:tag:grai-96:${filter}.${companyPrefix}.${assetType}.${serial}`,
    pureUri: `urn:epc:id:grai:${companyPrefix}.${assetType}.${serial}`,
    grai: `0${key12}${gs1CheckDigit(key12)}${serial}`,
    filter,
    companyPrefix,
    assetType,
    serial,
  };
}

function decodeGiai(r: Bits96): Giai96Epc {
  const filter = Number(r.take(3));
  const row = partitionOf(GIAI_PARTITIONS, r.take(3));
  const companyPrefix = decimal(r.take(row.cBits), row.cDigits, 'company prefix');
  const assetReference = decimal(r.take(row.bits), row.digits, 'individual asset reference', false);
  return {
    scheme: 'giai-96',
    tagUri: `urn:epc:tag:giai-96:${filter}.${companyPrefix}.${assetReference}`,
    pureUri: `urn:epc:id:giai:${companyPrefix}.${assetReference}`,
    giai: companyPrefix + assetReference,
    filter,
    companyPrefix,
    assetReference,
  };
}

const DECODERS: Record<number, (r: Bits96) => DecodedEpc> = {
  [EPC_HEADERS['sgtin-96']]: decodeSgtin,
  [EPC_HEADERS['sscc-96']]: decodeSscc,
  [EPC_HEADERS['grai-96']]: decodeGrai,
  [EPC_HEADERS['giai-96']]: decodeGiai,
};

/**
 * Decode an EPC given as hex (the EPC bank from PC word + 2 onwards, as readers report it).
 * SGTIN-96, SSCC-96, GRAI-96 and GIAI-96 decode to their GS1 fields; anything else, including a
 * GS1 header whose fields are out of range or whose length is not 96 bits, comes back as
 * `{scheme:'raw', hex}` (device data is never an error). Throws `SG_ERR_PROTO_SYNTAX` only when
 * `hex` is not hex at all (empty, odd length, non-hex characters).
 */
export function decodeEpc(hex: string): DecodedEpc {
  if (hex.length === 0) throw new ProtocolError('SG_ERR_PROTO_SYNTAX', 'EPC: empty');
  const bad = hex.search(/[^0-9a-fA-F]/);
  if (bad >= 0) throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `EPC: non-hex character '${hex[bad]}' at position ${bad}`);
  if (hex.length % 2 !== 0) throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `EPC: odd number of hex digits (${hex.length})`);
  const upper = hex.toUpperCase();
  const header = parseInt(upper.slice(0, 2), 16);
  const decoder = DECODERS[header];
  if (!decoder) return { scheme: 'raw', hex: upper };
  if (upper.length !== 24) {
    return { scheme: 'raw', hex: upper, reason: `header 0x${upper.slice(0, 2)} needs 96 bits, got ${upper.length * 4}` };
  }
  try {
    const r = new Bits96(BigInt(`0x${upper}`));
    r.take(8);
    return decoder(r);
  } catch (err) {
    // Only DecodeFailure can reach here: the readers above do nothing else that throws.
    return { scheme: 'raw', hex: upper, reason: (err as Error).message };
  }
}

/** Input of {@link encodeSgtin96}. */
export interface Sgtin96Input {
  /** GTIN-8, -12, -13 or -14 (shorter ones are padded with leading zeros), check digit included. */
  gtin: string;
  /** Serial number: 0 .. 2^38-1; as a string, decimal digits without leading zeros [TDS §14.5.1]. */
  serial: number | bigint | string;
  /** Filter value 0..7 [TDS §10]. */
  filter: number;
  /** Digits of the GS1 Company Prefix in the GTIN, 6..12; selects the partition (12 - length). */
  companyPrefixLength: number;
}

/**
 * Encode an SGTIN-96 [TDS §14.5.1, encoding procedure §14.3]; returns 24 upper-case hex digits.
 * Throws ProtocolError: `SG_ERR_PROTO_SYNTAX` (GTIN not digits / wrong length),
 * `SG_ERR_PROTO_CHECK` (GTIN check digit), `SG_ERR_PROTO_RANGE` (filter, prefix length, serial),
 * `SG_ERR_PROTO_ARGUMENT` (serial not an integer / leading zeros).
 */
export function encodeSgtin96(input: Sgtin96Input): string {
  const { gtin, filter, companyPrefixLength: L } = input;
  if (!/^\d+$/.test(gtin) || ![8, 12, 13, 14].includes(gtin.length)) {
    throw new ProtocolError('SG_ERR_PROTO_SYNTAX', `gtin: '${gtin}' is not 8, 12, 13 or 14 digits`);
  }
  const g14 = gtin.padStart(14, '0');
  if (gs1CheckDigit(g14.slice(0, 13)) !== Number(g14[13])) {
    throw new ProtocolError('SG_ERR_PROTO_CHECK', `gtin: check digit ${g14[13]} should be ${gs1CheckDigit(g14.slice(0, 13))}`);
  }
  if (!Number.isInteger(filter) || filter < 0 || filter > 7) {
    throw new ProtocolError('SG_ERR_PROTO_RANGE', `filter: ${filter} is not an integer 0..7`);
  }
  if (!Number.isInteger(L) || L < 6 || L > 12) {
    throw new ProtocolError('SG_ERR_PROTO_RANGE', `companyPrefixLength: ${L} is not an integer 6..12`);
  }
  const serial = serialToBigInt(input.serial);
  if (serial >= 1n << BigInt(SERIAL_BITS_96)) {
    throw new ProtocolError('SG_ERR_PROTO_RANGE', `serial: ${serial} exceeds 2^38-1, the SGTIN-96 maximum`);
  }
  const partition = 12 - L;
  const row = SGTIN_PARTITIONS[partition]!;
  const companyPrefix = BigInt(g14.slice(1, 1 + L));
  const itemReference = BigInt(g14[0] + g14.slice(1 + L, 13));
  let v = BigInt(EPC_HEADERS['sgtin-96']);
  v = (v << 3n) | BigInt(filter);
  v = (v << 3n) | BigInt(partition);
  v = (v << BigInt(row.cBits)) | companyPrefix;
  v = (v << BigInt(row.bits)) | itemReference;
  v = (v << BigInt(SERIAL_BITS_96)) | serial;
  return v.toString(16).toUpperCase().padStart(24, '0');
}

function serialToBigInt(serial: number | bigint | string): bigint {
  if (typeof serial === 'bigint') {
    if (serial < 0n) throw new ProtocolError('SG_ERR_PROTO_RANGE', `serial: ${serial} is negative`);
    return serial;
  }
  if (typeof serial === 'number') {
    if (!Number.isSafeInteger(serial)) throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `serial: ${serial} is not a safe integer`);
    if (serial < 0) throw new ProtocolError('SG_ERR_PROTO_RANGE', `serial: ${serial} is negative`);
    return BigInt(serial);
  }
  // The 96-bit form stores an integer, so only serials that read back identically can be encoded.
  if (!/^(0|[1-9]\d*)$/.test(serial)) {
    throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', `serial: '${serial}' is not digits without leading zeros (use SGTIN-198)`);
  }
  return BigInt(serial);
}
