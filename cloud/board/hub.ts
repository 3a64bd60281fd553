/*
 * Why one file (over 400 lines): the hub is one object per process that follows ledger positions
 * and fans coalesced frames out to bounded per-client queues; following, coalescing and fan-out
 * share the position, the pending frame and the client set, so they stay together (the stream's
 * HTTP side is stream.ts).
 */
import type { ServerResponse } from 'node:http';
import {
  type BoardAlert,
  type BoardCaller,
  type BoardEdge,
  type BoardException,
  type BoardFrame,
  type BoardItem,
  type BoardMovement,
  type BoardSnapshot,
  type BoardStockRow,
  edgeKey,
  FRAME_MS,
  HEARTBEAT_MS,
  MAX_EXCEPTIONS_SENT,
  MAX_FEED_PER_FRAME,
  MAX_FRAME_READS,
} from '../../protocols/http/board.js';
import type { Alert, AlertStore } from '../alerts/alert-store.js';
import type { ExceptionRow, Store } from '../store/store.js';
import { EdgeHealth } from './health.js';
import type { BoardRepo } from './repo.js';
import { DEFAULT_LIMITS, SseStream, type StreamLimits } from './stream.js';

/** Re-checks that a stream's caller may still watch (token not revoked, scope unchanged). */
export interface StreamGrant {
  /** Streams opened with one credential share one check per sweep. */
  key: string;
  check: () => Promise<boolean>;
}

/** What one stream shows: these sites and projects (undefined = all), as the caller's scope says. */
export interface BoardView {
  sites?: readonly string[];
  projects?: readonly string[];
}

export interface BoardHubOptions {
  /** Coalescing window: at most one frame per this many ms. Default 250 (issue 12). */
  frameMs?: number;
  /**
   * Ledger-position poll, ms: how another ingester's commits (same PostgreSQL) reach this one's
   * boards. Local commits wake the hub at once (`kick`). Default 100; 1000 on SQLite, where every
   * commit is local.
   */
  pollMs?: number;
  /** Token re-check period, ms. Default 500: a revoked token's stream ends within 1 s (issue 8 #5). */
  recheckMs?: number;
  heartbeatMs?: number;
  /**
   * How long a hole in the positions is waited for, ms. On PostgreSQL with several ingesters a
   * position is taken at INSERT and becomes visible at COMMIT, so a lower one can appear after a
   * higher one was read; its row is read when it shows up, for this long. Default 5000.
   */
  gapMs?: number;
  /** Refresh of open alerts and exceptions (changes made by other ingesters), ms. Default 2000. */
  refreshMs?: number;
  /** A `Last-Event-ID` further back than this many ledger rows gets a snapshot instead. Default 20000. */
  maxResume?: number;
  limits?: Partial<StreamLimits>;
  /** Near-expiry window of the attention view for items without their own (`--near-expiry-days`). Default 30. */
  nearExpiryDays?: number;
}

interface Viewer {
  stream: SseStream;
  view: BoardView;
  sites?: ReadonlySet<string>;
  projects?: ReadonlySet<string>;
  grant?: StreamGrant;
}

interface Pending {
  pairs: Map<string, { site: string; sku: string }>;
  feed: BoardMovement[];
  feedDropped: number;
  edges: Map<string, BoardEdge>;
  alerts: boolean;
  exceptions: boolean;
  /** The ledger reads whose rows are in here: [highest position, epoch ms] (the frame's `timing`). */
  reads: Array<[number, number]>;
}

const emptyPending = (): Pending => ({ pairs: new Map(), feed: [], feedDropped: 0, edges: new Map(), alerts: false, exceptions: false, reads: [] });
/** Ledger rows read per query while catching up. */
const READ_BATCH = 2000;
/** Holes tracked at once; a bigger jump (a sequence cache, a restart) is not waited for. */
const MAX_HOLES = 5000;
/** Feed rows kept per frame before filtering per stream. */
const FEED_KEEP = MAX_FEED_PER_FRAME * 5;

