/**
 * Why one file (over 400 lines): the follower is one loop whose parts share its state: the batch
 * (cursors, rows, consumers in one transaction), the yield to a busy ingester (event-loop spans,
 * share, lag bound) and the retry decide together when the next batch runs; split, each would
 * read and write the other's fields. The queries are in repo.ts.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { Db } from '../db/index.js';
import type { LedgerConsumer, LedgerEntry } from './ledger-consumer.js';
import * as repo from './repo.js';

const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;

export interface LedgerFollowerOptions {
  /** Name of this follower's cursors (several followers may share the database). Default `business`. */
  name?: string;
  /** Rows per transaction, at most. Default 500. */
  batchRows?: number;
  /**
   * Poll period, ms (0: none). The local commit hook wakes the follower at once; the poll catches
   * what other ingesters committed (PostgreSQL, `--shared-group`). Default 500.
   */
  pollMs?: number;
  /**
   * Least time between two batches, ms: commits arriving meanwhile are folded into the next batch,
   * so a burst of ingest commits costs a few follower transactions, not one each. Default 20.
   */
  minGapMs?: number;
  /**
   * Yield to ingest (issue 10: the business layer must not cost the ingest path more than 10%):
   * while the process is busy with ingest (`busyLoopShare`, else a local commit within the last
   * `busyWindowMs`), the follower's
   * batches take at most this share of the time: after a batch that took T ms, the next starts
   * T × (1 − share) / share later (0: none until the lag bound). 1 (the default): never yield. The
   * cloud sets 0.01: a saturated ingester's CPU per movement with the business layer on is then
   * within the noise of it off (bench/README.md, "Business layer on and off").
   */
  busyShare?: number;
  /**
   * Busy = the event loop was at least this busy (utilisation, 0-1) since the follower's last batch
   * ended, i.e. while the follower did nothing: ingest (parse, validate, commit, ack) kept the one
   * thread this occupied. A steady load that ingest handles with time to spare is not busy, a
   * saturating burst is. The cloud sets 0.8. Without it: a local commit (`wake()`) within the last
   * `busyWindowMs` (default 100) is busy.
   */
  busyLoopShare?: number;
  busyWindowMs?: number;
  /**
   * With `busyLoopShare`: once busy, it stays busy until the loop has been under `busyLoopShare`
   * over a span this long (ms, default 250), and it looks once per such span. A saturated ingester
   * dips under 80% for a few ms (an fsync, a GC, the edges' windows refilling) and in the tail of a
   * burst; judged over 20 ms spans, each dip let a batch in and the checks woke the thread 100
   * times a second. Not yet busy, 20 ms spans still decide, so a steady load is followed batch by
   * batch as before.
   */
  busyIdleSpanMs?: number;
  /**
   * The bound on yielding: once the follower has been behind the ledger this long (`lagMs` in
   * /healthz), it stops yielding until it has caught up, and ingest shares the process with it
   * again. Default 30000.
   */
  maxLagMs?: number;
  /**
   * Ingest's latency while it is not saturated (issue 14 §2): on SQLite a batch runs in the ingest's
   * event loop and holds the one connection to its COMMIT, so a message arriving meanwhile waits
   * for all of it (3-11 ms batches at 5,000 movements/s, bench/README.md, paced latency). With
   * this set, while a local commit came within `busyWindowMs`, a batch takes only the rows that
   * fit in about this many ms (its size adapted to the measured time of the previous ones, at
   * least `MIN_SLICE_ROWS`), and the next follows after two turns of the event loop
   * (`setImmediate`: the sockets are read and the ingester commits in between) instead of
   * `minGapMs` later, until caught up; every 20 ms of such a run the loop's use without
   * the follower is judged again, and a busy ingester ends the run (then `busyShare` as above).
   * Ingest quiet (a catch-up) or past the lag bound: whole batches of `batchRows`, as without it.
   * 0 (the default): off. SQLite only: on PostgreSQL a batch awaits the server between its
   * statements, so ingest gets the loop meanwhile, and slices would only add round trips (and the
   * batch's wall time is not its time on the loop, which the sizing and the busy check read).
   */
  sliceMs?: number;
  /**
   * Each batch commits durably (true), or without waiting for the disk (false, the default:
   * `Db.tx` with `durable: false`). A batch is derived from durable ledger rows, and its cursors
   * move in the same transaction as its effects, so a batch lost to a power cut (before the next
   * durable commit on the database makes it durable too) is taken again from the same rows, as
   * after any rollback. Every durable commit (an ingest commit, an API write) syncs the batches
   * before it, so nothing acknowledged can depend on a lost one. Why: on SQLite the fsync of the
   * WAL was part of every batch's fixed cost (issue 14, bench/README.md "The follower's commit"),
   * paid in the event loop the ingester shares.
   */
  durableBatches?: boolean;
  /** First retry delay after a failed batch, ms, doubled per failure up to `maxBackoffMs`. Defaults 100, 30000. */
  backoffMs?: number;
  maxBackoffMs?: number;
}

