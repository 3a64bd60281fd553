import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEpc, encodeSgtin96, gs1CheckDigit } from '../../../protocols/rfid/epc.js';

const require = createRequire(import.meta.url);
/** epc-tds 1.4.1 (CommonJS): the cross-check oracle for valid EPCs. */
const tds = require('epc-tds') as typeof import('epc-tds').default;
/** `gtin` (CommonJS, untyped): an independent GTIN check-digit validator. */
const gtinLib = require('gtin') as { isValid(code: string): boolean };

/**
 * Build a 96-bit EPC from fields by writing the bit string out, as in the TDS coding tables: an
 * independent route from the BigInt shifts in protocols/rfid/epc.ts.
 */
function bits96(fields: Array<[value: bigint | number, width: number]>): string {
  const s = fields.map(([v, w]) => BigInt(v).toString(2).padStart(w, '0')).join('');
  expect(s).toHaveLength(96);
  let hex = '';
  for (let i = 0; i < 96; i += 4) hex += parseInt(s.slice(i, i + 4), 2).toString(16).toUpperCase();
  return hex;
}

/** Company-prefix bits by partition, shared by SGTIN, SSCC, GRAI and GIAI [TDS §14.5]. */
const C_BITS = [40, 37, 34, 30, 27, 24, 20];

describe('decodeEpc: SGTIN-96', () => {
  it('decodes the TDS example 3074257BF7194E4000001A85 (verified)', () => {
    expect(decodeEpc('3074257BF7194E4000001A85')).toEqual({
      scheme: 'sgtin-96',
      tagUri: 'urn:epc:tag:sgtin-96:3.0614141.812345.6789',
      pureUri: 'urn:epc:id:sgtin:0614141.812345.6789',
      gtin: '80614141123458',
      serial: '6789',
      filter: 3,
      companyPrefix: '0614141',
      itemReference: '812345',
    });
  });

  it('accepts lower-case hex', () => {
    expect(decodeEpc('3074257bf7194e4000001a85')).toMatchObject({ gtin: '80614141123458' });
  });

  it('decodes all 7 partitions, keeping the company prefix zeros and moving the indicator back', () => {
    // GTIN 1 0012345 67890 ? with the company prefix taken as its first L digits after the indicator.
    const body = '1001234567890';
    const gtin = body + gs1CheckDigit(body);
    expect(gtinLib.isValid(gtin)).toBe(true);
    for (let p = 0; p <= 6; p++) {
      const L = 12 - p;
      const company = gtin.slice(1, 1 + L);
      const item = gtin[0] + gtin.slice(1 + L, 13);
      const hex = bits96([[0x30, 8], [2, 3], [p, 3], [BigInt(company), C_BITS[p]!], [BigInt(item), 44 - C_BITS[p]!], [987654321, 38]]);
      expect(decodeEpc(hex), `partition ${p}`).toEqual({
        scheme: 'sgtin-96',
        tagUri: `urn:epc:tag:sgtin-96:2.${company}.${item}.987654321`,
        pureUri: `urn:epc:id:sgtin:${company}.${item}.987654321`,
        gtin,
        serial: '987654321',
        filter: 2,
        companyPrefix: company,
        itemReference: item,
      });
      expect(encodeSgtin96({ gtin, serial: 987654321, filter: 2, companyPrefixLength: L })).toBe(hex);
    }
  });

  it('keeps invalid SGTIN-96 bit patterns as raw with a reason (TDS: decoding fails)', () => {
    const partition7 = bits96([[0x30, 8], [1, 3], [7, 3], [0, 82]]);
    const bigPrefix = bits96([[0x30, 8], [1, 3], [0, 3], [10n ** 12n, 40], [0, 4], [0, 38]]);
    const bigItem = bits96([[0x30, 8], [1, 3], [0, 3], [1, 40], [13, 4], [0, 38]]);
    expect(decodeEpc(partition7)).toEqual({ scheme: 'raw', hex: partition7, reason: 'partition 7 is reserved (0..6 allowed)' });
    expect(decodeEpc(bigPrefix)).toMatchObject({ scheme: 'raw', reason: 'company prefix 1000000000000 has more than 12 digits' });
    expect(decodeEpc(bigItem)).toMatchObject({ scheme: 'raw', reason: 'item reference 13 has more than 1 digits' });
    expect(decodeEpc('3074257BF7194E4000001A')).toEqual({ scheme: 'raw', hex: '3074257BF7194E4000001A', reason: 'header 0x30 needs 96 bits, got 88' });
  });
});

