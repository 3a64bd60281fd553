/**
 * Stock counts (盘点, issue 11 §4). A session snapshots the system quantity at open, together
 * with the ledger position that snapshot reflects; every count entry records the ledger position
 * it was counted at (REST: the site's last position when the entry arrived; an edge `MODE:COUNT`
 * scan: the position just before its own row). At submit, per counted key:
 *
 *   variance = counted − (snapshot + Σ effect of the ledger rows between the two positions)
 *
 * (cloud/counts/rules.ts; Odoo #42997 re-read the theoretical quantity, msupply #638 wiped the
 * later moves). Posting values each line at |variance| × moving-average cost; the site's
 * `count-adjustment` approval bands decide whether it posts at once or waits for approvals; the
 * adjustments are `adjust` movements through the ingest path, with ids derived from the session
 * so a retried post never books twice.
 */
import { randomBytes } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import type { Movement } from '../../protocols/mqtt/index.js';
import { audit } from '../audit/index.js';
import { averageCost } from '../costing/index.js';
import type { Db } from '../db/index.js';
import { Errors } from '../errors.js';
import { formatMoney, formatUnitCost } from '../money.js';
import type { LedgerConsumer, LedgerEntry } from '../ledger-follower/index.js';
import { adjustmentValue } from './rules.js';

type Tx = Transaction<any>;

/** Who decides (the approval engine's actor). */
export interface Actor {
  user: string;
  roles: readonly string[];
}

/**
 * The approval engine's part that counts use (cloud/approvals: `approvalRules`, `submitForApproval`,
 * `decideApproval`, `approvalsOf` with docType `count-adjustment`), wired by `setApprovalEngine`
 * where that module is present. Without it no band exists, and a count posts at once.
 */
export interface CountApprovals {
  bands(tx: Tx, site: string): Promise<Array<{ minAmount: number }>>;
  submit(tx: Tx, s: { docId: string; site: string; requester: string; amount: number }): Promise<{ status: string; approvals: Array<{ role: string }> }>;
  decide(tx: Tx, s: { docId: string; site: string; requester: string; amount: number }, who: Actor, action: 'approve' | 'reject', at: string, comment?: string): Promise<{ status: string }>;
  list(q: Db['kysely'], docId: string): Promise<unknown[]>;
}
let engine: CountApprovals | undefined;
export function setApprovalEngine(e: CountApprovals): void {
  engine = e;
}
export type CountStatus = 'open' | 'submitted' | 'pending-approval' | 'posted' | 'rejected' | 'cancelled';

export interface CountLineView {
  location: string;
  sku: string;
  batch: string;
  uom: string;
  snapshot: number;
  moved: number;
  counted: number;
  expected: number;
  variance: number;
  /** Part of the variance the ledger already booked (edge count scans set stock themselves). */
  booked: number;
  averageCost?: string;
  value?: string;
}

export interface CountView {
  id: string;
  site: string;
  location: string | null;
  skus: string[] | null;
  status: CountStatus;
  snapshotAt: string;
  openedBy: string;
  entries: number;
  lines: CountLineView[];
  value?: string;
  approvals?: unknown[];
}

export type Submit = (movements: Movement[], postedBy?: { tokenId: string; user: string }) => Promise<unknown>;

const newId = (): string => `CNT-${randomBytes(6).toString('hex').toUpperCase()}`;

/** The site's last ledger position (what a count entry arriving now has seen applied). */
async function lastPos(tx: Tx | Db['kysely'], site: string): Promise<number> {
  const r = await sql<{ p: number | null }>`SELECT MAX(pos) AS p FROM ledger WHERE site = ${site}`.execute(tx);
  return Number(r.rows[0]?.p ?? 0);
}

export class CountsService {
  constructor(private readonly db: Db) {}