/**
 * The live board's hub (issue 12 #3, #4): ONE follower of the ledger per process, fanned out to
 * every board stream of that process over Server-Sent Events.
 *
 * - Fed from the ledger, not from the ingester: it reads rows by position (`BoardRepo.after`),
 *   woken by the local commit hook (`kick`) and by a short position poll, so a board on ingester A
 *   shows what ingester B committed to the shared PostgreSQL. It needs no exactly-once cursor:
 *   frames carry latest values (balances read after the rows), so reading a row twice is harmless.
 * - Coalesced: everything read within `frameMs` (250 ms) becomes one frame per stream - the latest
 *   balance of every (site, sku) touched, the feed rows, edge health, alert and exception lists
 *   when they changed. `id:` is the ledger position the frame includes, so a reconnecting
 *   EventSource's `Last-Event-ID` resumes from there.
 * - Bounded: each stream has a bounded queue (`SseStream`); overflow -> `event: resync`.
 * - Re-checks each distinct credential every 500 ms and ends the streams of a revoked one (issue 8 #5).
 */
export class BoardHub {
  readonly health: EdgeHealth;
  private readonly viewers = new Set<Viewer>();
  private readonly o: Required<Omit<BoardHubOptions, 'limits' | 'nearExpiryDays'>>;
  readonly nearExpiryDays: number;
  private readonly limits: StreamLimits;
  private highest = 0;
  /** Commits went by while no stream was open, unread (`catchUpPosition`). */
  private behind = false;
  private catchingUp: Promise<void> | undefined;
  private readonly holes = new Map<number, number>();
  private pending = emptyPending();
  private reading: Promise<void> | undefined;
  private readAgain = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastFlush = 0;
  private readonly timers: NodeJS.Timeout[] = [];
  private checking = false;
  private started = false;
  private closed = false;
  private lastAlerts = '';
  private lastExceptions = '';
  /** SKUs whose item names went out in a frame already (bounded). */
  private readonly named = new Set<string>();
  /** Frames sent, stream queues that overflowed, streams resynced (tests, /metrics). */
  readonly stats = { frames: 0, overflows: 0, resyncs: 0, rowsRead: 0, holesFilled: 0, holesSkipped: 0, readErrors: 0 };

  constructor(
    private readonly deps: { repo: BoardRepo; store: Pick<Store, 'exceptions'>; alerts?: Pick<AlertStore, 'listAlerts' | 'listLevels'> },
    opts: BoardHubOptions = {},
  ) {
    this.o = {
      frameMs: opts.frameMs ?? FRAME_MS,
      pollMs: opts.pollMs ?? 100,
      recheckMs: opts.recheckMs ?? 500,
      heartbeatMs: opts.heartbeatMs ?? HEARTBEAT_MS,
      gapMs: opts.gapMs ?? 5000,
      refreshMs: opts.refreshMs ?? 2000,
      maxResume: opts.maxResume ?? 20_000,
    };
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.nearExpiryDays = opts.nearExpiryDays ?? 30;
    this.health = new EdgeHealth((e) => {
      if (this.viewers.size === 0) return;
      this.pending.edges.set(edgeKey(e), structuredClone(e));
      this.scheduleFlush();
    });
  }

  /** The board's reads (its REST views use them too). */
  get repo(): BoardRepo {
    return this.deps.repo;
  }

  /** Levels for the attention view. */
  get levels(): Pick<AlertStore, 'listLevels'> | undefined {
    return this.deps.alerts;
  }

  /** Number of open streams. */
  get size(): number {
    return this.viewers.size;
  }

  /** The ledger position the hub has read up to (while no stream is open, commits are left unread until a snapshot or resume). */
  get position(): number {
    return this.highest;
  }

  /** Bytes held in stream queues (a stalled client must not grow it without bound). */
  get queuedBytes(): number {
    let n = 0;
    for (const v of this.viewers) n += v.stream.held;
    return n;
  }

