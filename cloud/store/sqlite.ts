/*
 * Why one file (over 400 lines): it is one implementation of the `Store` interface (store.ts) for
 * SQLite, method by method beside the PostgreSQL one; the ledger rules are in cloud/ledger/rules.ts
 * and the row mappers in rows.ts.
 */
import type Database from 'better-sqlite3';
import { chainHash, ChainVerifier, GENESIS, type VerifyResult } from '../ledger/chain.js';
import { type BalanceOp, type ItemMaster, type Key, type LedgerReader, negative, plan, type Raised, effectSql } from '../ledger/rules.js';
import { CHUNK_ROWS, ChunkedInsert } from './sqlite-chunked.js';
import { itemRow, stockRow } from './rows.js';
import { INSERT_COLS, ItemCodeConflict, ledgerInsertRow } from './ledger-row.js';
import { inMemoryStatementJournals, type SqliteDb, SqliteDatabase } from '../db/index.js';
import { ledgerModule } from './module.js';
import {
  type ChainHead,
  type CommitBatch,
  type CommitBatchResult,
  type CommitResult,
  type DeadLetter,
  type EdgeSeqRow,
  type ExceptionRow,
  type IdentityRow,
  type LedgerChange,
  type LedgerChangeRow,
  type LedgerRow,
  type MovementOutcome,
  type SkuTotal,
  type StockQuery,
  type StockRow,
  type ItemChange,
  type ItemWriteHook,
  type Store,
} from './store.js';
import { exceptionRow, LEDGER_CHANGE_COLUMNS, LEDGER_CHANGE_ROW_COLUMNS, ledgerChange, ledgerRow } from './rows.js';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import type { Movement } from '../../protocols/mqtt/index.js';