  async open(by: string, q: { site: string; location?: string; skus?: string[] }): Promise<CountView> {
    const id = newId();
    const now = new Date().toISOString();
    await this.db.tx(async (tx) => {
      // One consistent view of balances and the ledger's end (PostgreSQL: a snapshot for the
      // whole transaction; SQLite: BEGIN IMMEDIATE already excludes writers).
      if (this.db.dialect === 'postgres') await sql`SET TRANSACTION ISOLATION LEVEL REPEATABLE READ`.execute(tx);
      const pos = await lastPos(tx, q.site);
      let b = tx.selectFrom('balances').select(['location', 'sku', 'batch', 'uom', sql<number>`SUM(on_hand)`.as('qty')]).where('site', '=', q.site).groupBy(['location', 'sku', 'batch', 'uom']);
      if (q.location) b = b.where('location', '=', q.location);
      if (q.skus?.length) b = b.where('sku', 'in', q.skus);
      const rows = await b.execute();
      await tx.insertInto('count_sessions').values({ id, site: q.site, location: q.location ?? null, skus: q.skus?.length ? JSON.stringify(q.skus) : null, status: 'open', snapshot_at: now, snapshot_pos: pos, opened_by: by, value: null, submitted_at: null, posted_at: null, updated_at: now }).execute();
      for (const r of rows) await tx.insertInto('count_snapshot').values({ session_id: id, location: r.location, sku: r.sku, batch: r.batch, uom: r.uom, qty: Number(r.qty) }).onConflict((oc) => oc.columns(['session_id', 'location', 'sku', 'batch']).doUpdateSet({ qty: sql`count_snapshot.qty + excluded.qty` })).execute();
      await audit(tx, { entity: 'count', id, action: 'open', by, before: null, after: { site: q.site, location: q.location ?? null, skus: q.skus ?? null, snapshotPos: pos, keys: rows.length }, site: q.site });
    });
    return (await this.view(id))!;
  }

  async site(id: string): Promise<{ site: string } | undefined> {
    const r = await this.db.kysely.selectFrom('count_sessions').select('site').where('id', '=', id).executeTakeFirst();
    return r ? { site: r.site as string } : undefined;
  }

  private async lockSession(tx: Tx, id: string): Promise<any> {
    const r = await sql<any>`UPDATE count_sessions SET updated_at = updated_at WHERE id = ${id} RETURNING *`.execute(tx);
    if (!r.rows[0]) throw new Errors.NotFound(`id: no count ${id}`);
    return r.rows[0];
  }

  private static illegal(what: string, status: string): Error {
    return Object.assign(new Errors.Conflict(`status: a ${status} count cannot be ${what}`), { code: 'SG_ERR_ILLEGAL_TRANSITION' });
  }

  async addLines(id: string, by: string, lines: Array<{ sku: string; location?: string | undefined; batch?: string | undefined; qty: number }>): Promise<CountView> {
    const now = new Date().toISOString();
    await this.db.tx(async (tx) => {
      const s = await this.lockSession(tx, id);
      if (s.status !== 'open') throw CountsService.illegal('counted', s.status);
      const pos = await lastPos(tx, s.site);
      for (const [i, l] of lines.entries()) {
        const location = l.location ?? s.location;
        if (!location) throw new Errors.BadBody(`lines.${i}.location: required (the count is not of one location)`);
        if (s.location && location !== s.location) throw new Errors.BadBody(`lines.${i}.location: this count is of ${s.location}`);
        const skus = s.skus ? (JSON.parse(s.skus) as string[]) : undefined;
        if (skus && !skus.includes(l.sku)) throw new Errors.BadBody(`lines.${i}.sku: ${l.sku} is not in this count (${skus.join(', ')})`);
        await tx.insertInto('count_entries').values({ session_id: id, location, sku: l.sku, batch: l.batch ?? '', qty: l.qty, counted_at: now, counted_pos: pos, source: 'rest', movement_id: null, by_user: by }).execute();
      }
      // Counted lines are business data too (issue 10 §5): recorded in the same transaction.
      await audit(tx, { entity: 'count', id, action: 'count lines', by, before: null, after: { lines: lines.map((l) => ({ sku: l.sku, location: l.location ?? s.location, batch: l.batch ?? '', qty: fromMilli(l.qty) })) }, site: s.site });
    });
    return (await this.view(id))!;
  }

  /** Edge `MODE:COUNT` scans (ledger `count` rows) attach to the open session of their site or location. */
  consumer(): LedgerConsumer {
    return {
      name: 'counts',
      apply: async (tx, rows) => {
        for (const r of rows) if (r.kind === 'count' && r.status === 'applied') await this.attachScan(tx, r);
      },
    };
  }

