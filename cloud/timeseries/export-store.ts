/**
 * The exporter's durable state (issue 13): export cursors, the last exported point of every
 * series, the log of requests in the resend window, and the telemetry samples and alert state
 * changes waiting to be exported, each with a sequence. `sql-export-store.ts` implements it for
 * SQLite and PostgreSQL with one Kysely query set.
 */
export type CursorName = 'ledger' | 'telemetry' | 'alerts';
export type Cursors = Record<CursorName, number>;

/** The last exported point of a series: its time (ms) and its state value (on-hand, open). */
export interface SeriesState {
  ts: number;
  value: number;
}

/** One device's numbers from one telemetry message. */
export interface TelemetryRow {
  seq: number;
  /** Event time at the edge, ms (as the edge sent it; the guards check its precision). */
  ts: number;
  /** When the cloud stored it, ms: the fallback time and the lag reference. */
  receivedAt: number;
  site: string;
  edge: string;
  /** Device name, or `edge` for the edge's own numbers (outbox, reconnects). */
  device: string;
  /** Field name -> value. Numbers, unless a bug upstream put something else here (guarded). */
  fields: Record<string, unknown>;
}

/** `open` alerts of one type at one site, after a change. */
export interface AlertChangeRow {
  seq: number;
  ts: number;
  site: string;
  type: string;
  open: number;
}

/** A request the exporter sent or is about to send: its id and the cursors after it. */
export interface LoggedRequest {
  id: number;
  cursors: Cursors;
}

/**
 * Two kinds of state make the export survive a crash of the cloud and of the server (issue 13):
 * - the **confirmed** point: cursors and series state of everything acknowledged longer than the
 *   resend window ago (the server has surely persisted it);
 * - the **request log**: the cursors after each request sent since, written before the request
 *   goes out. From the confirmed state and the logged bounds the exporter rebuilds exactly the
 *   same lines (points.ts is a pure function of the rows and the state), so after a restart it
 *   re-sends the window and the server's deduplication merges what it still holds.
 */
export interface ExportStore {
  /** The confirmed cursors. */
  cursors(): Promise<Cursors>;
  /** Every series' last point at the confirmed cursors (bounded by the catalog: sites x locations x SKUs x uoms). */
  series(): Promise<Map<string, SeriesState>>;
  /** Log a request's bounds before it is sent; returns its id (increasing). */
  logRequest(cursors: Cursors): Promise<number>;
  /** The logged requests after the confirmed point, oldest first. */
  requests(): Promise<LoggedRequest[]>;
  /**
   * In one transaction: move the confirmed cursors and series state, forget the logged requests up
   * to `upTo`, and delete the telemetry and alert-change rows at or before the cursors.
   */
  confirm(cursors: Cursors, series: ReadonlyMap<string, SeriesState>, upTo: number): Promise<void>;
  /**
   * Append telemetry; beyond `maxRows` waiting rows the oldest are deleted. Returns how many of the
   * deleted rows had not been exported (counted as dropped).
   */
  appendTelemetry(rows: ReadonlyArray<Omit<TelemetryRow, 'seq'>>): Promise<number>;
  appendAlertChanges(rows: ReadonlyArray<Omit<AlertChangeRow, 'seq'>>): Promise<number>;
  telemetryAfter(seq: number, limit: number): Promise<TelemetryRow[]>;
  alertChangesAfter(seq: number, limit: number): Promise<AlertChangeRow[]>;
  /** Highest telemetry and alert-change sequences stored (0 when none). */
  heads(): Promise<{ telemetry: number; alerts: number }>;
  /** The newest open-count recorded per (site, type), to record only changes. */
  lastAlertStates(): Promise<Map<string, number>>;
  close(): Promise<void>;
}
