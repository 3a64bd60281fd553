import { sql } from 'kysely';
import { type Dialect, reusable, type Tx } from '../db/index.js';
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

// The queries of every batch are reusable (cloud/db/reusable-query.ts): built and compiled once
// per dialect (and per row count of the cursor upsert), not in every batch; at the short batches
// of an active ingester Kysely's build was a large part of the follower's own cost.

const lockQuery = reusable('follower.lock', (tx, follower: string) => tx.selectFrom('ledger_cursors').select('pos').where('follower', '=', follower).where('consumer', '=', '').where('site', '=', '').forUpdate());

/**
 * Take the follower's lock row: PostgreSQL `FOR UPDATE`, held to the end of the transaction. On
 * SQLite nothing to do: the batch's `BEGIN IMMEDIATE` already holds the one write lock.
 */
export async function lockFollower(tx: Tx, dialect: Dialect, follower: string): Promise<void> {
  if (dialect === 'postgres') await lockQuery(tx, follower);
}

const cursorsQuery = reusable('follower.cursors', (tx, follower: string) =>
  tx.selectFrom('ledger_cursors').select(['consumer', 'site', 'pos']).where('follower', '=', follower).where('consumer', '<>', ''),
);

export async function cursors(tx: Tx, follower: string): Promise<CursorRow[]> {
  const { rows } = await cursorsQuery(tx, follower);
  return rows.map((r) => ({ consumer: r.consumer as string, site: r.site as string, pos: Number(r.pos) }));
}

const headsQuery = reusable('follower.heads', (tx) => tx.selectFrom('chain_heads').select(['site', 'pos']));

/** Where each site's ledger ends (the hash chain's head row: written in the commit that appends). */
export async function siteHeads(tx: Tx): Promise<Array<{ site: string; pos: number }>> {
  const { rows } = await headsQuery(tx);
  return rows.map((r) => ({ site: r.site as string, pos: Number(r.pos) }));
}

/**
 * The ledger columns a LedgerEntry is made of (not `raw`, the hash chain, `ts_ms`, ...), in the
 * order of `entryOfValues`. Reading the rows is most of the follower's own cost.
 */
export const ENTRY_COLUMNS = [
  'pos', 'id', 'edge', 'seq', 'ts', 'site', 'location', 'to_location', 'kind', 'sku', 'gtin', 'epc', 'batch', 'expiry', 'serial', 'qty', 'uom',
  'base_qty', 'base_uom', 'project', 'stage', 'operator', 'crew', 'po', 'req', 'sales_order', 'device_id', 'status', 'variance', 'applied_at', 'posted_token', 'posted_user',
] as const;

/**
 * On SQLite each row comes as ONE JSON array of those columns, built by SQLite (`json_array`):
 * better-sqlite3 makes a JS value per column and an object per row, and that cost more than
 * SQLite's own work: 32 columns as an object were 12-15 µs per row against 3.1-3.3 for the
 * array's text and its `JSON.parse` (500-row reads, CPU; bench/README.md "The follower's read").
 * Exact: the quantity columns have INTEGER affinity, which `json_array` writes as their digits
 * (it writes a REAL with 15 significant digits, but such a column holds a REAL only for a
 * non-integral value, which a thousandths column never has); text is escaped by SQLite's JSON
 * writer. On PostgreSQL the columns: there `json_build_array` saved the pg driver 5-8 µs per row
 * and cost the backend 6.5 more (4 -> 10.5), work moved onto the database every ingester shares.
 */
const ROW_AS_JSON = sql.raw(`json_array(${ENTRY_COLUMNS.join(', ')})`);

const rowsQuery = reusable('follower.rows', (tx, site: string, after: number, upTo: number, limit: number) =>
  tx.selectFrom('ledger').select(ENTRY_COLUMNS).where('site', '=', site).where('pos', '>', after).where('pos', '<=', upTo).orderBy('pos').limit(limit),
);
const rowsAsJsonQuery = reusable('follower.rows-json', (_tx, site: string, after: number, upTo: number, limit: number) =>
  sql<{ j: string }>`SELECT ${ROW_AS_JSON} AS j FROM ledger WHERE site = ${site} AND pos > ${after} AND pos <= ${upTo} ORDER BY pos LIMIT ${limit}`,
);

