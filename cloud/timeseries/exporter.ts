/*
 * Why one file (over 400 lines): the exporter is one loop with one request in flight; the request
 * log, the confirmation of the resend window and the re-send from the confirmed point all move the
 * same cursors and series table, and their order is the durability argument (README.md,
 * Durability), which reads best in one place. Lines are built in points.ts, guards in guards.ts,
 * storage in sql-export-store.ts.
 */
import { InfluxDB, type SendOptions, type Transport, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import type { CloudMetrics } from '../metrics/registry.js';
import type { Store } from '../store/store.js';
import type { AlertChangeRow, CursorName, Cursors, ExportStore, SeriesState, TelemetryRow } from './export-store.js';
import { Guards } from './guards.js';
import { BatchBuilder, type Body, commitTouched, SeriesTable, type Touched } from './points.js';

export interface ExporterOptions {
  /** Server base URL (InfluxDB v2/v3 or VictoriaMetrics; writes go to `/api/v2/write`). */
  url: string;
  token?: string;
  bucket?: string;
  org?: string;
  /** After a failed write, re-send the points acknowledged this long before the failure, ms. Default 60 s. */
  resendWindowMs?: number;
  /** Ledger rows (and telemetry, alert changes) read per request. Default 5000. */
  batchRows?: number;
  /** Backoff after a failed write: first and longest delay, ms (doubling). Default 1 s -> 30 s. */
  backoffMs?: number;
  backoffCapMs?: number;
  /** Event times older than this are outside the server's retention (default 30 days; VictoriaMetrics keeps 1 month by default). */
  retentionMs?: number;
  /** Event times further ahead than this are dropped by the server (default 1 day; VictoriaMetrics drops beyond ~2). */
  futureMs?: number;
  /**
   * Series states kept in memory for the requests inside the resend window (what confirming them
   * writes); beyond, the oldest are confirmed early (the window shrinks). Default 4,000,000.
   */
  resendMaxSeries?: number;
  /** Poll period when idle (commits also wake the exporter). Default 1000 ms. */
  idleMs?: number;
  /** Request timeout, ms. Default 10 s (the client's). */
  timeoutMs?: number;
  now?: () => number;
}

/** A request acknowledged by the server and not yet confirmed (inside the resend window). */
interface Pending {
  id: number;
  end: Cursors;
  ackedAt: number;
  touched: Touched;
}

/** One request, built. */
interface Built {
  body: Body;
  end: Cursors;
  touched: Touched;
  /** When the oldest row of it entered the database (the lag reference), ms; Infinity when none. */
  oldest: number;
  rows: number;
  refused: number;
}

/** Ledger rows per read (a request of `batchRows` rows reads several of these). */
const READ_CHUNK = 2000;

/** A new request, its bounds logged (`tsdb_requests`). */
interface Logged extends Built {
  id: number;
}

/**
 * The time-series exporter (issue 13). It owns the durability; the InfluxDB client only sends:
 * - one request in flight: a loop that reads the next rows after the cursors, builds the lines,
 *   logs the request's bounds durably (`ExportStore.logRequest`), writes it, and only then reads
 *   more;
 * - a failed write is retried forever, the same lines, with backoff 1 s -> 30 s;
 * - the client serialises (its `escape`, byte-identical to its `Point`) and its transport sends
 *   (`InfluxDB.transport`, the same `/api/v2/write` request its WriteApi makes), but its WriteApi
 *   buffer is not used at all: that buffer drops lines from its retry buffer, discards them on
 *   `close()`, and its auto-flush swallows failures when the batch size equals the chunk flushed
 *   (influxdb-client-js #300, #1017). Each request is one `transport.send` of one whole body whose
 *   outcome is ours: resolved only on a 2xx, and a failed or timed-out request is aborted before
 *   the retry, so there is never a second one in flight. Whatever the batch size, a failure
 *   cannot be swallowed (tests/cloud/timeseries/exporter.test.ts);
 * - **resend window, durable.** VictoriaMetrics loses what it acknowledged in the seconds before a
 *   SIGKILL. A request becomes *confirmed* (cursors and series state moved in the database, its
 *   telemetry rows deleted) only once it was acknowledged `resendWindowMs` ago with no failure
 *   since. After a failed write, once the server answers again, and at every start of the
 *   exporter (the cloud may have crashed, and the server with it), every logged request after
 *   the confirmed point is rebuilt from the confirmed state and re-sent: the same bounds and the
 *   same state give byte-identical lines (points.ts), which the server's deduplication merges.
 */
export class TsdbExporter {
  private readonly o: Required<Omit<ExporterOptions, 'token' | 'bucket' | 'org'>> & Pick<ExporterOptions, 'token' | 'bucket' | 'org'>;
  private readonly transport: Transport;
  private readonly writePath: string;
  private readonly guards: Guards;
  /** Cursors after the last acknowledged request. */
  private cursors: Cursors = { ledger: 0, telemetry: 0, alerts: 0 };
  /** Series state after the last acknowledged request. */
  private table = new SeriesTable();
  private unconfirmed: Pending[] = [];
  private unconfirmedSeries = 0;
  private lastConfirm = 0;
  /** Re-send the logged requests from the confirmed point before anything new (set at start and after a failure). */
  private replayNeeded = true;
  private stopped = false;
  private loop: Promise<void> = Promise.resolve();
  private wake: (() => void) | undefined;
  private sleepTimer: NodeJS.Timeout | undefined;
  private failedAt: number | undefined;
  /** Counters for tests and the bench. */
  readonly stats = { requests: 0, failures: 0, linesWritten: 0, linesResent: 0, resends: 0 };
  backlog = 0;
  lagSeconds = 0;

  constructor(
    private readonly ledger: Store,
    private readonly store: ExportStore,
    private readonly log: Logger,
    private readonly metrics: CloudMetrics | undefined,
    opts: ExporterOptions,
  ) {
    this.o = {
      resendWindowMs: 60_000,
      batchRows: 5000,
      backoffMs: 1000,
      backoffCapMs: 30_000,
      retentionMs: 30 * 86_400_000,
      futureMs: 86_400_000,
      resendMaxSeries: 4_000_000,
      idleMs: 1000,
      timeoutMs: 10_000,
      now: () => Date.now(),
      ...opts,
    };
    quietClientLogger(log);
    const influx = new InfluxDB({ url: this.o.url, ...(this.o.token ? { token: this.o.token } : {}), timeout: this.o.timeoutMs });
    this.transport = influx.transport;
    // What the client's WriteApi sends (WriteApiImpl: path, content type), without its buffer.
    this.writePath = `/api/v2/write?org=${encodeURIComponent(this.o.org ?? '')}&bucket=${encodeURIComponent(this.o.bucket ?? 'stockgate')}&precision=ms`;
    this.guards = new Guards(
      { retentionMs: this.o.retentionMs, futureMs: this.o.futureMs, now: this.o.now },
      {
        count: (g, a) => this.metrics?.tsdbGuards.inc({ guard: g, action: a }),
        log: (g, a, d) => this.log.warn({ guard: g, action: a, ...d }, `tsdb export: ${a} a value the server would drop silently (${g}); logged once, counted in stockgate_tsdb_export_guard_total`),
      },
    );
  }

  async start(): Promise<void> {
    // Fail fast on a database that cannot be read; the loop then re-sends the logged window.
    this.cursors = await this.store.cursors();
    this.log.info({ url: this.o.url, confirmed: this.cursors }, 'tsdb export started');
    this.loop = this.run();
  }

  /** Something new was committed: export soon. */
  kick(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    // Nothing is buffered in the client (each request was one awaited send); unconfirmed
    // requests stay logged and are re-sent by the next start.
  }

  /** Resolves when everything committed so far is exported (tests, bench). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      if (!this.replayNeeded) {
        await this.refreshBacklog();
        if (this.backlog === 0) return;
      }
      if (Date.now() > until) throw new Error(`tsdb export: backlog ${this.backlog} after ${timeoutMs} ms`);
      this.kick();
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        clearTimeout(this.sleepTimer);
        resolve();
      };
      this.sleepTimer = setTimeout(() => this.wake?.(), ms);
    });
  }

  private async run(): Promise<void> {
    /** The next request, built (and logged) while the current one is in flight. */
    let ahead: Promise<Logged> | undefined;
    try {
      while (!this.stopped) {
        if (this.replayNeeded) {
          // A request built ahead may still be logging itself: let it settle, so the replay reads
          // a request log that no longer changes under it.
          if (ahead) await ahead.catch(() => undefined);
          ahead = undefined;
          try {
            if (!(await this.replay())) return;
          } catch (err) {
            this.log.error({ err: (err as Error).message }, 'tsdb export: reading the resend window failed; retrying');
            await this.sleep(this.o.backoffMs);
          }
          continue;
        }
        let b: Logged;
        try {
          b = await (ahead ?? this.next(this.table, this.cursors));
        } catch (err) {
          this.log.error({ err: (err as Error).message }, 'tsdb export: reading or logging the next rows failed; retrying');
          // The table may hold a half-built request's state: rebuild it from the database.
          this.replayNeeded = true;
          ahead = undefined;
          await this.sleep(this.o.backoffMs);
          continue;
        }
        ahead = undefined;
        if (b.rows === 0) {
          this.setLag(0);
          await this.refreshBacklog().catch(() => undefined);
          await this.confirmDue();
          await this.sleep(this.o.idleMs);
          continue;
        }
        if (b.refused) this.metrics?.tsdbLines.inc({ result: 'refused' }, b.refused);
        const sending = this.writeUntilOk(b.body, b.oldest);
        // One request in flight, but the next one is read, built and logged meanwhile (the server
        // parses while we read, and the log's fsync overlaps the request). Its series state
        // assumes this request succeeds: it is retried until it does, or a replay rebuilds
        // everything from the confirmed state (and re-sends the logged request built here).
        await new Promise((r) => setImmediate(r));
        if (!this.stopped && this.failedAt === undefined) {
          ahead = this.next(this.table, b.end);
          ahead.catch(() => undefined);
        }
        if (!(await sending)) return;
        this.acked(b.id, b);
        await this.refreshBacklog().catch(() => undefined);
        this.stats.linesWritten += b.body.lines;
        this.metrics?.tsdbLines.inc({ result: 'written' }, b.body.lines);
        if (this.failedAt !== undefined) {
          // The server failed and answers again: it may have lost what it acknowledged before.
          this.replayNeeded = true;
          continue;
        }
        await this.confirmDue();
      }
    } finally {
      // Nothing of ours may touch the store after stop() returned.
      if (ahead) await ahead.catch(() => undefined);
    }
  }

  /**
   * The next request after `from`, built over `table` and, when it has rows, logged durably
   * before it can go out: a restart rebuilds this very request (same bounds, same lines).
   */
  private async next(table: SeriesTable, from: Cursors): Promise<Logged> {
    const b = await this.build(table, from);
    return { ...b, id: b.rows === 0 ? 0 : await this.store.logRequest(b.end) };
  }

  private acked(id: number, b: Built): void {
    this.cursors = b.end;
    this.unconfirmed.push({ id, end: b.end, ackedAt: this.o.now(), touched: b.touched });
    this.unconfirmedSeries += b.touched.series.length;
  }

  /**
   * Read the rows after `from` and build one request over `table`: at most `batchRows` rows of
   * each source, or, when `upTo` is given (a re-send), exactly the rows up to those bounds.
   */
  private async build(table: SeriesTable, from: Cursors, upTo?: Cursors): Promise<Built> {
    const b = new BatchBuilder(table, this.guards);
    const end: Cursors = { ...from };
    let oldest = Infinity;
    let rows = 0;
    const limit = (c: CursorName) => (upTo ? Math.max(0, upTo[c] - from[c]) : this.o.batchRows);
    // The ledger in indexed range reads of READ_CHUNK rows (the driver's arrays, processed at
    // once): each chunk is garbage before the next is read, so the rows die young instead of
    // being promoted and piling up in the old generation (RSS), and a request of any size reads
    // in a few queries.
    for (let left = limit('ledger'), after = from.ledger; left > 0; ) {
      const want = Math.min(READ_CHUNK, left);
      const ledger = await this.ledger.ledgerChangeRows(after, want);
      if (ledger.length && oldest === Infinity) oldest = Date.parse(ledger[0]![12]);
      let done = ledger.length < want;
      for (const r of ledger) {
        if (upTo && r[0] > upTo.ledger) {
          done = true;
          break;
        }
        b.ledgerRow(r);
        end.ledger = after = r[0];
        rows++;
      }
      // A re-send's bound is a position, not a count: read on until it is reached.
      left = done ? 0 : upTo ? upTo.ledger - after : left - ledger.length;
    }
    if (limit('telemetry') > 0) {
      const tel: TelemetryRow[] = await this.store.telemetryAfter(from.telemetry, limit('telemetry'));
      for (const t of tel) {
        if (upTo && t.seq > upTo.telemetry) break;
        b.telemetry(t);
        end.telemetry = t.seq;
        rows++;
      }
      if (tel.length) oldest = Math.min(oldest, tel[0]!.receivedAt);
    }
    if (limit('alerts') > 0) {
      const al: AlertChangeRow[] = await this.store.alertChangesAfter(from.alerts, limit('alerts'));
      for (const a of al) {
        if (upTo && a.seq > upTo.alerts) break;
        b.alert(a);
        end.alerts = a.seq;
        rows++;
      }
      if (al.length) oldest = Math.min(oldest, al[0]!.ts);
    }
    // A re-send keeps the logged bounds even where rows were deleted since (bounded telemetry).
    if (upTo) Object.assign(end, upTo);
    const body = b.body();
    const touched = b.touched();
    // The table moves on at once (the next request is built on it while this one is in flight);
    // it is the confirmed state plus requests that are retried until acknowledged, or it is
    // rebuilt from the database by a replay.
    commitTouched(touched);
    return { body, end, touched, oldest, rows, refused: b.refused };
  }

  /**
   * Rebuild every logged request after the confirmed point from the confirmed state and send it
   * again (at start, and after the server failed). False only when stopped.
   */
  private async replay(): Promise<boolean> {
    const confirmed = await this.store.cursors();
    const table = new SeriesTable(await this.store.series());
    const logged = await this.store.requests();
    this.failedAt = undefined;
    if (logged.length) this.log.info({ requests: logged.length, from: confirmed, windowMs: this.o.resendWindowMs }, 'tsdb export: re-sending the requests after the confirmed point');
    let cur = confirmed;
    const pending: Pending[] = [];
    let series = 0;
    for (const r of logged) {
      const b = await this.build(table, cur, r.cursors);
      // Already exported once: a re-send says nothing about the lag of what is not exported yet.
      if (!(await this.writeUntilOk(b.body, undefined))) return false;
      pending.push({ id: r.id, end: r.cursors, ackedAt: this.o.now(), touched: b.touched });
      series += b.touched.series.length;
      this.stats.linesResent += b.body.lines;
      this.metrics?.tsdbLines.inc({ result: 'resent' }, b.body.lines);
      cur = r.cursors;
    }
    if (logged.length) this.stats.resends++;
    // A failure during the re-send: the server may have lost part of it again; start over.
    if (this.failedAt !== undefined) return true;
    this.table = table;
    this.cursors = cur;
    this.unconfirmed = pending;
    this.unconfirmedSeries = series;
    this.replayNeeded = false;
    return true;
  }

  /**
   * Confirm the requests acknowledged longer than the resend window ago (or the oldest, beyond
   * the memory bound), at most once a second, never while the server is failing.
   */
  private async confirmDue(): Promise<void> {
    if (this.failedAt !== undefined || this.replayNeeded || this.unconfirmed.length === 0) return;
    const now = this.o.now();
    if (now - this.lastConfirm < 1000 && this.unconfirmedSeries <= this.o.resendMaxSeries) return;
    const cutoff = now - this.o.resendWindowMs;
    let k = 0;
    let left = this.unconfirmedSeries;
    while (k < this.unconfirmed.length && (this.unconfirmed[k]!.ackedAt < cutoff || left > this.o.resendMaxSeries)) {
      left -= this.unconfirmed[k]!.touched.series.length;
      k++;
    }
    if (k === 0) return;
    const merged = new Map<string, SeriesState>();
    for (let j = 0; j < k; j++) {
      const t = this.unconfirmed[j]!.touched;
      for (let i = 0; i < t.series.length; i++) merged.set(t.series[i]!.key, t.series[i]!.state(t.ts[i]!, t.value[i]!));
    }
    const last = this.unconfirmed[k - 1]!;
    try {
      await this.store.confirm(last.end, merged, last.id);
    } catch (err) {
      // Not confirmed: the requests stay logged (a restart re-sends a little more), retried later.
      this.log.error({ err: (err as Error).message }, 'tsdb export: confirming the resend window failed; retrying later');
      return;
    }
    this.lastConfirm = now;
    this.unconfirmed.splice(0, k);
    this.unconfirmedSeries = left;
  }

  /** Write until a 2xx (false only when stopped). One request in flight: this is awaited. */
  private async writeUntilOk(body: Body, oldest: number | undefined): Promise<boolean> {
    let delay = this.o.backoffMs;
    for (;;) {
      if (oldest !== undefined) this.setLag(Number.isFinite(oldest) ? Math.max(0, (this.o.now() - oldest) / 1000) : 0);
      if (body.lines === 0) return true;
      try {
        await this.send(body);
        return true;
      } catch (err) {
        this.stats.failures++;
        this.failedAt ??= this.o.now();
        this.metrics?.tsdbLines.inc({ result: 'failed' }, body.lines);
        this.log.warn({ err: (err as Error).message, lines: body.lines, retryInMs: delay }, 'tsdb export: write failed; retrying the same lines');
        if (this.stopped) return false;
        await this.sleep(delay);
        if (this.stopped) return false;
        delay = Math.min(delay * 2, this.o.backoffCapMs);
      }
    }
  }

  /**
   * One request: the whole body, resolved only on a 2xx. No gzip: on the usual localhost or LAN
   * link, compressing costs more CPU than the whole serialisation (level 6: ~0.8 µs a point,
   * 14x smaller; bench/README.md).
   */
  private async send(body: Body): Promise<void> {
    this.stats.requests++;
    const abort = new AbortController();
    const options: SendOptions = { method: 'POST', headers: { 'content-type': 'text/plain; charset=utf-8' }, signal: abort.signal };
    try {
      await new Promise<void>((resolve, reject) => {
        let status = 0;
        this.transport.send(this.writePath, body.text, options, {
          responseStarted: (_headers, code) => {
            status = code ?? 0;
          },
          error: reject,
          complete: () => (status >= 200 && status < 300 ? resolve() : reject(new Error(`tsdb write answered HTTP ${status}, not 2xx`))),
        });
      });
      this.metrics?.tsdbRequests.inc({ result: 'ok' });
    } catch (err) {
      // A timed-out request may still be open: abort it, so the retry is the only one in flight.
      abort.abort();
      this.metrics?.tsdbRequests.inc({ result: 'error' });
      throw err;
    }
  }

  private setLag(s: number): void {
    this.lagSeconds = s;
    this.metrics?.tsdbLag.set(s);
  }

  private async refreshBacklog(): Promise<void> {
    const head = await this.ledger.headPos();
    const h = await this.store.heads();
    this.backlog = Math.max(0, head - this.cursors.ledger) + Math.max(0, h.telemetry - this.cursors.telemetry) + Math.max(0, h.alerts - this.cursors.alerts);
    this.metrics?.tsdbBacklog.set(this.backlog);
    if (this.backlog === 0) this.setLag(0);
  }
}

let clientLoggerSet = false;
/** The client logs every failed write to the console; ours are logged (rate-limited) by the exporter. */
function quietClientLogger(log: Logger): void {
  if (clientLoggerSet) return;
  clientLoggerSet = true;
  setLogger({
    error: (message: string) => log.debug({ from: 'influxdb-client' }, message),
    warn: (message: string) => log.debug({ from: 'influxdb-client' }, message),
  });
}
