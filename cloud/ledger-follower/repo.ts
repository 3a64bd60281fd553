import type { Dialect, Tx } from '../db/index.js';
import type { LedgerEntry } from './ledger-consumer.js';

/** Queries of the follower (both dialects, through Kysely). Quantities stay integer thousandths. */

export interface CursorRow {
  consumer: string;
  site: string;
  pos: number;
}

/** The lock row of a follower exists (idempotent; two processes may create it at once). */
export async function ensureLockRow(tx: Tx, follower: string, now: string): Promise<void> {
  await tx
    .insertInto('ledger_cursors')
    .values({ follower, consumer: '', site: '', pos: 0, updated_at: now })
    .onConflict((oc) => oc.columns(['follower', 'consumer', 'site']).doNothing())
    .execute();
}

/** Take the follower's lock row (PostgreSQL: `FOR UPDATE`, held to the end of the transaction; SQLite's `BEGIN IMMEDIATE` already serialises writers). */
export async function lockFollower(tx: Tx, dialect: Dialect, follower: string): Promise<void> {
  let q = tx.selectFrom('ledger_cursors').select('pos').where('follower', '=', follower).where('consumer', '=', '').where('site', '=', '');
  if (dialect === 'postgres') q = q.forUpdate();
  await q.execute();
}

export async function cursors(tx: Tx, follower: string): Promise<CursorRow[]> {
  const rows = await tx.selectFrom('ledger_cursors').select(['consumer', 'site', 'pos']).where('follower', '=', follower).where('consumer', '<>', '').execute();
  return rows.map((r) => ({ consumer: r.consumer as string, site: r.site as string, pos: Number(r.pos) }));
}

/** Where each site's ledger ends (the hash chain's head row: written in the commit that appends). */
export async function siteHeads(tx: Tx): Promise<Array<{ site: string; pos: number }>> {
  const rows = await tx.selectFrom('chain_heads').select(['site', 'pos']).execute();
  return rows.map((r) => ({ site: r.site as string, pos: Number(r.pos) }));
}

/**
 * The ledger columns a LedgerEntry is made of (not `raw`, the hash chain, `ts_ms`, ...): every
 * column read is a value built per row, and this read is most of the follower's own cost.
 */
const ENTRY_COLUMNS = [
  'pos', 'id', 'edge', 'seq', 'ts', 'site', 'location', 'to_location', 'kind', 'sku', 'gtin', 'epc', 'batch', 'expiry', 'serial', 'qty', 'uom',
  'base_qty', 'base_uom', 'project', 'stage', 'operator', 'crew', 'po', 'req', 'sales_order', 'device_id', 'status', 'variance', 'applied_at', 'posted_token', 'posted_user',
] as const;

/** A site's rows in `(after, upTo]`, by position, at most `limit`. */
export async function siteRows(tx: Tx, site: string, after: number, upTo: number, limit: number): Promise<LedgerEntry[]> {
  const rows = await tx.selectFrom('ledger').select(ENTRY_COLUMNS).where('site', '=', site).where('pos', '>', after).where('pos', '<=', upTo).orderBy('pos').limit(limit).execute();
  return rows.map(entryOf);
}

export async function putCursors(tx: Tx, follower: string, rows: readonly CursorRow[], now: string): Promise<void> {
  if (rows.length === 0) return;
  await tx
    .insertInto('ledger_cursors')
    .values(rows.map((r) => ({ follower, consumer: r.consumer, site: r.site, pos: r.pos, updated_at: now })))
    .onConflict((oc) => oc.columns(['follower', 'consumer', 'site']).doUpdateSet((eb) => ({ pos: eb.ref('excluded.pos'), updated_at: eb.ref('excluded.updated_at') })))
    .execute();
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

/** A `ledger` table row (same columns on both dialects) as a LedgerEntry, thousandths kept. */
export function entryOf(r: Record<string, unknown>): LedgerEntry {
  const e: LedgerEntry = {
    pos: Number(r.pos),
    id: r.id as string,
    edge: r.edge as string,
    seq: Number(r.seq),
    ts: r.ts as string,
    site: r.site as string,
    location: r.location as string,
    kind: r.kind as LedgerEntry['kind'],
    sku: r.sku as string,
    qty: Number(r.qty),
    uom: r.uom as string,
    deviceId: r.device_id as string,
    status: r.status as LedgerEntry['status'],
    appliedAt: r.applied_at as string,
  };
  const opt: Array<[keyof LedgerEntry, string]> = [
    ['toLocation', 'to_location'], ['gtin', 'gtin'], ['epc', 'epc'], ['batch', 'batch'], ['expiry', 'expiry'], ['serial', 'serial'],
    ['baseUom', 'base_uom'], ['project', 'project'], ['stage', 'stage'], ['operator', 'operator'], ['crew', 'crew'],
    // Columns the procurement/sales wire fields add (issue 10 §3, 11 §1): read when present.
    ['po', 'po'], ['req', 'req'], ['order', 'sales_order'],
  ];
  for (const [k, col] of opt) {
    const v = text(r[col]);
    if (v !== undefined) (e as unknown as Record<string, unknown>)[k] = v;
  }
  const bq = int(r.base_qty);
  if (bq !== undefined) e.baseQty = bq;
  const va = int(r.variance);
  if (va !== undefined) e.variance = va;
  if (text(r.posted_token)) e.postedBy = { tokenId: r.posted_token as string, user: (r.posted_user as string | null) ?? '' };
  return e;
}
