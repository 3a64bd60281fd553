import Database from 'better-sqlite3';
import { monotonicFactory } from 'ulid';
import { SCHEMA_VERSION, type Movement, type SeqRange } from '../../protocols/mqtt/index.js';
import type { MovementDraft, OutboxBacklog, OutboxEntry, OutboxStore, RejectedEntry } from './outbox-store.js';

export interface SqliteOutboxOptions {
  /** Database file; `:memory:` for tests that do not need durability. */
  path: string;
  site: string;
  edge: string;
}

/**
 * The outbox on SQLite (better-sqlite3 12.x; 13.x crashes on Node 20).
 *
 * Durability: WAL with `synchronous=FULL`, so a committed append survives SIGKILL and power loss
 * (WAL's default NORMAL does not survive power loss; better-sqlite3 docs/performance.md).
 * The seq counter lives in `meta`, not in MAX(seq): after every row is acked and deleted the
 * next seq must still be higher than any seq the cloud has seen.
 */
export class SqliteOutbox implements OutboxStore {
  private readonly db: Database.Database;
  private readonly site: string;
  private readonly edge: string;
  private readonly ulid = monotonicFactory();
  private readonly stmts;
  private readonly appendTx;
  private readonly ackTx;
  private readonly rejectTx;
  private nextSeq: number;

  constructor(opts: SqliteOutboxOptions) {
    this.site = opts.site;
    this.edge = opts.edge;
    this.db = new Database(opts.path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`
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
      );
    `);
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

    this.stmts = {
      insert: this.db.prepare('INSERT INTO outbox (seq, id, json, created_at) VALUES (?, ?, ?, ?)'),
      setLast: this.db.prepare(`INSERT INTO meta (key, value) VALUES ('last_seq', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      read: this.db.prepare('SELECT seq, id, json FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?'),
      del: this.db.prepare('DELETE FROM outbox WHERE seq BETWEEN ? AND ?'),
      moveRejected: this.db.prepare(`INSERT OR REPLACE INTO rejected (seq, id, json, reason, message, rejected_at)
        SELECT seq, id, json, ?, ?, ? FROM outbox WHERE seq BETWEEN ? AND ?`),
      hasAny: this.db.prepare('SELECT 1 FROM outbox WHERE seq BETWEEN ? AND ? LIMIT 1').pluck(),
      backlog: this.db.prepare('SELECT COUNT(*) AS count, COALESCE(SUM(LENGTH(CAST(json AS BLOB))), 0) AS bytes, MIN(seq) AS oldestSeq FROM outbox'),
      oldestAt: this.db.prepare('SELECT created_at FROM outbox ORDER BY seq LIMIT 1').pluck(),
      rejected: this.db.prepare('SELECT seq, id, json, reason, message, rejected_at AS rejectedAt FROM rejected ORDER BY rid DESC LIMIT ?'),
    };

    this.appendTx = this.db.transaction((rows: Array<[number, string, string, number]>, last: number) => {
      for (const r of rows) this.stmts.insert.run(r);
      this.stmts.setLast.run(String(last));
    });
    this.ackTx = this.db.transaction((ranges: readonly SeqRange[]) => {
      let n = 0;
      for (const [a, b] of ranges) n += this.stmts.del.run(a, b).changes;
      return n;
    });
    this.rejectTx = this.db.transaction((ranges: readonly SeqRange[], reason: string, message: string) => {
      let n = 0;
      const now = Date.now();
      for (const [a, b] of ranges) {
        n += this.stmts.moveRejected.run(reason, message, now, a, b).changes;
        this.stmts.del.run(a, b);
      }
      return n;
    });
  }

  append(drafts: readonly MovementDraft[]): Movement[] {
    if (drafts.length === 0) return [];
    const now = Date.now();
    let seq = this.nextSeq;
    const out: Movement[] = [];
    const rows: Array<[number, string, string, number]> = [];
    for (const d of drafts) {
      // Field order is fixed so the stored JSON is stable and readable in captures.
      const m = { v: SCHEMA_VERSION, id: this.ulid(now), edge: this.edge, seq, site: this.site, ...d } as Movement;
      out.push(m);
      rows.push([seq, m.id, JSON.stringify(m), now]);
      seq++;
    }
    this.appendTx(rows, seq - 1);
    this.nextSeq = seq;
    return out;
  }

  read(afterSeq: number, limit: number): OutboxEntry[] {
    return this.stmts.read.all(afterSeq, limit) as OutboxEntry[];
  }

  ack(ranges: readonly SeqRange[]): number {
    return ranges.length ? this.ackTx(ranges) : 0;
  }

  reject(ranges: readonly SeqRange[], reason: string, message: string): number {
    return ranges.length ? this.rejectTx(ranges, reason, message) : 0;
  }

  hasAny(from: number, to: number): boolean {
    return this.stmts.hasAny.get(from, to) !== undefined;
  }

  backlog(): OutboxBacklog {
    const row = this.stmts.backlog.get() as { count: number; bytes: number; oldestSeq: number | null };
    const out: OutboxBacklog = { count: row.count, bytes: row.bytes };
    if (row.oldestSeq !== null) {
      out.oldestSeq = row.oldestSeq;
      out.oldestAt = this.stmts.oldestAt.get() as number;
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
