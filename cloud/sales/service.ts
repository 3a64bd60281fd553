/**
 * Sales orders (issue 11 §1): create with an Idempotency-Key, reserve in the same transaction,
 * move through `reserved -> picking -> shipped -> closed` (or cancelled, which releases), and
 * keep a timeline of every state with its time and who did it. The service owns its
 * transactions; the reservation functions run inside them.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { fromMilli, toMilli } from '../../protocols/ledger/quantity.js';
import { canonicalJson, contentHash } from '../api/idempotency.js';
import { audit } from '../audit/index.js';
import { enqueue } from '../erp/index.js';
import type { Db } from '../db/index.js';
import { Errors } from '../errors.js';
import { formatMoney } from '../money.js';
import { SalesErrors } from './errors.js';
import { availability, consume, release, reservationsOf, reserve, type ReservationRow } from './reservations.js';
import { canDo, initialStatus, type OrderAction, type OrderStatus, statusAfterShipment, TARGET } from './rules.js';

type Tx = Transaction<any>;

/** How long a reservation may wait for a stock row before it answers 503 (issue 11 §1). */
export const LOCK_WAIT_MS = 3000;

export interface OrderInput {
  site: string;
  customer: string;
  lines: Array<{ sku: string; qty: number; unitPrice: string }>;
  allowPartial?: boolean;
}

/** Parsed input: quantities in thousandths, prices in fen. */
export interface OrderRequest {
  site: string;
  customer: string;
  lines: Array<{ sku: string; qty: number; unitPrice: number }>;
  allowPartial: boolean;
}

export interface OrderView {
  id: string;
  site: string;
  customer: string;
  status: OrderStatus;
  allowPartial: boolean;
  createdBy: string;
  createdAt: string;
  lines: Array<{ line: number; sku: string; qty: number; reserved: number; shipped: number; unitPrice: string; reservation: ReservationRow['status'] | null }>;
  timeline: Array<{ state: string; at: string; by: string; note?: string }>;
}

/** An answer kept under an Idempotency-Key: replayed as it was. */
export interface Answer {
  statusCode: number;
  body: Record<string, unknown>;
  replayed: boolean;
}

/** Incoming PO quantities of a pair (biz-proc's open PO lines), for availability. */
export type IncomingSource = (site: string, sku: string) => Promise<Array<{ po: string; qty: number; expectedAt: string }>>;


const newOrderId = (): string => `SO-${randomBytes(8).toString('hex').toUpperCase()}`;

export class SalesService {
  incoming: IncomingSource | undefined;

  constructor(private readonly db: Db, opts: { incoming?: IncomingSource } = {}) {
    this.incoming = opts.incoming;
  }

