import type { Generated, Kysely } from 'kysely';
import { type Db, type DbModule, PostgresDatabase, SqliteDatabase } from '../db/index.js';
import type { SqliteMigration } from '../sqlite-db.js';
import type { AlertChangeRow, CursorName, Cursors, ExportStore, LoggedRequest, SeriesState, TelemetryRow } from './export-store.js';

interface Tables {
  tsdb_cursors: { name: string; value: number | string };
  tsdb_series: { key: string; ts: number | string; value: number };
  tsdb_telemetry: { seq: Generated<number>; ts: number | string; received_at: number | string; site: string; edge: string; device: string; fields: string };
  tsdb_alert_changes: { seq: Generated<number>; ts: number | string; site: string; type: string; open: number };
  tsdb_requests: { id: Generated<number>; ledger: number | string; telemetry: number | string; alerts: number | string };
}

/** Append only: a released migration never changes. Same tables in both dialects. */
const SQLITE: SqliteMigration[] = [
  {
    version: 1,
    name: 'time-series export: cursors, series, telemetry and alert changes with a sequence',
    sql: `
      CREATE TABLE tsdb_cursors (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE tsdb_series (key TEXT PRIMARY KEY, ts INTEGER NOT NULL, value REAL NOT NULL) WITHOUT ROWID;
      CREATE TABLE tsdb_telemetry (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, received_at INTEGER NOT NULL,
        site TEXT NOT NULL, edge TEXT NOT NULL, device TEXT NOT NULL, fields TEXT NOT NULL);
      CREATE TABLE tsdb_alert_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL,
        site TEXT NOT NULL, type TEXT NOT NULL, open INTEGER NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'time-series export: the request log of the resend window (cursors become the confirmed point)',
    sql: `CREATE TABLE tsdb_requests (id INTEGER PRIMARY KEY AUTOINCREMENT, ledger INTEGER NOT NULL, telemetry INTEGER NOT NULL, alerts INTEGER NOT NULL);`,
  },
];

const POSTGRES: SqliteMigration[] = [
  {
    version: 1,
    name: 'time-series export: cursors, series, telemetry and alert changes with a sequence',
    sql: `
      CREATE TABLE IF NOT EXISTS tsdb_cursors (name TEXT PRIMARY KEY, value BIGINT NOT NULL);
      CREATE TABLE IF NOT EXISTS tsdb_series (key TEXT COLLATE "C" PRIMARY KEY, ts BIGINT NOT NULL, value DOUBLE PRECISION NOT NULL);
      CREATE TABLE IF NOT EXISTS tsdb_telemetry (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts BIGINT NOT NULL, received_at BIGINT NOT NULL,
        site TEXT NOT NULL, edge TEXT NOT NULL, device TEXT NOT NULL, fields TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS tsdb_alert_changes (seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ts BIGINT NOT NULL,
        site TEXT NOT NULL, type TEXT NOT NULL, open INTEGER NOT NULL);
    `,
  },
  {
    version: 2,
    name: 'time-series export: the request log of the resend window (cursors become the confirmed point)',
    sql: `CREATE TABLE IF NOT EXISTS tsdb_requests (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, ledger BIGINT NOT NULL, telemetry BIGINT NOT NULL, alerts BIGINT NOT NULL);`,
  },
];

/** The exporter's part of the cloud's one database (`cloud/modules.ts`). */
export const timeseriesModule: DbModule = { name: 'timeseries', migrations: { sqlite: SQLITE, postgres: POSTGRES } };

export interface SqlExportStoreOptions {
  /** Waiting telemetry rows kept at most (oldest deleted first, counted). Default 1,000,000. */
  maxTelemetryRows?: number;
  /** Waiting alert-change rows kept at most. Default 100,000. */
  maxAlertRows?: number;
}

/**
 * The ExportStore in SQL, through Kysely: tables `tsdb_*` in the cloud's one database (the SQLite
 * file or the PostgreSQL schema), the `timeseries` module.
 */
export class SqlExportStore implements ExportStore {
  private readonly maxTelemetry: number;
  private readonly maxAlerts: number;

  private constructor(
    private readonly db: Kysely<Tables>,
    o: SqlExportStoreOptions,
    /** The database this store opened itself (closed with it); undefined on a shared one. */
    private readonly own?: Db,
  ) {
    this.maxTelemetry = o.maxTelemetryRows ?? 1_000_000;
    this.maxAlerts = o.maxAlertRows ?? 100_000;
  }

  /** On the cloud's one database (`cloud/db/`): tables `tsdb_*` beside the ledger. */
  static async on(db: Db, o: SqlExportStoreOptions = {}): Promise<SqlExportStore> {
    await db.migrate(timeseriesModule);
    return new SqlExportStore(db.kysely as Kysely<Tables>, o);
  }

  /** A SQLite file of its own (tests). */
  static sqlite(path: string, o: SqlExportStoreOptions = {}): SqlExportStore {
    const db = new SqliteDatabase(path);
    db.migrateSync(timeseriesModule);
    return new SqlExportStore(db.kysely as Kysely<Tables>, o, db);
  }

  /** A PostgreSQL database of its own (tests): the URL's search_path. */
  static async postgres(url: string, o: SqlExportStoreOptions = {}): Promise<SqlExportStore> {
    const db = await PostgresDatabase.open({ url, maxConnections: 2 });
    try {
      await db.migrate(timeseriesModule);
    } catch (err) {
      await db.close();
      throw err;
    }
    return new SqlExportStore(db.kysely as Kysely<Tables>, o, db);
  }

  async cursors(): Promise<Cursors> {
    const rows = await this.db.selectFrom('tsdb_cursors').selectAll().execute();
    const c: Cursors = { ledger: 0, telemetry: 0, alerts: 0 };
    for (const r of rows) if (r.name in c) c[r.name as CursorName] = Number(r.value);
    return c;
  }

  async series(): Promise<Map<string, SeriesState>> {
    const rows = await this.db.selectFrom('tsdb_series').selectAll().execute();
    return new Map(rows.map((r) => [r.key, { ts: Number(r.ts), value: Number(r.value) }]));
  }

  async appendTelemetry(rows: ReadonlyArray<Omit<TelemetryRow, 'seq'>>): Promise<number> {
    if (rows.length === 0) return 0;
    return this.db.transaction().execute(async (tx) => {
      for (let i = 0; i < rows.length; i += 500) {
        await tx
          .insertInto('tsdb_telemetry')
          .values(rows.slice(i, i + 500).map((r) => ({ ts: r.ts, received_at: r.receivedAt, site: r.site, edge: r.edge, device: r.device, fields: JSON.stringify(r.fields) })))
          .execute();
      }
      return this.bound(tx, 'tsdb_telemetry', 'telemetry', this.maxTelemetry);
    });
  }

  async appendAlertChanges(rows: ReadonlyArray<Omit<AlertChangeRow, 'seq'>>): Promise<number> {
    if (rows.length === 0) return 0;
    return this.db.transaction().execute(async (tx) => {
      await tx.insertInto('tsdb_alert_changes').values(rows.map((r) => ({ ts: r.ts, site: r.site, type: r.type, open: r.open }))).execute();
      return this.bound(tx, 'tsdb_alert_changes', 'alerts', this.maxAlerts);
    });
  }

  /** Keep at most `max` rows: delete the oldest; return how many of them were not exported yet. */
  private async bound(tx: Kysely<Tables>, table: 'tsdb_telemetry' | 'tsdb_alert_changes', cursor: CursorName, max: number): Promise<number> {
    const r = await tx.selectFrom(table).select((eb) => [eb.fn.min('seq').as('lo'), eb.fn.max('seq').as('hi')]).executeTakeFirst();
    const lo = Number(r?.lo ?? 0);
    const hi = Number(r?.hi ?? 0);
    if (hi - lo + 1 <= max) return 0;
    const cut = hi - max;
    const c = await tx.selectFrom('tsdb_cursors').select('value').where('name', '=', cursor).executeTakeFirst();
    const exported = Number(c?.value ?? 0);
    const res = await tx.deleteFrom(table).where('seq', '<=', cut).executeTakeFirst();
    const deleted = Number(res.numDeletedRows);
    return Math.max(0, Math.min(deleted, cut - Math.max(exported, lo - 1)));
  }

  async telemetryAfter(seq: number, limit: number): Promise<TelemetryRow[]> {
    const rows = await this.db.selectFrom('tsdb_telemetry').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute();
    return rows.map((r) => {
      let fields: Record<string, unknown> = {};
      try {
        fields = JSON.parse(r.fields) as Record<string, unknown>;
      } catch {
        // A corrupt row exports nothing (the guards count an empty sample as refused).
      }
      return { seq: Number(r.seq), ts: Number(r.ts), receivedAt: Number(r.received_at), site: r.site, edge: r.edge, device: r.device, fields };
    });
  }

  async alertChangesAfter(seq: number, limit: number): Promise<AlertChangeRow[]> {
    const rows = await this.db.selectFrom('tsdb_alert_changes').selectAll().where('seq', '>', seq).orderBy('seq').limit(limit).execute();
    return rows.map((r) => ({ seq: Number(r.seq), ts: Number(r.ts), site: r.site, type: r.type, open: Number(r.open) }));
  }

  async heads(): Promise<{ telemetry: number; alerts: number }> {
    const t = await this.db.selectFrom('tsdb_telemetry').select((eb) => eb.fn.max('seq').as('hi')).executeTakeFirst();
    const a = await this.db.selectFrom('tsdb_alert_changes').select((eb) => eb.fn.max('seq').as('hi')).executeTakeFirst();
    const c = await this.cursors();
    // Exported rows are deleted: an empty table's head is its cursor.
    return { telemetry: Math.max(Number(t?.hi ?? 0), c.telemetry), alerts: Math.max(Number(a?.hi ?? 0), c.alerts) };
  }

  async lastAlertStates(): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    // The series state holds what was exported; waiting changes are newer.
    for (const [k, s] of await this.series()) {
      if (!k.startsWith('stockgate_alerts\u001f')) continue;
      const [, site, type] = k.split('\u001f');
      out.set(`${site}\u001f${type}`, s.value);
    }
    const rows = await this.db.selectFrom('tsdb_alert_changes').selectAll().orderBy('seq').execute();
    for (const r of rows) out.set(`${r.site}\u001f${r.type}`, Number(r.open) > 0 ? 1 : 0);
    return out;
  }

  async logRequest(c: Cursors): Promise<number> {
    const r = await this.db.insertInto('tsdb_requests').values({ ledger: c.ledger, telemetry: c.telemetry, alerts: c.alerts }).returning('id').executeTakeFirstOrThrow();
    return Number(r.id);
  }

  async requests(): Promise<LoggedRequest[]> {
    const rows = await this.db.selectFrom('tsdb_requests').selectAll().orderBy('id').execute();
    return rows.map((r) => ({ id: Number(r.id), cursors: { ledger: Number(r.ledger), telemetry: Number(r.telemetry), alerts: Number(r.alerts) } }));
  }

  async confirm(cursors: Cursors, series: ReadonlyMap<string, SeriesState>, upTo: number): Promise<void> {
    await this.db.transaction().execute(async (tx) => {
      for (const [name, value] of Object.entries(cursors)) {
        await tx.insertInto('tsdb_cursors').values({ name, value }).onConflict((oc) => oc.column('name').doUpdateSet({ value })).execute();
      }
      const rows = [...series].map(([key, s]) => ({ key, ts: s.ts, value: s.value }));
      for (let i = 0; i < rows.length; i += 300) {
        await tx
          .insertInto('tsdb_series')
          .values(rows.slice(i, i + 300))
          .onConflict((oc) => oc.column('key').doUpdateSet((eb) => ({ ts: eb.ref('excluded.ts'), value: eb.ref('excluded.value') })))
          .execute();
      }
      await tx.deleteFrom('tsdb_requests').where('id', '<=', upTo).execute();
      await tx.deleteFrom('tsdb_telemetry').where('seq', '<=', cursors.telemetry).execute();
      await tx.deleteFrom('tsdb_alert_changes').where('seq', '<=', cursors.alerts).execute();
    });
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}
