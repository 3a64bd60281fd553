/**
 * The sales consumer of the ledger follower (shared design: the business layer never slows the
 * ingest transaction). Called with committed ledger rows in position order, exactly once each,
 * inside the follower's transaction:
 * 1. an applied `issue` carrying `order` (the edge scanned `stockgate:so/ID`, or REST set it)
 *    consumes that order's reservation and counts as shipped;
 * 2. every (site, SKU) the rows touched gets its counter's `on_hand` set to Σ balances, and when
 *    physical stock fell below what is reserved, the newest reservations become `at-risk`, with a
 *    RESERVATION_AT_RISK exception naming each order and its owner, and an alert to the owner and
 *    the site's managers (issue 11 §1, "physical reality wins": a scan-out is never refused). The
 *    exception names the batch's last movement of that SKU that took stock away (not a receipt
 *    after it), or its last movement if none did.
 */
import type { Transaction } from 'kysely';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import { usersWithRole } from '../access/index.js';
import { enqueueBusinessAlert } from '../alerts/index.js';
import { reconcile, type ReservationRow } from './reservations.js';
import type { SalesService } from './service.js';
import { reusable } from '../db/index.js';
import type { LedgerConsumer, LedgerEntry } from '../ledger-follower/index.js';

type Tx = Transaction<any>;

/** What the consumer reads of a ledger row (a structural subset of the follower's LedgerEntry): quantities in thousandths. */
export interface SalesLedgerRow {
  pos: number;
  id: string;
  ts: string;
  site: string;
  sku: string;
  kind: string;
  status: string;
  qty: number;
  baseQty?: number | null;
  order?: string | null;
  operator?: string | null;
  location?: string;
  /** Counts: counted minus on hand, thousandths of the base unit. */
  variance?: number | null;
}

export function salesConsumer(service: SalesService): LedgerConsumer {
  return {
    name: 'sales',
    async apply(tx: Tx, rows: readonly LedgerEntry[]) {
      // Per (site, SKU): the batch's last row, and its last row that took stock away from the site
      // (what an at-risk exception names: a receipt after the issue never put anything at risk).
      const pairs = new Map<string, { site: string; sku: string; last: SalesLedgerRow; took?: SalesLedgerRow }>();
      for (const r of rows) {
        if (r.kind === 'issue' && r.status === 'applied' && r.order) {
          await service.shipped(tx, { order: r.order, site: r.site, sku: r.sku, qty: r.baseQty ?? r.qty, by: r.operator ?? 'edge', at: r.ts, movementId: r.id });
        }
        const key = JSON.stringify([r.site, r.sku]);
        const took = takesStock(r) ? r : pairs.get(key)?.took;
        pairs.set(key, { site: r.site, sku: r.sku, last: r, ...(took ? { took } : {}) });
      }
      // Only pairs that were ever reserved have a counter to keep in step (reconcile does nothing
      // for the others): one read per batch picks them, after the shipments above.
      const reserved = await reservedPairs(tx, [...pairs.values()]);
      // Fixed order (site, SKU), as reservations take their locks.
      for (const { site, sku, last, took } of [...pairs.values()].filter((p) => reserved.has(`${p.site}\u0000${p.sku}`)).sort((a, b) => (a.site + '\u0000' + a.sku < b.site + '\u0000' + b.sku ? -1 : 1))) {
        const atRisk = await reconcile(tx, site, sku);
        if (atRisk.length) await raiseAtRisk(tx, atRisk, took ?? last);
      }
    },
  };
}

/**
 * Whether an applied row lowered its site's stock of the SKU: an issue, a negative adjustment or
 * receipt, a count below the balance. A transfer moves stock within the site (its total, which
 * reservations are held against, is the same).
 */
function takesStock(r: SalesLedgerRow): boolean {
  if (r.status !== 'applied') return false;
  if (r.kind === 'issue') return true;
  if (r.kind === 'adjust' || r.kind === 'receive') return (r.baseQty ?? r.qty) < 0;
  if (r.kind === 'count') return (r.variance ?? 0) < 0;
  return false;
}