  private async attachScan(tx: Tx, r: LedgerEntry): Promise<void> {
    const open = await tx.selectFrom('count_sessions').selectAll().where('site', '=', r.site).where('status', '=', 'open').where('snapshot_pos', '<', r.pos).orderBy('snapshot_at', 'desc').execute();
    const s = open.find((x) => (!x.location || x.location === r.location) && (!x.skus || (JSON.parse(x.skus) as string[]).includes(r.sku)));
    if (!s) return;
    await tx.insertInto('count_entries').values({ session_id: s.id, location: r.location, sku: r.sku, batch: r.batch ?? '', qty: r.baseQty ?? r.qty, counted_at: r.ts, counted_pos: r.pos - 1, source: 'edge', movement_id: r.id, by_user: r.operator ?? `edge:${r.edge}` }).execute();
  }

  /** Compute the lines (variance, value) and freeze the entries. */
  async submit(id: string, by: string): Promise<CountView> {
    await this.db.tx(async (tx) => {
      const s = await this.lockSession(tx, id);
      if (s.status !== 'open') throw CountsService.illegal('submitted', s.status);
      // Edge count scans reach the session through the ledger follower (`consumer()`), which may
      // be behind the ledger: it yields to an ingest burst for up to 30 s (cloud/service.ts). A
      // scan already in the ledger but not attached yet would be left out of this count for good
      // (the follower attaches nothing to a submitted session): refuse, retryable, until it is.
      const behind = await unattachedCountScans(tx, s.site, Number(s.snapshot_pos));
      if (behind > 0) throw new Errors.Unavailable(`count ${id}: ${behind} count scan(s) of site ${s.site} in the ledger are not attached to a count session yet (the ledger follower is behind); retry in a moment`);
      const entries = await tx.selectFrom('count_entries').selectAll().where('session_id', '=', id).orderBy('id').execute();
      if (!entries.length) throw new Errors.BadBody('lines: nothing counted yet (POST /api/v1/counts/:id/lines, or scan in MODE:COUNT)');
      // REST entries of a key add up (several people, several shelves); an edge count scan states
      // the quantity (as the ledger books it), so the last one of a key counts.
      type Key = { location: string; sku: string; batch: string; counted: number; rest: number; edge?: number; pos: number; edgeIds: string[] };
      const keys = new Map<string, Key>();
      for (const e of entries) {
        const k = JSON.stringify([e.location, e.sku, e.batch]);
        const cur: Key = keys.get(k) ?? { location: e.location, sku: e.sku, batch: e.batch, counted: 0, rest: 0, pos: 0, edgeIds: [] };
        if (e.source === 'edge') {
          cur.edge = Number(e.qty);
          cur.edgeIds.push(e.movement_id);
        } else cur.rest += Number(e.qty);
        cur.counted = cur.rest + (cur.edge ?? 0);
        cur.pos = Math.max(cur.pos, Number(e.counted_pos));
        keys.set(k, cur);
      }
      let total = 0;
      for (const k of keys.values()) {
        // A key without a batch is the location's total of the SKU over every batch (as the ledger's C5).
        let snap = tx.selectFrom('count_snapshot').select([sql<number>`COALESCE(SUM(qty), 0)`.as('q'), sql<string>`MAX(uom)`.as('uom')]).where('session_id', '=', id).where('location', '=', k.location).where('sku', '=', k.sku);
        if (k.batch) snap = snap.where('batch', '=', k.batch);
        const sn = await snap.executeTakeFirst();
        const snapshot = Number(sn?.q ?? 0);
        // The effect of each row on the location (cloud/ledger/rules.ts effectAt), the session's own
        // edge count scans left out (what they booked is `booked`).
        const loc = k.location;
        const movedQ = await sql<{ m: number | null; uom: string | null }>`SELECT SUM(
            CASE WHEN location = ${loc} THEN (CASE kind WHEN 'issue' THEN -base_qty WHEN 'transfer' THEN -base_qty WHEN 'count' THEN variance ELSE base_qty END) ELSE 0 END
            + CASE WHEN to_location = ${loc} THEN base_qty ELSE 0 END) AS m, MAX(base_uom) AS uom
          FROM ledger
          WHERE site = ${s.site} AND sku = ${k.sku} AND status = 'applied' AND pos > ${s.snapshot_pos} AND pos <= ${k.pos}
          AND (location = ${loc} OR to_location = ${loc}) ${k.batch ? sql`AND batch = ${k.batch}` : sql``}
          ${k.edgeIds.length ? sql`AND id NOT IN (${sql.join(k.edgeIds)})` : sql``}`.execute(tx);
        const moved = Number(movedQ.rows[0]?.m ?? 0);
        const booked = k.edgeIds.length ? Number((await sql<{ v: number | null }>`SELECT SUM(variance) AS v FROM ledger WHERE id IN (${sql.join(k.edgeIds)})`.execute(tx)).rows[0]?.v ?? 0) : 0;
        const variance = k.counted - (snapshot + moved);
        // The moving average (cloud/costing); before the item's first costed receipt, its standard cost.
        const std = async () => {
          const v = (await tx.selectFrom('items').select('standard_cost').where('sku', '=', k.sku).executeTakeFirst())?.standard_cost;
          return v === null || v === undefined || v === '' ? undefined : String(v);
        };
        const avg = (await averageCost(tx, s.site, k.sku)) ?? (await std());
        const value = adjustmentValue(fromMilli(variance - booked), avg ? avg.toString() : 0);
        total += value;
        const uom = sn?.uom ?? movedQ.rows[0]?.uom ?? (await tx.selectFrom('items').select('uom').where('sku', '=', k.sku).executeTakeFirst())?.uom ?? 'ea';
        await tx.insertInto('count_lines').values({ session_id: id, location: k.location, sku: k.sku, batch: k.batch, uom, snapshot, moved, counted: k.counted, variance, booked, average_cost: avg ? avg.toString() : null, value }).execute();
      }
      const now = new Date().toISOString();
      await tx.updateTable('count_sessions').set({ status: 'submitted', value: total, submitted_at: now, updated_at: now }).where('id', '=', id).execute();
      await audit(tx, { entity: 'count', id, action: 'submit', by, before: { status: 'open' }, after: { status: 'submitted', value: formatMoney(total), lines: keys.size }, site: s.site });
    });
    return (await this.view(id))!;
  }