describe('decodeEpc: SSCC-96, GRAI-96, GIAI-96', () => {
  it('decodes an SSCC-96 to its 18-digit SSCC with check digit', () => {
    // SSCC 3 0614141 123456789 ? : extension 3, company prefix 0614141 (partition 5), serial 123456789.
    const hex = bits96([[0x31, 8], [2, 3], [5, 3], [614141, 24], [3123456789n, 34], [0, 24]]);
    const sscc17 = '30614141123456789';
    const check = 10 - ([...sscc17].reduce((s, d, i) => s + Number(d) * (i % 2 === 0 ? 3 : 1), 0) % 10);
    expect(decodeEpc(hex)).toEqual({
      scheme: 'sscc-96',
      tagUri: 'urn:epc:tag:sscc-96:2.0614141.3123456789',
      pureUri: 'urn:epc:id:sscc:0614141.3123456789',
      sscc: sscc17 + (check % 10),
      filter: 2,
      companyPrefix: '0614141',
      serialReference: '3123456789',
    });
  });

  it('decodes a GRAI-96 to its AI (8003) value', () => {
    const hex = bits96([[0x33, 8], [0, 3], [5, 3], [614141, 24], [12345, 20], [5678, 38]]);
    const key = '0614141' + '12345';
    expect(decodeEpc(hex)).toEqual({
      scheme: 'grai-96',
      tagUri: 'urn:epc:tag:grai-96:0.0614141.12345.5678',
      pureUri: 'urn:epc:id:grai:0614141.12345.5678',
      grai: `0${key}${gs1CheckDigit(key)}5678`,
      filter: 0,
      companyPrefix: '0614141',
      assetType: '12345',
      serial: '5678',
    });
    // The check digit of '0' + key is that of a GTIN-13 with body key: cross-check with `gtin`.
    expect(gtinLib.isValid(`0${key}${gs1CheckDigit(key)}`)).toBe(true);
  });

  it('gives a 12-digit-prefix GRAI an empty asset type (0 digits)', () => {
    const hex = bits96([[0x33, 8], [0, 3], [0, 3], [123456789012n, 40], [0, 4], [7, 38]]);
    expect(decodeEpc(hex)).toMatchObject({ pureUri: 'urn:epc:id:grai:123456789012..7', assetType: '' });
    const bad = bits96([[0x33, 8], [0, 3], [0, 3], [123456789012n, 40], [1, 4], [7, 38]]);
    expect(decodeEpc(bad)).toMatchObject({ scheme: 'raw', reason: 'asset type 1 has more than 0 digits' });
  });

  it('decodes a GIAI-96 to its AI (8004) value, asset reference without leading zeros', () => {
    const hex = bits96([[0x34, 8], [1, 3], [5, 3], [614141, 24], [12345678n, 58]]);
    expect(decodeEpc(hex)).toEqual({
      scheme: 'giai-96',
      tagUri: 'urn:epc:tag:giai-96:1.0614141.12345678',
      pureUri: 'urn:epc:id:giai:0614141.12345678',
      giai: '061414112345678',
      filter: 1,
      companyPrefix: '0614141',
      assetReference: '12345678',
    });
  });
});

describe('decodeEpc: raw and errors', () => {
  it('keeps factory, unknown-header and odd-length EPCs as raw hex', () => {
    expect(decodeEpc('E28068940000500A9D2298C6')).toEqual({ scheme: 'raw', hex: 'E28068940000500A9D2298C6' });
    expect(decodeEpc('35000000')).toEqual({ scheme: 'raw', hex: '35000000' }); // GID-96: not decoded here
    expect(decodeEpc('3178E61C')).toMatchObject({ scheme: 'raw', reason: 'header 0x31 needs 96 bits, got 32' });
  });

  it('throws SG_ERR_PROTO_SYNTAX for text that is not hex', () => {
    for (const s of ['', 'XYZ0', '307', '30 74']) expect(() => decodeEpc(s)).toThrow(expect.objectContaining({ code: 'SG_ERR_PROTO_SYNTAX' }));
  });
});

