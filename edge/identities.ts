import type Database from 'better-sqlite3';
import type { Movement } from '../protocols/mqtt/index.js';

// One definition for the edge and the cloud ledger (issue 9): protocols/ledger/identity.ts.
import { identityOf, inStockAfter } from '../protocols/ledger/identity.js';
export { identityOf, inStockAfter } from '../protocols/ledger/identity.js';

export interface IdentityLookup {
  inStock(identity: string): boolean;
}

/**
 * Serialised units this edge has taken into stock (table `identities` in `state.db`), so a tag
 * read again after its read window, or a serial label scanned twice, is recognised at the edge
 * while the cloud is unreachable: the operator is told at once (log, status, device feedback).
 * The movement is still sent: the cloud is the authority across edges, records the duplicate
 * in its exception queue (DUPLICATE_IDENTITY) and does not count it.
 *
 * Updated after the movement is committed to the outbox (never before), so a crash in between
 * can only forget a unit here, never lose a movement; the cloud still catches the duplicate.
 */
export class IdentityTable implements IdentityLookup {
  private readonly s;
  private readonly applyTx;

  constructor(db: Database.Database) {
    this.s = {
      get: db.prepare('SELECT in_stock FROM identities WHERE identity = ?').pluck(),
      put: db.prepare(`INSERT INTO identities (identity, in_stock, location, movement_id, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(identity) DO UPDATE SET in_stock = excluded.in_stock, location = excluded.location,
          movement_id = excluded.movement_id, updated_at = excluded.updated_at`),
      count: db.prepare('SELECT COUNT(*) FROM identities WHERE in_stock = 1').pluck(),
    };
    this.applyTx = db.transaction((ms: readonly Movement[]) => {
      const now = Date.now();
      let n = 0;
      for (const m of ms) {
        const id = identityOf(m);
        if (!id) continue;
        this.s.put.run(id, inStockAfter(m) ? 1 : 0, m.kind === 'transfer' ? m.toLocation! : m.location, m.id, now);
        n++;
      }
      return n;
    });
  }

  inStock(identity: string): boolean {
    return this.s.get.get(identity) === 1;
  }

  /** Record the effect of committed movements; returns how many carried an identity. */
  apply(movements: readonly Movement[]): number {
    return movements.length ? this.applyTx(movements) : 0;
  }

  /** Units currently in stock here. */
  inStockCount(): number {
    return this.s.count.get() as number;
  }
}