/** Reusable (cloud/db/reusable-query.ts): built and compiled once per shape, not per follower batch. */
const reservedQuery = reusable('sales.reserved-pairs', (tx, site: string, skus: string[]) => tx.selectFrom('stock_reservation_totals').select('sku').where('site', '=', site).where('sku', 'in', skus));

/** Of these pairs, those with a reservation counter (`site\u0000sku`): per site, `sku IN (...)` in chunks. */
async function reservedPairs(tx: Tx, pairs: ReadonlyArray<{ site: string; sku: string }>): Promise<Set<string>> {
  const bySite = new Map<string, string[]>();
  for (const p of pairs) {
    const l = bySite.get(p.site);
    if (l) l.push(p.sku);
    else bySite.set(p.site, [p.sku]);
  }
  const out = new Set<string>();
  for (const [site, skus] of bySite) {
    for (let i = 0; i < skus.length; i += 500) {
      const { rows } = await reservedQuery(tx, site, skus.slice(i, i + 500));
      for (const r of rows) out.add(`${site}\u0000${r.sku}`);
    }
  }
  return out;
}

/**
 * One exception per reservation put at risk, in the existing queue (GET /api/v1/exceptions), and
 * for a sales order an alert to its owner (issue 11 §1: "the order's owner is alerted"): the
 * RESERVATION_AT_RISK alert event, naming the order, the owner and the users it is addressed to
 * (the owner, then the site's managers), goes on `stockgate/v1/{site}/alerts/reservation-at-risk`
 * and to every alert channel routed to one of those users (or to its type and site), queued in
 * this transaction by cloud/alerts. Rare by nature: never on the consumer's common path.
 */
async function raiseAtRisk(tx: Tx, rows: readonly ReservationRow[], cause: SalesLedgerRow): Promise<void> {
  const at = new Date();
  const now = at.toISOString();
  const site = rows[0]!.site;
  const managers = (await usersWithRole(tx, 'site-manager', site)).map((u) => u.id);
  for (const r of rows) {
    const owner = r.ownerKind === 'sales-order' ? ((await tx.selectFrom('sales_orders').select('created_by').where('id', '=', r.ownerId).executeTakeFirst())?.created_by as string | undefined) : undefined;
    const what = r.ownerKind === 'sales-order' ? `sales order ${r.ownerId} line ${r.line}` : `requisition ${r.ownerId} line ${r.line}`;
    const message = `${what}: ${(r.qty - r.consumed) / 1000} of ${r.sku} at ${r.site} is no longer covered by stock on hand after movement ${cause.id}; reservation at risk${owner ? `, owner ${owner}` : ''}`;
    const ex = await tx
      .insertInto('exceptions')
      .values({ type: 'RESERVATION_AT_RISK', site: r.site, movement_id: cause.id, sku: r.sku, location: cause.location ?? '', batch: '', project: r.project ?? '', message, raised_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (r.ownerKind !== 'sales-order') continue;
    const totals = await tx.selectFrom('stock_reservation_totals').select('on_hand').where('site', '=', r.site).where('sku', '=', r.sku).executeTakeFirst();
    const uom = (await tx.selectFrom('items').select('uom').where('sku', '=', r.sku).executeTakeFirst())?.uom as string | undefined;
    const users = [...new Set([...(owner ? [owner] : []), ...managers])];
    await enqueueBusinessAlert(tx, {
      topicType: 'reservation-at-risk',
      event: {
        id: `exception-${ex.id}`,
        type: 'RESERVATION_AT_RISK',
        site: r.site,
        event: 'opened',
        eventId: `exception-${ex.id}-opened`,
        sku: r.sku,
        order: r.ownerId,
        ...(owner ? { owner } : {}),
        users,
        ...(r.project ? { project: r.project } : {}),
        value: fromMilli(r.qty - r.consumed),
        threshold: fromMilli(Math.max(0, Number(totals?.on_hand ?? 0))),
        ...(uom ? { uom } : {}),
        raisedAt: now,
      },
    }, at);
  }
}
