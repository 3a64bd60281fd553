import type { Logger } from 'pino';
import type { LedgerRow, Store } from '../store/store.js';
import type { AlertStore } from './alert-store.js';
import { movementEvents } from './events.js';

/** Name of the ledger cursor: the last ledger position turned into `movements.applied` events. */
export const MOVEMENTS_CURSOR = 'movements.applied';

/** While no `movements` webhook exists, the followed head is written at most this often, ms. */
export const FOLLOW_WRITE_MS = 1000;

/**
 * `movements.applied` webhook events, read from the ledger after a durable cursor (a change feed),
 * not from the commit callback's memory: the events of a ledger range and the cursor move in one
 * AlertStore transaction, so a crash between a commit and its events is caught up on restart,
 * and no range is queued twice.
 *
 * Without a `movements` webhook the cursor just follows the head. On first start it begins at
 * the head (no backfill of history). While it only follows, the head each catch-up sees is kept in
 * memory (`followed`) and written at most once per `FOLLOW_WRITE_MS` (and on `idle`/`stop`): a
 * write transaction per group commit (a WAL fsync on the ingest's own SQLite file) was most of
 * what the commit hooks cost the cloud at saturation, about 1 µs of CPU per movement (bench
 * `--business-ab`, hooks on/off). A catch-up that finds a webhook starts from the larger of the
 * stored cursor and `followed`, so in a running process a new webhook gets exactly what it got
 * before: the rows after the head the last catch-up saw. Only a crash can lose the unwritten part,
 * and then a webhook that exists at restart also gets the rows of that last second.
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
  /** The head the last catch-up without a `movements` webhook saw, not yet written (see above). */
  private followed: number | undefined;
  private followWrittenAt = 0;
  private followTimer: NodeJS.Timeout | undefined;

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
    await this.alerts.enqueue([], { name: MOVEMENTS_CURSOR, value: await this.ledger.headPos(), expected: null });
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

  /** Wait for the catch-up queued so far, without writing the followed head (tests). */
  async caughtUp(): Promise<void> {
    await this.tail;
  }

  /** Wait for the catch-up queued so far, then write the followed head (tests, shutdown). */
  async idle(): Promise<void> {
    await this.tail;
    await this.writeFollowed();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retry);
    clearTimeout(this.followTimer);
    await this.tail;
    await this.writeFollowed();
  }

  /** Write the followed head now (compare-and-set against the stored cursor, as every move). */
  private async writeFollowed(): Promise<void> {
    const value = this.followed;
    if (value === undefined) return;
    this.followed = undefined;
    this.followWrittenAt = this.now().getTime();
    const stored = (await this.alerts.cursor(MOVEMENTS_CURSOR)) ?? 0;
    // False or lower: another instance moved it first, which is all this write was for.
    if (value > stored) await this.alerts.enqueue([], { name: MOVEMENTS_CURSOR, value, expected: stored });
  }

  private async catchUp(): Promise<void> {
    const stored = (await this.alerts.cursor(MOVEMENTS_CURSOR)) ?? 0;
    // What the cursor would be had every followed head been written (another instance's may be ahead).
    const cursor = Math.max(stored, this.followed ?? 0);
    if ((await this.alerts.listWebhooks({ role: 'movements' })).length === 0) {
      const head = await this.ledger.headPos();
      if (head > cursor) this.followed = head;
      if (this.followed === undefined) return;
      const wait = this.followWrittenAt + FOLLOW_WRITE_MS - this.now().getTime();
      if (wait <= 0) {
        clearTimeout(this.followTimer);
        this.followTimer = undefined;
        await this.writeFollowed();
      } else if (!this.followTimer) {
        // The last commit of a burst is written too, a second later at most.
        this.followTimer = setTimeout(() => {
          this.followTimer = undefined;
          this.changed();
        }, wait);
        this.followTimer.unref();
      }
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
    if (!(await this.alerts.enqueue(events, { name: MOVEMENTS_CURSOR, value: rows[rows.length - 1]!.pos, expected: stored }))) return;
    // The stored cursor is now past the followed head.
    this.followed = undefined;
    if (events.length) this.notify();
  }
}
