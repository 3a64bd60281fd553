import { InfluxDB, type WriteApi, setLogger } from '@influxdata/influxdb-client';
import type { Logger } from 'pino';
import type { CloudMetrics } from '../metrics/registry.js';
import type { LedgerChange, Store } from '../store/store.js';
import type { AlertChangeRow, Cursors, ExportStore, SeriesState, TelemetryRow } from './export-store.js';
import { Guards } from './guards.js';
import { BatchBuilder } from './points.js';

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
  /** Bytes of acknowledged request bodies kept for the resend window. Default 256 MiB. */
  resendMaxBytes?: number;
  /** Poll period when idle (commits also wake the exporter). Default 1000 ms. */
  idleMs?: number;
  /** Request timeout, ms. Default 10 s (the client's). */
  timeoutMs?: number;
  now?: () => number;
}

interface Sent {
  lines: string[];
  bytes: number;
  ackedAt: number;
}

/**
 * The time-series exporter (issue 13). It owns the durability; the InfluxDB client only serialises
 * and sends:
 * - one request in flight: a loop that reads the next rows after the durable cursors, builds the
 *   lines, writes them, and only then reads more;
 * - the cursors (ledger position, telemetry and alert-change sequences) and the series state move
 *   in one transaction only after a 2xx (`ExportStore.advance`);
 * - a failed write is retried forever, the same lines, with backoff 1 s -> 30 s;
 * - the client's WriteApi gets `maxRetries: 0` (no retry buffer to drop lines from or discard on
 *   close) and `batchSize` one more than the largest request, so its own auto-flush, whose
 *   failure it swallows (influxdb-client-js #300), can never fire: every request's outcome is the
 *   promise of our explicit `flush()`;
 * - after a failed write, once the server answers again, the requests acknowledged in the
 *   `resendWindowMs` before the failure are re-sent (VictoriaMetrics loses what it acknowledged in
 *   the seconds before a SIGKILL); their lines are identical, so its deduplication merges them.
 */