  /** Start following the ledger from its current end. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.highest = await this.deps.repo.maxPos();
    const every = (ms: number, fn: () => void) => {
      const t = setInterval(fn, ms);
      t.unref();
      this.timers.push(t);
    };
    every(this.o.pollMs, () => this.viewers.size > 0 && this.kick());
    every(this.o.heartbeatMs, () => {
      const now = Date.now();
      for (const v of this.viewers) v.stream.heartbeat(now);
    });
    every(this.o.recheckMs, () => void this.sweep());
    every(this.o.refreshMs, () => {
      if (this.viewers.size === 0) return;
      this.pending.alerts = true;
      this.pending.exceptions = true;
      this.scheduleFlush();
    });
  }

  /** Something was committed (the local commit hook): read the ledger now. */
  kick(): void {
    if (!this.started || this.closed) return;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readLedger().finally(() => {
      this.reading = undefined;
      if (this.readAgain) {
        this.readAgain = false;
        this.kick();
      }
    });
  }

  /** Alerts were opened, resolved or acknowledged here: send the open list with the next frame. */
  alertsChanged(): void {
    if (this.viewers.size === 0) return;
    this.pending.alerts = true;
    this.scheduleFlush();
  }

  /** An exception was resolved here. */
  exceptionsChanged(): void {
    if (this.viewers.size === 0) return;
    this.pending.exceptions = true;
    this.scheduleFlush();
  }

  /** Resolves once everything read so far has been sent (tests). */
  async settle(): Promise<void> {
    while (this.reading) await this.reading;
  }

  /**
   * The first event of a stream, read BEFORE the response is committed (a failure is still an
   * HTTP error). `pos` is taken first: the balances read after it may include later commits,
   * which the next frames repeat as latest values.
   */
  async snapshot(view: BoardView, caller: BoardCaller): Promise<BoardSnapshot> {
    await this.catchUpPosition();
    const pos = this.highest;
    const f = filterOf(view);
    const [stock, feed, alerts, exceptions] = await Promise.all([
      this.deps.repo.stock(view.sites),
      this.deps.repo.recent(view.sites, view.projects ? 1000 : 100),
      this.openAlerts(),
      this.openExceptions(),
    ]);
    const myStock = stock.filter(f.row);
    const myFeed = feed.filter(f.row).slice(0, 100);
    const items = await this.deps.repo.items([...myStock.map((r) => r.sku), ...myFeed.map((m) => m.sku)]);
    return {
      pos,
      at: new Date().toISOString(),
      caller,
      stock: myStock,
      feed: myFeed,
      edges: this.health.list().filter(f.site),
      alerts: alerts.filter(f.alert),
      ...exceptionList(exceptions.filter(f.row)),
      items,
    };
  }

  /**
   * What a stream that saw up to `lastId` missed, as one frame; undefined when it is too far
   * behind (or ahead: another database) and needs a snapshot.
   */
  async resume(view: BoardView, lastId: number): Promise<BoardFrame | undefined> {
    await this.catchUpPosition();
    if (lastId > this.highest || this.highest - lastId > this.o.maxResume) return undefined;
    const rows = await this.deps.repo.after(lastId, this.o.maxResume + 1);
    if (rows.length > this.o.maxResume) return undefined;
    // Rows the hub has not read yet are included; its next frames repeat them (latest values).
    const pos = Math.max(this.highest, rows[rows.length - 1]?.pos ?? 0);
    const f = filterOf(view);
    const pairs = new Map<string, { site: string; sku: string }>();
    for (const r of rows) if (f.row(r)) pairs.set(`${r.site}\u0000${r.sku}`, { site: r.site, sku: r.sku });
    const stock = (await this.deps.repo.stockOf([...pairs.values()])).filter(f.row);
    const feed = rows.filter(f.row);
    const [alerts, exceptions] = await Promise.all([this.openAlerts(), this.openExceptions()]);
    return {
      pos,
      stock,
      feed: feed.slice(-MAX_FEED_PER_FRAME),
      ...(feed.length > MAX_FEED_PER_FRAME ? { feedDropped: feed.length - MAX_FEED_PER_FRAME } : {}),
      edges: this.health.list().filter(f.site),
      alerts: alerts.filter(f.alert),
      ...exceptionList(exceptions.filter(f.row)),
      items: await this.deps.repo.items([...pairs.values()].map((p) => p.sku)),
    };
  }

