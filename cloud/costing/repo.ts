import { type Kysely, sql, type Transaction } from 'kysely';
import { reusable } from '../db/index.js';

/**
 * The costing tables (module.ts) through Kysely, one code path for SQLite and PostgreSQL. Repos
 * never open a transaction: the service hands them its `trx` (cloud/README.md, "One database").
 */

/** A transaction (or the database, for reads) as a repo receives it. */
export type Tx = Kysely<any> | Transaction<any>;

export type CostCategory = 'material' | 'labour' | 'equipment' | 'other';
/** Where a cost entry comes from: a ledger issue/return, a late landed cost, or a posted cost line. */
export type CostSource = 'issue' | 'return' | 'landed-variance' | 'manual';

export interface AverageRow {
  site: string;
  sku: string;
  qtyMilli: number;
  valueExact: string;
  lastAverage: string;
  updatedPos: number;
}

export interface CostEntry {
  project: string;
  stage: string | null;
  category: CostCategory;
  source: CostSource;
  amountFen: number;
  exactFen: string;
  date: string;
  period: string;
  site: string | null;
  sku: string | null;
  qtyMilli: number | null;
  unitCost: string | null;
  movement: string | null;
  pos: number | null;
  /** The landed cost id of a variance, the PO of a receipt-derived entry, ... */
  ref: string | null;
  note: string | null;
  createdBy: string | null;
  createdAt: string;
}

export interface ReceiptRow {
  movement: string;
  pos: number;
  site: string;
  sku: string;
  po: string | null;
  poLine: number | null;
  qtyMilli: number;
  unitCost: string;
  landedExact: string;
  flag: string | null;
}

export interface PendingLanded {
  po: string;
  poLine: number;
  site: string;
  sku: string;
  remainingMilli: number;
  remainingExact: string;
}

const n = (v: unknown): number => Number(v);
const key = (site: string, sku: string) => `${site}\u0000${sku}`;

/**
 * `lock`: take the rows `FOR UPDATE` (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises
 * writers), so the follower and a landed-cost posting never overwrite each other's average.
 */
// Every follower batch's queries are reusable (cloud/db/reusable-query.ts): compiled once per shape.
const averagesQuery = reusable('costing.averages', (trx, site: string, skus: string[], lock: boolean) => {
  // A fixed order, so two lockers never deadlock.
  const q = trx.selectFrom('cost_averages').selectAll().where('site', '=', site).where('sku', 'in', skus).orderBy('sku');
  return lock ? q.forUpdate() : q;
});

export async function loadAverages(trx: Tx, pairs: ReadonlyArray<{ site: string; sku: string }>, lock = false): Promise<Map<string, AverageRow>> {
  const out = new Map<string, AverageRow>();
  if (pairs.length === 0) return out;
  const seen = new Map<string, { site: string; sku: string }>();
  for (const p of pairs) seen.set(key(p.site, p.sku), p);
  // Per site, `sku IN (...)` in chunks: the primary key answers it (an OR of pairs would not).
  const bySite = new Map<string, string[]>();
  for (const p of seen.values()) bySite.set(p.site, [...(bySite.get(p.site) ?? []), p.sku]);
  for (const [site, skus] of [...bySite].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    skus.sort();
    for (let i = 0; i < skus.length; i += 500) {
      const { rows } = await averagesQuery(trx, site, skus.slice(i, i + 500), lock);
      for (const r of rows) out.set(key(r.site as string, r.sku as string), toAverage(r));
    }
  }
  return out;
}

export async function average(trx: Tx, site: string, sku: string, lock = false): Promise<AverageRow | undefined> {
  let q = trx.selectFrom('cost_averages').selectAll().where('site', '=', site).where('sku', '=', sku);
  if (lock) q = q.forUpdate();
  const r = await q.executeTakeFirst();
  return r ? toAverage(r) : undefined;
}

const toAverage = (r: Record<string, unknown>): AverageRow => ({
  site: String(r.site),
  sku: String(r.sku),
  qtyMilli: n(r.qty_milli),
  valueExact: String(r.value_exact),
  lastAverage: String(r.last_average),
  updatedPos: n(r.updated_pos),
});

/** Many averages in multi-row upserts (one follower batch: one or a few statements). */
const saveAveragesQuery = reusable(
  'costing.save-averages',
  (trx, rows: Array<Record<string, unknown>>) =>
    trx
      .insertInto('cost_averages')
      .values(rows)
      .onConflict((oc) => oc.columns(['site', 'sku']).doUpdateSet((eb) => ({ qty_milli: eb.ref('excluded.qty_milli'), value_exact: eb.ref('excluded.value_exact'), last_average: eb.ref('excluded.last_average'), updated_pos: eb.ref('excluded.updated_pos') }))),
  { nullIsValue: true },
);