/** What /healthz shows of the follower. */
export interface FollowerHealth {
  consumers: string[];
  /** Batches and rows committed since start. */
  batches: number;
  rows: number;
  /**
   * How long the follower has been behind the ledger, ms (0: it took everything committed when
   * its last batch started): the business figures are at most this old. Bounded by `maxLagMs`
   * while ingest is busy (past it the follower stops yielding), by the catch-up time otherwise.
   */
  lagMs: number;
  /** It is waiting for its share of the time while ingest is busy (options `busyShare`, `maxLagMs`). */
  yielding: boolean;
  /**
   * Where the follower's time goes since start: per consumer, the rows handed to it and the
   * process CPU (user + system, ms) while its `apply` ran; `(follower)` is the rest of each batch
   * (lock, cursors, reading and mapping the rows, cursor writes, COMMIT). Committed batches only.
   * In the cloud, other work of the process interleaving with an `apply` (ingest between two
   * awaits) is counted too; `npm run bench -- --only business` measures it alone.
   */
  cpu: Record<string, { rows: number; cpuMs: number }>;
  /** The failing batch, while it fails: the consumer that threw and its message. */
  failing?: { consumer: string; error: string; attempts: number; since: string; retryInMs: number };
}

/** Fewest rows of a sliced batch, whatever one took: below it the per-batch part (lock, cursors, COMMIT) is most of the work. */
const MIN_SLICE_ROWS = 8;
/** While sliced batches run back to back: how often the loop's use without the follower is judged, ms (the span `busyLoopShare` is judged over when not busy). */
const BUSY_CHECK_MS = 20;

/** A consumer's `apply` threw: its name travels with the error. */
class ConsumerFailed extends Error {
  constructor(
    readonly consumer: string,
    override readonly cause: unknown,
  ) {
    super(`${consumer}: ${(cause as Error)?.message ?? String(cause)}`);
  }
}

/**
 * Follows the committed ledger for the business layer (issue 10; the shared design in
 * cloud/README.md#ledger-follower): reads rows after its cursors, in position order per site, and
 * in ONE transaction hands them to every registered consumer in registration order and moves the
 * cursors, so each row reaches each consumer exactly once, whatever crashes between. It never runs
 * inside the ingest transaction: the hot path pays nothing but a wake-up call.
 *
 * Cursors are per consumer and site: ledger positions are gap-free per site only (two ingesters'
 * commits of two sites may become visible out of position order, while one site's commits are
 * serialised on its chain head), and a consumer added by a later release starts at the beginning
 * of the ledger without replaying the others.
 *
 * Several processes (ingesters on one PostgreSQL): each runs a follower; the lock row
 * (`SELECT ... FOR UPDATE`) lets one at a time take a batch, and the next re-reads the cursors
 * after the lock, so a batch is never applied twice.
 */
