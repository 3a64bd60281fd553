import type { Transaction } from 'kysely';
import { reusable } from '../db/index.js';
import * as repo from './repo.js';
import { matchReceipt, receiveStatus, type PoStatus } from './rules.js';

type Tx = Transaction<any>;

/**
 * A line of a PO a receipt may match (a receiving status), with what the match filters on: the
 * pinned PO, and `createdAt` (the ledger follower runs after the commit, and behind a busy ingester
 * it may reach a receipt after a PO for the same SKU was raised, which that receipt cannot have
 * been delivered against; ISO instants compare as text).
 */
export interface ReceivableLine {
  po: number;
  line: number;
  site: string;
  sku: string;
  expectedAt: string;
  createdAt: string;
  qty: number;
  received: number;
  unitPrice: number;
}

/**
 * The receivable lines of these (site, SKU) pairs, whatever the pin or commit time (the caller,
 * the book, filters): per site, `sku IN (...)` in chunks, so a follower batch reads them once
 * instead of once per receipt.
 */
const receivableQuery = reusable('procurement.receivable-lines', (tx, site: string, skus: string[]) =>
  tx
    .selectFrom('po_lines')
    .innerJoin('purchase_orders', 'purchase_orders.id', 'po_lines.po_id')
    .select(['po_lines.po_id as po', 'po_lines.line as line', 'po_lines.sku as sku', 'purchase_orders.expected_at as expected_at', 'purchase_orders.created_at as created_at', 'po_lines.qty as qty', 'po_lines.received as received', 'po_lines.unit_price as unit_price'])
    .where('purchase_orders.site', '=', site)
    .where('po_lines.sku', 'in', skus)
    .where('purchase_orders.status', 'in', repo.RECEIVING)
    .orderBy('po_lines.po_id')
    .orderBy('po_lines.line'),
);

async function receivableLines(tx: Tx, pairs: ReadonlyArray<{ site: string; sku: string }>): Promise<ReceivableLine[]> {
  const bySite = new Map<string, Set<string>>();
  for (const p of pairs) bySite.set(p.site, (bySite.get(p.site) ?? new Set<string>()).add(p.sku));
  const out: ReceivableLine[] = [];
  for (const [site, set] of bySite) {
    const skus = [...set];
    for (let i = 0; i < skus.length; i += 500) {
      const { rows } = await receivableQuery(tx, site, skus.slice(i, i + 500));
      for (const r of rows) {
        out.push({ po: Number(r.po), line: Number(r.line), site, sku: r.sku as string, expectedAt: r.expected_at as string, createdAt: r.created_at as string, qty: Number(r.qty), received: Number(r.received), unitPrice: Number(r.unit_price) });
      }
    }
  }
  return out;
}

/** One receipt's outcome against the book. */
export type Received =
  | { kind: 'no-open-line' }
  | { kind: 'unmatched' }
  | { kind: 'matched'; matches: ReadonlyArray<{ po: number; line: number; qty: number }>; over: number; last: { po: number; line: number; ordered: number } };

/** What the book asks of its caller when a PO's status follows its receipts (an update and its audit row). */
export interface StatusChange {
  po: repo.PoRow;
  status: PoStatus;
}

/**
 * The receivable PO lines of one ledger-follower batch, in memory: the receipts of the batch match
 * against it one after the other, as they matched against the table before (same lines, same
 * order, each receipt seeing what the earlier ones received), and what they wrote goes to the
 * table at the end: the matches in multi-row inserts, one `received` increment per line.
 *
 * Why: the per-receipt form read the open lines and the whole PO back, and wrote each match and
 * each line's increment, for every matched receipt (5-7 statements a receipt: 52 µs of CPU per
 * ledger row in `npm run bench -- --only business`, the most of any consumer but costing).
 *
 * The lines are read once, at the start of the batch. Nothing in a follower batch opens a line or
 * moves a PO into or out of the receiving statuses (a receipt only moves it between them), and on
 * SQLite the batch holds the write lock; on PostgreSQL an API change committed during the batch
 * (a PO closed, say) is seen by the next batch, where the per-receipt reads saw it from the next
 * receipt on. The increments stay `received = received + n`.
 */
export class ReceivingBook {
  private readonly bySku = new Map<string, ReceivableLine[]>();
  private readonly byLine = new Map<string, ReceivableLine>();
  /** The book's POs with their lines (read at the first status check), each status as last written. */
  private readonly pos = new Map<number, repo.PoRow>();
  private readonly matches: repo.ReceiptMatchRow[] = [];
  /** Increment per `po/line`, in first-match order. */
  private readonly increments = new Map<string, { po: number; line: number; qty: number }>();

