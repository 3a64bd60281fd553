import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHAIN_COLUMNS, ChainVerifier, canonical, canonicalTextReference, chainHash, GENESIS } from '../../../cloud/ledger/chain.js';

/** The definition of issue 9 written out the slow way: SHA-256(prev 32 bytes || JSON array bytes). */
function columns(row: Record<string, unknown>): unknown[] {
  const cols: unknown[] = CHAIN_COLUMNS.map((c) => row[c] ?? null);
  if (row.po != null || row.req != null || row.sales_order != null) cols.push(row.po ?? null, row.req ?? null, row.sales_order ?? null);
  return cols;
}
function reference(prevHex: string, row: Record<string, unknown>): string {
  const text = JSON.stringify(columns(row));
  return createHash('sha256').update(Buffer.from(prevHex, 'hex')).update(Buffer.from(text, 'utf8')).digest('hex');
}

const base = {
  chain_n: 1, id: '01M80HHQEE000NGEGV87269CTA', edge: 'edge-1', seq: 7, ts: '2026-12-06T06:00:00.000Z', site: 'S1',
  location: 'DOCK-1', to_location: null, kind: 'receive', sku: 'SKU-1', gtin: null, epc: null, batch: '', expiry: null,
  serial: null, qty: 1500, uom: 'ea', base_qty: 1500, base_uom: 'ea', rounding: null, project: '', stage: null,
  operator: 'W-1', crew: null, device_id: 'dock1', device_type: 'scanner', raw: ']C0SKU-1', status: 'applied',
  variance: null, posted_token: null, posted_user: null, applied_at: '2026-12-06T06:00:00.010Z',
};