export class LedgerFollower {
  readonly name: string;
  private readonly consumers: LedgerConsumer[] = [];
  private readonly batchRows: number;
  private readonly pollMs: number;
  private readonly minGapMs: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private started = false;
  private stopped = false;
  /** The loop in flight, if any. */
  private running: Promise<void> | undefined;
  /** A wake-up arrived while the loop ran: go round again. */
  private again = false;
  private poll: NodeJS.Timeout | undefined;
  private retry: NodeJS.Timeout | undefined;
  private lastBatchAt = 0;
  private readonly busyShare: number;
  private readonly busyWindowMs: number;
  private readonly busyLoopShare: number | undefined;
  /** Event-loop utilisation at the start of the span `busyLoopShare` is measured over (the last batch's end, then each check). */
  private eluMark = performance.eventLoopUtilization();
  private eluMarkAt = 0;
  private readonly busyIdleSpanMs: number;
  /** The last span judged was busy (`busyLoopShare`): the next verdict needs a `busyIdleSpanMs` span. */
  private loopBusy = false;
  /** When the loop was last judged busy after being idle, ms. */
  private busySince = 0;
  private readonly maxLagMs: number;
  /** Last local commit (wake from the commit hook), ms. */
  private lastCommitAt = 0;
  /** Since when the follower has been behind (undefined: caught up), ms. */
  private behindSince: number | undefined;
  /** Wall time of the last batch, ms (what a yield is proportional to). */
  private lastBatchMs = 0;
  /** Wall time per row of the recent full batches, ms (moving average): what the next full batch will take. */
  private msPerRow = 0;
  private readonly sliceMs: number;
  private readonly durableBatches: boolean;
  /** Rows of the next sliced batch (adapted so that one takes about `sliceMs`). */
  private sliceRows: number;
  /** The run of back-to-back sliced batches: event-loop utilisation and time at its last busy check, and the follower's own ms since. */
  private runMark = performance.eventLoopUtilization();
  private runMarkAt = 0;
  private runFollowerMs = 0;
  private readonly health: FollowerHealth = { consumers: [], batches: 0, rows: 0, lagMs: 0, yielding: false, cpu: { '(follower)': { rows: 0, cpuMs: 0 } } };

  constructor(
    private readonly db: Db,
    private readonly log: Pick<Logger, 'info' | 'warn' | 'error'>,
    opts: LedgerFollowerOptions = {},
  ) {
    this.name = opts.name ?? 'business';
    if (!NAME_RE.test(this.name)) throw new Error(`ledger follower name '${this.name}': expected [a-z][a-z0-9-]*`);
    this.batchRows = opts.batchRows ?? 500;
    this.pollMs = opts.pollMs ?? 500;
    this.minGapMs = opts.minGapMs ?? 20;
    this.busyShare = Math.min(1, Math.max(0, opts.busyShare ?? 1));
    this.busyIdleSpanMs = opts.busyIdleSpanMs ?? 250;
    this.busyWindowMs = opts.busyWindowMs ?? 100;
    this.busyLoopShare = opts.busyLoopShare;
    this.maxLagMs = opts.maxLagMs ?? 30_000;
    this.sliceMs = db.dialect === 'sqlite' ? Math.max(0, opts.sliceMs ?? 0) : 0;
    this.durableBatches = opts.durableBatches ?? false;
    this.sliceRows = Math.min(this.batchRows, 4 * MIN_SLICE_ROWS);
    this.backoffMs = opts.backoffMs ?? 100;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
  }

  /** Add a consumer before `start()`; consumers run in registration order. */
  register(c: LedgerConsumer): void {
    if (this.started) throw new Error(`ledger follower: register '${c.name}' before start()`);
    if (!NAME_RE.test(c.name)) throw new Error(`ledger consumer name '${c.name}': expected [a-z][a-z0-9-]*`);
    if (this.consumers.some((x) => x.name === c.name)) throw new Error(`ledger consumer '${c.name}' registered twice`);
    this.consumers.push(c);
    this.health.consumers.push(c.name);
    this.health.cpu[c.name] = { rows: 0, cpuMs: 0 };
  }