  /**
   * Post: the site's `count-adjustment` bands decide. Below every band (or no band at all) the
   * adjustments are booked at once; in a band, its steps must approve first (`approve`).
   */
  async post(id: string, by: string, submit: Submit): Promise<CountView> {
    const now = new Date().toISOString();
    const go = await this.db.tx(async (tx) => {
      const s = await this.lockSession(tx, id);
      if (s.status !== 'submitted') throw CountsService.illegal('posted', s.status);
      const value = Number(s.value ?? 0);
      const rules = engine ? await engine.bands(tx, s.site) : [];
      const below = rules.length === 0 || value < Math.min(...rules.map((r) => r.minAmount));
      if (below) {
        await tx.updateTable('count_sessions').set({ status: 'posted', posted_at: now, updated_at: now }).where('id', '=', id).execute();
        await audit(tx, { entity: 'count', id, action: 'post', by, before: { status: 'submitted' }, after: { status: 'posted', value: formatMoney(value) }, site: s.site });
        return true;
      }
      const st = await engine!.submit(tx, { docId: id, site: s.site, requester: s.opened_by, amount: value });
      const next = st.status === 'approved' ? 'posted' : 'pending-approval';
      await tx.updateTable('count_sessions').set({ status: next, updated_at: now, ...(next === 'posted' ? { posted_at: now } : {}) }).where('id', '=', id).execute();
      await audit(tx, { entity: 'count', id, action: 'post', by, before: { status: 'submitted' }, after: { status: next, value: formatMoney(value), steps: st.approvals.map((a) => a.role) }, site: s.site });
      return next === 'posted';
    });
    if (go) await this.book(id, by, submit);
    return (await this.view(id))!;
  }

  async approve(id: string, who: Actor, action: 'approve' | 'reject', submit: Submit, comment?: string): Promise<CountView> {
    const now = new Date().toISOString();
    const go = await this.db.tx(async (tx) => {
      const s = await this.lockSession(tx, id);
      if (s.status !== 'pending-approval') throw CountsService.illegal(action === 'approve' ? 'approved' : 'rejected', s.status);
      if (!engine) throw CountsService.illegal(action === 'approve' ? 'approved' : 'rejected', s.status);
      const st = await engine.decide(tx, { docId: id, site: s.site, requester: s.opened_by, amount: Number(s.value ?? 0) }, who, action, now, comment);
      const next: CountStatus = st.status === 'approved' ? 'posted' : st.status === 'rejected' ? 'rejected' : 'pending-approval';
      await tx.updateTable('count_sessions').set({ status: next, updated_at: now, ...(next === 'posted' ? { posted_at: now } : {}) }).where('id', '=', id).execute();
      await audit(tx, { entity: 'count', id, action, by: who.user, before: { status: 'pending-approval' }, after: { status: next }, site: s.site });
      return next === 'posted';
    });
    if (go) await this.book(id, who.user, submit);
    return (await this.view(id))!;
  }

