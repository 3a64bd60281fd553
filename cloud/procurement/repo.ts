/**
 * Procurement's queries, one repository over both dialects (Kysely). Repos receive the caller's
 * transaction (or the Kysely instance for plain reads); only the service opens transactions.
 * Quantities: integer thousandths; money: integer fen.
 */
import type { Kysely, Transaction } from 'kysely';
import { reusable } from '../db/index.js';
import type { PoStatus, PriceSource } from './rules.js';

type Q = Transaction<any> | Kysely<any>;
type Tx = Transaction<any>;
const n = (v: unknown) => Number(v);
const opt = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);

export interface SupplierRow {
  code: string;
  name: string;
  leadTimeDays: number;
  updatedAt: string;
}

export async function putSupplier(tx: Tx, s: SupplierRow): Promise<void> {
  await tx
    .insertInto('suppliers')
    .values({ code: s.code, name: s.name, lead_time_days: s.leadTimeDays, updated_at: s.updatedAt })
    .onConflict((oc) => oc.column('code').doUpdateSet({ name: s.name, lead_time_days: s.leadTimeDays, updated_at: s.updatedAt }))
    .execute();
}

const supplierOf = (r: Record<string, unknown>): SupplierRow => ({ code: r.code as string, name: r.name as string, leadTimeDays: n(r.lead_time_days), updatedAt: r.updated_at as string });

export async function supplier(q: Q, code: string): Promise<SupplierRow | undefined> {
  const r = await q.selectFrom('suppliers').selectAll().where('code', '=', code).executeTakeFirst();
  return r ? supplierOf(r) : undefined;
}

export async function suppliers(q: Q, limit: number, after?: string): Promise<SupplierRow[]> {
  let s = q.selectFrom('suppliers').selectAll();
  if (after !== undefined) s = s.where('code', '>', after);
  return (await s.orderBy('code').limit(limit).execute()).map(supplierOf);
}

export type ReqStatus = 'draft' | 'pending' | 'approved' | 'rejected';

export interface ReqLineRow {
  line: number;
  sku: string;
  qty: number;
  /** As given, fen per base unit. */
  unitPrice?: number;
  /** The price used for the amount: fen per base unit, exact decimal string. */
  price: string;
  priceSource: PriceSource;
}

export interface ReqRow {
  id: number;
  kind: 'purchase' | 'issue';
  project: string;
  stage: string;
  site: string;
  status: ReqStatus;
  amount: number;
  revision: number;
  requester: string;
  note?: string;
  /** The PO raised from it (purchase requisitions). */
  po?: number;
  createdAt: string;
  updatedAt: string;
  lines: ReqLineRow[];
}