  /** Create the lock row, catch up what was committed meanwhile, then follow. No consumer: nothing runs. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.consumers.length === 0) return;
    await this.db.tx((tx) => repo.ensureLockRow(tx, this.name, new Date().toISOString()));
    if (this.pollMs > 0) {
      this.poll = setInterval(() => this.wake('poll'), this.pollMs);
      this.poll.unref();
    }
    // What was committed while it was down is still to take: behind until the first short batch.
    this.behindSince = Date.now();
    this.wake('poll');
  }

  /** New rows may be committed (the local commit hook, the poll): catch up soon. Never throws. */
  wake(from: 'commit' | 'poll' = 'commit'): void {
    if (from === 'commit') {
      this.lastCommitAt = Date.now();
      this.behindSince ??= this.lastCommitAt;
    }
    if (!this.started || this.stopped || this.consumers.length === 0 || this.retry) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  /** Resolves once the follower has caught up with what is committed now (tests, shutdown, demos). */
  async caughtUp(): Promise<void> {
    for (;;) {
      if (this.running) await this.running;
      if (this.stopped || this.retry || this.consumers.length === 0) return;
      if ((await this.round()) === 0) return;
    }
  }

  /** For /healthz. */
  status(): FollowerHealth {
    const cpu: FollowerHealth['cpu'] = {};
    for (const [k, v] of Object.entries(this.health.cpu)) cpu[k] = { rows: v.rows, cpuMs: Math.round(v.cpuMs * 10) / 10 };
    return { ...this.health, lagMs: this.behindSince === undefined ? 0 : Date.now() - this.behindSince, consumers: [...this.health.consumers], cpu, ...(this.health.failing ? { failing: { ...this.health.failing } } : {}) };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.poll);
    clearTimeout(this.retry);
    await this.running;
  }

  private async loop(): Promise<void> {
    do {
      this.again = false;
      // The last batch was a full slice (`sliceMs`) and ingest is not busy: the next one follows
      // after two turns of the event loop, without `minGapMs` or a new busy verdict.
      let chained = false;
      for (;;) {
        if (this.stopped) return;
        if (!chained) {
          const wait = this.lastBatchAt + this.minGapMs - Date.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          // Its share of the time while ingest is busy: as soon as ingest is idle again (or the lag
          // bound is reached), the next batch goes. `yieldFor` says when to look again (10 ms with
          // `busyWindowMs`, the end of the span being measured with `busyLoopShare`).
          for (let y = this.yieldFor(Date.now()); y > 0 && !this.stopped; y = this.yieldFor(Date.now())) {
            this.health.yielding = true;
            await new Promise((r) => setTimeout(r, y));
          }
          this.health.yielding = false;
          this.markRun();
        }
        // Two turns of the event loop before every batch: the wake-up came from a commit's hook,
        // whose acks are published through a promise chain that ends in aedes's setImmediate
        // (lib/client.js deliverQoS), queued after this one; and messages may be waiting on the
        // sockets. A batch is a chain of microtasks on SQLite: started at once, it ran before both.
        for (let i = 0; i < 2; i++) await new Promise((r) => setImmediate(r));
        if (this.stopped) return;
        const sliced = this.slicing(Date.now());
        const limit = sliced ? this.sliceRows : this.batchRows;
        let n: number;
        try {
          n = await this.round(limit, sliced);
        } catch (err) {
          this.failed(err);
          return;
        }
        if (n === 0) break;
        chained = sliced && n === limit && !this.busyInRun();
      }
    } while (this.again && !this.stopped);
  }

  /** The next batch is a slice (`sliceMs`): ingest is active and the lag bound not reached. */
  private slicing(now: number): boolean {
    if (this.sliceMs === 0 || now - this.lastCommitAt > this.busyWindowMs) return false;
    return this.behindSince === undefined || now - this.behindSince < this.maxLagMs;
  }

  /** Start a run of back-to-back sliced batches (the busy check's span). */
  private markRun(): void {
    this.runMark = performance.eventLoopUtilization();
    this.runMarkAt = performance.now();
    this.runFollowerMs = 0;
  }

  /**
   * Between two sliced batches: is ingest busy, so the run must end and the follower yield
   * (`busyShare`)? With `busyLoopShare`: the loop's use over the last `BUSY_CHECK_MS` or more,
   * the follower's own batches taken out, is at least that share (judged at most every
   * `BUSY_CHECK_MS`, and only with 5 ms of the span left to others to judge by). Without it: a
   * local commit within `busyWindowMs`, as in `yieldFor`.
   */
  private busyInRun(): boolean {
    if (this.busyShare >= 1) return false;
    if (this.busyLoopShare === undefined) return Date.now() - this.lastCommitAt <= this.busyWindowMs;
    if (performance.now() - this.runMarkAt < BUSY_CHECK_MS) return false;
    const elu = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(elu, this.runMark);
    const others = d.idle + d.active - this.runFollowerMs;
    const busy = others >= 5 && (d.active - this.runFollowerMs) / others >= this.busyLoopShare;
    this.markRun();
    return busy;
  }