describe('encodeSgtin96', () => {
  it('encodes GTIN 04012345678901, serial 1234567, filter 1, partition 5 (verified)', () => {
    expect(encodeSgtin96({ gtin: '04012345678901', serial: 1234567, filter: 1, companyPrefixLength: 7 })).toBe('3034F4E4E4424C800012D687');
    expect(encodeSgtin96({ gtin: '4012345678901', serial: '1234567', filter: 1, companyPrefixLength: 7 })).toBe('3034F4E4E4424C800012D687');
    expect(decodeEpc('3034F4E4E4424C800012D687')).toMatchObject({ gtin: '04012345678901', serial: '1234567', filter: 1 });
  });

  it('encodes the largest serial, 2^38-1, and rejects bad input with coded errors', () => {
    const max = 2n ** 38n - 1n;
    expect(decodeEpc(encodeSgtin96({ gtin: '80614141123458', serial: max, filter: 3, companyPrefixLength: 7 }))).toMatchObject({ serial: max.toString() });
    const cases: Array<[Parameters<typeof encodeSgtin96>[0], string]> = [
      [{ gtin: '8061414112345', serial: 1, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_CHECK'],
      [{ gtin: '80614141123459', serial: 1, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_CHECK'],
      [{ gtin: '8061414112345A', serial: 1, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_SYNTAX'],
      [{ gtin: '80614141123458', serial: 1, filter: 8, companyPrefixLength: 7 }, 'SG_ERR_PROTO_RANGE'],
      [{ gtin: '80614141123458', serial: 1, filter: 3, companyPrefixLength: 5 }, 'SG_ERR_PROTO_RANGE'],
      [{ gtin: '80614141123458', serial: max + 1n, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_RANGE'],
      [{ gtin: '80614141123458', serial: -1, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_RANGE'],
      [{ gtin: '80614141123458', serial: -1n, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_RANGE'],
      [{ gtin: '80614141123458', serial: 1.5, filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_ARGUMENT'],
      [{ gtin: '80614141123458', serial: '0123', filter: 3, companyPrefixLength: 7 }, 'SG_ERR_PROTO_ARGUMENT'],
    ];
    for (const [input, code] of cases) expect(() => encodeSgtin96(input), JSON.stringify(input, (_, v) => (typeof v === 'bigint' ? `${v}` : v))).toThrow(expect.objectContaining({ code }));
  });
});

// --- Cross-check against epc-tds on valid EPCs ----------------------------------------------------

const digitsBelow = (digits: number) => fc.bigInt({ min: 0n, max: 10n ** BigInt(digits) - 1n });
const partitionArb = fc.integer({ min: 0, max: 6 });

describe('cross-check with epc-tds on random valid EPCs', () => {
  it('SGTIN-96 decodes identically (URIs, GTIN, serial, filter)', () => {
    fc.assert(
      fc.property(
        partitionArb.chain((p) =>
          fc.tuple(fc.constant(p), fc.integer({ min: 0, max: 7 }), digitsBelow(12 - p), digitsBelow(p + 1), fc.bigInt({ min: 0n, max: 2n ** 38n - 1n })),
        ),
        ([p, filter, company, item, serial]) => {
          const hex = bits96([[0x30, 8], [filter, 3], [p, 3], [company, C_BITS[p]!], [item, 44 - C_BITS[p]!], [serial, 38]]);
          const ours = decodeEpc(hex);
          const theirs = tds.valueOf(hex) as InstanceType<typeof tds.Sgtin96>;
          expect(ours).toMatchObject({
            scheme: 'sgtin-96',
            tagUri: theirs.toTagURI(),
            pureUri: theirs.toIdURI(),
            gtin: theirs.getGtin(),
            serial: String(theirs.getSerial()),
            filter: theirs.getFilter(),
          });
        },
      ),
    );
  });

  it('SGTIN-96 encodes identically from GTIN, serial, filter and partition', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 10n ** 13n - 1n }), partitionArb, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 2 ** 38 - 1 }), (body, p, filter, serial) => {
        const g13 = body.toString().padStart(13, '0');
        const gtin = g13 + gs1CheckDigit(g13);
        const theirs = new tds.Sgtin96().setFilter(filter).setPartition(p).setGtin(gtin).setSerial(serial).toHexString();
        expect(encodeSgtin96({ gtin, serial, filter, companyPrefixLength: 12 - p })).toBe(theirs.toUpperCase());
      }),
    );
  });

  it('SSCC-96, GRAI-96 and GIAI-96 decode to the same URIs and keys', () => {
    const ssccArb = partitionArb.chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: 7 }), digitsBelow(12 - p), digitsBelow(p + 5)));
    fc.assert(
      fc.property(ssccArb, ([p, f, c, s]) => {
        const hex = bits96([[0x31, 8], [f, 3], [p, 3], [c, C_BITS[p]!], [s, 58 - C_BITS[p]!], [0, 24]]);
        const t = tds.valueOf(hex) as InstanceType<typeof tds.Sscc96>;
        expect(decodeEpc(hex)).toMatchObject({ tagUri: t.toTagURI(), pureUri: t.toIdURI(), sscc: t.getSscc() });
      }),
    );
    // Partition 0 excluded: epc-tds writes a 0-digit asset type as "0" where the TDS has it empty.
    const graiArb = fc.integer({ min: 1, max: 6 }).chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: 7 }), digitsBelow(12 - p), digitsBelow(p), fc.bigInt({ min: 0n, max: 2n ** 38n - 1n })));
    fc.assert(
      fc.property(graiArb, ([p, f, c, a, s]) => {
        const hex = bits96([[0x33, 8], [f, 3], [p, 3], [c, C_BITS[p]!], [a, 44 - C_BITS[p]!], [s, 38]]);
        const t = tds.valueOf(hex) as InstanceType<typeof tds.Grai96>;
        expect(decodeEpc(hex)).toMatchObject({ tagUri: t.toTagURI(), pureUri: t.toIdURI() });
      }),
    );
    const giaiArb = partitionArb.chain((p) => fc.tuple(fc.constant(p), fc.integer({ min: 0, max: 7 }), digitsBelow(12 - p), digitsBelow(13 + p)));
    fc.assert(
      fc.property(giaiArb, ([p, f, c, a]) => {
        const width = 82 - C_BITS[p]!;
        fc.pre(a < 2n ** BigInt(width));
        const hex = bits96([[0x34, 8], [f, 3], [p, 3], [c, C_BITS[p]!], [a, width]]);
        const t = tds.valueOf(hex) as InstanceType<typeof tds.Giai96>;
        expect(decodeEpc(hex)).toMatchObject({ tagUri: t.toTagURI(), pureUri: t.toIdURI(), giai: t.getGiai() });
      }),
    );
  });

  it('never throws on random 96-bit values, and returns raw only with a reason for GS1 headers', () => {
    fc.assert(
      fc.property(fc.constantFrom(0x30, 0x31, 0x33, 0x34, 0x35, 0xe2), fc.uint8Array({ minLength: 11, maxLength: 11 }), (h, rest) => {
        const hex = Buffer.from([h, ...rest]).toString('hex');
        const d = decodeEpc(hex);
        if (d.scheme === 'raw' && [0x30, 0x31, 0x33, 0x34].includes(h)) expect(d.reason).toBeTruthy();
      }),
    );
  });
});

