import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHAIN_COLUMNS, ChainVerifier, canonical, chainHash, GENESIS } from '../../../cloud/ledger/chain.js';

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