  /**
   * A transaction for reservations: a wait past LOCK_WAIT_MS for a stock row answers 503
   * `SG_ERR_LOCK_TIMEOUT` and changes nothing. PostgreSQL: `SET LOCAL lock_timeout` (55P03).
   * SQLite (one connection per process, `BEGIN IMMEDIATE`): the time spent before the
   * transaction got the connection is checked when it starts.
   */
  async locked<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const asked = Date.now();
    try {
      return await this.db.tx(async (tx) => {
        if (this.db.dialect === 'postgres') await sql.raw(`SET LOCAL lock_timeout = '${LOCK_WAIT_MS}ms'`).execute(tx);
        else if (Date.now() - asked > LOCK_WAIT_MS) throw new SalesErrors.LockTimeout(`stock: waited more than ${LOCK_WAIT_MS / 1000} s for the database write lock; nothing was reserved, retry`);
        return fn(tx);
      });
    } catch (err) {
      if ((err as { code?: string }).code === '55P03') throw new SalesErrors.LockTimeout(`stock: waited more than ${LOCK_WAIT_MS / 1000} s for a stock row another order holds; nothing was reserved, retry`);
      throw err;
    }
  }

  /**
   * Create an order under an Idempotency-Key (scoped to the caller): the same key with the same
   * body answers the first answer again (201 or 409) and creates nothing; with another body, 409
   * `SG_ERR_IDEMPOTENCY_CONFLICT`. The key row is inserted first, so a concurrent request with
   * the same key waits for the first one and then replays its answer.
   */
  async create(caller: string, key: string, input: OrderInput, parsed: OrderRequest): Promise<Answer> {
    const hash = contentHash(canonicalJson(input));
    const idemKey = `sales-order:${caller}:${key}`;
    const now = new Date().toISOString();
    return this.locked(async (tx) => {
      const mine = await sql`INSERT INTO sales_idempotency (key, request_hash, status_code, body, created_at) VALUES (${idemKey}, ${hash}, 0, '', ${now}) ON CONFLICT (key) DO NOTHING RETURNING key`.execute(tx);
      if (mine.rows.length === 0) {
        const old = await tx.selectFrom('sales_idempotency').selectAll().where('key', '=', idemKey).executeTakeFirstOrThrow();
        if (old.request_hash !== hash) throw new Errors.IdempotencyConflict(`Idempotency-Key: ${key} was used for another request (${old.request_hash})`);
        return { statusCode: Number(old.status_code), body: JSON.parse(old.body) as Record<string, unknown>, replayed: true };
      }
      const id = newOrderId();
      const numbered = parsed.lines.map((l, i) => ({ ...l, line: i + 1 }));
      const out = await reserve(tx, { ownerKind: 'sales-order', ownerId: id, site: parsed.site, lines: numbered.map((l) => ({ line: l.line, sku: l.sku, qty: l.qty })), partial: parsed.allowPartial, by: caller, now });
      let answer: { statusCode: number; body: Record<string, unknown> };
      if (!out.ok) {
        const lines = out.short.map((s) => ({ sku: s.sku, requested: fromMilli(s.requested), available: fromMilli(s.available) }));
        answer = {
          statusCode: 409,
          body: { statusCode: 409, code: 'SG_ERR_INSUFFICIENT_STOCK', error: 'Conflict', message: `lines: ${lines.map((l) => `${l.sku} requested ${l.requested}, available ${l.available}`).join('; ')}; nothing reserved`, lines },
        };
      } else {
        const lines = numbered.map((l) => ({ ...l, reserved: out.granted.find((g) => g.line === l.line)!.granted }));
        const status = initialStatus(lines);
        await tx.insertInto('sales_orders').values({ id, site: parsed.site, customer: parsed.customer, status, allow_partial: parsed.allowPartial ? 1 : 0, created_by: caller, created_at: now, updated_at: now }).execute();
        for (const l of lines) await tx.insertInto('sales_order_lines').values({ order_id: id, line: l.line, sku: l.sku, qty: l.qty, unit_price: l.unitPrice, reserved: l.reserved, shipped: 0 }).execute();
        await this.event(tx, id, status, now, caller);
        const body = { id, status, lines: lines.map((l) => ({ sku: l.sku, qty: fromMilli(l.qty), reserved: fromMilli(l.reserved) })) };
        await audit(tx, { entity: 'sales-order', id, action: 'create', by: caller, before: null, after: { ...body, site: parsed.site, customer: parsed.customer }, site: parsed.site });
        answer = { statusCode: 201, body };
      }
      await tx.updateTable('sales_idempotency').set({ status_code: answer.statusCode, body: JSON.stringify(answer.body) }).where('key', '=', idemKey).execute();
      return { ...answer, replayed: false };
    });
  }

  private async event(tx: Tx, id: string, state: string, at: string, by: string, note?: string): Promise<void> {
    await tx.insertInto('sales_order_events').values({ order_id: id, state, at, by_user: by, note: note ?? null }).execute();
  }

  /** The order's site (for the scope check), or undefined. */
  async site(id: string): Promise<{ site: string } | undefined> {
    const r = await this.db.kysely.selectFrom('sales_orders').select('site').where('id', '=', id).executeTakeFirst();
    return r ? { site: r.site as string } : undefined;
  }

  async order(id: string, db: Tx | Db['kysely'] = this.db.kysely): Promise<OrderView | undefined> {
    const o = await db.selectFrom('sales_orders').selectAll().where('id', '=', id).executeTakeFirst();
    if (!o) return undefined;
    const lines = await db.selectFrom('sales_order_lines').selectAll().where('order_id', '=', id).orderBy('line').execute();
    const events = await db.selectFrom('sales_order_events').selectAll().where('order_id', '=', id).orderBy('id').execute();
    const res = await reservationsOf(db, 'sales-order', id);
    return {
      id,
      site: o.site,
      customer: o.customer,
      status: o.status,
      allowPartial: Number(o.allow_partial) === 1,
      createdBy: o.created_by,
      createdAt: o.created_at,
      lines: lines.map((l) => ({
        line: Number(l.line),
        sku: l.sku,
        qty: fromMilli(Number(l.qty)),
        reserved: fromMilli(Number(l.reserved)),
        shipped: fromMilli(Number(l.shipped)),
        unitPrice: formatMoney(Number(l.unit_price)),
        reservation: res.find((r) => r.line === Number(l.line))?.status ?? null,
      })),
      timeline: events.map((e) => ({ state: e.state, at: e.at, by: e.by_user, ...(e.note ? { note: e.note } : {}) })),
    };
  }

  async list(q: { sites: string[] | undefined; status?: string; limit: number; before?: string }): Promise<Array<{ id: string; site: string; customer: string; status: string; createdAt: string }>> {
    let s = this.db.kysely.selectFrom('sales_orders').select(['id', 'site', 'customer', 'status', 'created_at']).orderBy('id', 'desc').limit(q.limit);
    if (q.sites) s = s.where('site', 'in', q.sites.length ? q.sites : ['\u0000']);
    if (q.status) s = s.where('status', '=', q.status);
    if (q.before) s = s.where('id', '<', q.before);
    return (await s.execute()).map((r) => ({ id: r.id, site: r.site, customer: r.customer, status: r.status, createdAt: r.created_at }));
  }

  /** pick, close, cancel (cancel releases the reservations). 409 ILLEGAL_TRANSITION otherwise. */
  async act(id: string, action: Exclude<OrderAction, 'ship'>, by: string, note?: string): Promise<OrderView> {
    const now = new Date().toISOString();
    return this.locked(async (tx) => {
      // Lock the order row first (a no-op update), so two concurrent actions make one transition.
      const locked = await sql<{ status: OrderStatus; site: string }>`UPDATE sales_orders SET updated_at = updated_at WHERE id = ${id} RETURNING status, site`.execute(tx);
      const from = locked.rows[0]?.status;
      if (!from) throw new Errors.NotFound(`id: no sales order ${id}`);
      if (!canDo(action, from)) throw new SalesErrors.IllegalTransition(`status: a ${from} sales order cannot be ${action === 'pick' ? 'picked' : action === 'close' ? 'closed' : 'cancelled'}`);
      const to = TARGET[action];
      if (action === 'cancel') await release(tx, 'sales-order', id, undefined, now);
      await tx.updateTable('sales_orders').set({ status: to, updated_at: now }).where('id', '=', id).execute();
      await this.event(tx, id, to, now, by, note);
      await audit(tx, { entity: 'sales-order', id, action, by, before: { status: from }, after: { status: to }, site: locked.rows[0]!.site });
      return (await this.order(id, tx))!;
    });
  }

  /**
   * A shipment scanned against an order (a ledger issue carrying `order`), inside the follower's
   * transaction: consume the line's reservation, count it shipped, move the order to picking or
   * shipped. An issue for a SKU the order does not have, or beyond what it ordered, is still
   * stock that left: only the order's part is booked to it.
   */
  async shipped(tx: Tx, e: { order: string; site: string; sku: string; qty: number; by: string; at: string; movementId: string }): Promise<void> {
    const o = await sql<{ status: OrderStatus; site: string }>`UPDATE sales_orders SET updated_at = updated_at WHERE id = ${e.order} RETURNING status, site`.execute(tx);
    const row = o.rows[0];
    if (!row || row.site !== e.site || !canDo('ship', row.status)) return;
    await consume(tx, 'sales-order', e.order, e.site, e.sku, e.qty, e.at);
    let left = e.qty;
    const lines = await tx.selectFrom('sales_order_lines').selectAll().where('order_id', '=', e.order).orderBy('line').execute();
    for (const l of lines) {
      if (l.sku !== e.sku || left <= 0) continue;
      const take = Math.min(left, Number(l.qty) - Number(l.shipped));
      if (take <= 0) continue;
      left -= take;
      l.shipped = Number(l.shipped) + take;
      await tx.updateTable('sales_order_lines').set({ shipped: l.shipped }).where('order_id', '=', e.order).where('line', '=', l.line).execute();
    }
    const next = statusAfterShipment(lines.map((l) => ({ qty: Number(l.qty), shipped: Number(l.shipped) })));
    if (row.status !== 'picking' || next === 'shipped') {
      if (row.status !== 'picking') await this.event(tx, e.order, 'picking', e.at, e.by, `movement ${e.movementId}`);
      if (next === 'shipped') await this.event(tx, e.order, 'shipped', e.at, e.by, `movement ${e.movementId}`);
      await tx.updateTable('sales_orders').set({ status: next, updated_at: e.at }).where('id', '=', e.order).execute();
      await audit(tx, { entity: 'sales-order', id: e.order, action: next === 'shipped' ? 'ship' : 'pick', by: e.by, before: { status: row.status }, after: { status: next, movement: e.movementId }, site: e.site });
      if (next === 'shipped') {
        // The shipped order goes to the ERP (cloud/erp), queued in this same transaction.
        const o = await tx.selectFrom('sales_orders').select(['customer']).where('id', '=', e.order).executeTakeFirstOrThrow();
        await enqueue(tx, { kind: 'sales-shipment', docId: e.order, site: e.site, body: { site: e.site, date: e.at.slice(0, 10), customer: o.customer, lines: lines.map((l) => ({ sku: l.sku, qty: fromMilli(Number(l.shipped)), unitPrice: formatMoney(Number(l.unit_price)) })) } });
      }
    }
  }

  async availability(site: string, sku: string): Promise<{ onHand: number; reserved: number; available: number; incoming: Array<{ po: string; qty: number; expectedAt: string }> }> {
    const a = await availability(this.db.kysely, site, sku);
    const incoming = this.incoming ? await this.incoming(site, sku) : [];
    return { onHand: fromMilli(a.onHand), reserved: fromMilli(a.reserved), available: fromMilli(a.available), incoming };
  }
}

/** Body -> request: quantities to thousandths, prices to fen (both already validated by zod). */
export function toRequest(i: OrderInput, price: (v: string, field: string) => number): OrderRequest {
  return { site: i.site, customer: i.customer, allowPartial: i.allowPartial === true, lines: i.lines.map((l, n) => ({ sku: l.sku, qty: toMilli(l.qty), unitPrice: price(l.unitPrice, `lines.${n}.unitPrice`) })) };
}

const services = new WeakMap<Db, SalesService>();

/** The one SalesService of a database (routes and the ledger consumer share its hooks). */
export function salesService(db: Db): SalesService {
  let s = services.get(db);
  if (!s) services.set(db, (s = new SalesService(db)));
  return s;
}