export async function saveAverages(trx: Tx, list: readonly AverageRow[]): Promise<void> {
  for (let i = 0; i < list.length; i += 150) {
    await saveAveragesQuery(trx, list.slice(i, i + 150).map((a) => ({ site: a.site, sku: a.sku, qty_milli: a.qtyMilli, value_exact: a.valueExact, last_average: a.lastAverage, updated_pos: a.updatedPos })));
  }
}

export async function saveAverage(trx: Tx, a: AverageRow): Promise<void> {
  const row = { site: a.site, sku: a.sku, qty_milli: a.qtyMilli, value_exact: a.valueExact, last_average: a.lastAverage, updated_pos: a.updatedPos };
  await trx
    .insertInto('cost_averages')
    .values(row)
    .onConflict((oc) => oc.columns(['site', 'sku']).doUpdateSet({ qty_milli: a.qtyMilli, value_exact: a.valueExact, last_average: a.lastAverage, updated_pos: a.updatedPos }))
    .execute();
}

const carryQuery = reusable('costing.carry', (trx, project: string, category: string) =>
  trx.selectFrom('cost_carries').select(['exact_fen', 'posted_fen']).where('project', '=', project).where('category', '=', category),
);

export async function carry(trx: Tx, project: string, category: CostCategory): Promise<{ exactFen: string; postedFen: number } | undefined> {
  const r = (await carryQuery(trx, project, category)).rows[0] as Record<string, unknown> | undefined;
  return r ? { exactFen: String(r.exact_fen), postedFen: n(r.posted_fen) } : undefined;
}

const saveCarryQuery = reusable('costing.save-carry', (trx, project: string, category: string, exactFen: string, postedFen: number) =>
  trx
    .insertInto('cost_carries')
    .values({ project, category, exact_fen: exactFen, posted_fen: postedFen })
    .onConflict((oc) => oc.columns(['project', 'category']).doUpdateSet((eb) => ({ exact_fen: eb.ref('excluded.exact_fen'), posted_fen: eb.ref('excluded.posted_fen') }))),
);

export async function saveCarry(trx: Tx, project: string, category: CostCategory, s: { exactFen: string; postedFen: number }): Promise<void> {
  await saveCarryQuery(trx, project, category, s.exactFen, s.postedFen);
}

const entryRow = (e: CostEntry) => ({
  project: e.project,
  stage: e.stage,
  category: e.category,
  source: e.source,
  amount_fen: e.amountFen,
  exact_fen: e.exactFen,
  date: e.date,
  period: e.period,
  site: e.site,
  sku: e.sku,
  qty_milli: e.qtyMilli,
  unit_cost: e.unitCost,
  movement: e.movement,
  pos: e.pos,
  ref: e.ref,
  note: e.note,
  created_by: e.createdBy,
  created_at: e.createdAt,
});

export async function insertEntry(trx: Tx, e: CostEntry): Promise<number> {
  const r = await trx.insertInto('cost_entries').values(entryRow(e)).returning('id').executeTakeFirstOrThrow();
  return n(r.id);
}

/** Many entries, in order, in multi-row inserts (a follower batch of issues is one or a few statements). */
const insertEntriesQuery = reusable('costing.insert-entries', (trx, rows: Array<Record<string, unknown>>) => trx.insertInto('cost_entries').values(rows), { nullIsValue: true });

export async function insertEntries(trx: Tx, list: readonly CostEntry[]): Promise<void> {
  // 18 columns x 100 rows stays far below both dialects' parameter limits.
  for (let i = 0; i < list.length; i += 100) await insertEntriesQuery(trx, list.slice(i, i + 100).map(entryRow));
}

export interface EntryRow extends CostEntry {
  id: number;
}

export async function entries(trx: Tx, q: { project: string; period?: string; limit?: number }): Promise<EntryRow[]> {
  let s = trx.selectFrom('cost_entries').selectAll().where('project', '=', q.project);
  if (q.period) s = s.where('period', '=', q.period);
  const rows = await s.orderBy('id').limit(q.limit ?? 100_000).execute();
  return rows.map((r) => ({
    id: n(r.id),
    project: r.project,
    stage: r.stage ?? null,
    category: r.category,
    source: r.source,
    amountFen: n(r.amount_fen),
    exactFen: r.exact_fen,
    date: r.date,
    period: r.period,
    site: r.site ?? null,
    sku: r.sku ?? null,
    qtyMilli: r.qty_milli === null || r.qty_milli === undefined ? null : n(r.qty_milli),
    unitCost: r.unit_cost ?? null,
    movement: r.movement ?? null,
    pos: r.pos === null || r.pos === undefined ? null : n(r.pos),
    ref: r.ref ?? null,
    note: r.note ?? null,
    createdBy: r.created_by ?? null,
    createdAt: r.created_at,
  }));
}