  /** Attach an SSE response showing `view`, starting with `first` (a snapshot, or a resume frame). */
  attach(res: ServerResponse, view: BoardView, first: { snapshot: BoardSnapshot } | { frame: BoardFrame }, grant?: StreamGrant): void {
    if (res.destroyed || this.closed) return;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    const viewer: Viewer = {
      view,
      stream: new SseStream(res, this.limits, () => this.viewers.delete(viewer), { overflow: () => this.stats.overflows++, resync: () => this.stats.resyncs++ }),
      ...(view.sites ? { sites: new Set(view.sites) } : {}),
      ...(view.projects ? { projects: new Set(view.projects) } : {}),
      ...(grant ? { grant } : {}),
    };
    this.viewers.add(viewer);
    if ('snapshot' in first) viewer.stream.event('snapshot', JSON.stringify(first.snapshot), first.snapshot.pos);
    else viewer.stream.event('frame', JSON.stringify(first.frame), first.frame.pos);
    // Reconnect delay the browser uses after a dropped connection (EventSource `retry:`).
    res.write('retry: 1000\n\n');
    // A stream may start behind the hub's position: the next frames carry what it lacks.
    this.kick();
  }

  close(): void {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    clearTimeout(this.flushTimer);
    for (const v of [...this.viewers]) v.stream.close();
    this.viewers.clear();
  }

  /**
   * While nobody watched, commits only marked the hub `behind`: move to the end of the ledger
   * before a snapshot or resume is built on `highest`. Rows committed after this read reach the
   * new stream through `attach`'s kick, as for any stream.
   */
  private catchUpPosition(): Promise<void> {
    // Two snapshots asked at once wait for the same read: the second must not build on the old end.
    if (!this.catchingUp && this.behind) {
      this.behind = false;
      this.catchingUp = this.deps.repo
        .maxPos()
        .then(
          (end) => {
            this.highest = Math.max(this.highest, end);
          },
          (err: unknown) => {
            this.behind = true;
            throw err;
          },
        )
        .finally(() => {
          this.catchingUp = undefined;
        });
    }
    return this.catchingUp ?? Promise.resolve();
  }

  /** Read every ledger row after the hub's position (and the holes still open), into `pending`. */
  private async readLedger(): Promise<void> {
    try {
      if (this.viewers.size === 0) {
        // Nobody to show the rows to (take() would drop them): read nothing. Reading every
        // committed row through Kysely cost the ingest process about a tenth of its CPU under load
        // (bench --cpu-prof, issue 9/14); even the one indexed max(pos) per group commit was 2% of
        // the cloud's time at a paced 5,000/s (issue 14). The end of the ledger is read once, when
        // a viewer asks for a snapshot or a resume (`catchUpPosition`).
        this.behind = true;
        this.holes.clear();
        return;
      }
      for (;;) {
        const rows = await this.deps.repo.after(this.highest, READ_BATCH);
        for (const r of rows) {
          if (r.pos > this.highest + 1 && this.holes.size < MAX_HOLES) {
            const now = Date.now();
            for (let p = Math.max(this.highest + 1, r.pos - MAX_HOLES); p < r.pos && this.holes.size < MAX_HOLES; p++) this.holes.set(p, now);
          }
          this.highest = Math.max(this.highest, r.pos);
          this.take(r);
        }
        if (rows.length) this.noteRead(rows[rows.length - 1]!.pos);
        this.stats.rowsRead += rows.length;
        if (rows.length < READ_BATCH || this.closed) break;
      }
      if (this.holes.size > 0) {
        const late = await this.deps.repo.at([...this.holes.keys()]);
        for (const r of late) {
          this.holes.delete(r.pos);
          this.stats.holesFilled++;
          this.take(r);
        }
        if (late.length) this.noteRead(late[late.length - 1]!.pos);
        const old = Date.now() - this.o.gapMs;
        for (const [p, since] of this.holes) if (since < old) (this.holes.delete(p), this.stats.holesSkipped++);
      }
    } catch {
      // The next kick or poll tries again from the same position.
      this.stats.readErrors++;
    }
  }

  private take(r: BoardMovement): void {
    if (this.viewers.size === 0) return;
    const p = this.pending;
    p.pairs.set(`${r.site}\u0000${r.sku}`, { site: r.site, sku: r.sku });
    p.feed.push(r);
    if (p.feed.length > FEED_KEEP * 2) {
      p.feedDropped += p.feed.length - FEED_KEEP;
      p.feed = p.feed.slice(-FEED_KEEP);
    }
    if (r.status === 'exception') p.exceptions = true;
    this.scheduleFlush();
  }