  private constructor(lines: readonly ReceivableLine[]) {
    for (const l of lines) {
      const k = `${l.site}\0${l.sku}`;
      const list = this.bySku.get(k);
      if (list) list.push(l);
      else this.bySku.set(k, [l]);
      this.byLine.set(`${l.po}/${l.line}`, l);
    }
  }

  /** The book of the receivable lines of these receipts' (site, SKU) pairs: one read per site and 500 SKUs. */
  static async open(tx: Tx, receipts: ReadonlyArray<{ site: string; sku: string }>): Promise<ReceivingBook> {
    return new ReceivingBook(receipts.length ? await receivableLines(tx, receipts) : []);
  }

  /** Whether the pair has a receivable line (an unpinned receipt of a pair without one is a no-PO receipt, unread). */
  has(site: string, sku: string): boolean {
    return this.bySku.has(`${site}\0${sku}`);
  }

  /**
   * Match one receipt against the lines of its site and SKU (only the pinned PO's when `pinned`
   * is set; only POs created no later than `committedAt`), with what the earlier receipts of the
   * batch received. `at`: the match rows' time.
   */
  receive(r: { id: string; pos: number; site: string; sku: string }, qty: number, pinned: number | undefined, committedAt: string | undefined, at: string): Received {
    const open = (this.bySku.get(`${r.site}\0${r.sku}`) ?? []).filter((l) => (pinned === undefined || l.po === pinned) && (committedAt === undefined || l.createdAt <= committedAt));
    if (pinned !== undefined && open.length === 0) return { kind: 'no-open-line' };
    const { matches, over } = matchReceipt(qty, open);
    if (!matches.length) return { kind: 'unmatched' };
    const last = matches[matches.length - 1]!;
    for (const m of matches) {
      const k = `${m.po}/${m.line}`;
      this.byLine.get(k)!.received += m.qty;
      const inc = this.increments.get(k);
      if (inc) inc.qty += m.qty;
      else this.increments.set(k, { po: m.po, line: m.line, qty: m.qty });
      this.matches.push({ ledgerId: r.id, pos: r.pos, site: r.site, sku: r.sku, po: m.po, line: m.line, qty: m.qty, unitPrice: m.unitPrice, overReceipt: m === last ? over : 0, at });
    }
    return { kind: 'matched', matches, over, last: { po: last.po, line: last.line, ordered: this.byLine.get(`${last.po}/${last.line}`)!.qty } };
  }

  /**
   * The status each PO of `matched` should now have (`receiveStatus` over all its lines, those of
   * this batch as received so far), where it differs from the last written one; the book's POs
   * are read once a batch, together, when a receipt first matches one. The caller writes the
   * change (`repo.updatePo`, conditional on the revision and the status read) and its audit row,
   * then calls `changed`.
   */
  async statusChanges(tx: Tx, matched: ReadonlyArray<{ po: number }>): Promise<StatusChange[]> {
    const out: StatusChange[] = [];
    const ids = [...new Set(matched.map((m) => m.po))];
    if (ids.some((id) => !this.pos.has(id))) {
      // Every PO of the book not read yet, at once: a batch's receipts touch a few POs each.
      const unread = [...new Set([...this.byLine.values()].map((l) => l.po))].filter((id) => !this.pos.has(id));
      for (const [id, p] of await repo.posByIds(tx, unread)) this.pos.set(id, p);
    }
    for (const id of ids) {
      const p = this.pos.get(id)!;
      const lines = p.lines.map((l) => ({ qty: l.qty, received: this.byLine.get(`${id}/${l.line}`)?.received ?? l.received }));
      const status = receiveStatus(p.status, lines);
      if (status !== p.status) out.push({ po: p, status });
    }
    return out;
  }

  /** A status change was written: later receipts of the batch compare with it. */
  changed(c: StatusChange): void {
    this.pos.set(c.po.id, { ...c.po, status: c.status });
  }

  /** Write the batch's matches (multi-row inserts) and each line's received increment. */
  async flush(tx: Tx): Promise<void> {
    for (let i = 0; i < this.matches.length; i += 100) await repo.insertMatches(tx, this.matches.slice(i, i + 100));
    for (const inc of this.increments.values()) await repo.addReceived(tx, inc.po, inc.line, inc.qty);
  }
}