/** Σ posted fen per (category, stage) of a project (optionally one period). */
export async function sums(trx: Tx, project: string, period?: string): Promise<Array<{ category: CostCategory; stage: string | null; fen: number }>> {
  let s = trx
    .selectFrom('cost_entries')
    .select(['category', 'stage', sql<number>`SUM(amount_fen)`.as('fen')])
    .where('project', '=', project);
  if (period) s = s.where('period', '=', period);
  const rows = await s.groupBy(['category', 'stage']).execute();
  return rows.map((r) => ({ category: r.category as CostCategory, stage: r.stage ?? null, fen: n(r.fen) }));
}

/** Projects that have cost entries in a period (for the month-close snapshot). */
export async function projectsWithEntries(trx: Tx, period?: string): Promise<string[]> {
  let s = trx.selectFrom('cost_entries').select('project').distinct();
  if (period) s = s.where('period', '=', period);
  return (await s.orderBy('project').execute()).map((r) => String(r.project));
}

/**
 * What a project got of an item at a site through issues and returns: net quantity and exact
 * cost. A return is credited at this (the original issue cost, averaged over the project's net
 * issues of the item when there were several).
 */
export async function issuedTo(trx: Tx, project: string, site: string, sku: string): Promise<Array<{ qtyMilli: number; exactFen: string }>> {
  const rows = await trx
    .selectFrom('cost_entries')
    .select(['qty_milli', 'exact_fen'])
    .where('project', '=', project)
    .where('site', '=', site)
    .where('sku', '=', sku)
    .where('source', 'in', ['issue', 'return'])
    // Ledger order (on SQLite the (site, sku, pos) index gives it anyway): the exact sum adds
    // them in the order they were posted, and a batch's own entries follow (service.ts).
    .orderBy('pos')
    .execute();
  return rows.map((r) => ({ qtyMilli: n(r.qty_milli), exactFen: String(r.exact_fen) }));
}

/** Net quantity per project issued of an item at a site after a ledger position (issues minus returns). */
export async function consumedAfter(trx: Tx, site: string, sku: string, pos: number): Promise<Array<{ project: string; stage: string | null; qtyMilli: number }>> {
  const rows = await trx
    .selectFrom('cost_entries')
    .select(['project', 'stage', sql<number>`SUM(qty_milli)`.as('q')])
    .where('site', '=', site)
    .where('sku', '=', sku)
    .where('source', 'in', ['issue', 'return'])
    .where('pos', '>', pos)
    .groupBy(['project', 'stage'])
    .orderBy('project')
    .orderBy('stage')
    .execute();
  return rows.map((r) => ({ project: String(r.project), stage: r.stage ?? null, qtyMilli: n(r.q) })).filter((r) => r.qtyMilli > 0);
}

/** Receipts in multi-row inserts (a replayed movement is ignored). */
const insertReceiptsQuery = reusable('costing.insert-receipts', (trx, rows: Array<Record<string, unknown>>) => trx.insertInto('cost_receipts').values(rows).onConflict((oc) => oc.column('movement').doNothing()), { nullIsValue: true });

export async function insertReceipts(trx: Tx, list: readonly ReceiptRow[]): Promise<void> {
  for (let i = 0; i < list.length; i += 150) {
    await insertReceiptsQuery(trx, list.slice(i, i + 150).map((r) => ({ movement: r.movement, pos: r.pos, site: r.site, sku: r.sku, po: r.po, po_line: r.poLine, qty_milli: r.qtyMilli, unit_cost: r.unitCost, landed_exact: r.landedExact, flag: r.flag })));
  }
}

export async function receiptsOf(trx: Tx, po: string): Promise<ReceiptRow[]> {
  const rows = await trx.selectFrom('cost_receipts').selectAll().where('po', '=', po).orderBy('pos').execute();
  return rows.map((r) => ({
    movement: r.movement,
    pos: n(r.pos),
    site: r.site,
    sku: r.sku,
    po: r.po,
    poLine: r.po_line === null ? null : n(r.po_line),
    qtyMilli: n(r.qty_milli),
    unitCost: r.unit_cost,
    landedExact: r.landed_exact,
    flag: r.flag ?? null,
  }));
}

/** Receipts with no PO price (standard cost or no cost at all), newest first. */
export async function flaggedReceipts(trx: Tx, site: string | undefined, limit: number): Promise<ReceiptRow[]> {
  let s = trx.selectFrom('cost_receipts').selectAll().where('flag', 'is not', null);
  if (site) s = s.where('site', '=', site);
  const rows = await s.orderBy('pos', 'desc').limit(limit).execute();
  return rows.map((r) => ({ movement: r.movement, pos: n(r.pos), site: r.site, sku: r.sku, po: r.po, poLine: r.po_line === null ? null : n(r.po_line), qtyMilli: n(r.qty_milli), unitCost: r.unit_cost, landedExact: r.landed_exact, flag: r.flag }));
}

