/**
 * Reservations (issue 11 §1): one table for every owner (sales-order lines, approved issue
 * requisitions of a project stage), one counter row per (site, SKU), and functions that run
 * INSIDE the caller's transaction, so an order or a requisition and its reservations commit
 * together or not at all.
 *
 * Concurrency (shared/reference/business-domain.md, "Reservation"): per line, in a fixed order
 * (SKU, then line number) so two transactions never wait on each other crosswise, ONE conditional
 * UPDATE of the pair's counter row (`WHERE on_hand - reserved >= :q`). On PostgreSQL (READ
 * COMMITTED) a blocked UPDATE re-checks its WHERE against the committed row, so the check and the
 * write are one step and no application lock, SUM lock or SKIP LOCKED is needed (the holes of
 * ERPNext #51375, InvenTree #12478, Odoo #32857 and #268942). On SQLite the transaction is
 * `BEGIN IMMEDIATE`: writers are serialised anyway.
 */
import { sql, type Transaction } from 'kysely';

export type OwnerKind = 'sales-order' | 'requisition';
export type ReservationStatus = 'active' | 'consumed' | 'released' | 'at-risk';

export interface ReserveLine {
  /** The owner's line number (unique per owner). */
  line: number;
  sku: string;
  /** Thousandths of the item's base unit, > 0. */
  qty: number;
  project?: string;
  stage?: string;
}

export interface ReserveRequest {
  ownerKind: OwnerKind;
  ownerId: string;
  site: string;
  lines: readonly ReserveLine[];
  /** Take what is free per line (possibly 0) instead of all or nothing. */
  partial: boolean;
  by?: string;
  now?: string;
}

export interface ReserveOutcome {
  /** All lines reserved in full (always true with `partial`). */
  ok: boolean;
  /** Per line, in the request's order: what was reserved (0 for every line when !ok). */
  granted: Array<{ line: number; sku: string; qty: number; granted: number }>;
  /** When !ok: every line that could not be reserved in full, with what was free. */
  short: Array<{ line: number; sku: string; requested: number; available: number }>;
}

export interface ReservationRow {
  id: number;
  ownerKind: OwnerKind;
  ownerId: string;
  line: number;
  site: string;
  sku: string;
  project: string | null;
  stage: string | null;
  qty: number;
  consumed: number;
  status: ReservationStatus;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

type Tx = Transaction<any>;

const isPg = (tx: Tx): boolean => tx.getExecutor().adapter.constructor.name.toLowerCase().includes('postgres');
const least = (tx: Tx) => (isPg(tx) ? sql.raw('LEAST') : sql.raw('MIN'));

/** The fixed order of the conditional updates: SKU, then line. */
export function lockOrder<T extends { sku: string; line: number }>(lines: readonly T[]): T[] {
  return [...lines].sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : a.line - b.line));
}

/** Σ balances of a pair right now (thousandths). */
export async function balanceOnHand(tx: Tx | import('kysely').Kysely<any>, site: string, sku: string): Promise<number> {
  const r = await sql<{ n: number | string | null }>`SELECT COALESCE(SUM(on_hand), 0) AS n FROM balances WHERE site = ${site} AND sku = ${sku}`.execute(tx);
  return Number(r.rows[0]?.n ?? 0);
}

/** Make sure the pair's counter row exists (created with today's Σ balances; never a second row). */
async function ensureRow(tx: Tx, site: string, sku: string): Promise<void> {
  await sql`INSERT INTO stock_reservation_totals (site, sku, on_hand, reserved, last_grant)
    SELECT ${site}, ${sku}, COALESCE(SUM(on_hand), 0), 0, 0 FROM balances WHERE site = ${site} AND sku = ${sku}
    ON CONFLICT (site, sku) DO NOTHING`.execute(tx);
}

async function free(tx: Tx, site: string, sku: string): Promise<number> {
  const r = await sql<{ n: number }>`SELECT on_hand - reserved AS n FROM stock_reservation_totals WHERE site = ${site} AND sku = ${sku}`.execute(tx);
  return Math.max(0, Number(r.rows[0]?.n ?? 0));
}

/**
 * Reserve the lines, inside `tx`. All or nothing unless `partial`: when a line is short, what the
 * earlier lines took is given back in the same transaction (their rows are still locked by it),
 * nothing is inserted, and the short lines are returned with what was free, so the caller may
 * still commit its own record of the refusal (an idempotent answer).
 */
