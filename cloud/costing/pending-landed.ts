import { reusable } from '../db/index.js';
import { Money, type MoneyValue } from '../money.js';
import * as repo from './repo.js';
import type { PendingLanded, Tx } from './repo.js';

/**
 * The pending landed costs of these PO lines (those that have one), in (po, line) order; `lock`:
 * `FOR UPDATE` (PostgreSQL), taken in that order. 200 lines a statement.
 */
/** Reusable (cloud/db/reusable-query.ts): compiled once per number of lines, not per follower batch. */
const pendingQuery = reusable('costing.pending-landed', (trx, chunk: Array<{ po: string; line: number }>, lock: boolean) => {
  const q = trx
    .selectFrom('cost_landed_pending')
    .selectAll()
    .where((eb) => eb.or(chunk.map((l) => eb.and([eb('po', '=', l.po), eb('po_line', '=', l.line)]))))
    .orderBy('po')
    .orderBy('po_line');
  return lock ? q.forUpdate() : q;
});

async function pendingOf(trx: Tx, lines: ReadonlyArray<{ po: string; line: number }>, lock = false): Promise<PendingLanded[]> {
  const sorted = [...new Map(lines.map((l) => [`${l.po}\u0000${l.line}`, l])).values()].sort((a, b) => (a.po < b.po ? -1 : a.po > b.po ? 1 : a.line - b.line));
  const out: PendingLanded[] = [];
  for (let i = 0; i < sorted.length; i += 200) {
    const chunk = sorted.slice(i, i + 200).map((l) => ({ po: l.po, line: l.line }));
    const { rows } = await pendingQuery(trx, chunk, lock);
    for (const r of rows) out.push({ po: r.po, poLine: Number(r.po_line), site: r.site, sku: r.sku, remainingMilli: Number(r.remaining_milli), remainingExact: r.remaining_exact });
  }
  return out;
}

/**
 * The landed costs waiting for the PO lines a ledger-follower batch's receipts matched (posted
 * before those lines were received: `postLandedCost`), read once for the batch and taken in
 * memory receipt after receipt, each seeing what the earlier ones left; what changed is written
 * at the end (`save`). Before, every matched part of a receipt read its line's row (and wrote it
 * back): a statement per part, though most lines have nothing waiting.
 */
export class PendingLandedBook {
  /** `po\0line` -> what waits (null once taken whole: deleted on save). */
  private readonly rows = new Map<string, PendingLanded | null>();
  private readonly changed = new Set<string>();

  private constructor(rows: readonly PendingLanded[]) {
    for (const p of rows) this.rows.set(`${p.po}\u0000${p.poLine}`, p);
  }

  /** The rows of these lines; `lock`: `FOR UPDATE` on PostgreSQL, in (po, line) order. */
  static async open(trx: Tx, lines: ReadonlyArray<{ po: string; line: number }>, lock: boolean): Promise<PendingLandedBook> {
    return new PendingLandedBook(lines.length ? await pendingOf(trx, lines, lock) : []);
  }

  /**
   * The part of the line's waiting landed cost that a receipt of `milli` takes (exact fen): all
   * of it when the receipt covers what is still to come, else its share by quantity.
   */
  take(po: string, line: number, milli: number): MoneyValue {
    const k = `${po}\u0000${line}`;
    const p = this.rows.get(k);
    if (!p || p.remainingMilli <= 0) return new Money(0);
    const rem = new Money(p.remainingExact);
    this.changed.add(k);
    if (milli >= p.remainingMilli) {
      this.rows.set(k, null);
      return rem;
    }
    const take = rem.times(milli).dividedBy(p.remainingMilli);
    this.rows.set(k, { ...p, remainingMilli: p.remainingMilli - milli, remainingExact: rem.minus(take).toString() });
    return take;
  }

  /** Write what the batch took: rows taken whole are deleted, the others updated. */
  async save(trx: Tx): Promise<void> {
    for (const k of this.changed) {
      const p = this.rows.get(k);
      if (p) await repo.savePending(trx, p);
      else {
        const [po, line] = k.split('\u0000') as [string, string];
        await repo.deletePending(trx, po, Number(line));
      }
    }
  }
}