  /** Rows up to `pos` were just taken into `pending` (no await since): when, for the frame's timing. */
  private noteRead(pos: number): void {
    if (this.viewers.size === 0) return;
    const reads = this.pending.reads;
    reads.push([pos, Date.now()]);
    if (reads.length > MAX_FRAME_READS) reads.splice(0, reads.length - MAX_FRAME_READS);
  }

  private scheduleFlush(): void {
    if (this.flushTimer || this.closed) return;
    // The first change after a quiet spell goes out at once; then at most one frame per frameMs.
    const wait = Math.max(0, this.lastFlush + this.o.frameMs - Date.now());
    this.flushTimer = setTimeout(() => void this.flush(), wait);
  }

  private async flush(): Promise<void> {
    const p = this.pending;
    this.pending = emptyPending();
    const flushAt = Date.now();
    try {
      const pos = this.highest;
      const [stock, alerts, exceptions] = await Promise.all([
        this.deps.repo.stockOf([...p.pairs.values()]),
        p.alerts ? this.openAlerts() : undefined,
        p.exceptions ? this.openExceptions() : undefined,
      ]);
      // Open lists go out only when they differ from what was sent last.
      const alertsJson = alerts ? JSON.stringify(alerts) : undefined;
      const sendAlerts = alerts && alertsJson !== this.lastAlerts ? alerts : undefined;
      if (alertsJson !== undefined) this.lastAlerts = alertsJson;
      const exJson = exceptions ? JSON.stringify(exceptions) : undefined;
      const sendEx = exceptions && exJson !== this.lastExceptions ? exceptions : undefined;
      if (exJson !== undefined) this.lastExceptions = exJson;
      const newSkus = [...new Set([...p.pairs.values()].map((x) => x.sku))].filter((s) => !this.named.has(s));
      const items: BoardItem[] = newSkus.length ? await this.deps.repo.items(newSkus) : [];
      if (this.named.size > 100_000) this.named.clear();
      for (const s of newSkus) this.named.add(s);
      const edges = [...p.edges.values()];
      const timing = { reads: p.reads, flush: flushAt, sent: Date.now() };
      // Streams with the same view share one serialised frame.
      const byView = new Map<string, string | null>();
      for (const v of this.viewers) {
        const key = JSON.stringify(v.view);
        let data = byView.get(key);
        if (data === undefined) {
          data = this.frameFor(v.view, pos, stock, p, edges, sendAlerts, sendEx, items, timing);
          byView.set(key, data);
        }
        if (data === null) continue;
        v.stream.event('frame', data, pos);
        this.stats.frames++;
      }
    } catch {
      // Nothing sent: put the changes back so the next frame carries them.
      for (const [k, v] of p.pairs) this.pending.pairs.set(k, v);
      this.pending.feed.unshift(...p.feed);
      this.pending.exceptions ||= p.exceptions;
      this.pending.alerts ||= p.alerts;
      this.pending.reads.unshift(...p.reads);
      this.stats.readErrors++;
    } finally {
      // Spacing is measured from the end of a send, so frames reach a stream at least frameMs apart
      // (the reads above take a variable time).
      this.lastFlush = Date.now();
      this.flushTimer = undefined;
      if (this.pending.pairs.size || this.pending.edges.size || this.pending.alerts || this.pending.exceptions) this.scheduleFlush();
    }
  }