export async function pendingLanded(trx: Tx, po: string, poLine: number, lock = false): Promise<PendingLanded | undefined> {
  let q = trx.selectFrom('cost_landed_pending').selectAll().where('po', '=', po).where('po_line', '=', poLine);
  if (lock) q = q.forUpdate();
  const r = await q.executeTakeFirst();
  return r ? { po: r.po, poLine: n(r.po_line), site: r.site, sku: r.sku, remainingMilli: n(r.remaining_milli), remainingExact: r.remaining_exact } : undefined;
}

export async function savePending(trx: Tx, p: PendingLanded): Promise<void> {
  await trx
    .insertInto('cost_landed_pending')
    .values({ po: p.po, po_line: p.poLine, site: p.site, sku: p.sku, remaining_milli: p.remainingMilli, remaining_exact: p.remainingExact })
    .onConflict((oc) => oc.columns(['po', 'po_line']).doUpdateSet({ remaining_milli: p.remainingMilli, remaining_exact: p.remainingExact }))
    .execute();
}

export async function deletePending(trx: Tx, po: string, poLine: number): Promise<void> {
  await trx.deleteFrom('cost_landed_pending').where('po', '=', po).where('po_line', '=', poLine).execute();
}

export async function insertLanded(trx: Tx, l: { po: string; amountFen: number; allocate: string; toStockFen: number; varianceFen: number; pendingFen: number; by: string; at: string }): Promise<number> {
  const r = await trx
    .insertInto('cost_landed')
    .values({ po: l.po, amount_fen: l.amountFen, allocate: l.allocate, to_stock_fen: l.toStockFen, variance_fen: l.varianceFen, pending_fen: l.pendingFen, by_user: l.by, at: l.at })
    .returning('id')
    .executeTakeFirstOrThrow();
  return n(r.id);
}

/** The latest closed period ('yyyy-mm'), or undefined. */
const lastClosedQuery = reusable('costing.last-closed', (trx) => trx.selectFrom('cost_periods').select(sql<string>`MAX(period)`.as('p')));

export async function lastClosed(trx: Tx): Promise<string | undefined> {
  const r = (await lastClosedQuery(trx)).rows[0];
  return r?.p ?? undefined;
}

export async function period(trx: Tx, p: string): Promise<{ period: string; closedAt: string; closedBy: string } | undefined> {
  const r = await trx.selectFrom('cost_periods').selectAll().where('period', '=', p).executeTakeFirst();
  return r ? { period: r.period, closedAt: r.closed_at, closedBy: r.closed_by } : undefined;
}

/** Insert the closed period; false when it was closed already (a concurrent close lost). */
export async function insertPeriod(trx: Tx, p: string, at: string, by: string): Promise<boolean> {
  const r = await trx.insertInto('cost_periods').values({ period: p, closed_at: at, closed_by: by }).onConflict((oc) => oc.column('period').doNothing()).executeTakeFirst();
  return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
}

export async function insertSnapshot(trx: Tx, p: string, project: string, figures: unknown): Promise<void> {
  await trx.insertInto('cost_period_snapshots').values({ period: p, project, figures: JSON.stringify(figures) }).execute();
}

export async function snapshot(trx: Tx, p: string, project: string): Promise<unknown | undefined> {
  const r = await trx.selectFrom('cost_period_snapshots').select('figures').where('period', '=', p).where('project', '=', project).executeTakeFirst();
  return r ? JSON.parse(String(r.figures)) : undefined;
}

/**
 * The item master's standard cost (fen per base unit) of a SKU, read in the caller's transaction.
 * The items table belongs to the ledger store (cloud/catalog); this one read is here because
 * cloud/catalog has no index.ts a module could import, and it must see the same transaction.
 */
export async function standardCostFen(trx: Tx, sku: string): Promise<number | undefined> {
  const r = await trx.selectFrom('items').select('standard_cost').where('sku', '=', sku).executeTakeFirst();
  const v = r?.standard_cost;
  return v === null || v === undefined || v === '' ? undefined : Number(v);
}

/** Standard costs of many SKUs at once (one query per 500), for a follower batch. */
const standardCostsQuery = reusable('costing.standard-costs', (trx, skus: string[]) => trx.selectFrom('items').select(['sku', 'standard_cost']).where('sku', 'in', skus));

export async function standardCostsFen(trx: Tx, skus: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const list = [...new Set(skus)];
  for (let i = 0; i < list.length; i += 500) {
    const { rows } = await standardCostsQuery(trx, list.slice(i, i + 500));
    for (const r of rows) if (r.standard_cost !== null && r.standard_cost !== undefined && r.standard_cost !== '') out.set(String(r.sku), Number(r.standard_cost));
  }
  return out;
}