export async function reserve(tx: Tx, req: ReserveRequest): Promise<ReserveOutcome> {
  const now = req.now ?? new Date().toISOString();
  const got = new Map<number, number>();
  const short: ReserveOutcome['short'] = [];
  for (const l of lockOrder(req.lines)) {
    if (!(Number.isSafeInteger(l.qty) && l.qty > 0)) throw new Error(`reserve: line ${l.line}: qty must be a positive integer of thousandths`);
    await ensureRow(tx, req.site, l.sku);
    if (req.partial) {
      const r = await sql<{ g: number }>`UPDATE stock_reservation_totals
        SET last_grant = ${least(tx)}(${l.qty}, on_hand - reserved), reserved = reserved + ${least(tx)}(${l.qty}, on_hand - reserved)
        WHERE site = ${req.site} AND sku = ${l.sku} AND on_hand - reserved > 0
        RETURNING last_grant AS g`.execute(tx);
      got.set(l.line, Number(r.rows[0]?.g ?? 0));
    } else {
      const r = await sql`UPDATE stock_reservation_totals SET reserved = reserved + ${l.qty}
        WHERE site = ${req.site} AND sku = ${l.sku} AND on_hand - reserved >= ${l.qty}
        RETURNING reserved`.execute(tx);
      if (r.rows.length === 1) got.set(l.line, l.qty);
      else short.push({ line: l.line, sku: l.sku, requested: l.qty, available: await free(tx, req.site, l.sku) });
    }
  }
  if (short.length) {
    // Give back, in the same order, what the earlier lines took: the rows stay locked by us.
    for (const l of lockOrder(req.lines)) {
      const g = got.get(l.line) ?? 0;
      if (g > 0) await sql`UPDATE stock_reservation_totals SET reserved = reserved - ${g} WHERE site = ${req.site} AND sku = ${l.sku}`.execute(tx);
    }
    return { ok: false, granted: req.lines.map((l) => ({ line: l.line, sku: l.sku, qty: l.qty, granted: 0 })), short: short.sort((a, b) => a.line - b.line) };
  }
  for (const l of req.lines) {
    const g = got.get(l.line) ?? 0;
    if (g <= 0) continue;
    await tx
      .insertInto('stock_reservations')
      .values({ owner_kind: req.ownerKind, owner_id: req.ownerId, line: l.line, site: req.site, sku: l.sku, project: l.project ?? null, stage: l.stage ?? null, qty: g, consumed: 0, status: 'active', created_by: req.by ?? null, created_at: now, updated_at: now })
      .execute();
  }
  return { ok: true, granted: req.lines.map((l) => ({ line: l.line, sku: l.sku, qty: l.qty, granted: got.get(l.line) ?? 0 })), short: [] };
}