  private frameFor(
    view: BoardView,
    pos: number,
    stock: BoardStockRow[],
    p: Pending,
    edges: BoardEdge[],
    alerts: BoardAlert[] | undefined,
    exceptions: BoardException[] | undefined,
    items: BoardItem[],
    timing: NonNullable<BoardFrame['timing']>,
  ): string | null {
    const f = filterOf(view);
    const myStock = stock.filter(f.row);
    const myFeed = p.feed.filter(f.row);
    const myEdges = edges.filter(f.site);
    const frame: BoardFrame = {
      pos,
      stock: myStock,
      feed: myFeed.slice(-MAX_FEED_PER_FRAME),
      ...(myFeed.length > MAX_FEED_PER_FRAME || p.feedDropped ? { feedDropped: Math.max(0, myFeed.length - MAX_FEED_PER_FRAME) + p.feedDropped } : {}),
      ...(myEdges.length ? { edges: myEdges } : {}),
      ...(alerts ? { alerts: alerts.filter(f.alert) } : {}),
      ...(exceptions ? exceptionList(exceptions.filter(f.row)) : {}),
      ...(items.length && myStock.length ? { items } : {}),
      timing,
    };
    if (!myStock.length && !myFeed.length && !myEdges.length && !alerts && !exceptions) return null;
    return JSON.stringify(frame);
  }

  private async openAlerts(): Promise<BoardAlert[]> {
    if (!this.deps.alerts) return [];
    return (await this.deps.alerts.listAlerts({ state: 'open', limit: 1000 })).map(boardAlert);
  }

  private async openExceptions(): Promise<BoardException[]> {
    return (await this.deps.store.exceptions({ state: 'open', limit: 1000 })).map(boardException);
  }

  /** Ends the streams whose credential no longer passes its check. */
  private async sweep(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      const byKey = new Map<string, Viewer[]>();
      for (const v of this.viewers) if (v.grant) byKey.set(v.grant.key, [...(byKey.get(v.grant.key) ?? []), v]);
      await Promise.all(
        [...byKey.values()].map(async (vs) => {
          const ok = await vs[0]!.grant!.check().catch(() => false);
          if (ok) return;
          for (const v of vs) v.stream.close();
        }),
      );
    } finally {
      this.checking = false;
    }
  }
}

/** The row filters of a view: its sites, and its projects for project-scoped callers. */
function filterOf(view: BoardView): {
  site: (x: { site: string }) => boolean;
  row: (x: { site: string; project?: string }) => boolean;
  alert: (a: BoardAlert) => boolean;
} {
  const sites = view.sites ? new Set(view.sites) : undefined;
  const projects = view.projects ? new Set(view.projects) : undefined;
  const site = (x: { site: string }) => !sites || sites.has(x.site);
  return {
    site,
    row: (x) => site(x) && (!projects || projects.has(x.project ?? '')),
    // A project-scoped caller sees the alerts of its projects (expiry of stock held for them); the
    // site-wide ones (levels per SKU, devices) are not its projects' (issue 12 #5).
    alert: (a) => site(a) && (!projects || (a.project !== undefined && projects.has(a.project))),
  };
}

function boardAlert(a: Alert): BoardAlert {
  return {
    id: a.id,
    type: a.type,
    site: a.site,
    ...(a.sku !== undefined ? { sku: a.sku } : {}),
    ...(a.batch !== undefined ? { batch: a.batch } : {}),
    ...(a.edge !== undefined ? { edge: a.edge } : {}),
    ...(a.device !== undefined ? { device: a.device } : {}),
    ...(a.project !== undefined ? { project: a.project } : {}),
    ...(a.value !== undefined ? { value: a.value } : {}),
    ...(a.threshold !== undefined ? { threshold: a.threshold } : {}),
    raisedAt: a.raisedAt,
    ackedAt: a.ackedAt,
    ackedBy: a.ackedBy,
  };
}

/**
 * The newest `MAX_EXCEPTIONS_SENT` open exceptions of a view and how many are open: a storm of
 * exceptions (a scale sending the wrong unit 300 times a second) must not put the whole open list
 * into every frame - at 1000 open it was 270 KB a frame and most of the page's render time
 * (bench `board`, issue 12).
 */
function exceptionList(mine: BoardException[]): { exceptions: BoardException[]; exceptionsOpen: number } {
  return { exceptions: mine.slice(0, MAX_EXCEPTIONS_SENT), exceptionsOpen: mine.length };
}

function boardException(e: ExceptionRow): BoardException {
  return { id: e.id, type: e.type, site: e.site, movementId: e.movementId, sku: e.sku, location: e.location, batch: e.batch, project: e.project, message: e.message, raisedAt: e.raisedAt };
}
