import type { Logger } from 'pino';
import type { LedgerRow, Store } from '../store/store.js';
import type { AlertStore } from './alert-store.js';
import { movementEvents } from './events.js';

/** Name of the ledger cursor: the last ledger position turned into `movements.applied` events. */
export const MOVEMENTS_CURSOR = 'movements.applied';

/**
 * `movements.applied` webhook events, read from the ledger after a durable cursor (a change feed),
 * not from the commit callback's memory: the events of a ledger range and the cursor move in one
 * AlertStore transaction, so a crash between a commit and its events is caught up on restart,
 * and no range is queued twice.
 *
 * Without a `movements` webhook the cursor just follows the head. On first start it begins at
 * the head (no backfill of history).
 *
 * Several cloud instances sharing one PostgreSQL store (competing ingesters): the cursor moves by
 * compare-and-set, so only one instance queues a range. Their commits may become visible out of
 * position order, so `settleMs` holds back rows applied less than that long ago; a commit that
 * takes longer than `settleMs` to become visible can still be passed over (see docs).
 */
export class MovementFeed {
  private tail: Promise<void> = Promise.resolve();
  private scheduled = false;
  private stopped = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly ledger: Store,
    private readonly alerts: AlertStore,
    private readonly log: Logger,
    private readonly notify: () => void,
    private readonly newId: () => string,
    /** Hold back rows applied less than this long ago, ms (0: one ingester, positions in commit order). */
    private readonly settleMs = 0,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Start at the head the first time; otherwise catch up what a crash left behind. */
  async start(): Promise<void> {
    await this.alerts.enqueue([], { name: MOVEMENTS_CURSOR, value: await this.head(), expected: null });
    this.changed();
    await this.tail;
  }

  /** New movements were applied: catch up soon (coalesced while one catch-up runs). */
  changed(): void {
    if (this.stopped || this.scheduled) return;
    this.scheduled = true;
    this.tail = this.tail.then(async () => {
      this.scheduled = false;
      try {
        await this.catchUp();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'movements.applied: catch-up failed; retried after the next commit or restart');
      }
    });
  }

  async idle(): Promise<void> {
    await this.tail;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    await this.tail;
  }

  private async head(): Promise<number> {
    return (await this.ledger.movements({ limit: 1 }))[0]?.pos ?? 0;
  }

  private async catchUp(): Promise<void> {
    const cursor = (await this.alerts.cursor(MOVEMENTS_CURSOR)) ?? 0;
    if ((await this.alerts.listWebhooks({ role: 'movements' })).length === 0) {
      const head = await this.head();
      if (head > cursor) await this.alerts.enqueue([], { name: MOVEMENTS_CURSOR, value: head, expected: cursor });
      return;
    }
    // The ledger pages newest first: read back to the cursor, then emit oldest first.
    const rows: LedgerRow[] = [];
    let before: number | undefined;
    for (;;) {
      const page = await this.ledger.movements({ limit: 1000, ...(before === undefined ? {} : { before }) });
      const newer = page.filter((r) => r.pos > cursor);
      rows.push(...newer);
      if (newer.length < page.length || page.length < 1000) break;
      before = page[page.length - 1]!.pos;
    }
    rows.reverse();
    if (this.settleMs > 0) {
      const settled = this.now().getTime() - this.settleMs;
      const n = rows.findIndex((r) => Date.parse(r.appliedAt) > settled);
      if (n >= 0) {
        rows.length = n;
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.changed(), this.settleMs).unref();
      }
    }
    if (rows.length === 0) return;
    const events = movementEvents(rows, this.newId);
    // False: another instance moved the cursor first and queued this range itself.
    if ((await this.alerts.enqueue(events, { name: MOVEMENTS_CURSOR, value: rows[rows.length - 1]!.pos, expected: cursor })) && events.length) this.notify();
  }
}