/**
 * The default store: one SQLite file in WAL mode with `synchronous=FULL`, so an ack that follows
 * a commit is never ahead of the disk (WAL's default NORMAL may lose the last commits on power
 * loss). Many MQTT batches share one transaction (group commit): the fsync cost is paid once
 * per group, not per movement.
 *
 * Thin: what a movement does comes from `cloud/ledger/rules.ts` (`plan`), read through this
 * store's `LedgerReader`; the store writes the plan: the ledger row (final at insert, hash-chained
 * per site), balances, identities, exceptions. Quantities are integer thousandths.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  private readonly s;
  private readonly commitTx: (batches: readonly CommitBatch[]) => CommitResult;
  /** Prepared statements of the query methods, by SQL text (they are built from filters). */
  private readonly prepared = new Map<string, Database.Statement>();
  /** Item master and provisional units, cached (this store is the only writer of its file). */
  private readonly itemCache = new Map<string, ItemMaster | null>();
  private readonly codeCache = new Map<string, string | null>();
  private readonly unknownCache = new Map<string, string | null>();
  /**
   * Chain heads of the sites the running commit touched, read from `chain_heads` inside its
   * transaction (one read per site per group commit), never carried from one commit to the next:
   * the ledger has no UNIQUE (site, chain_n) on SQLite (migration 7), so a second process
   * committing to the same file must not find a stale head here and fork the chain. Its commit
   * reads the head the other wrote, or fails to upgrade its stale snapshot to a write (SQLITE_BUSY).
   */
  private readonly heads = new Map<string, ChainHead & { id: string }>();
  private readonly reader: LedgerReader;
  /** Ledger rows and balance changes, many per statement. */
  private readonly ledgerRows: ChunkedInsert;
  private readonly balanceRows: ChunkedInsert;
  /**
   * Whether a commit looks each movement's id up in the ledger before planning it (one read per
   * movement, as the INSERT OR IGNORE per row did). Off, a commit assumes none: the usual case, an edge sending its next movements,
   * and the unique `id` index refuses a row already there as it inserts it, failing the commit,
   * which is then done again checked (`commit`). Checked commits go on while they meet
   * duplicates (an edge resending a window), so a resend costs one commit done twice.
   */
  private checkIds = false;

  /** The database this store opened itself (closed with it); undefined on a shared one. */
  private readonly own: SqliteDatabase | undefined;
  private readonly database: SqliteDb;

  /**
   * On the cloud's one database (`cloud/db/`, shared with the other modules), or on a file of its
   * own (tests, benches). Either way the `ledger` module's migrations are applied.
   */
  constructor(target: string | SqliteDb) {
    this.own = typeof target === 'string' ? new SqliteDatabase(target) : undefined;
    this.database = this.own ?? (target as SqliteDb);
    this.database.migrateSync(ledgerModule);
    this.db = this.database.handle;
    const db = this.db;
    this.s = {
      // A resent movement's id, found before it is planned (checked mode, see checkIds).
      hasId: db.prepare('SELECT 1 FROM ledger WHERE id = ?').pluck(),
      maxPos: db.prepare('SELECT MAX(pos) FROM ledger').pluck(),
      maxHeadPos: db.prepare('SELECT MAX(pos) FROM chain_heads').pluck(),
      getBalance: db
        .prepare('SELECT on_hand FROM balances WHERE site = ? AND location = ? AND sku = ? AND batch = ? AND project = ?')
        .pluck(),
      locationBatches: db.prepare('SELECT batch, on_hand AS onHand FROM balances WHERE site = ? AND location = ? AND sku = ? AND project = ? ORDER BY batch'),
      laterAll: db.prepare(`SELECT COALESCE(SUM(${effectSql('@loc')}), 0) AS effect, COUNT(*) AS rows FROM ledger
        WHERE site = @site AND sku = @sku AND ts_ms > @ts AND project = @project AND status = 'applied' AND (location = @loc OR to_location = @loc)`),
      laterBatch: db.prepare(`SELECT COALESCE(SUM(${effectSql('@loc')}), 0) AS effect, COUNT(*) AS rows FROM ledger
        WHERE site = @site AND sku = @sku AND ts_ms > @ts AND project = @project AND batch = @batch AND status = 'applied' AND (location = @loc OR to_location = @loc)`),
      insertDead: db.prepare(`INSERT INTO dead_letters (received_at, topic, site, edge, reason, message, payload, sha256, bytes)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      insertException: db.prepare(`INSERT INTO exceptions
        (type, site, movement_id, sku, location, batch, project, identity, on_hand, message, raised_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      getIdentity: db.prepare('SELECT in_stock AS inStock, location FROM identities WHERE site = ? AND identity = ?'),
      putIdentity: db.prepare(`INSERT INTO identities (site, identity, sku, in_stock, location, last_movement_id, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (site, identity) DO UPDATE SET in_stock = excluded.in_stock, location = excluded.location,
          last_movement_id = excluded.last_movement_id, updated_at = excluded.updated_at`),
      getItem: db.prepare('SELECT * FROM items WHERE sku = ?'),
      getCode: db.prepare('SELECT sku FROM item_codes WHERE code = ?').pluck(),
      getUnknown: db.prepare('SELECT uom FROM unknown_items WHERE sku = ?').pluck(),
      putUnknown: db.prepare('INSERT OR IGNORE INTO unknown_items (sku, uom, site, movement_id, first_seen) VALUES (?, ?, ?, ?, ?)'),
      getHead: db.prepare('SELECT site, n, hash, pos, id FROM chain_heads WHERE site = ?'),
      putHead: db.prepare(`INSERT INTO chain_heads (site, n, hash, pos, id) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (site) DO UPDATE SET n = excluded.n, hash = excluded.hash, pos = excluded.pos, id = excluded.id`),
      getEdgeSeq: db.prepare('SELECT hwm, max_seq AS maxSeq FROM edge_seqs WHERE site = ? AND edge = ?'),
      putEdgeSeq: db.prepare(`INSERT INTO edge_seqs (site, edge, hwm, max_seq, updated_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (site, edge) DO UPDATE SET hwm = excluded.hwm, max_seq = excluded.max_seq, updated_at = excluded.updated_at`),
      seqsAbove: db.prepare('SELECT seq FROM edge_seqs_above WHERE site = ? AND edge = ? AND seq > ? AND seq <= ? ORDER BY seq LIMIT ?').pluck(),
      putAbove: db.prepare('INSERT OR IGNORE INTO edge_seqs_above (site, edge, seq) VALUES (?, ?, ?)'),
      dropAbove: db.prepare('DELETE FROM edge_seqs_above WHERE site = ? AND edge = ? AND seq <= ?'),
    };
    // Plain INSERT, neither OR IGNORE (it also skips a row that breaks NOT NULL,
    // https://sqlite.org/lang_conflict.html, which would be reported as a duplicate and acked though
    // it is in no ledger) nor ON CONFLICT DO NOTHING: a row whose id is in the ledger already fails
    // the whole commit, which is then done again with each id looked up first (commit, checkIds).
    // OR ROLLBACK: a row that fails (a resent id, see checkIds) fails the whole commit anyway, and a
    // statement that can only fail by rolling the transaction back needs no statement journal, so
    // SQLite copies none of the pages a 32-row chunk changes (inMemoryStatementJournals; same-process
    // A/B of the commit, 4 edges' shape: 13.75 -> 13.68 and 14.61 -> 13.82 us per row, 200 edges'
    // 18.11 -> 16.71). better-sqlite3 rolls back only a transaction still open.
    this.ledgerRows = new ChunkedInsert(db, `INSERT OR ROLLBACK INTO ledger (pos, ${INSERT_COLS.join(', ')})`, '', INSERT_COLS.length + 1);
    this.balanceRows = new ChunkedInsert(
      db,
      'INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)',
      ` ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET
          on_hand = on_hand + excluded.on_hand,
          expiry = COALESCE(excluded.expiry, expiry),
          updated_at = excluded.updated_at`,
      9,
    );
    const s = this.s;
    const code = (c: string): ItemMaster | undefined => {
      let sku = this.codeCache.get(c);
      if (sku === undefined) this.codeCache.set(c, (sku = (s.getCode.get(c) as string | undefined) ?? null));
      return sku === null ? undefined : this.reader.item(sku);
    };
    this.reader = {
      item: (sku) => {
        let it = this.itemCache.get(sku);
        if (it === undefined) {
          const r = s.getItem.get(sku) as Record<string, unknown> | undefined;
          this.itemCache.set(sku, (it = r ? itemRow(r) : null));
        }
        return it ?? undefined;
      },
      itemByGtin: (gtin) => code(`gtin:${gtin}`),
      itemByEpc: (epc) => code(`epc:${epc}`),
      provisionalUom: (sku) => {
        let u = this.unknownCache.get(sku);
        if (u === undefined) this.unknownCache.set(sku, (u = (s.getUnknown.get(sku) as string | undefined) ?? null));
        return u ?? undefined;
      },
      identity: (site, identity) => {
        const r = s.getIdentity.get(site, identity) as { inStock: number; location: string } | undefined;
        return r ? { inStock: r.inStock === 1, location: r.location } : undefined;
      },
      // A count's reads: the commit's gathered balance and ledger writes go to the file first.
      balance: (k) => {
        this.writeBalances();
        return s.getBalance.get(k.site, k.location, k.sku, k.batch, k.project) as number | undefined;
      },
      locationBatches: (site, location, sku, project) => {
        this.writeBalances();
        return s.locationBatches.all(site, location, sku, project) as Array<{ batch: string; onHand: number }>;
      },
      laterEffect: (q, ts) => {
        this.writeLedger();
        const args = { site: q.site, sku: q.sku, ts, project: q.project, loc: q.location };
        const r = (q.batch === undefined ? s.laterAll.get(args) : s.laterBatch.get({ ...args, batch: q.batch })) as { effect: number; rows: number };
        return { effect: r.effect, rows: r.rows };
      },
    };
    // The balance upserts (and any other multi-row statement) journal their pages for a statement
    // rollback: in memory, not in a temporary file (cloud/db/sqlite.ts; same-process A/B of the
    // commit, CPU per row: 4 edges' shape 16.22 -> 14.61 and 14.28 -> 13.75 us, system time 2.0 ->
    // 1.0; 200 edges' shape 21.16 -> 18.11, system 6.2 -> 2.0).
    const tx = db.transaction((batches: readonly CommitBatch[]) => this.commitSync(batches));
    this.commitTx = (batches) => inMemoryStatementJournals(db, () => tx(batches));
    this.chainLegacyRows();
  }

  private prep(sql: string): Database.Statement {
    let st = this.prepared.get(sql);
    if (!st) this.prepared.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /** Rows from before the hash chain (migration 3) get their chain numbers and hashes once, in ledger order. */
  private chainLegacyRows(): void {
    const has = this.db.prepare('SELECT 1 FROM ledger WHERE hash IS NULL LIMIT 1').get();
    if (!has) return;
    this.db.transaction(() => {
      const set = this.db.prepare('UPDATE ledger SET chain_n = ?, hash = ? WHERE pos = ?');
      const heads = new Map<string, ChainHead & { id: string }>();
      // In pages, not .iterate(): better-sqlite3 refuses the UPDATE while a read is open on the
      // same connection ("This database connection is busy executing a query").
      const page = this.db.prepare('SELECT * FROM ledger WHERE pos > ? ORDER BY pos LIMIT 10000');
      for (let last = 0, rows = page.all(last) as Array<Record<string, unknown>>; rows.length > 0; rows = page.all(last) as Array<Record<string, unknown>>) {
        for (const r of rows) {
          const site = r.site as string;
          const h = heads.get(site) ?? { site, n: 0, hash: GENESIS, pos: 0, id: '' };
          if (r.hash === null) {
            r.chain_n = h.n + 1;
            r.hash = chainHash(h.hash, r);
            set.run(r.chain_n, r.hash, r.pos);
          }
          heads.set(site, { site, n: Number(r.chain_n), hash: r.hash as string, pos: Number(r.pos), id: r.id as string });
          last = Number(r.pos);
        }
      }
      for (const h of heads.values()) this.s.putHead.run(h.site, h.n, h.hash, h.pos, h.id);
    }).immediate();
  }

  private head(site: string): ChainHead & { id: string } {
    let h = this.heads.get(site);
    if (!h) {
      h = (this.s.getHead.get(site) as (ChainHead & { id: string }) | undefined) ?? { site, n: 0, hash: GENESIS, pos: 0, id: '' };
      this.heads.set(site, h);
    }
    return h;
  }

  async commit(batches: readonly CommitBatch[]): Promise<CommitResult> {
    // On the shared connection, never inside another module's open Kysely transaction.
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    try {
      return this.commitTx(batches);
    } catch (err) {
      // Rolled back: the cached provisional units may be ahead of the file.
      this.unknownCache.clear();
      if (this.checkIds || !isLedgerIdConflict(err)) throw err;
    }
    // The commit assumed no movement of it was in the ledger yet, and one was (a resend): the
    // same commit again, this time looking each id up first. Nothing was written.
    this.checkIds = true;
    try {
      return this.commitTx(batches);
    } catch (err) {
      this.unknownCache.clear();
      throw err;
    }
  }

  /**
   * One group commit, inside its transaction. What each movement does is decided in order, one at
   * a time, as `plan` reads the state the movements before it left; the writes are gathered:
   *
   * - ledger rows many per statement (`ChunkedInsert`), at `pos` numbers given here. Each row's
   *   chain number and hash are the same as when rows were inserted one by one. A row whose id is
   *   already in the ledger is a duplicate: see `checkIds`.
   * - balances as one write per balance key and commit (the sum of its deltas), instead of one
   *   upsert per movement. A decrease that can raise NEGATIVE_STOCK needs the balance after it:
   *   the key's balance is read once, and each decrease's "after" is that plus the deltas played
   *   so far, as each upsert's RETURNING gave it before. A count reads balances and later ledger
   *   rows: the gathered writes go to the file first (`reader`), so it reads what it read before.
   * - identities, exceptions, provisional units and seqs as before, one statement each where
   *   they happen (rare, or read by the next movement).
   */
  private commitSync(batches: readonly CommitBatch[]): CommitResult {
    this.heads.clear();
    this.balancesDue.clear();
    this.ledgerDue.length = 0;
    // Positions are public (`pos` in the API, consumers' cursors) and never reused. The ledger
    // has no AUTOINCREMENT since migration 8 (it wrote sqlite_sequence on every insert); nothing
    // here deletes ledger rows, but if someone removed the last ones, the chain heads still hold
    // the highest pos ever given: the commit numbers its rows on from the higher of the two.
    // Two reads per group commit, each one b-tree step (rowid; chain_heads_pos, migration 9).
    let pos = Math.max((this.s.maxHeadPos.get() as number | null) ?? 0, (this.s.maxPos.get() as number | null) ?? 0);
    const now = new Date().toISOString();
    this.now = now;
    const checked = this.checkIds;
    /** Ids this commit inserted (checked mode: a movement twice in one commit is a duplicate the second time). */
    const ids = checked ? new Set<string>() : undefined;
    let found = 0;
    const changed = new Map<string, CommitResult['changed'][number]>();
    const touched = new Set<string>();
    const results = batches.map((b): CommitBatchResult => {
      let applied = 0;
      let duplicates = 0;
      let exceptions = 0;
      const outcomes: MovementOutcome[] = [];
      /** The movements this batch inserted, in order (their seqs, for trackSeqs). */
      const inserted: Movement[] = [];
      for (const m of b.movements) {
        if (ids && (ids.has(m.id) || this.s.hasId.get(m.id) !== undefined)) {
          found++;
          duplicates++;
          outcomes.push('duplicate');
          continue;
        }
        const p = plan(m, this.reader);
        const row = ledgerInsertRow(m, p, now, b.postedBy);
        const h = this.head(m.site);
        row.chain_n = h.n + 1;
        row.hash = chainHash(h.hash, row);
        pos++;
        this.ledgerDue.push([
          pos,
          row.id, row.edge, row.seq, row.ts, row.ts_ms, row.site, row.location, row.to_location, row.kind, row.sku, row.gtin, row.epc,
          row.batch, row.expiry, row.serial, row.qty, row.uom, row.base_qty, row.base_uom, row.rounding, row.project, row.stage,
          row.operator, row.crew, row.device_id, row.device_type, row.raw, row.status, row.variance, row.posted_token, row.posted_user,
          row.applied_at, row.chain_n, row.hash, row.po, row.req, row.sales_order,
        ]);
        if (this.ledgerDue.length >= CHUNK_ROWS * 4) this.writeLedger();
        ids?.add(m.id);
        h.n = row.chain_n;
        h.hash = row.hash;
        h.pos = pos;
        h.id = m.id;
        inserted.push(m);
        touched.add(m.site);
        if (p.newUnknown) {
          this.s.putUnknown.run(p.newUnknown.sku, p.newUnknown.uom, m.site, m.id, now);
          this.unknownCache.set(p.newUnknown.sku, p.newUnknown.uom);
        }
        if (p.identity) this.s.putIdentity.run(m.site, p.identity.identity, p.sku, p.identity.inStock ? 1 : 0, p.identity.location, m.id, now);
        let raised: Raised[] = p.raised;
        for (const op of p.ops) {
          const after = this.addBalance(op);
          // Only a checked decrease can raise (tests/cloud/store/sqlite.test.ts holds negative() to that).
          if (after !== undefined) {
            const neg = negative(m, op, after);
            if (neg) (raised = raised === p.raised ? raised.slice() : raised).push(neg);
          }
        }
        for (const e of raised) this.raise(e, m.id, now);
        exceptions += raised.length;
        if (p.status === 'exception') {
          outcomes.push('exception');
          continue;
        }
        applied++;
        outcomes.push('applied');
        const pair = `${m.site}\u0000${p.sku}`;
        const was = changed.get(pair);
        changed.set(pair, m.expiry || was?.expiry ? { site: m.site, sku: p.sku, expiry: true } : { site: m.site, sku: p.sku });
      }
      // A batch's rows are mostly one edge's: kept apart from the next batch's, more columns are the same in a chunk.
      this.writeLedger();
      const deadLetterIds = b.deadLetters.map(
        (d) => Number(this.s.insertDead.run(now, d.topic, d.site ?? null, d.edge ?? null, d.reason, d.message, d.payload, d.sha256 ?? null, d.bytes ?? null).lastInsertRowid),
      );
      return { applied, duplicates, exceptions, deadLetterIds, outcomes, missing: this.trackSeqs(b, inserted, now) };
    });
    this.writeLedger();
    this.writeBalances();
    const heads: ChainHead[] = [];
    for (const site of touched) {
      const h = this.head(site);
      this.s.putHead.run(site, h.n, h.hash, h.pos, h.id);
      heads.push({ site, n: h.n, pos: h.pos, hash: h.hash });
    }
    // A commit that met no duplicate goes back to assuming none (the usual case: no read per batch).
    if (checked && found === 0) this.checkIds = false;
    return { batches: results, changed: [...changed.values()], heads };
  }

  /** Ledger rows of the running commit not written yet (`pos`, then `INSERT_COLS`). */
  private readonly ledgerDue: unknown[][] = [];

  private writeLedger(): void {
    if (this.ledgerDue.length === 0) return;
    this.ledgerRows.write(this.ledgerDue);
    this.ledgerDue.length = 0;
  }

  /**
   * Balance changes of the running commit not written yet: per key the sum of the deltas, the
   * first op's unit (a new row's; an existing row keeps its own, as the upsert did), the last
   * expiry given (COALESCE kept the last non-null one), and the on-hand the file held before
   * them once a checked decrease needed it. Found by SKU, then the rest of the key compared: no
   * key string is built per op.
   */
  private readonly balancesDue = new Map<string, BalanceDue[]>();
  /** The running commit's time (every row and balance it writes is stamped with it). */
  private now = '';

  /** Adds a balance op to the commit's balance changes; the balance after it for a checked decrease (else undefined). */
  private addBalance(op: BalanceOp): number | undefined {
    const k = op.key;
    let due = this.balancesDue.get(k.sku);
    let d: BalanceDue | undefined;
    if (due) {
      for (const x of due) {
        const y = x.key;
        if (y.location === k.location && y.site === k.site && y.batch === k.batch && y.project === k.project) {
          d = x;
          break;
        }
      }
    } else this.balancesDue.set(k.sku, (due = []));
    if (!d) due.push((d = { key: k, delta: 0, uom: op.uom, expiry: null, before: undefined }));
    d.delta += op.delta;
    if (op.expiry !== null) d.expiry = op.expiry;
    if (!op.check || op.delta >= 0) return undefined;
    d.before ??= (this.s.getBalance.get(k.site, k.location, k.sku, k.batch, k.project) as number | undefined) ?? 0;
    return d.before + d.delta;
  }

  private writeBalances(): void {
    if (this.balancesDue.size === 0) return;
    const rows: unknown[][] = [];
    for (const due of this.balancesDue.values()) for (const d of due) rows.push([d.key.site, d.key.location, d.key.sku, d.key.batch, d.key.project, d.delta, d.uom, d.expiry, this.now]);
    this.balancesDue.clear();
    this.balanceRows.write(rows);
  }

  private raise(e: Raised, movementId: string, now: string): void {
    const k: Key = e.key;
    this.s.insertException.run(e.type, k.site, movementId, k.sku, k.location, k.batch, k.project, e.identity ?? null, e.onHand ?? null, e.message, now);
  }

  /**
   * Per-edge seq tracking. `hwm` advances while the ledger holds every seq up to it; seqs above
   * `hwm` that are missing below the highest seen are a gap, returned so the ack asks the edge to
   * resend them. REST movements (seq 0) are not tracked.
   *
   * `inserted`: the movements this batch inserted. When their seqs run hwm+1, hwm+2, ... up to
   * the highest seq ever seen and no gap was pending (the usual batch: the next chunk of the
   * edge's outbox), every seq up to it is now in the ledger: the new hwm is that seq and nothing
   * is missing. Otherwise the seqs above hwm in the ledger are read from `edge_seqs_above`
   * (migration 10), which holds each ledger seq of an edge that was above its hwm when inserted,
   * until hwm passes it: the same set the ledger itself holds there, without a (site, edge, seq)
   * index on every ledger row.
   */
  private trackSeqs(b: CommitBatch, inserted: readonly Movement[], now: string): Array<[number, number]> {
    const first = b.movements[0];
    const refused = b.refused;
    if (first ? first.seq <= 0 : !refused) {
      // Not tracked now; a seq among them still counts when its edge is tracked.
      for (const m of inserted) if (m.seq > 0) this.s.putAbove.run(m.site, m.edge, m.seq);
      if (refused) for (const q of refused.seqs) this.s.putAbove.run(refused.site, refused.edge, q);
      return [];
    }
    const { site, edge } = first ?? refused!;
    let max = 0;
    let oneEdge = true;
    for (const m of b.movements) {
      if (m.seq > max) max = m.seq;
      if (m.edge !== edge || m.site !== site) oneEdge = false;
    }
    // This edge's seqs now accounted for, in order: inserted, and refused for good (the edge never
    // resends those: CommitBatch.refused). Another edge's seqs in the batch wait in edge_seqs_above.
    const own: number[] = [];
    for (const m of inserted) {
      if (m.site === site && m.edge === edge) own.push(m.seq);
      else if (m.seq > 0) this.s.putAbove.run(m.site, m.edge, m.seq);
    }
    if (refused && refused.seqs.length) {
      if (refused.site === site && refused.edge === edge) {
        for (const q of refused.seqs) {
          own.push(q);
          if (q > max) max = q;
        }
        own.sort((x, y) => x - y);
      } else {
        oneEdge = false;
        for (const q of refused.seqs) this.s.putAbove.run(refused.site, refused.edge, q);
      }
    }
    const cur = this.s.getEdgeSeq.get(site, edge) as { hwm: number; maxSeq: number } | undefined;
    let hwm = cur?.hwm ?? 0;
    max = Math.max(max, cur?.maxSeq ?? 0);
    const missing: Array<[number, number]> = [];
    let next = hwm + 1;
    const pending = (cur?.maxSeq ?? 0) > hwm;
    if (oneEdge && !pending) for (const q of own) if (q === next) next++;
    if (oneEdge && !pending && own.length > 0 && next - 1 === max && next - 1 - hwm === own.length) hwm = max;
    else {
      const was = hwm;
      for (const q of own) if (q > was) this.s.putAbove.run(site, edge, q);
      // Bounded scan: a huge gap is reported in the part seen now and the rest on later batches.
      const seqs = max > hwm ? (this.s.seqsAbove.all(site, edge, hwm, max, 100_000) as number[]) : [];
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
      if (hwm > was) this.s.dropAbove.run(site, edge, hwm);
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
    const sql = `SELECT site, location, sku, batch, project, on_hand, uom, expiry, updated_at
      FROM balances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY site, sku, location, batch, project`;
    return (this.prep(sql).all(...args) as Array<Record<string, unknown>>).map(stockRow);
  }

  async totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]> {
    // Per unit of measure: rows of one SKU in different units are never added (C2).
    const select = `SELECT site, sku, SUM(on_hand) AS onHand, uom, COUNT(DISTINCT location) AS locations,
      MAX(updated_at) AS updatedAt FROM balances`;
    const out = (rows: SkuTotal[]) => rows.map((r) => ({ ...r, onHand: fromMilli(r.onHand) }));
    if (q.pairs) {
      if (q.pairs.length === 0) return [];
      const stmt = this.prep(`${select} WHERE site = ? AND sku = ? GROUP BY site, sku, uom ORDER BY uom`);
      return out(q.pairs.flatMap((p) => stmt.all(p.site, p.sku) as SkuTotal[]));
    }
    if (q.site !== undefined) return out(this.prep(`${select} WHERE site = ? GROUP BY site, sku, uom ORDER BY site, sku, uom`).all(q.site) as SkuTotal[]);
    return out(this.prep(`${select} GROUP BY site, sku, uom ORDER BY site, sku, uom`).all() as SkuTotal[]);
  }

  async headPos(): Promise<number> {
    return (this.s.maxPos.get() as number | null) ?? 0;
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

  async ledgerAfter(after: number, limit: number): Promise<LedgerChange[]> {
    // Array rows of the columns a change feed needs: the exporter reads the ledger at 100k+ rows/s.
    this.changeStmt ??= this.db.prepare(`SELECT ${LEDGER_CHANGE_COLUMNS} FROM ledger WHERE pos > ? ORDER BY pos LIMIT ?`).raw(true);
    return (this.changeStmt.all(after, limit) as unknown[][]).map(ledgerChange);
  }
  private changeStmt: Database.Statement | undefined;

  async ledgerChangeRows(after: number, limit: number): Promise<LedgerChangeRow[]> {
    // The driver's arrays as they are: SQLite INTEGER columns are numbers already.
    this.changeRowStmt ??= this.db.prepare(`SELECT ${LEDGER_CHANGE_ROW_COLUMNS} FROM ledger WHERE pos > ? ORDER BY pos LIMIT ?`).raw(true);
    return this.changeRowStmt.all(after, limit) as LedgerChangeRow[];
  }
  private changeRowStmt: Database.Statement | undefined;

  async deadLetters(q: { site?: string; limit: number; before?: number }): Promise<DeadLetter[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (where.push('site = ?'), args.push(q.site));
    if (q.before !== undefined) (where.push('id < ?'), args.push(q.before));
    const rows = this
      .prep(`SELECT id, received_at AS receivedAt, topic, site, edge, reason, message, payload, sha256, bytes FROM dead_letters
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ?`)
      .all(...args, q.limit) as Array<DeadLetter & { site: string | null; edge: string | null; sha256: string | null; bytes: number | null }>;
    // Absent, not null, like every other optional field of the API.
    return rows.map(({ site, edge, sha256, bytes, ...rest }) => ({
      ...rest,
      ...(site === null ? {} : { site }),
      ...(edge === null ? {} : { edge }),
      ...(sha256 === null ? {} : { sha256 }),
      ...(bytes === null ? {} : { bytes }),
    }));
  }

  async pruneDeadLetters(q: { site: string; maxCount: number; maxBytes: number }): Promise<number> {
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
    // Newest first, running totals: everything past the count or the byte budget goes (issue 8, finding 5).
    const r = this.prep(`DELETE FROM dead_letters WHERE id IN (
        SELECT id FROM (
          SELECT id, ROW_NUMBER() OVER w AS n, SUM(length(CAST(payload AS BLOB)) + length(CAST(message AS BLOB))) OVER w AS b
          FROM dead_letters WHERE ${q.site ? 'site = ?' : 'site IS NULL'}
          WINDOW w AS (ORDER BY id DESC)
        ) WHERE n > ? OR b > ?)`)
      .run(...(q.site ? [q.site] : []), q.maxCount, q.maxBytes);
    return r.changes;
  }

  async movement(id: string): Promise<LedgerRow | undefined> {
    const r = this.prep('SELECT * FROM ledger WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r ? ledgerRow(r) : undefined;
  }

  async fefo(q: { site: string; sku: string; today?: string }): Promise<StockRow[]> {
    // Never an expired batch (C8): expiry before today is out.
    const today = q.today ?? new Date().toISOString().slice(0, 10);
    return (this
      .prep(`SELECT site, location, sku, batch, project, on_hand, uom, expiry, updated_at
        FROM balances WHERE site = ? AND sku = ? AND on_hand > 0 AND (expiry IS NULL OR expiry >= ?)
        ORDER BY expiry IS NULL, expiry, batch, location, project`)
      .all(q.site, q.sku, today) as Array<Record<string, unknown>>).map(stockRow);
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
    for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
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

  async putItem(item: Omit<ItemMaster, 'updatedAt'>, within?: ItemWriteHook): Promise<ItemMaster> {
    await this.putItems([item], within);
    return (await this.item(item.sku))!;
  }

  async putItems(items: ReadonlyArray<Omit<ItemMaster, 'updatedAt'>>, within?: ItemWriteHook): Promise<void> {
    const now = new Date().toISOString();
    try {
      if (within) {
        // One Kysely transaction (BEGIN IMMEDIATE on this same connection): the statements below
        // run inside it (better-sqlite3 nests its transaction as a savepoint), then the caller's
        // writes (the audit rows, issue 10 §5), so the change and its record commit together.
        await this.database.tx(async (trx) => {
          const changes = this.db.transaction(() => this.writeItems(items, now))();
          await within(trx, changes);
          this.itemCache.clear();
          this.codeCache.clear();
        });
        return;
      }
      for (let w = this.database.idle(); w; w = this.database.idle()) await w; // then write in the same tick
      this.db.transaction(() => this.writeItems(items, now)).immediate();
    } finally {
      this.itemCache.clear();
      this.codeCache.clear();
    }
  }

  /** The item master writes of `putItems`, synchronous, in the caller's transaction; each item's record before and after. */
  private writeItems(items: ReadonlyArray<Omit<ItemMaster, 'updatedAt'>>, now: string): ItemChange[] {
    const changes: ItemChange[] = [];
    for (const item of items) {
      const was = this.s.getItem.get(item.sku) as Record<string, unknown> | undefined;
      const codes = [...item.gtins.map((g) => `gtin:${g}`), ...item.epcs.map((e) => `epc:${e}`)];
      this.prep('DELETE FROM item_codes WHERE sku = ?').run(item.sku);
      for (const c of codes) {
        const other = this.s.getCode.get(c) as string | undefined;
        if (other !== undefined && other !== item.sku) throw new ItemCodeConflict(c, other, item.sku);
        this.prep('INSERT OR IGNORE INTO item_codes (code, sku) VALUES (?, ?)').run(c, item.sku);
      }
      this.prep(`INSERT INTO items (sku, name, uom, gtins, conversions, unit_weight_kg, tracking, shelf_life_days, standard_cost, epcs, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (sku) DO UPDATE SET name = excluded.name, uom = excluded.uom, gtins = excluded.gtins, conversions = excluded.conversions,
          unit_weight_kg = excluded.unit_weight_kg, tracking = excluded.tracking, shelf_life_days = excluded.shelf_life_days,
          standard_cost = excluded.standard_cost, epcs = excluded.epcs, updated_at = excluded.updated_at`).run(
        item.sku, item.name, item.uom, JSON.stringify(item.gtins), JSON.stringify(item.conversions),
        item.unitWeightKg === null ? null : String(item.unitWeightKg), item.tracking, item.shelfLifeDays, item.standardCost, JSON.stringify(item.epcs), now,
      );
      changes.push({ sku: item.sku, before: was ? itemRow(was) : undefined, after: { ...item, updatedAt: now } });
    }
    return changes;
  }

  async item(sku: string): Promise<ItemMaster | undefined> {
    const r = this.s.getItem.get(sku) as Record<string, unknown> | undefined;
    return r ? itemRow(r) : undefined;
  }

  async items(q: { search?: string; limit: number; after?: string }): Promise<ItemMaster[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.search) {
      const like = `%${q.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      where.push("(lower(sku) LIKE ? ESCAPE '\\' OR lower(name) LIKE ? ESCAPE '\\')");
      args.push(like, like);
    }
    if (q.after !== undefined) (where.push('sku > ?'), args.push(q.after));
    const rows = this
      .prep(`SELECT * FROM items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY sku LIMIT ?`)
      .all(...args, q.limit) as Array<Record<string, unknown>>;
    return rows.map(itemRow);
  }

  async verifyChain(site: string): Promise<VerifyResult> {
    const v = new ChainVerifier();
    // Chain order is ledger order: each site's rows are numbered as they are inserted, in one
    // writer's transaction (chainLegacyRows numbers older rows by pos), and positions only grow.
    // Read through (site, pos); a row whose chain_n is out of place is a break, as a wrong hash.
    for (const r of this.prep('SELECT * FROM ledger WHERE site = ? ORDER BY pos').iterate(site) as Iterable<Record<string, unknown>>) {
      if (!v.push(r)) break;
    }
    const head = this.s.getHead.get(site) as (ChainHead & { id: string }) | undefined;
    return v.result(head);
  }

  async chainHeads(): Promise<ChainHead[]> {
    return this.prep('SELECT site, n, pos, hash FROM chain_heads ORDER BY site').all() as ChainHead[];
  }

  async close(): Promise<void> {
    await this.own?.close();
  }
}

/** The unique `id` index refused a ledger row: its movement was committed before (or twice in this commit). */
function isLedgerIdConflict(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown };
  return e?.code === 'SQLITE_CONSTRAINT_UNIQUE' && typeof e.message === 'string' && e.message.includes('ledger.id');
}

/** A balance key's changes in the running commit (SqliteStore.balancesDue). */
interface BalanceDue {
  key: Key;
  delta: number;
  uom: string;
  expiry: string | null;
  before: number | undefined;
}
