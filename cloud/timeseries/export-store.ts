/**
 * The exporter's durable state (issue 13): export cursors, the last exported point of every
 * series, and the telemetry samples and alert state changes waiting to be exported, each with a
 * sequence. Behind this interface until cloud/db (one database, per-module migrations) lands;
 * `sql-export-store.ts` implements it for SQLite and PostgreSQL with one Kysely query set.
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

export interface ExportStore {
  cursors(): Promise<Cursors>;
  /** Every series' last exported point (bounded by the catalog: sites x locations x SKUs x uoms). */
  series(): Promise<Map<string, SeriesState>>;
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
  /**
   * After a 2xx: move the cursors and the series state in one transaction, and delete the exported
   * telemetry and alert-change rows.
   */
  advance(cursors: Partial<Cursors>, series: ReadonlyMap<string, SeriesState>): Promise<void>;
  close(): Promise<void>;
}