  /** The adjust movements of a posted count, through the ingest path; ids from the session, so a retry is a duplicate, not a second booking. */
  private async book(id: string, by: string, submit: Submit): Promise<void> {
    const s = await this.db.kysely.selectFrom('count_sessions').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
    const lines = await this.db.kysely.selectFrom('count_lines').selectAll().where('session_id', '=', id).orderBy('sku').orderBy('location').orderBy('batch').execute();
    const movements: Movement[] = [];
    lines.forEach((l, i) => {
      const delta = Number(l.variance) - Number(l.booked);
      if (delta === 0) return;
      movements.push({ v: 1, id: `${id}-${i + 1}`, edge: 'api', seq: 0, ts: new Date().toISOString(), site: s.site, location: l.location, kind: 'adjust', sku: l.sku, ...(l.batch ? { batch: l.batch } : {}), qty: fromMilli(delta), uom: l.uom, operator: by, device: { id: 'counts', type: 'rest' }, raw: `count ${id}` } as Movement);
    });
    if (movements.length) await submit(movements, { tokenId: 'counts', user: by });
  }

  async view(id: string): Promise<CountView | undefined> {
    const s = await this.db.kysely.selectFrom('count_sessions').selectAll().where('id', '=', id).executeTakeFirst();
    if (!s) return undefined;
    const lines = await this.db.kysely.selectFrom('count_lines').selectAll().where('session_id', '=', id).orderBy('location').orderBy('sku').orderBy('batch').execute();
    const n = await this.db.kysely.selectFrom('count_entries').select(sql<number>`COUNT(*)`.as('n')).where('session_id', '=', id).executeTakeFirst();
    const approvals = s.status === 'pending-approval' || s.status === 'rejected' || (s.status === 'posted' && s.value !== null) ? await (engine?.list(this.db.kysely, id) ?? []) : [];
    return {
      id,
      site: s.site,
      location: s.location ?? null,
      skus: s.skus ? (JSON.parse(s.skus) as string[]) : null,
      status: s.status,
      snapshotAt: s.snapshot_at,
      openedBy: s.opened_by,
      entries: Number(n?.n ?? 0),
      lines: lines.map((l) => ({
        location: l.location,
        sku: l.sku,
        batch: l.batch,
        uom: l.uom,
        snapshot: fromMilli(Number(l.snapshot)),
        moved: fromMilli(Number(l.moved)),
        counted: fromMilli(Number(l.counted)),
        expected: fromMilli(Number(l.snapshot) + Number(l.moved)),
        variance: fromMilli(Number(l.variance)),
        booked: fromMilli(Number(l.booked)),
        // Stored in fen per base unit (exact); shown in CNY like every amount (issue 10 §0 "Money").
        ...(l.average_cost !== null ? { averageCost: formatUnitCost(l.average_cost) } : {}),
        value: formatMoney(Number(l.value)),
      })),
      ...(s.value !== null ? { value: formatMoney(Number(s.value)) } : {}),
      ...(approvals.length ? { approvals } : {}),
    };
  }
}

const services = new WeakMap<Db, CountsService>();
export function countsService(db: Db): CountsService {
  let s = services.get(db);
  if (!s) services.set(db, (s = new CountsService(db)));
  return s;
}

/**
 * Count scans of a site after `afterPos` (a session's snapshot) that the `counts` consumer has not
 * reached yet: ledger rows past its cursor for the site (none yet: past 0). One range of the
 * `(site, pos)` index, as long as the follower's lag.
 */
async function unattachedCountScans(tx: Tx, site: string, afterPos: number): Promise<number> {
  // The bound first, as one number: the range then starts at the cursor, not at a snapshot that
  // may be hours of a busy site's rows back.
  const cursor = await sql<{ p: number | string | null }>`SELECT MAX(pos) AS p FROM ledger_cursors WHERE consumer = 'counts' AND site = ${site}`.execute(tx);
  const from = Math.max(afterPos, Number(cursor.rows[0]?.p ?? 0));
  const r = await sql<{ n: number | string }>`SELECT COUNT(*) AS n FROM ledger WHERE site = ${site} AND pos > ${from} AND kind = 'count' AND status = 'applied'`.execute(tx);
  return Number(r.rows[0]?.n ?? 0);
}
