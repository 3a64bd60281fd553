import type Database from 'better-sqlite3';
import type { Movement } from '../../protocols/mqtt/index.js';
import { openSqlite } from '../sqlite-db.js';
import { sqliteMigrations } from './sqlite-migrations.js';
import {
  identityOf,
  type CommitBatch,
  type CommitBatchResult,
  type CommitResult,
  type DeadLetter,
  type EdgeSeqRow,
  type ExceptionRow,
  type ExceptionType,
  type IdentityRow,
  type LedgerRow,
  type MovementOutcome,
  type SkuTotal,
  type StockQuery,
  type StockRow,
  type Store,
} from './store.js';
import { exceptionRow, ledgerRow } from './rows.js';

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
  /** Prepared statements of the query methods, by SQL text (they are built from filters). */
  private readonly prepared = new Map<string, Database.Statement>();

  constructor(path: string) {
    this.db = openSqlite(path, sqliteMigrations);
    const db = this.db;
    this.s = {
      insertLedger: db.prepare(`INSERT OR IGNORE INTO ledger
        (id, edge, seq, ts, site, location, to_location, kind, sku, gtin, epc, batch, expiry, serial, qty, uom,
         project, stage, operator, crew, device_id, device_type, raw, applied_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      addBalance: db.prepare(`INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET
          on_hand = ROUND(on_hand + excluded.on_hand, 6),
          expiry = COALESCE(excluded.expiry, expiry),
          updated_at = excluded.updated_at
        RETURNING on_hand`).pluck(),
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
      setStatus: db.prepare('UPDATE ledger SET status = ? WHERE id = ?'),
      insertException: db.prepare(`INSERT INTO exceptions
        (type, site, movement_id, sku, location, batch, project, identity, on_hand, message, raised_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      getIdentity: db.prepare('SELECT in_stock AS inStock, location FROM identities WHERE site = ? AND identity = ?'),
      putIdentity: db.prepare(`INSERT INTO identities (site, identity, sku, in_stock, location, last_movement_id, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, identity) DO UPDATE SET in_stock = excluded.in_stock, location = excluded.location,
          last_movement_id = excluded.last_movement_id, updated_at = excluded.updated_at`),
      getEdgeSeq: db.prepare('SELECT hwm, max_seq AS maxSeq FROM edge_seqs WHERE site = ? AND edge = ?'),
      putEdgeSeq: db.prepare(`INSERT INTO edge_seqs (site, edge, hwm, max_seq, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (site, edge) DO UPDATE SET hwm = excluded.hwm, max_seq = excluded.max_seq, updated_at = excluded.updated_at`),
      seqsAbove: db.prepare('SELECT DISTINCT seq FROM ledger WHERE site = ? AND edge = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?').pluck(),
    };
    this.commitTx = db.transaction((batches: readonly CommitBatch[]) => this.commitSync(batches));
  }

  private prep(sql: string): Database.Statement {
    let st = this.prepared.get(sql);
    if (!st) this.prepared.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  async commit(batches: readonly CommitBatch[]): Promise<CommitResult> {
    return this.commitTx(batches);
  }

  private commitSync(batches: readonly CommitBatch[]): CommitResult {
    const now = new Date().toISOString();
    const changed = new Map<string, CommitResult['changed'][number]>();
    const results = batches.map((b): CommitBatchResult => {
      let applied = 0;
      let duplicates = 0;
      let exceptions = 0;
      const outcomes: MovementOutcome[] = [];
      for (const m of b.movements) {
        const sku = m.sku ?? m.gtin ?? m.epc!;
        const batch = m.batch ?? '';
        const project = m.project ?? '';
        // Positional binding: this loop is the ingest hot path (named binding costs more per row).
        const inserted = this.s.insertLedger.run(
          m.id, m.edge, m.seq, m.ts, m.site, m.location, m.toLocation ?? null, m.kind, sku, m.gtin ?? null, m.epc ?? null,
          batch, m.expiry ?? null, m.serial ?? null, m.qty, m.uom, project, m.stage ?? null, m.operator ?? null,
          m.crew ?? null, m.device.id, m.device.type, m.raw, now,
        ).changes;
        if (inserted === 0) {
          duplicates++;
          outcomes.push('duplicate');
          continue;
        }
        const key = { site: m.site, location: m.location, sku, batch, project };
        const raised = this.trackIdentity(m, key, now);
        if (raised === 'not-stock') {
          this.s.setStatus.run('exception', m.id);
          exceptions++;
          outcomes.push('exception');
          continue;
        }
        if (raised) exceptions++;
        exceptions += this.applyBalance(m, key, now);
        applied++;
        outcomes.push('applied');
        const pair = `${m.site}\u0000${sku}`;
        const was = changed.get(pair);
        changed.set(pair, m.expiry || was?.expiry ? { site: m.site, sku, expiry: true } : { site: m.site, sku });
      }
      const deadLetterIds = b.deadLetters.map(
        (d) => Number(this.s.insertDead.run(now, d.topic, d.site ?? null, d.edge ?? null, d.reason, d.message, d.payload).lastInsertRowid),
      );
      return { applied, duplicates, exceptions, deadLetterIds, outcomes, missing: this.trackSeqs(b, now) };
    });
    return { batches: results, changed: [...changed.values()] };
  }

  private raise(type: ExceptionType, m: Movement, k: BalanceKey, now: string, message: string, extra: { identity?: string; onHand?: number } = {}): void {
    this.s.insertException.run(type, k.site, m.id, k.sku, k.location, k.batch, k.project, extra.identity ?? null, extra.onHand ?? null, message, now);
  }

  /**
   * Serialised identities (an EPC, or GTIN/SKU + serial) are in stock or not at a site. A second
   * receive of one already in stock is an exception and not stock ('not-stock'); an issue of one not
   * in stock still applies (it physically left) but raises an exception (true).
   */
  private trackIdentity(m: Movement, k: BalanceKey, now: string): 'not-stock' | boolean {
    const identity = identityOf(m);
    if (!identity) return false;
    const cur = this.s.getIdentity.get(k.site, identity) as { inStock: number; location: string } | undefined;
    const put = (inStock: boolean, location: string) =>
      this.s.putIdentity.run(k.site, identity, k.sku, inStock ? 1 : 0, location, m.id, now);
    switch (m.kind) {
      case 'receive':
      case 'return':
        if (cur?.inStock) {
          this.raise('DUPLICATE_IDENTITY', m, k, now, `${identity} is already in stock at ${k.site} (${cur.location}): ${m.kind} not counted`, { identity });
          return 'not-stock';
        }
        put(true, m.location);
        return false;
      case 'issue':
        put(false, m.location);
        if (!cur?.inStock) {
          this.raise('IDENTITY_NOT_IN_STOCK', m, k, now, `${identity} was not in stock at ${k.site} when issued`, { identity });
          return true;
        }
        return false;
      case 'transfer':
        put(true, m.toLocation!);
        if (!cur?.inStock) {
          this.raise('IDENTITY_NOT_IN_STOCK', m, k, now, `${identity} was not in stock at ${k.site} when transferred`, { identity });
          return true;
        }
        return false;
      case 'count':
        put(m.qty > 0, m.location);
        return false;
      case 'adjust':
        put(m.qty > 0, m.location);
        return false;
    }
  }

  /** Move the balances; returns how many NEGATIVE_STOCK exceptions it raised. */
  private applyBalance(m: Movement, k: BalanceKey, now: string): number {
    const add = (key: BalanceKey, delta: number): number => {
      const after = this.s.addBalance.get(key.site, key.location, key.sku, key.batch, key.project, delta, m.uom, m.expiry ?? null, now) as number;
      if (delta >= 0 || after >= 0) return 0;
      // Applied anyway: the goods physically moved. A person reconciles it.
      this.raise('NEGATIVE_STOCK', m, key, now, `${m.kind} of ${m.qty} ${m.uom} took ${key.sku} at ${key.location} to ${after}`, { onHand: after });
      return 1;
    };
    switch (m.kind) {
      case 'receive':
      case 'return':
      case 'adjust':
        return add(k, m.qty);
      case 'issue':
        return add(k, -m.qty);
      case 'transfer':
        return add(k, -m.qty) + add({ ...k, location: m.toLocation! }, m.qty);
      case 'count': {
        const before = (this.s.getBalance.get(k.site, k.location, k.sku, k.batch, k.project) as number | undefined) ?? 0;
        this.s.setBalance.run(k.site, k.location, k.sku, k.batch, k.project, m.qty, m.uom, m.expiry ?? null, now);
        this.s.setVariance.run(round6(m.qty - before), m.id);
        return 0;
      }
    }
  }

  /**
   * Per-edge seq tracking. `hwm` advances while the ledger holds every seq up to it; seqs above
   * `hwm` that are missing below the highest seen are a gap, returned so the ack asks the edge to
   * resend them. REST movements (seq 0) are not tracked.
   */
  private trackSeqs(b: CommitBatch, now: string): Array<[number, number]> {
    const first = b.movements[0];
    if (!first || first.seq <= 0) return [];
    const { site, edge } = first;
    let max = 0;
    for (const m of b.movements) if (m.seq > max) max = m.seq;
    const cur = this.s.getEdgeSeq.get(site, edge) as { hwm: number; maxSeq: number } | undefined;
    let hwm = cur?.hwm ?? 0;
    max = Math.max(max, cur?.maxSeq ?? 0);
    const missing: Array<[number, number]> = [];
    if (max > hwm) {
      // Bounded scan: a huge gap is reported in the part seen now and the rest on later batches.
      const seqs = this.s.seqsAbove.all(site, edge, hwm, max, 100_000) as number[];
      let expect = hwm + 1;
      let contiguous = true;
      for (const s of seqs) {
        if (s !== expect) {
          contiguous = false;
          if (missing.length < 16) missing.push([expect, s - 1]);
        }
        if (contiguous) hwm = s;
        expect = s + 1;
      }
      if (expect <= max && missing.length < 16) missing.push([expect, max]);
    }
    this.s.putEdgeSeq.run(site, edge, hwm, max, now);
    return missing;
  }

  async stock(q: StockQuery): Promise<StockRow[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.sku !== undefined) (where.push('sku = ?'), args.push(q.sku));
    if (q.location !== undefined) (where.push('location = ?'), args.push(q.location));
    const sql = `SELECT site, location, sku, batch, project, on_hand AS onHand, uom, expiry, updated_at AS updatedAt
      FROM balances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY site, sku, location, batch, project`;
    return this.prep(sql).all(...args) as StockRow[];
  }

  async totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]> {
    const select = `SELECT site, sku, ROUND(SUM(on_hand), 6) AS onHand, MAX(uom) AS uom, COUNT(DISTINCT location) AS locations,
      MAX(updated_at) AS updatedAt FROM balances`;
    if (q.pairs) {
      if (q.pairs.length === 0) return [];
      const stmt = this.prep(`${select} WHERE site = ? AND sku = ? GROUP BY site, sku`);
      return q.pairs.flatMap((p) => stmt.all(p.site, p.sku) as SkuTotal[]);
    }
    if (q.site !== undefined) return this.prep(`${select} WHERE site = ? GROUP BY site, sku ORDER BY site, sku`).all(q.site) as SkuTotal[];
    return this.prep(`${select} GROUP BY site, sku ORDER BY site, sku`).all() as SkuTotal[];
  }

  async movements(q: { site?: string; limit: number; before?: number }): Promise<LedgerRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.before !== undefined) (where.push('pos < ?'), args.push(q.before));
    const rows = this
      .prep(`SELECT * FROM ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pos DESC LIMIT ?`)
      .all(...args, q.limit) as Array<Record<string, unknown>>;
    return rows.map(ledgerRow);
  }

  async deadLetters(q: { site?: string; limit: number; before?: number }): Promise<DeadLetter[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.before !== undefined) (where.push('id < ?'), args.push(q.before));
    const rows = this
      .prep(`SELECT id, received_at AS receivedAt, topic, site, edge, reason, message, payload FROM dead_letters
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit) as Array<DeadLetter & { site: string | null; edge: string | null }>;
    // Absent, not null, like every other optional field of the API.
    return rows.map(({ site, edge, ...rest }) => ({ ...rest, ...(site === null ? {} : { site }), ...(edge === null ? {} : { edge }) }));
  }

  async movement(id: string): Promise<LedgerRow | undefined> {
    const r = this.prep('SELECT * FROM ledger WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? ledgerRow(r) : undefined;
  }

  async fefo(q: { site: string; sku: string }): Promise<StockRow[]> {
    return this
      .prep(`SELECT site, location, sku, batch, project, on_hand AS onHand, uom, expiry, updated_at AS updatedAt
        FROM balances WHERE site = ? AND sku = ? AND on_hand > 0
        ORDER BY expiry IS NULL, expiry, batch, location, project`)
      .all(q.site, q.sku) as StockRow[];
  }

  async exceptions(q: { site?: string; state: 'open' | 'resolved' | 'all'; limit: number; before?: number }): Promise<ExceptionRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.state !== 'all') (where.push('state = ?'), args.push(q.state));
    if (q.before !== undefined) (where.push('id < ?'), args.push(q.before));
    const rows = this
      .prep(`SELECT * FROM exceptions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit) as Array<Record<string, unknown>>;
    return rows.map(exceptionRow);
  }

  async exception(id: number): Promise<ExceptionRow | undefined> {
    const r = this.prep('SELECT * FROM exceptions WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? exceptionRow(r) : undefined;
  }

  async resolveException(id: number, by: string, resolution: string): Promise<ExceptionRow | undefined> {
    this
      .prep(`UPDATE exceptions SET state = 'resolved', resolved_at = ?, resolved_by = ?, resolution = ? WHERE id = ? AND state = 'open'`)
      .run(new Date().toISOString(), by, resolution, id);
    const r = this.prep('SELECT * FROM exceptions WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? exceptionRow(r) : undefined;
  }

  async identity(site: string, identity: string): Promise<IdentityRow | undefined> {
    const r = this
      .prep(`SELECT site, identity, sku, in_stock AS inStock, location, last_movement_id AS lastMovementId, updated_at AS updatedAt
        FROM identities WHERE site = ? AND identity = ?`)
      .get(site, identity) as (Omit<IdentityRow, 'inStock'> & { inStock: number }) | undefined;
    return r ? { ...r, inStock: r.inStock === 1 } : undefined;
  }

  async edgeSeq(site: string, edge: string): Promise<EdgeSeqRow | undefined> {
    return this
      .prep('SELECT site, edge, hwm, max_seq AS maxSeq, updated_at AS updatedAt FROM edge_seqs WHERE site = ? AND edge = ?')
      .get(site, edge) as EdgeSeqRow | undefined;
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