/** A site's rows in `(after, upTo]`, by position, at most `limit`. */
export async function siteRows(tx: Tx, dialect: Dialect, site: string, after: number, upTo: number, limit: number): Promise<LedgerEntry[]> {
  if (dialect === 'postgres') {
    const { rows } = await rowsQuery(tx, site, after, upTo, limit);
    return rows.map(entryOf);
  }
  const { rows } = await rowsAsJsonQuery(tx, site, after, upTo, limit);
  const out: LedgerEntry[] = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) out[i] = entryOfValues(JSON.parse(rows[i]!.j) as unknown[]);
  return out;
}

const putCursorsQuery = reusable('follower.put-cursors', (tx, rows: ReadonlyArray<{ follower: string; consumer: string; site: string; pos: number; updated_at: string }>) =>
  tx
    .insertInto('ledger_cursors')
    .values(rows as unknown as Array<Record<string, unknown>>)
    .onConflict((oc) => oc.columns(['follower', 'consumer', 'site']).doUpdateSet((eb) => ({ pos: eb.ref('excluded.pos'), updated_at: eb.ref('excluded.updated_at') }))),
);

export async function putCursors(tx: Tx, follower: string, rows: readonly CursorRow[], now: string): Promise<void> {
  if (rows.length === 0) return;
  await putCursorsQuery(tx, rows.map((r) => ({ follower, consumer: r.consumer, site: r.site, pos: r.pos, updated_at: now })));
}

const text = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const int = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));

const col = (c: (typeof ENTRY_COLUMNS)[number]): number => ENTRY_COLUMNS.indexOf(c);
/** The optional text fields of a LedgerEntry and where their columns are; '' in the table is absent. */
const OPTIONAL_AT: ReadonlyArray<[keyof LedgerEntry, number]> = (
  [
    ['toLocation', 'to_location'], ['gtin', 'gtin'], ['epc', 'epc'], ['batch', 'batch'], ['expiry', 'expiry'], ['serial', 'serial'],
    ['baseUom', 'base_uom'], ['project', 'project'], ['stage', 'stage'], ['operator', 'operator'], ['crew', 'crew'],
    // Columns the procurement/sales wire fields add (issue 10 §3, 11 §1): read when present.
    ['po', 'po'], ['req', 'req'], ['order', 'sales_order'],
  ] as const
).map(([k, c]) => [k, col(c)]);
const AT = {
  pos: col('pos'), id: col('id'), edge: col('edge'), seq: col('seq'), ts: col('ts'), site: col('site'), location: col('location'), kind: col('kind'),
  sku: col('sku'), qty: col('qty'), uom: col('uom'), deviceId: col('device_id'), status: col('status'), appliedAt: col('applied_at'),
  baseQty: col('base_qty'), variance: col('variance'), postedToken: col('posted_token'), postedUser: col('posted_user'),
} as const;

/** A row of `ENTRY_COLUMNS` values, in that order (SQLite's JSON array in `siteRows`), as a LedgerEntry. */
export function entryOfValues(v: readonly unknown[]): LedgerEntry {
  const e: LedgerEntry = {
    pos: Number(v[AT.pos]),
    id: v[AT.id] as string,
    edge: v[AT.edge] as string,
    seq: Number(v[AT.seq]),
    ts: v[AT.ts] as string,
    site: v[AT.site] as string,
    location: v[AT.location] as string,
    kind: v[AT.kind] as LedgerEntry['kind'],
    sku: v[AT.sku] as string,
    qty: Number(v[AT.qty]),
    uom: v[AT.uom] as string,
    deviceId: v[AT.deviceId] as string,
    status: v[AT.status] as LedgerEntry['status'],
    appliedAt: v[AT.appliedAt] as string,
  };
  for (const [k, i] of OPTIONAL_AT) {
    const t = text(v[i]);
    if (t !== undefined) (e as unknown as Record<string, unknown>)[k] = t;
  }
  const bq = int(v[AT.baseQty]);
  if (bq !== undefined) e.baseQty = bq;
  const va = int(v[AT.variance]);
  if (va !== undefined) e.variance = va;
  if (text(v[AT.postedToken])) e.postedBy = { tokenId: v[AT.postedToken] as string, user: (v[AT.postedUser] as string | null) ?? '' };
  return e;
}

/** A `ledger` table row (same columns on both dialects) as a LedgerEntry, thousandths kept. */
export function entryOf(r: Record<string, unknown>): LedgerEntry {
  return entryOfValues(ENTRY_COLUMNS.map((c) => r[c]));
}