  /**
   * How long to wait before looking again (0: the next batch goes now), to keep to `busyShare` of
   * the time while the local ingester is busy; 0 when it is idle, when yielding is off, or when the
   * follower has been behind for `maxLagMs` (the bound: it then runs flat out until it has caught up).
   */
  private yieldFor(now: number): number {
    if (this.busyShare >= 1) return 0;
    if (this.behindSince !== undefined && now - this.behindSince >= this.maxLagMs) return 0;
    const untilLag = this.behindSince === undefined ? this.maxLagMs : this.behindSince + this.maxLagMs - now;
    // When its share allows the next batch (never, with share 0, until the lag bound): counted from
    // its last batch, or from when ingest became busy if that is later, and for at least what a
    // full batch takes (else a burst would start with a batch "due" for the quiet before it, or
    // for the few rows of the last batch before it).
    const shareFrom = Math.max(this.lastBatchAt, this.busySince);
    const batchMs = Math.max(this.lastBatchMs, this.msPerRow * this.batchRows);
    const dueAt = this.busyShare > 0 ? shareFrom + (batchMs * (1 - this.busyShare)) / this.busyShare : Number.POSITIVE_INFINITY;
    if (this.busyLoopShare !== undefined) {
      // Over spans without the follower (from its last batch's end, then from each verdict): 20 ms
      // while not busy (a shorter span tells nothing); once busy, `busyIdleSpanMs`, so a dip of a
      // saturated ingester is not taken for idle, and the thread is woken a few times a second.
      // Woken after a quiet spell, it measures a fresh span: a long one would be mostly the quiet.
      const span = this.loopBusy ? this.busyIdleSpanMs : 20;
      if (now - this.eluMarkAt > 4 * this.busyIdleSpanMs) this.markLoop(now);
      const since = now - this.eluMarkAt;
      if (since < span) return Math.max(1, Math.min(span - since, untilLag));
      const elu = performance.eventLoopUtilization();
      const busy = performance.eventLoopUtilization(elu, this.eluMark).utilization >= this.busyLoopShare;
      if (busy && !this.loopBusy) this.busySince = now;
      this.loopBusy = busy;
      this.eluMark = elu;
      this.eluMarkAt = now;
      if (!busy) return 0;
      if (dueAt <= now) return 0;
      return Math.max(1, Math.min(this.busyIdleSpanMs, untilLag));
    }
    if (now - this.lastCommitAt > this.busyWindowMs) return 0;
    return Math.max(0, Math.min(dueAt - now, 10, untilLag));
  }

  /** Start a span of `busyLoopShare` measurement. */
  private markLoop(now: number): void {
    this.eluMark = performance.eventLoopUtilization();
    this.eluMarkAt = now;
  }

  private failed(err: unknown): void {
    const f = this.health.failing;
    const consumer = err instanceof ConsumerFailed ? err.consumer : '(follower)';
    const cause = err instanceof ConsumerFailed ? err.cause : err;
    const attempts = (f?.attempts ?? 0) + 1;
    const retryInMs = Math.min(this.maxBackoffMs, this.backoffMs * 2 ** Math.min(attempts - 1, 20));
    this.health.failing = { consumer, error: (cause as Error)?.message ?? String(cause), attempts, since: f?.since ?? new Date().toISOString(), retryInMs };
    this.log.error({ follower: this.name, consumer, err: this.health.failing.error, attempts, retryInMs }, 'ledger follower: batch rolled back; retried with backoff');
    this.retry = setTimeout(() => {
      this.retry = undefined;
      this.wake('poll');
    }, retryInMs);
    this.retry.unref();
  }