// --- Why not epc-tds (documented in protocols/rfid/README.md) --------------------------------------

describe('epc-tds behaviours that made us write our own decoder', () => {
  it('decodes an 88-bit EPC as SGTIN-96 with a wrong serial instead of failing', () => {
    expect(tds.valueOf('3074257BF7194E4000001A').toTagURI()).toBe('urn:epc:tag:sgtin-96:3.0614141.812345.6656');
    expect(decodeEpc('3074257BF7194E4000001A').scheme).toBe('raw');
  });

  it('crashes with a TypeError (no code) on the reserved partition 7', () => {
    expect(() => tds.valueOf('307C257BF7194E4000001A85').toTagURI()).toThrow(TypeError);
    expect(decodeEpc('307C257BF7194E4000001A85').scheme).toBe('raw');
  });

  it('accepts a field wider than its digits and yields a 15-digit "GTIN"', () => {
    const hex = bits96([[0x30, 8], [3, 3], [0, 3], [1, 40], [13, 4], [0, 38]]);
    expect((tds.valueOf(hex) as InstanceType<typeof tds.Sgtin96>).getGtin()).toHaveLength(15);
    expect(decodeEpc(hex).scheme).toBe('raw');
  });

  it('returns the company prefix as a number, dropping its leading zero', () => {
    expect((tds.valueOf('3074257BF7194E4000001A85') as InstanceType<typeof tds.Sgtin96>).getCompanyPrefix()).toBe(614141);
    expect(decodeEpc('3074257BF7194E4000001A85')).toMatchObject({ companyPrefix: '0614141' });
  });
});