export async function insertRequisition(tx: Tx, r: Omit<ReqRow, 'id' | 'lines' | 'po'>): Promise<number> {
  const row = await tx
    .insertInto('requisitions')
    .values({ kind: r.kind, project: r.project, stage: r.stage, site: r.site, status: r.status, amount: r.amount, revision: r.revision, requester: r.requester, note: r.note ?? null, created_at: r.createdAt, updated_at: r.updatedAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  return n(row.id);
}

export async function replaceReqLines(tx: Tx, id: number, lines: readonly ReqLineRow[]): Promise<void> {
  await tx.deleteFrom('requisition_lines').where('req_id', '=', id).execute();
  if (!lines.length) return;
  await tx
    .insertInto('requisition_lines')
    .values(lines.map((l) => ({ req_id: id, line: l.line, sku: l.sku, qty: l.qty, unit_price: l.unitPrice ?? null, price: l.price, price_source: l.priceSource })))
    .execute();
}

const reqOf = (r: Record<string, unknown>, lines: ReqLineRow[]): ReqRow => {
  const out: ReqRow = {
    id: n(r.id),
    kind: r.kind as ReqRow['kind'],
    project: r.project as string,
    stage: r.stage as string,
    site: r.site as string,
    status: r.status as ReqStatus,
    amount: n(r.amount),
    revision: n(r.revision),
    requester: r.requester as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    lines,
  };
  if (r.note != null) out.note = r.note as string;
  if (r.po != null) out.po = n(r.po);
  return out;
};

const reqLineOf = (l: Record<string, unknown>): ReqLineRow => ({
  line: n(l.line),
  sku: l.sku as string,
  qty: n(l.qty),
  ...(l.unit_price != null ? { unitPrice: n(l.unit_price) } : {}),
  price: l.price as string,
  priceSource: l.price_source as PriceSource,
});

export async function requisition(q: Q, id: number): Promise<ReqRow | undefined> {
  const r = await q.selectFrom('requisitions').selectAll().where('id', '=', id).executeTakeFirst();
  if (!r) return undefined;
  const lines = await q.selectFrom('requisition_lines').selectAll().where('req_id', '=', id).orderBy('line').execute();
  return reqOf(r, lines.map(reqLineOf));
}

export async function requisitions(q: Q, f: { sites?: readonly string[]; projects?: readonly string[]; site?: string; project?: string; status?: string; limit: number; before?: number }): Promise<ReqRow[]> {
  let s = q.selectFrom('requisitions').selectAll();
  if (f.sites) s = f.sites.length ? s.where('site', 'in', [...f.sites]) : s.where('id', '<', 0);
  if (f.projects) s = f.projects.length ? s.where('project', 'in', [...f.projects]) : s.where('id', '<', 0);
  if (f.site !== undefined) s = s.where('site', '=', f.site);
  if (f.project !== undefined) s = s.where('project', '=', f.project);
  if (f.status !== undefined) s = s.where('status', '=', f.status);
  if (f.before !== undefined) s = s.where('id', '<', f.before);
  const rows = await s.orderBy('id', 'desc').limit(f.limit).execute();
  if (!rows.length) return [];
  const lines = await q.selectFrom('requisition_lines').selectAll().where('req_id', 'in', rows.map((r) => n(r.id))).orderBy('req_id').orderBy('line').execute();
  return rows.map((r) => reqOf(r, lines.filter((l) => n(l.req_id) === n(r.id)).map(reqLineOf)));
}

/**
 * Write a requisition's new state only if it is still what the caller read: (id, revision,
 * status). Returns false when someone else changed it meanwhile.
 */
export async function updateRequisition(tx: Tx, id: number, was: { revision: number; status: string }, set: Partial<{ status: string; amount: number; revision: number; note: string | null; po: number; updatedAt: string }>): Promise<boolean> {
  const r = await tx
    .updateTable('requisitions')
    .set({
      ...(set.status !== undefined ? { status: set.status } : {}),
      ...(set.amount !== undefined ? { amount: set.amount } : {}),
      ...(set.revision !== undefined ? { revision: set.revision } : {}),
      ...(set.note !== undefined ? { note: set.note } : {}),
      ...(set.po !== undefined ? { po: set.po } : {}),
      ...(set.updatedAt !== undefined ? { updated_at: set.updatedAt } : {}),
    })
    .where('id', '=', id)
    .where('revision', '=', was.revision)
    .where('status', '=', was.status)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Mark a purchase requisition as ordered on a PO, once (false when it already was). */
export async function markOrdered(tx: Tx, id: number, po: number, now: string): Promise<boolean> {
  const r = await tx.updateTable('requisitions').set({ po, updated_at: now }).where('id', '=', id).where('status', '=', 'approved').where('po', 'is', null).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

export interface PoLineRow {
  line: number;
  sku: string;
  qty: number;
  unitPrice: number;
  project?: string;
  stage?: string;
  requisition?: number;
  received: number;
}

export interface PoRow {
  id: number;
  supplier: string;
  site: string;
  expectedAt: string;
  status: PoStatus;
  amount: number;
  revision: number;
  requester: string;
  createdAt: string;
  updatedAt: string;
  lines: PoLineRow[];
}

export async function insertPo(tx: Tx, p: Omit<PoRow, 'id'>): Promise<number> {
  const row = await tx
    .insertInto('purchase_orders')
    .values({ supplier: p.supplier, site: p.site, expected_at: p.expectedAt, status: p.status, amount: p.amount, revision: p.revision, requester: p.requester, created_at: p.createdAt, updated_at: p.updatedAt })
    .returning('id')
    .executeTakeFirstOrThrow();
  const id = n(row.id);
  await tx
    .insertInto('po_lines')
    .values(p.lines.map((l) => ({ po_id: id, line: l.line, sku: l.sku, qty: l.qty, unit_price: l.unitPrice, project: l.project ?? null, stage: l.stage ?? null, requisition: l.requisition ?? null, received: 0 })))
    .execute();
  return id;
}

const poLineOf = (l: Record<string, unknown>): PoLineRow => ({
  line: n(l.line),
  sku: l.sku as string,
  qty: n(l.qty),
  unitPrice: n(l.unit_price),
  ...(opt(l.project) != null ? { project: l.project as string } : {}),
  ...(opt(l.stage) != null ? { stage: l.stage as string } : {}),
  ...(opt(l.requisition) != null ? { requisition: n(l.requisition) } : {}),
  received: n(l.received),
});

const poOf = (r: Record<string, unknown>, lines: PoLineRow[]): PoRow => ({
  id: n(r.id),
  supplier: r.supplier as string,
  site: r.site as string,
  expectedAt: r.expected_at as string,
  status: r.status as PoStatus,
  amount: n(r.amount),
  revision: n(r.revision),
  requester: r.requester as string,
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
  lines,
});

export async function po(q: Q, id: number): Promise<PoRow | undefined> {
  return (await posByIds(q, [id])).get(id);
}

/** These POs with their lines, by id (absent ids are left out): two reads per 500 ids. */
// The queries the ledger follower's consumer runs in every batch are reusable (cloud/db/
// reusable-query.ts): built and compiled once per shape, not per batch.
const posQuery = reusable('procurement.pos', (q, ids: number[]) => q.selectFrom('purchase_orders').selectAll().where('id', 'in', ids));
const poLinesQuery = reusable('procurement.po-lines', (q, ids: number[]) => q.selectFrom('po_lines').selectAll().where('po_id', 'in', ids).orderBy('po_id').orderBy('line'));

export async function posByIds(q: Q, ids: readonly number[]): Promise<Map<number, PoRow>> {
  const out = new Map<number, PoRow>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const { rows } = await posQuery(q, chunk);
    if (!rows.length) continue;
    const lines = new Map<number, PoLineRow[]>();
    for (const l of (await poLinesQuery(q, chunk)).rows) {
      const id = n(l.po_id);
      const list = lines.get(id);
      if (list) list.push(poLineOf(l));
      else lines.set(id, [poLineOf(l)]);
    }
    for (const r of rows) out.set(n(r.id), poOf(r, lines.get(n(r.id)) ?? []));
  }
  return out;
}

export async function pos(q: Q, f: { sites?: readonly string[]; projects?: readonly string[]; site?: string; status?: string; supplier?: string; limit: number; before?: number }): Promise<PoRow[]> {
  let s = q.selectFrom('purchase_orders').selectAll();
  // A project manager's list: POs with a line for one of their projects.
  if (f.projects) s = f.projects.length ? s.where('id', 'in', q.selectFrom('po_lines').select('po_id').where('project', 'in', [...f.projects])) : s.where('id', '<', 0);
  if (f.sites) s = f.sites.length ? s.where('site', 'in', [...f.sites]) : s.where('id', '<', 0);
  if (f.site !== undefined) s = s.where('site', '=', f.site);
  if (f.status !== undefined) s = s.where('status', '=', f.status);
  if (f.supplier !== undefined) s = s.where('supplier', '=', f.supplier);
  if (f.before !== undefined) s = s.where('id', '<', f.before);
  const rows = await s.orderBy('id', 'desc').limit(f.limit).execute();
  if (!rows.length) return [];
  const lines = await q.selectFrom('po_lines').selectAll().where('po_id', 'in', rows.map((r) => n(r.id))).orderBy('po_id').orderBy('line').execute();
  return rows.map((r) => poOf(r, lines.filter((l) => n(l.po_id) === n(r.id)).map(poLineOf)));
}

export async function updatePo(tx: Tx, id: number, was: { revision: number; status: string }, set: Partial<{ status: string; updatedAt: string }>): Promise<boolean> {
  const r = await tx
    .updateTable('purchase_orders')
    .set({ ...(set.status !== undefined ? { status: set.status } : {}), ...(set.updatedAt !== undefined ? { updated_at: set.updatedAt } : {}) })
    .where('id', '=', id)
    .where('revision', '=', was.revision)
    .where('status', '=', was.status)
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** The last price paid for a SKU: the newest PO line of an approved (or further) PO. */
export async function lastPoPrice(q: Q, sku: string): Promise<number | undefined> {
  const r = await q
    .selectFrom('po_lines')
    .innerJoin('purchase_orders', 'purchase_orders.id', 'po_lines.po_id')
    .select(['po_lines.unit_price as p'])
    .where('po_lines.sku', '=', sku)
    .where('purchase_orders.status', 'in', ['approved', 'partially-received', 'received', 'closed'])
    .orderBy('po_lines.po_id', 'desc')
    .orderBy('po_lines.line', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r ? n(r.p) : undefined;
}

/** Of these sites, those with at least one purchase order (any status): the sites that buy through POs. */
const sitesWithPosQuery = reusable('procurement.sites-with-pos', (q, sites: string[]) => q.selectFrom('purchase_orders').select('site').distinct().where('site', 'in', sites));

export async function sitesWithPurchaseOrders(q: Q, sites: readonly string[]): Promise<Set<string>> {
  if (!sites.length) return new Set();
  const { rows } = await sitesWithPosQuery(q, [...sites]);
  return new Set(rows.map((r) => r.site));
}

/** The PO statuses a receipt matches against (receiving.ts `receivableLines`). */
export const RECEIVING: PoStatus[] = ['approved', 'partially-received', 'received'];

const addReceivedQuery = reusable('procurement.add-received', (tx, poId: number, line: number, qty: number) =>
  tx.updateTable('po_lines').set((eb) => ({ received: eb('received', '+', qty) })).where('po_id', '=', poId).where('line', '=', line),
);

export async function addReceived(tx: Tx, poId: number, line: number, qty: number): Promise<void> {
  await addReceivedQuery(tx, poId, line, qty);
}

export interface ReceiptMatchRow {
  ledgerId: string;
  pos: number;
  site: string;
  sku: string;
  po: number;
  line: number;
  qty: number;
  unitPrice: number;
  /** Of `qty`, what was beyond ordered + 2% (an OVER_RECEIPT). */
  overReceipt: number;
  at: string;
}

const insertMatchesQuery = reusable('procurement.insert-matches', (tx, rows: Array<Record<string, unknown>>) => tx.insertInto('receipt_matches').values(rows));

export async function insertMatches(tx: Tx, rows: readonly ReceiptMatchRow[]): Promise<void> {
  if (!rows.length) return;
  await insertMatchesQuery(tx, rows.map((m) => ({ ledger_id: m.ledgerId, pos: m.pos, site: m.site, sku: m.sku, po_id: m.po, line: m.line, qty: m.qty, unit_price: m.unitPrice, over_receipt: m.overReceipt, at: m.at })));
}

const matchOf = (r: Record<string, unknown>): ReceiptMatchRow => ({
  ledgerId: r.ledger_id as string,
  pos: n(r.pos),
  site: r.site as string,
  sku: r.sku as string,
  po: n(r.po_id),
  line: n(r.line),
  qty: n(r.qty),
  unitPrice: n(r.unit_price),
  overReceipt: n(r.over_receipt),
  at: r.at as string,
});

const matchesQuery = reusable('procurement.matches', (q, ids: string[]) => q.selectFrom('receipt_matches').selectAll().where('ledger_id', 'in', ids).orderBy('pos').orderBy('po_id').orderBy('line'));

export async function matchesOf(q: Q, ledgerIds: readonly string[]): Promise<ReceiptMatchRow[]> {
  if (!ledgerIds.length) return [];
  const { rows } = await matchesQuery(q, [...ledgerIds]);
  return rows.map(matchOf);
}

export async function matchesOfPo(q: Q, poId: number): Promise<ReceiptMatchRow[]> {
  const rows = await q.selectFrom('receipt_matches').selectAll().where('po_id', '=', poId).orderBy('pos').orderBy('line').execute();
  return rows.map(matchOf);
}