const toRow = (r: any): ReservationRow => ({
  id: Number(r.id),
  ownerKind: r.owner_kind,
  ownerId: r.owner_id,
  line: Number(r.line),
  site: r.site,
  sku: r.sku,
  project: r.project ?? null,
  stage: r.stage ?? null,
  qty: Number(r.qty),
  consumed: Number(r.consumed),
  status: r.status,
  createdBy: r.created_by ?? null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

/** The reservations of one owner, by line. */
export async function reservationsOf(tx: Tx | import('kysely').Kysely<any>, ownerKind: OwnerKind, ownerId: string): Promise<ReservationRow[]> {
  const rows = await tx.selectFrom('stock_reservations').selectAll().where('owner_kind', '=', ownerKind).where('owner_id', '=', ownerId).orderBy('line').execute();
  return rows.map(toRow);
}

/**
 * Release an owner's reservations (all lines, or those listed) that are still active or at-risk:
 * active ones give their remaining quantity back to the counter. Returns what was released.
 */
export async function release(tx: Tx, ownerKind: OwnerKind, ownerId: string, lines?: readonly number[], now = new Date().toISOString()): Promise<ReservationRow[]> {
  const rows = lockOrder((await reservationsOf(tx, ownerKind, ownerId)).filter((r) => (r.status === 'active' || r.status === 'at-risk') && (!lines || lines.includes(r.line))));
  for (const r of rows) {
    if (r.status === 'active' && r.qty > r.consumed) {
      await sql`UPDATE stock_reservation_totals SET reserved = reserved - ${r.qty - r.consumed} WHERE site = ${r.site} AND sku = ${r.sku}`.execute(tx);
    }
    await tx.updateTable('stock_reservations').set({ status: 'released', updated_at: now }).where('id', '=', r.id).execute();
  }
  return rows;
}

/**
 * Consume up to `qty` of an owner's reservations of a SKU (a shipment or an issue scanned against
 * it), earliest line first; an at-risk reservation is consumed too (the goods did go out). Returns
 * the quantity consumed; the rest of the movement simply was not reserved.
 */
export async function consume(tx: Tx, ownerKind: OwnerKind, ownerId: string, site: string, sku: string, qty: number, now = new Date().toISOString()): Promise<number> {
  let left = qty;
  const rows = (await reservationsOf(tx, ownerKind, ownerId)).filter((r) => r.site === site && r.sku === sku && (r.status === 'active' || r.status === 'at-risk'));
  for (const r of rows) {
    if (left <= 0) break;
    const take = Math.min(left, r.qty - r.consumed);
    if (take <= 0) continue;
    left -= take;
    if (r.status === 'active') await sql`UPDATE stock_reservation_totals SET reserved = reserved - ${take} WHERE site = ${site} AND sku = ${sku}`.execute(tx);
    const consumed = r.consumed + take;
    await tx.updateTable('stock_reservations').set({ consumed, status: consumed >= r.qty ? 'consumed' : r.status, updated_at: now }).where('id', '=', r.id).execute();
  }
  return qty - left;
}

/**
 * Physical reality wins (issue 11 §1): bring the pair's `on_hand` to Σ balances, and when that is
 * below what is reserved, mark the NEWEST active reservations `at-risk` (their remaining quantity
 * leaves the counter) until reserved <= on hand. The counter row is updated first, which locks it
 * against concurrent reservations for the rest of the transaction. Returns the reservations put
 * at risk (the caller raises the exception and alerts their owners).
 */
export async function reconcile(tx: Tx, site: string, sku: string, now = new Date().toISOString()): Promise<ReservationRow[]> {
  const r = await sql<{ on_hand: number; reserved: number }>`UPDATE stock_reservation_totals
    SET on_hand = (SELECT COALESCE(SUM(b.on_hand), 0) FROM balances b WHERE b.site = ${site} AND b.sku = ${sku})
    WHERE site = ${site} AND sku = ${sku} RETURNING on_hand, reserved`.execute(tx);
  const row = r.rows[0];
  if (!row) return []; // never reserved: nothing to keep in step
  let excess = Number(row.reserved) - Number(row.on_hand);
  if (excess <= 0) return [];
  const newest = await tx.selectFrom('stock_reservations').selectAll().where('site', '=', site).where('sku', '=', sku).where('status', '=', 'active').orderBy('id', 'desc').execute();
  const atRisk: ReservationRow[] = [];
  let freed = 0;
  for (const raw of newest) {
    if (excess <= 0) break;
    const x = toRow(raw);
    const rest = x.qty - x.consumed;
    excess -= rest;
    freed += rest;
    await tx.updateTable('stock_reservations').set({ status: 'at-risk', updated_at: now }).where('id', '=', x.id).execute();
    atRisk.push({ ...x, status: 'at-risk', updatedAt: now });
  }
  if (freed > 0) await sql`UPDATE stock_reservation_totals SET reserved = reserved - ${freed} WHERE site = ${site} AND sku = ${sku}`.execute(tx);
  return atRisk;
}

/** What `GET /api/v1/availability` shows of a pair (thousandths): Σ balances now, Σ active reservations. */
export async function availability(db: Tx | import('kysely').Kysely<any>, site: string, sku: string): Promise<{ onHand: number; reserved: number; available: number }> {
  const onHand = await balanceOnHand(db, site, sku);
  const r = await sql<{ reserved: number }>`SELECT reserved FROM stock_reservation_totals WHERE site = ${site} AND sku = ${sku}`.execute(db);
  const reserved = Number(r.rows[0]?.reserved ?? 0);
  return { onHand, reserved, available: onHand - reserved };
}

/**
 * The invariants the contract suite checks after every test: per pair, reserved = Σ (qty −
 * consumed) of active reservations, and on_hand = Σ balances (once the follower caught up).
 * Returns the pairs that break them (empty = holds).
 */
export async function invariantBreaks(db: Tx | import('kysely').Kysely<any>): Promise<string[]> {
  const out: string[] = [];
  const rows = await sql<{ site: string; sku: string; on_hand: number; reserved: number; active: number | null; balance: number | null }>`
    SELECT t.site, t.sku, t.on_hand, t.reserved,
      (SELECT SUM(r.qty - r.consumed) FROM stock_reservations r WHERE r.site = t.site AND r.sku = t.sku AND r.status = 'active') AS active,
      (SELECT SUM(b.on_hand) FROM balances b WHERE b.site = t.site AND b.sku = t.sku) AS balance
    FROM stock_reservation_totals t ORDER BY t.site, t.sku`.execute(db);
  for (const r of rows.rows) {
    const active = Number(r.active ?? 0);
    const balance = Number(r.balance ?? 0);
    if (Number(r.reserved) !== active) out.push(`${r.site}/${r.sku}: reserved ${r.reserved} but active reservations sum to ${active}`);
    if (Number(r.on_hand) !== balance) out.push(`${r.site}/${r.sku}: on_hand ${r.on_hand} but balances sum to ${balance}`);
    if (Number(r.reserved) > Number(r.on_hand)) out.push(`${r.site}/${r.sku}: reserved ${r.reserved} above on hand ${r.on_hand}`);
  }
  return out;
}