describe('chain hash (issue 9): the fast path hashes the bytes of the definition', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['plain row', base],
    ['quotes, backslashes and controls', { ...base, raw: 'a"b\\c\u0001\n\t', operator: '"' }],
    ['non-ASCII and astral characters', { ...base, location: '仓库-A', raw: 'é😀' }],
    ['a lone surrogate', { ...base, raw: 'x\ud800y' }],
    ['absent columns (undefined) and negatives', { ...base, variance: -250, expiry: undefined, gtin: undefined }],
    ['numbers read back as strings (pg bigint)', { ...base, qty: '1500', seq: '7', chain_n: '1' }],
    ['a long raw', { ...base, raw: 'z'.repeat(40_000) }],
    ['document refs (35 columns)', { ...base, po: 'PO-1', req: null, sales_order: 'SO-"9"' }],
    ['document refs all null (32 columns)', { ...base, po: null, req: undefined, sales_order: null }],
  ];
  for (const [name, row] of cases) {
    it(name, () => {
      expect(chainHash(GENESIS, row)).toBe(reference(GENESIS, row));
      const prev = reference(GENESIS, base);
      expect(chainHash(prev, row)).toBe(reference(prev, row));
      expect(canonical(row).toString('utf8')).toBe(JSON.stringify(columns(row)));
    });
  }

  // Values a column can hold, as the stores and the verifier pass them: strings of any UTF-16
  // (controls, quotes, astral pairs, lone surrogates), integers, pg bigints read back as digit
  // strings, absent (undefined) and null; plus values JSON.stringify itself writes (fractions,
  // non-finite numbers, -0, booleans, a Date) to cover the fallback.
  const text = fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)), maxLength: 24 }),
    fc.constantFrom('', '"', '\\', '\u007f', '\u2028', '仓库-A', '😀', '\ud800', '\udfff'),
  );
  const value = fc.oneof(
    { arbitrary: text, weight: 6 },
    { arbitrary: fc.constantFrom(null, undefined), weight: 3 },
    { arbitrary: fc.oneof(fc.integer(), fc.maxSafeInteger(), fc.maxSafeNat().map((n) => -n)), weight: 3 },
    { arbitrary: fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String), weight: 1 },
    { arbitrary: fc.oneof(fc.double(), fc.constantFrom(-0, 2 ** 53, 1e21, 0.1, true, false, new Date(Date.UTC(2026, 11, 6)))), weight: 1 },
  );
  const refs = fc.record({ po: value, req: value, sales_order: value }, { requiredKeys: [] });
  const arbRow = fc
    .tuple(fc.tuple(...CHAIN_COLUMNS.map(() => value)), refs)
    .map(([vals, r]) => ({ ...Object.fromEntries(CHAIN_COLUMNS.map((c, i) => [c, vals[i]])), ...r }) as Record<string, unknown>);
  const prevHex = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));

  it('on random rows the fast path writes the bytes of the definition and hashes as it does', () => {
    fc.assert(
      fc.property(arbRow, prevHex, (row, prev) => {
        const text = JSON.stringify(columns(row));
        expect(canonicalTextReference(row)).toBe(text);
        // Bytes, not a decoded string: a wrong UTF-8 sequence would decode to U+FFFD and could hide.
        expect(canonical(row).equals(Buffer.from(text, 'utf8'))).toBe(true);
        expect(chainHash(prev, row)).toBe(reference(prev, row));
      }),
      { numRuns: 2000 },
    );
  });

  it('control: the comparison sees two columns swapped and a document ref added', () => {
    fc.assert(
      fc.property(arbRow, fc.integer({ min: 0, max: CHAIN_COLUMNS.length - 2 }), (row, i) => {
        const [a, b] = [CHAIN_COLUMNS[i]!, CHAIN_COLUMNS[i + 1]!];
        fc.pre(JSON.stringify(row[a] ?? null) !== JSON.stringify(row[b] ?? null));
        const swapped = { ...row, [a]: row[b], [b]: row[a] };
        expect(canonical(swapped).equals(Buffer.from(JSON.stringify(columns(row)), 'utf8'))).toBe(false);
        expect(chainHash(GENESIS, swapped)).not.toBe(reference(GENESIS, row));
      }),
    );
    const plain = { ...base, po: undefined, req: undefined, sales_order: undefined };
    expect(chainHash(GENESIS, { ...plain, req: 'R1' })).not.toBe(reference(GENESIS, plain));
  });

  it('rows longer than the scratch bytes, then short ones again, hash as the definition', () => {
    const short = { ...base, raw: 'é' };
    expect(chainHash(GENESIS, short)).toBe(reference(GENESIS, short));
    // 3 bytes per character, and the worst case of 6 (escapes): past any buffer grown so far.
    // Escapes first: a bound that allowed fewer than 6 bytes per code unit would write past the end.
    for (const raw of ['\u0001'.repeat(150_000), '€'.repeat(500_000), `${'x'.repeat(70_000)}😀`]) {
      const long = { ...base, raw, po: 'PO-1' };
      expect(chainHash(GENESIS, long)).toBe(reference(GENESIS, long));
      expect(canonical(long).equals(Buffer.from(JSON.stringify(columns(long)), 'utf8'))).toBe(true);
      expect(chainHash(GENESIS, short)).toBe(reference(GENESIS, short));
    }
  });

  it('a changed byte changes the hash, and the verifier stops at that row', () => {
    const rows = [1, 2, 3].map((n) => ({ ...base, chain_n: n, id: `id-${n}`, pos: n * 10 }));
    let prev = GENESIS;
    const stored = rows.map((r) => ({ ...r, hash: (prev = chainHash(prev, r)) }));
    const ok = new ChainVerifier();
    for (const r of stored) ok.push(r);
    expect(ok.result()).toEqual({ ok: true, checked: 3, brokenAt: null });
    const bad = new ChainVerifier();
    for (const r of stored.map((r) => (r.chain_n === 2 ? { ...r, qty: 1501 } : r))) if (!bad.push(r)) break;
    expect(bad.result()).toEqual({ ok: false, checked: 2, brokenAt: { pos: 20, id: 'id-2' } });
  });
});
