import type Database from 'better-sqlite3';
import { monotonicFactory } from 'ulid';
import { ROW_COLUMNS, SCHEMA_VERSION, movementRow, type Movement, type SeqRange } from '../../protocols/mqtt/index.js';
import {
  DEFAULT_OUTBOX_MAX_BYTES,
  OutboxFullError,
  type MovementDraft,
  type OutboxBacklog,
  type OutboxBatch,
  type OutboxEntry,
  type OutboxStore,
  type RejectedEntry,
} from './outbox-store.js';
import { openEdgeDb, type EdgeSchema } from '../edge-db.js';

/**
 * `outbox.db`'s versioned schema (issue 15 §5), append-only: a new table or column is a new step.
 * Version 1 is the layout of stockgate 0.2; a 0.2 outbox (no version table) is recognised by its
 * tables and recorded as version 1 without touching a row: unacked entries, the seq counter and
 * the backlog counters in `meta` stay as they are.
 */
export const OUTBOX_SCHEMA: EdgeSchema = {
  name: 'outbox',
  steps: [
    {
      version: 1,
      name: 'meta (owner, last seq, backlog counters), outbox, rejected (stockgate 0.2)',
      sql: `
        CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS outbox (
          seq INTEGER PRIMARY KEY,
          id TEXT NOT NULL UNIQUE,
          json TEXT NOT NULL,
          created_at INTEGER NOT NULL
        );
        CREATE TABLE IF NOT EXISTS rejected (
          rid INTEGER PRIMARY KEY AUTOINCREMENT,
          seq INTEGER NOT NULL UNIQUE,
          id TEXT NOT NULL,
          json TEXT NOT NULL,
          reason TEXT NOT NULL,
          message TEXT NOT NULL,
          rejected_at INTEGER NOT NULL
        );`,
    },
    {
      version: 2,
      name: 'outbox.row: each movement also as its row of the batch version 2 (protocols/mqtt/movement-rows.ts)',
      // Nullable: entries appended before this version have none, and are read as rows from their
      // JSON (readRows). A row holds the JSON's values without its keys, so it is never longer.
      sql: `ALTER TABLE outbox ADD COLUMN row TEXT;`,
    },
  ],
  baseline: {
    probe: `SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'outbox'
      AND (SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name IN ('meta', 'rejected')) = 2`,
    versions: [1],
  },
};

export interface SqliteOutboxOptions {
  /** Database file; `:memory:` for tests that do not need durability. */
  path: string;
  site: string;
  edge: string;
  /** Bound on unacked movement JSON, bytes. Default 256 MiB. */
  maxBytes?: number;
  /**
   * Store each movement's row of batch version 2 at append (default true). An edge that never
   * sends version 2 (`--no-rows-form`) saves that work: about 2.6 µs CPU and the row's bytes a
   * movement (bench/README.md, wireEncoding); `readRows` still works, building rows from the JSON.
   */
  rows?: boolean;
}

/**
 * The outbox on SQLite (better-sqlite3 12.x; 13.x crashes on Node 20), migrated by `OUTBOX_SCHEMA`.
 *
 * Durability: WAL with `synchronous=FULL`, so a committed append survives SIGKILL and power loss
 * (WAL's default NORMAL does not survive power loss; better-sqlite3 docs/performance.md). Acks
 * commit with NORMAL (see `relaxed`): a lost ack delete is a harmless resend.
 * The seq counter lives in `meta`, not in MAX(seq): after every row is acked and deleted the
 * next seq must still be higher than any seq the cloud has seen.
 *
 * The backlog counters (rows, JSON bytes) live in `meta` too, updated in the same transaction as
 * each append, ack and reject, so `backlog()` never scans the table (a 1M-row COUNT/SUM takes
 * ~0.5 s) and the size bound is checked in O(1) per append. The bound counts movement JSON
 * bytes; the database file is larger (page and index overhead, WAL; see bench/edge-backlog.ts).
 */
export class SqliteOutbox implements OutboxStore {
  private readonly db: Database.Database;
  private readonly site: string;
  private readonly edge: string;
  private readonly ulid = monotonicFactory();
  private readonly stmts;
  private readonly appendTx;
  private readonly storeRows: boolean;
  private readonly ackTx;
  private readonly rejectTx;
  private nextSeq: number;
  private count = 0;
  private bytes = 0;
  private max: number;