export class TsdbExporter {
  private readonly o: Required<Omit<ExporterOptions, 'token' | 'bucket' | 'org'>> & Pick<ExporterOptions, 'token' | 'bucket' | 'org'>;
  private readonly writeApi: WriteApi;
  private readonly guards: Guards;
  private cursors: Cursors = { ledger: 0, telemetry: 0, alerts: 0 };
  private series = new Map<string, SeriesState>();
  private readonly sent: Sent[] = [];
  private sentBytes = 0;
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
      resendMaxBytes: 256 * 1024 * 1024,
      idleMs: 1000,
      timeoutMs: 10_000,
      now: () => Date.now(),
      ...opts,
    };
    quietClientLogger(log);
    const influx = new InfluxDB({ url: this.o.url, ...(this.o.token ? { token: this.o.token } : {}), timeout: this.o.timeoutMs });
    // A ledger row gives up to 3 lines (a transfer), a telemetry row 1, an alert change 1.
    const maxLines = this.o.batchRows * 5 + 1;
    this.writeApi = influx.getWriteApi(this.o.org ?? '', this.o.bucket ?? 'stockgate', 'ms', {
      batchSize: maxLines + 1,
      maxBufferLines: maxLines + 1,
      maxBatchBytes: Number.MAX_SAFE_INTEGER,
      flushInterval: 0,
      maxRetries: 0,
      gzipThreshold: Number.MAX_SAFE_INTEGER,
    });
    this.guards = new Guards(
      { retentionMs: this.o.retentionMs, futureMs: this.o.futureMs, now: this.o.now },
      {
        count: (g, a) => this.metrics?.tsdbGuards.inc({ guard: g, action: a }),
        log: (g, a, d) => this.log.warn({ guard: g, action: a, ...d }, `tsdb export: ${a} a value the server would drop silently (${g}); logged once, counted in stockgate_tsdb_export_guard_total`),
      },
    );
  }

  async start(): Promise<void> {
    this.cursors = await this.store.cursors();
    this.series = await this.store.series();
    this.log.info({ url: this.o.url, cursors: this.cursors, series: this.series.size }, 'tsdb export started');
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
    // Nothing is buffered in the client (every request was flushed and awaited), so close loses nothing.
    await this.writeApi.close().catch(() => undefined);
  }

  /** Resolves when everything committed so far is exported (tests, bench). */
  async idle(timeoutMs = 60_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      await this.refreshBacklog();
      if (this.backlog === 0) return;
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
    while (!this.stopped) {
      let batch: { lines: string[]; cursors: Partial<Cursors>; touched: Map<string, SeriesState>; oldest: number; rows: number };
      try {
        batch = await this.next();
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'tsdb export: reading the next rows failed; retrying');
        await this.sleep(this.o.backoffMs);
        continue;
      }
      if (batch.rows === 0) {
        this.setLag(0);
        await this.refreshBacklog().catch(() => undefined);
        await this.sleep(this.o.idleMs);
        continue;
      }
      await this.refreshBacklog().catch(() => undefined);
      if (!(await this.writeUntilOk(batch.lines, batch.oldest))) return;
      try {
        await this.store.advance(batch.cursors, batch.touched);
      } catch (err) {
        // Not advanced: the same rows are read and sent again (identical lines), nothing is lost.
        this.log.error({ err: (err as Error).message }, 'tsdb export: saving the cursor failed; the batch will be re-sent');
        await this.sleep(this.o.backoffMs);
        continue;
      }
      Object.assign(this.cursors, batch.cursors);
      for (const [k, s] of batch.touched) this.series.set(k, s);
      this.stats.linesWritten += batch.lines.length;
      this.metrics?.tsdbLines.inc({ result: 'written' }, batch.lines.length);
      this.remember(batch.lines);
      if (this.failedAt !== undefined) await this.resend();
    }
  }

  /** Read the rows after the cursors and build one request's lines (not committed until 2xx). */
  private async next() {
    const b = new BatchBuilder(this.series, this.guards);
    const cursors: Partial<Cursors> = {};
    let oldest = Infinity;
    const rows: LedgerChange[] = await this.ledger.ledgerAfter(this.cursors.ledger, this.o.batchRows);
    for (const r of rows) b.ledger(r);
    if (rows.length) {
      cursors.ledger = rows[rows.length - 1]!.pos;
      oldest = Math.min(oldest, Date.parse(rows[0]!.appliedAt));
    }
    const tel: TelemetryRow[] = await this.store.telemetryAfter(this.cursors.telemetry, this.o.batchRows);
    for (const t of tel) b.telemetry(t);
    if (tel.length) {
      cursors.telemetry = tel[tel.length - 1]!.seq;
      oldest = Math.min(oldest, tel[0]!.receivedAt);
    }
    const al: AlertChangeRow[] = await this.store.alertChangesAfter(this.cursors.alerts, this.o.batchRows);
    for (const a of al) b.alert(a);
    if (al.length) {
      cursors.alerts = al[al.length - 1]!.seq;
      oldest = Math.min(oldest, al[0]!.ts);
    }
    const lines = b.lines();
    if (b.refused) this.metrics?.tsdbLines.inc({ result: 'refused' }, b.refused);
    return { lines, cursors, touched: b.touched, oldest, rows: rows.length + tel.length + al.length };
  }

  /** Write until a 2xx (false only when stopped). One request in flight: this is awaited. */
  private async writeUntilOk(lines: string[], oldest: number): Promise<boolean> {
    let delay = this.o.backoffMs;
    for (;;) {
      this.setLag(Number.isFinite(oldest) ? Math.max(0, (this.o.now() - oldest) / 1000) : 0);
      if (lines.length === 0) return true;
      try {
        await this.send(lines);
        return true;
      } catch (err) {
        this.stats.failures++;
        this.failedAt ??= this.o.now();
        this.metrics?.tsdbLines.inc({ result: 'failed' }, lines.length);
        this.log.warn({ err: (err as Error).message, lines: lines.length, retryInMs: delay }, 'tsdb export: write failed; retrying the same lines');
        if (this.stopped) return false;
        await this.sleep(delay);
        if (this.stopped) return false;
        delay = Math.min(delay * 2, this.o.backoffCapMs);
      }
    }
  }

  private async send(lines: string[]): Promise<void> {
    this.stats.requests++;
    try {
      this.writeApi.writeRecords(lines);
      await this.writeApi.flush();
      this.metrics?.tsdbRequests.inc({ result: 'ok' });
    } catch (err) {
      this.metrics?.tsdbRequests.inc({ result: 'error' });
      throw err;
    }
  }

  /** Keep acknowledged bodies for the resend window, bounded by time since the newest ack and bytes. */
  private remember(lines: string[]): void {
    const now = this.o.now();
    let bytes = 0;
    for (const l of lines) bytes += l.length + 1;
    this.sent.push({ lines, bytes, ackedAt: now });
    this.sentBytes += bytes;
    while (this.sent.length && (this.sent[0]!.ackedAt < now - this.o.resendWindowMs || this.sentBytes > this.o.resendMaxBytes)) {
      this.sentBytes -= this.sent.shift()!.bytes;
    }
  }

  /** The server answers again after a failure: re-send what it acknowledged in the window before it. */
  private async resend(): Promise<void> {
    const failedAt = this.failedAt!;
    this.failedAt = undefined;
    const window = this.sent.filter((s) => s.ackedAt >= failedAt - this.o.resendWindowMs && s.ackedAt <= failedAt);
    if (window.length === 0) return;
    const n = window.reduce((a, s) => a + s.lines.length, 0);
    this.log.info({ requests: window.length, lines: n, windowMs: this.o.resendWindowMs }, 'tsdb export: the server answers again; re-sending the trailing window before the failure');
    this.stats.resends++;
    for (const s of window) {
      if (!(await this.writeUntilOk(s.lines, s.ackedAt))) return;
      this.stats.linesResent += s.lines.length;
      this.metrics?.tsdbLines.inc({ result: 'resent' }, s.lines.length);
    }
    // A failure during the re-send set failedAt again: the window then includes this one's.
    if (this.failedAt !== undefined) await this.resend();
  }

  private setLag(s: number): void {
    this.lagSeconds = s;
    this.metrics?.tsdbLag.set(s);
  }

  private async refreshBacklog(): Promise<void> {
    const head = (await this.ledger.movements({ limit: 1 }))[0]?.pos ?? 0;
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
