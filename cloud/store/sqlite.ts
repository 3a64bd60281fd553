import Database from 'better-sqlite3';
import type { Movement } from '../../protocols/mqtt/index.js';
import { sqliteMigrations } from './sqlite-migrations.js';
import type {
  CommitBatch,
  CommitResult,
  DeadLetter,
  LedgerRow,
  SkuTotal,
  StockQuery,
  StockRow,
  Store,
} from './store.js';

/** Quantities are REAL; round sums to 6 decimals so 0.1 + 0.2 stays 0.3 on the board. */
const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

interface BalanceKey {
  site: string;
  location: string;
  sku: string;
  batch: string;
  project: string;
}

/**
 * The default store: one SQLite file in WAL mode with `synchronous=FULL`, so an ack that follows
 * a commit is never ahead of the disk (WAL's default NORMAL may lose the last commits on power
 * loss). Many MQTT batches share one transaction (group commit): the fsync cost is paid once
 * per group, not per movement.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly s;
  private readonly commitTx: (batches: readonly CommitBatch[]) => CommitResult;

  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
    const db = this.db;
    this.s = {
      insertLedger: db.prepare(`INSERT OR IGNORE INTO ledger
        (id, edge, seq, ts, site, location, to_location, kind, sku, gtin, epc, batch, expiry, serial, qty, uom,
         project, stage, operator, crew, device_id, device_type, raw, applied_at)
        VALUES (@id, @edge, @seq, @ts, @site, @location, @toLocation, @kind, @sku, @gtin, @epc, @batch, @expiry, @serial,
         @qty, @uom, @project, @stage, @operator, @crew, @deviceId, @deviceType, @raw, @appliedAt)`),
      addBalance: db.prepare(`INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET
          on_hand = ROUND(on_hand + excluded.on_hand, 6),
          expiry = COALESCE(excluded.expiry, expiry),
          updated_at = excluded.updated_at`),
      setBalance: db.prepare(`INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET
          on_hand = excluded.on_hand,
          expiry = COALESCE(excluded.expiry, expiry),
          updated_at = excluded.updated_at`),
      getBalance: db
        .prepare('SELECT on_hand FROM balances WHERE site = ? AND location = ? AND sku = ? AND batch = ? AND project = ?')
        .pluck(),
      setVariance: db.prepare('UPDATE ledger SET variance = ? WHERE id = ?'),
      insertDead: db.prepare(`INSERT INTO dead_letters (received_at, topic, site, edge, reason, message, payload)
        VALUES (?, ?, ?, ?, ?, ?, ?)`),
    };
    this.commitTx = db.transaction((batches: readonly CommitBatch[]) => this.commitSync(batches));
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
    const done = new Set(this.db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    for (const m of sqliteMigrations) {
      if (done.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      })();
    }
  }

  async commit(batches: readonly CommitBatch[]): Promise<CommitResult> {
    return this.commitTx(batches);
  }

  private commitSync(batches: readonly CommitBatch[]): CommitResult {
    const now = new Date().toISOString();
    const changed = new Map<string, { site: string; sku: string }>();
    const results = batches.map((b) => {
      let applied = 0;
      let duplicates = 0;
      for (const m of b.movements) {
        const sku = m.sku ?? m.gtin ?? m.epc!;
        const row = {
          id: m.id,
          edge: m.edge,
          seq: m.seq,
          ts: m.ts,
          site: m.site,
          location: m.location,
          toLocation: m.toLocation ?? null,
          kind: m.kind,
          sku,
          gtin: m.gtin ?? null,
          epc: m.epc ?? null,
          batch: m.batch ?? '',
          expiry: m.expiry ?? null,
          serial: m.serial ?? null,
          qty: m.qty,
          uom: m.uom,
          project: m.project ?? '',
          stage: m.stage ?? null,
          operator: m.operator ?? null,
          crew: m.crew ?? null,
          deviceId: m.device.id,
          deviceType: m.device.type,
          raw: m.raw,
          appliedAt: now,
        };
        if (this.s.insertLedger.run(row).changes === 0) {
          duplicates++;
          continue;
        }
        applied++;
        this.applyBalance(m, { site: m.site, location: m.location, sku, batch: row.batch, project: row.project }, now);
        changed.set(`${m.site}\u0000${sku}`, { site: m.site, sku });
      }
      const deadLetterIds = b.deadLetters.map(
        (d) => Number(this.s.insertDead.run(now, d.topic, d.site ?? null, d.edge ?? null, d.reason, d.message, d.payload).lastInsertRowid),
      );
      return { applied, duplicates, deadLetterIds };
    });
    return { batches: results, changed: [...changed.values()] };
  }

  private applyBalance(m: Movement, k: BalanceKey, now: string): void {
    const add = (key: BalanceKey, delta: number) =>
      this.s.addBalance.run(key.site, key.location, key.sku, key.batch, key.project, delta, m.uom, m.expiry ?? null, now);
    switch (m.kind) {
      case 'receive':
      case 'return':
      case 'adjust':
        add(k, m.qty);
        break;
      case 'issue':
        add(k, -m.qty);
        break;
      case 'transfer':
        add(k, -m.qty);
        add({ ...k, location: m.toLocation! }, m.qty);
        break;
      case 'count': {
        const before = (this.s.getBalance.get(k.site, k.location, k.sku, k.batch, k.project) as number | undefined) ?? 0;
        this.s.setBalance.run(k.site, k.location, k.sku, k.batch, k.project, m.qty, m.uom, m.expiry ?? null, now);
        this.s.setVariance.run(round6(m.qty - before), m.id);
        break;
      }
    }
  }

  async stock(q: StockQuery): Promise<StockRow[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.sku !== undefined) (where.push('sku = ?'), args.push(q.sku));
    if (q.location !== undefined) (where.push('location = ?'), args.push(q.location));
    const sql = `SELECT site, location, sku, batch, project, on_hand AS onHand, uom, expiry, updated_at AS updatedAt
      FROM balances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY site, sku, location, batch, project`;
    return this.db.prepare(sql).all(...args) as StockRow[];
  }

  async totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]> {
    const select = `SELECT site, sku, ROUND(SUM(on_hand), 6) AS onHand, MAX(uom) AS uom, COUNT(DISTINCT location) AS locations,
      MAX(updated_at) AS updatedAt FROM balances`;
    if (q.pairs) {
      if (q.pairs.length === 0) return [];
      const stmt = this.db.prepare(`${select} WHERE site = ? AND sku = ? GROUP BY site, sku`);
      return q.pairs.flatMap((p) => stmt.all(p.site, p.sku) as SkuTotal[]);
    }
    if (q.site !== undefined) return this.db.prepare(`${select} WHERE site = ? GROUP BY site, sku ORDER BY site, sku`).all(q.site) as SkuTotal[];
    return this.db.prepare(`${select} GROUP BY site, sku ORDER BY site, sku`).all() as SkuTotal[];
  }

  async movements(q: { site?: string; limit: number; before?: number }): Promise<LedgerRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.before !== undefined) (where.push('pos < ?'), args.push(q.before));
    const rows = this.db
      .prepare(`SELECT * FROM ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pos DESC LIMIT ?`)
      .all(...args, q.limit) as Array<Record<string, unknown>>;
    return rows.map(ledgerRow);
  }

  async deadLetters(q: { limit: number; before?: number }): Promise<DeadLetter[]> {
    const rows = this.db
      .prepare(`SELECT id, received_at AS receivedAt, topic, site, edge, reason, message, payload FROM dead_letters
        ${q.before !== undefined ? 'WHERE id < ?' : ''} ORDER BY id DESC LIMIT ?`)
      .all(...(q.before !== undefined ? [q.before, q.limit] : [q.limit])) as Array<DeadLetter & { site: string | null; edge: string | null }>;
    // Absent, not null, like every other optional field of the API.
    return rows.map(({ site, edge, ...rest }) => ({ ...rest, ...(site === null ? {} : { site }), ...(edge === null ? {} : { edge }) }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/** A ledger row back in the wire shape (absent optionals omitted, '' keys dropped). */
function ledgerRow(r: Record<string, unknown>): LedgerRow {
  const out: Record<string, unknown> = {
    pos: r.pos,
    v: 1,
    id: r.id,
    edge: r.edge,
    seq: r.seq,
    ts: r.ts,
    site: r.site,
    location: r.location,
    kind: r.kind,
    sku: r.sku,
    qty: r.qty,
    uom: r.uom,
    device: { id: r.device_id, type: r.device_type },
    raw: r.raw,
    appliedAt: r.applied_at,
  };
  const opt: Array<[string, string]> = [
    ['toLocation', 'to_location'],
    ['gtin', 'gtin'],
    ['epc', 'epc'],
    ['batch', 'batch'],
    ['expiry', 'expiry'],
    ['serial', 'serial'],
    ['project', 'project'],
    ['stage', 'stage'],
    ['operator', 'operator'],
    ['crew', 'crew'],
    ['variance', 'variance'],
  ];
  for (const [k, col] of opt) if (r[col] !== null && r[col] !== '') out[k] = r[col];
  return out as unknown as LedgerRow;
}