  /** One batch of at most `limit` rows in one transaction; returns how many rows it took (0: caught up). */
  private async round(limit = this.batchRows, sliced = false): Promise<number> {
    let done: Array<{ c: LedgerConsumer; rows: LedgerEntry[]; cpuMs: number }> = [];
    const cpu0 = process.cpuUsage();
    const startedAt = Date.now();
    const t0 = performance.now();
    const n = await this.db.tx(async (tx) => {
      done = [];
      await repo.lockFollower(tx, this.db.dialect, this.name);
      const at = new Map<string, number>(); // `${consumer}\0${site}` -> pos
      for (const c of await repo.cursors(tx, this.name)) at.set(`${c.consumer}\0${c.site}`, c.pos);
      const cur = (consumer: string, site: string) => at.get(`${consumer}\0${site}`) ?? 0;
      const rows: LedgerEntry[] = [];
      // Per site, the rows after the furthest-behind consumer; `ahead`: a consumer past that
      // somewhere (a later-added one is behind the others), so it gets only its own rows below.
      const ahead = new Set<string>();
      for (const h of await repo.siteHeads(tx)) {
        const from = Math.min(...this.consumers.map((c) => cur(c.name, h.site)));
        for (const c of this.consumers) if (cur(c.name, h.site) > from) ahead.add(c.name);
        if (h.pos > from) rows.push(...(await repo.siteRows(tx, this.db.dialect, h.site, from, h.pos, limit)));
      }
      if (rows.length === 0) return 0;
      // The batch: the smallest positions over all sites; per site that is still a prefix of what
      // follows its cursor, so each site's cursor can move to the last row taken of it.
      rows.sort((a, b) => a.pos - b.pos);
      rows.length = Math.min(rows.length, limit);
      const now = new Date().toISOString();
      const moved: repo.CursorRow[] = [];
      for (const c of this.consumers) {
        const mine = ahead.has(c.name) ? rows.filter((r) => r.pos > cur(c.name, r.site)) : rows;
        if (mine.length === 0) continue;
        const t = process.cpuUsage();
        try {
          await c.apply(tx, mine);
        } catch (err) {
          throw new ConsumerFailed(c.name, err);
        }
        const d = process.cpuUsage(t);
        const last = new Map<string, number>();
        for (const r of mine) last.set(r.site, r.pos);
        for (const [site, pos] of last) moved.push({ consumer: c.name, site, pos });
        done.push({ c, rows: mine, cpuMs: (d.user + d.system) / 1000 });
      }
      await repo.putCursors(tx, this.name, moved, now);
      return rows.length;
    }, { durable: this.durableBatches });
    this.lastBatchAt = Date.now();
    const ms = performance.now() - t0;
    this.runFollowerMs += ms;
    if (n > 0) this.lastBatchMs = this.lastBatchAt - startedAt;
    // A full slice: the next one sized to take about `sliceMs` (down at once, up by at most half).
    if (sliced && n === limit && ms > 0) {
      const scaled = Math.floor((this.sliceRows * this.sliceMs) / ms);
      this.sliceRows = Math.max(MIN_SLICE_ROWS, Math.min(this.batchRows, ms > this.sliceMs ? scaled : Math.max(this.sliceRows + 1, Math.min(scaled, Math.ceil(this.sliceRows * 1.5)))));
    }
    // Full batches only: in a small one the fixed part (lock, cursors, COMMIT) is most of the time.
    if (n === this.batchRows) {
      const perRow = this.lastBatchMs / n;
      this.msPerRow = this.msPerRow === 0 ? perRow : 0.8 * this.msPerRow + 0.2 * perRow;
    }
    this.markLoop(this.lastBatchAt);
    // Fewer rows than a full batch: it took everything committed when it read the heads, so it is
    // caught up, unless a commit came in since (then it is behind since that commit).
    if (n < limit) this.behindSince = this.lastCommitAt > startedAt ? this.lastCommitAt : undefined;
    if (n > 0) {
      this.health.batches++;
      this.health.rows += n;
      const all = process.cpuUsage(cpu0);
      let rest = (all.user + all.system) / 1000;
      for (const { c, rows, cpuMs } of done) {
        const h = this.health.cpu[c.name]!;
        h.rows += rows.length;
        h.cpuMs += cpuMs;
        rest -= cpuMs;
      }
      const f = this.health.cpu['(follower)']!;
      f.rows += n;
      f.cpuMs += Math.max(0, rest);
    }
    if (this.health.failing) {
      this.log.info({ follower: this.name, consumer: this.health.failing.consumer, attempts: this.health.failing.attempts }, 'ledger follower: recovered');
      delete this.health.failing;
    }
    for (const { c, rows } of done) {
      try {
        c.afterCommit?.(rows);
      } catch (err) {
        this.log.warn({ consumer: c.name, err: (err as Error).message }, 'ledger consumer afterCommit threw (the batch is committed)');
      }
    }
    return n;
  }
}