  constructor(opts: SqliteOutboxOptions) {
    this.max = opts.maxBytes ?? DEFAULT_OUTBOX_MAX_BYTES;
    this.storeRows = opts.rows ?? true;
    this.site = opts.site;
    this.edge = opts.edge;
    this.db = openEdgeDb(opts.path, OUTBOX_SCHEMA).db;
    // One outbox belongs to one edge identity: reusing a data dir under another id would
    // restart seqs the cloud already holds for that id, or mix two edges' movements.
    const owner = this.db.prepare(`SELECT value FROM meta WHERE key = 'owner'`).get() as { value: string } | undefined;
    const me = `${opts.site}/${opts.edge}`;
    if (owner && owner.value !== me) {
      this.db.close();
      throw Object.assign(new Error(`outbox ${opts.path} belongs to edge ${owner.value}, not ${me}`), { code: 'SG_ERR_OUTBOX_OWNER' });
    }
    if (!owner) this.db.prepare(`INSERT INTO meta (key, value) VALUES ('owner', ?)`).run(me);
    const last = this.db.prepare(`SELECT value FROM meta WHERE key = 'last_seq'`).get() as { value: string } | undefined;
    this.nextSeq = (last ? Number(last.value) : 0) + 1;
    const counters = this.db.prepare(`SELECT key, value FROM meta WHERE key IN ('count', 'bytes')`).all() as Array<{ key: string; value: string }>;
    if (counters.length === 2) {
      for (const c of counters) this[c.key as 'count' | 'bytes'] = Number(c.value);
    } else {
      // First open of an outbox from before the counters (or a new one): count once.
      const row = this.db.prepare('SELECT COUNT(*) AS count, COALESCE(SUM(LENGTH(CAST(json AS BLOB))), 0) AS bytes FROM outbox').get() as {
        count: number;
        bytes: number;
      };
      this.count = row.count;
      this.bytes = row.bytes;
      this.db.prepare(`INSERT OR REPLACE INTO meta (key, value) VALUES ('count', ?), ('bytes', ?)`).run(String(this.count), String(this.bytes));
    }

    this.stmts = {
      insert: this.db.prepare('INSERT INTO outbox (seq, id, json, row, created_at) VALUES (?, ?, ?, ?, ?)'),
      setLast: this.db.prepare(`INSERT INTO meta (key, value) VALUES ('last_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      read: this.db.prepare('SELECT seq, id, json FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      // The batch body is joined inside SQLite: one string crosses into JS, not `limit` rows.
      readBatch: this.db.prepare(`SELECT COUNT(*) AS count, MIN(seq) AS first, MAX(seq) AS last, group_concat(json, ',' ORDER BY seq) AS json
        FROM (SELECT seq, json FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?)`),
      // The rows form (protocols/mqtt/movement-rows.ts): the row stored at append, or for an entry
      // appended before outbox version 2, the row built from its JSON here (`json -> 'field'` is the
      // value's own JSON text, 1.50 stays 1.50, and json_array embeds it as JSON; an absent field
      // is SQL NULL, i.e. null). Building every row so cost 5.35 µs a movement against 0.86 for
      // joining stored text (bench section wireEncoding, 2026-12-07), hence the stored row.
      readRows: this.db.prepare(`SELECT COUNT(*) AS count, MIN(seq) AS first, MAX(seq) AS last,
        group_concat(coalesce(row, json_array(${ROW_COLUMNS.map((c) => `json -> '${c}'`).join(', ')})), ',' ORDER BY seq) AS json
        FROM (SELECT seq, json, row FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?)`),
      // RETURNING gives the freed bytes without a second pass over the rows.
      del: this.db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ? RETURNING LENGTH(CAST(json AS BLOB))').pluck(),
      setCounters: this.db.prepare(`UPDATE meta SET value = CASE key WHEN 'count' THEN ? ELSE ? END WHERE key IN ('count', 'bytes')`),
      moveRejected: this.db.prepare(`INSERT OR REPLACE INTO rejected (seq, id, json, reason, message, rejected_at)
        SELECT seq, id, json, ?, ?, ? FROM outbox WHERE seq BETWEEN ? AND ?`),
      hasAny: this.db.prepare('SELECT 1 FROM outbox WHERE seq BETWEEN ? AND ? LIMIT 1').pluck(),
      oldest: this.db.prepare('SELECT seq, created_at AS at FROM outbox ORDER BY seq LIMIT 1'),
      syncNormal: this.db.prepare('PRAGMA synchronous = NORMAL'),
      syncFull: this.db.prepare('PRAGMA synchronous = FULL'),
      rejected: this.db.prepare('SELECT seq, id, json, reason, message, rejected_at AS rejectedAt FROM rejected ORDER BY rid DESC LIMIT ?'),
    };

    this.appendTx = this.db.transaction((rows: Array<[number, string, string, string | null, number]>, last: number, count: number, bytes: number) => {
      for (const r of rows) this.stmts.insert.run(r);
      this.stmts.setLast.run(String(last));
      this.stmts.setCounters.run(String(count), String(bytes));
    });
    /** Delete [a, b] ranges; returns [rows, bytes] freed. Counters are written in the same transaction. */
    const remove = (ranges: readonly SeqRange[]): [number, number] => {
      let n = 0;
      let freed = 0;
      for (const [a, b] of ranges) {
        const lens = this.stmts.del.all(a, b) as number[];
        n += lens.length;
        for (const l of lens) freed += l;
      }
      if (n) this.stmts.setCounters.run(String(this.count - n), String(this.bytes - freed));
      return [n, freed];
    };
    this.ackTx = this.db.transaction((ranges: readonly SeqRange[]) => remove(ranges));
    this.rejectTx = this.db.transaction((ranges: readonly SeqRange[], reason: string, message: string): [number, number] => {
      const now = Date.now();
      for (const [a, b] of ranges) this.stmts.moveRejected.run(reason, message, now, a, b);
      return remove(ranges);
    });
  }

  get maxBytes(): number {
    return this.max;
  }

  setMaxBytes(bytes: number): void {
    if (!(Number.isInteger(bytes) && bytes > 0)) throw new TypeError(`outbox maxBytes must be a positive integer, got ${bytes}`);
    this.max = bytes;
  }

  append(drafts: readonly MovementDraft[]): Movement[] {
    if (drafts.length === 0) return [];
    const now = Date.now();
    let seq = this.nextSeq;
    const out: Movement[] = [];
    const rows: Array<[number, string, string, string | null, number]> = [];
    let added = 0;
    for (const d of drafts) {
      // Field order is fixed so the stored JSON is stable and readable in captures.
      const m = { v: SCHEMA_VERSION, id: this.ulid(now), edge: this.edge, seq, site: this.site, ...d } as Movement;
      const json = JSON.stringify(m);
      added += Buffer.byteLength(json);
      out.push(m);
      rows.push([seq, m.id, json, this.storeRows ? JSON.stringify(movementRow(m)) : null, now]);
      seq++;
    }
    if (this.bytes + added > this.max) throw new OutboxFullError(this.bytes, this.max, added);
    this.appendTx(rows, seq - 1, this.count + rows.length, this.bytes + added);
    this.nextSeq = seq;
    this.count += rows.length;
    this.bytes += added;
    return out;
  }

  read(afterSeq: number, limit: number): OutboxEntry[] {
    return this.stmts.read.all(afterSeq, limit) as OutboxEntry[];
  }

  readBatch(afterSeq: number, limit: number): OutboxBatch | undefined {
    const b = this.stmts.readBatch.get(afterSeq, limit) as OutboxBatch;
    return b.count > 0 ? b : undefined;
  }

  readRows(afterSeq: number, limit: number): OutboxBatch | undefined {
    const b = this.stmts.readRows.get(afterSeq, limit) as OutboxBatch;
    return b.count > 0 ? b : undefined;
  }

  ack(ranges: readonly SeqRange[]): number {
    return ranges.length ? this.settled(this.relaxed(() => this.ackTx(ranges))) : 0;
  }

  /**
   * Run an ack's delete without its own fsync (synchronous=NORMAL for that one commit). Losing
   * it in a power cut only means those movements are sent again and the cloud acks them as
   * duplicates; WAL commits are durable in order, so the next FULL append makes it durable too.
   * This takes the fsync (about 3 ms here) off the drain's hot path: ack commits were 80 % of the
   * agent's CPU profile while draining a backlog.
   */
  private relaxed<T>(fn: () => T): T {
    this.stmts.syncNormal.run();
    try {
      return fn();
    } finally {
      this.stmts.syncFull.run();
    }
  }

  reject(ranges: readonly SeqRange[], reason: string, message: string): number {
    return ranges.length ? this.settled(this.rejectTx(ranges, reason, message)) : 0;
  }

  private settled([n, freed]: [number, number]): number {
    this.count -= n;
    this.bytes -= freed;
    return n;
  }

  hasAny(from: number, to: number): boolean {
    return this.stmts.hasAny.get(from, to) !== undefined;
  }

  backlog(): OutboxBacklog {
    const out: OutboxBacklog = { count: this.count, bytes: this.bytes };
    if (this.count > 0) {
      // The first row in rowid order: one b-tree descent, however long the backlog.
      const o = this.stmts.oldest.get() as { seq: number; at: number } | undefined;
      if (o) {
        out.oldestSeq = o.seq;
        out.oldestAt = o.at;
      }
    }
    return out;
  }

  rejected(limit: number): RejectedEntry[] {
    return this.stmts.rejected.all(limit) as RejectedEntry[];
  }

  lastSeq(): number {
    return this.nextSeq - 1;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
