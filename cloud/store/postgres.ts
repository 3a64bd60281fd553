/*
 * Why one file (over 400 lines): it is one implementation of the `Store` interface (store.ts) for
 * PostgreSQL; the interface is wide (commit, balances, ledger reads, exceptions, item master),
 * every method is a few SQL statements, the migrations are in postgres-migrations.ts and the rules
 * in cloud/ledger/rules.ts. Split by interface, not by method, like the SQLite store beside it.
 */
import { randomUUID } from 'node:crypto';
import { CompiledQuery } from 'kysely';
import pg from 'pg';
import type { Movement } from '../../protocols/mqtt/index.js';
import { decodeEpc } from '../../protocols/rfid/epc.js';
import { identityOf } from '../../protocols/ledger/identity.js';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import { type ChainRow, chainHash, ChainVerifier, GENESIS, type VerifyResult } from '../ledger/chain.js';
import { type BalanceOp, effectAt, effectSql, type ItemMaster, type Key, type LedgerReader, negative, plan, type Plan, type Raised, resolveItem } from '../ledger/rules.js';
import { INSERT_COLS, ItemCodeConflict, ledgerInsertRow } from './ledger-row.js';
import { type PostgresDb, PostgresDatabase } from '../db/index.js';
import { ledgerModule } from './module.js';
import {
  type ChainHead,
  type CommitBatch,
  type CommitBatchResult,
  type CommitResult,
  type DeadLetter,
  type DeadLetterInput,
  type EdgeSeqRow,
  type ExceptionRow,
  type IdentityRow,
  type ItemChange,
  type ItemWriteHook,
  type LedgerChange,
  type LedgerChangeRow,
  type LedgerRow,
  type SkuTotal,
  type StockQuery,
  type StockRow,
  type Store,
} from './store.js';
import { exceptionRow, itemRow, LEDGER_CHANGE_COLUMNS, LEDGER_CHANGE_ROW_COLUMNS, ledgerChange, ledgerRow, stockRow } from './rows.js';

/** A statement of the item master writes, on a pool client or in a Kysely transaction. */
type RunSql = (text: string, values: readonly unknown[]) => Promise<Array<Record<string, unknown>>>;

export interface PostgresStoreOptions {
  /** `postgres://` or `postgresql://` URL (libpq style; `?options=-csearch_path%3DX` works too). */
  url: string;
  /** Schema holding the tables, created if missing; default: the connection's search_path. */
  schema?: string;
  /** Pool size. Default 8 (commits use one connection each; reads share the rest). */
  maxConnections?: number;
  /** Attempts of a commit that hit a serialization failure or deadlock (40001/40P01). Default 5. */
  maxAttempts?: number;
}

/** Advisory lock namespace ('SG'): key 1 = migrations of a schema (cloud/db/), 2 = an edge's commits. */
const LOCK_NS_EDGE = 0x5347_0002;
/** key 4 = a site's commits: shared, or exclusive for a consistent view (class comment); keyed by `siteLockKey`. */
const LOCK_NS_SITE = 0x5347_0004;
/** key 3 = the item master (writes). */
const LOCK_NS_ITEMS = 0x5347_0003;
/** Same bound as the SQLite store: a huge gap is reported in parts. */
const SEQ_SCAN_LIMIT = 100_000;
/**
 * With other ingesters active, a seq hole is reported only once it is this old: the batch before
 * ours may still be on its way through another ingester. Below the edges' ack timeout (10 s).
 */
const GAP_GRACE = '3 seconds';

const keyStr = (k: Key) => `${k.site}\u0000${k.location}\u0000${k.sku}\u0000${k.batch}\u0000${k.project}`;

/**
 * The PostgreSQL store: the same ledger semantics as `SqliteStore`, for several ingesters sharing
 * one database (shared MQTT subscriptions spread one edge's batches over all of them).
 *
 * A commit is one READ COMMITTED transaction of a handful of set-based statements, whatever its
 * size (one JSON parameter for the rows: several times cheaper than per-column arrays, which pg
 * serialises element by element in JS). What it must guarantee with competing ingesters, and how:
 *
 * - Every site's chain is linear and its order is the order in which the commits' effects were
 *   applied, wherever the order matters. The chain head of a site is locked as the LAST lock of a
 *   commit, after its identities and provisional units are written, in the statement that writes
 *   its balances, and held to COMMIT: the span in which a site's other commits wait is that
 *   statement, the chain hashes (the rows' JSON is written before), the exceptions, the ledger
 *   insert (with the head write) and the edge's seq tracking. A commit B that depends on something commit A changed (a balance row, an
 *   identity, a provisional unit) waited for A's row lock, which A holds until COMMIT, so A took
 *   its head before B could take it: chain order = application order for every shared row. Two
 *   commits that share no row are independent and may chain in either order.
 * - What the rules read is what the chain says came before. Most commits only add and subtract
 *   (receive, issue, transfer, adjust of unserialised stock): their balance writes are atomic
 *   increments of the committed value (`on_hand = balances.on_hand + excluded.on_hand`, READ
 *   COMMITTED re-reads a row it waited for), nothing is read beforehand, and the value before each
 *   movement (for NEGATIVE_STOCK) is derived from the value RETURNING gives after the increment,
 *   which is exactly the value the previous writer of that row committed. Such a commit takes its
 *   sites' advisory locks shared, so they never wait on each other. A commit with a count or a
 *   serialised identity reads a consistent view of the site (a count: balances of every batch of
 *   the location plus the ledger rows stamped after it, rows another commit may be adding; an
 *   identity: whether it is in stock, which decides what is booked): it takes its sites' locks
 *   exclusive, before it reads anything, so every commit of the site in flight has committed (and
 *   chained) before it reads, and the next one starts after it. A provisional unit (the uom of a
 *   SKU unknown to the master) is first written once: if the insert finds one another commit wrote
 *   after we read, the commit is replayed (40001) and plans with it.
 * - No deadlock: every commit takes its locks in one order of classes, each class in key order:
 *   advisory locks (edges shared, then sites by key), refused seqs, identities, provisional units,
 *   balances, chain heads (site order), ledger ids, edge seq rows.
 *   Anything else (a ledger id reused across sites, an unlucky lock race) fails with 40001/40P01
 *   and the whole transaction is replayed (up to maxAttempts).
 * - Exactly once: the unique index on the ledger's id decides. The known-id check runs before the
 *   head lock, so two ingesters handling the same resend may both plan a movement; the second
 *   finds the id at its insert (ON CONFLICT DO NOTHING returns fewer rows than sent), throws 40001,
 *   rolls back its balance increments and replays: the id is then known, and reported duplicate.
 *
 * Movements of one commit are applied in order; the exceptions and variances are those the SQLite
 * store reports for the same input, and so are the per-edge gaps with one writer (with competing
 * writers see `trackSeqs`).
 */
export class PostgresStore implements Store {
  private closed = false;
  /** This store instance (one per ingester process), recorded per edge in `edge_seqs.writer`. */
  private readonly writerId = randomUUID();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly maxAttempts: number,
    /** The database this store opened itself (closed with it); undefined on a shared one. */
    private readonly own: PostgresDatabase | undefined,
    /** The one database (its `tx()` for item master writes that commit with the caller's rows). */
    private readonly database: PostgresDb,
  ) {}

  /** Connect on a database of its own (tests, benches): create the schema if asked, run the ledger's migrations. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    const db = await PostgresDatabase.open({
      url: opts.url,
      ...(opts.schema !== undefined ? { schema: opts.schema } : {}),
      maxConnections: opts.maxConnections ?? 8,
    });
    try {
      await db.migrate(ledgerModule);
      const store = new PostgresStore(db.pool, opts.maxAttempts ?? 5, db, db);
      await store.chainLegacyRows();
      return store;
    } catch (err) {
      await db.close();
      throw err;
    }
  }

  /** On the cloud's one database (`cloud/db/`), sharing its pool; applies the ledger's pending migrations. */
  static async on(db: PostgresDb, opts: { maxAttempts?: number } = {}): Promise<PostgresStore> {
    await db.migrate(ledgerModule);
    const store = new PostgresStore(db.pool, opts.maxAttempts ?? 5, undefined, db);
    await store.chainLegacyRows();
    return store;
  }

  /** Rows from before the hash chain (migration 2) get their chain numbers and hashes once, in ledger order. */
  private async chainLegacyRows(): Promise<void> {
    const any = await this.pool.query('SELECT 1 FROM ledger WHERE hash IS NULL LIMIT 1');
    if (any.rows.length === 0) return;
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('LOCK TABLE ledger IN SHARE ROW EXCLUSIVE MODE');
      const heads = new Map<string, { site: string; n: number; hash: string; pos: number; id: string }>();
      for (const h of (await c.query<{ site: string; n: number; hash: string; pos: number; id: string }>('SELECT site, n, hash, pos, id FROM chain_heads')).rows) heads.set(h.site, h);
      const rows = (await c.query<Record<string, unknown>>('SELECT * FROM ledger WHERE hash IS NULL ORDER BY pos')).rows;
      for (const r of rows) {
        const site = r.site as string;
        const h = heads.get(site) ?? { site, n: 0, hash: GENESIS, pos: 0, id: '' };
        r.chain_n = h.n + 1;
        r.hash = chainHash(h.hash, r);
        await c.query('UPDATE ledger SET chain_n = $1, hash = $2 WHERE pos = $3', [r.chain_n, r.hash, r.pos]);
        heads.set(site, { site, n: Number(r.chain_n), hash: r.hash as string, pos: Number(r.pos), id: r.id as string });
      }
      for (const h of heads.values()) {
        await c.query(`INSERT INTO chain_heads (site, n, hash, pos, id) VALUES ($1, $2, $3, $4, $5)
          ON CONFLICT (site) DO UPDATE SET n = excluded.n, hash = excluded.hash, pos = excluded.pos, id = excluded.id`, [h.site, h.n, h.hash, h.pos, h.id]);
      }
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  async commit(batches: readonly CommitBatch[]): Promise<CommitResult> {
    if (batches.length === 0) return { batches: [], changed: [], heads: [] };
    for (let attempt = 1; ; attempt++) {
      const c = await this.pool.connect();
      let broken = false;
      try {
        const r = await this.commitTx(c, batches);
        await c.query('COMMIT');
        return r;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {
          broken = true;
        });
        const code = (err as { code?: string }).code;
        // 23505 on the ledger's id: another ingester committed one of our movements since we
        // checked (commitTx, step 6); replayed, the id is known and reported duplicate.
        const idTaken = code === '23505' && (err as { constraint?: string }).constraint === 'ledger_id_key';
        if ((code === '40001' || code === '40P01' || idTaken) && attempt < this.maxAttempts) {
          // Another ingester's commit won a lock race; back off a little and replay the whole group.
          await new Promise((r) => setTimeout(r, 5 + Math.random() * 20 * attempt));
          continue;
        }
        throw err;
      } finally {
        c.release(broken);
      }
    }
  }

  private async commitTx(c: pg.PoolClient, batches: readonly CommitBatch[]): Promise<CommitResult> {
    const now = new Date().toISOString();
    const all = batches.map((b) => b.movements.map(pgSafeMovement));
    const flat = all.flat();

    // Edges whose seqs this commit tracks. A shared advisory lock per edge marks "a commit of this
    // edge is in progress" for the gap report (trackSeqs); taken in key order.
    const edges = new Map<string, { site: string; edge: string; batches: number[] }>();
    batches.forEach((b, bi) => {
      // A batch of refused movements only (CommitBatch.refused) is tracked under their edge.
      const f = b.movements[0] ?? b.refused;
      if (!f || ('seq' in f && f.seq <= 0)) return;
      const k = `${f.site}\u0000${f.edge}`;
      const e = edges.get(k) ?? edges.set(k, { site: f.site, edge: f.edge, batches: [] }).get(k)!;
      e.batches.push(bi);
    });
    const edgeList = [...edges.values()].sort((a, b) => cmp(a.site, b.site) || cmp(a.edge, b.edge));
    // Sites whose rules read a consistent view (a count, a serialised identity: see the class
    // comment) lock the site exclusive, the others shared; by key, after the edges.
    const consistent = new Set<string>();
    for (const m of flat) if (m.kind === 'count' || identityOf(m) !== undefined) consistent.add(m.site);
    const siteLocks = new Map<number, boolean>();
    for (const m of flat) {
      const k = siteLockKey(m.site);
      if (!siteLocks.get(k)) siteLocks.set(k, consistent.has(m.site));
    }
    // One round trip: BEGIN and the locks (literals: site and edge are validated ids, escaped anyway).
    // Shared locks never wait on each other, and the exclusive try-lock in trackSeqs never waits.
    await c.query(
      [
        'BEGIN',
        ...edgeList.map((e) => `SELECT pg_advisory_xact_lock_shared(${LOCK_NS_EDGE}, hashtext(${pg.escapeLiteral(`${e.site}/${e.edge}`)}))`),
        ...[...siteLocks.keys()].sort((a, b) => a - b).map((k) => `SELECT pg_advisory_xact_lock${siteLocks.get(k) ? '' : '_shared'}(${LOCK_NS_SITE}, ${k})`),
      ].join(';'),
    );

    // 1. Which ids are new (first occurrence in the commit, not in the ledger). Another ingester
    //    may insert one of them before we do: the ledger insert (5) finds it and replays.
    const ids = [...new Set(flat.map((m) => m.id))];
    const known = new Set<string>();
    if (ids.length) {
      const r = await c.query<{ id: string }>({ name: 'sg-ledger-known', text: 'SELECT id FROM ledger WHERE id = ANY($1::text[])', values: [ids] });
      for (const row of r.rows) known.add(row.id);
    }
    const fresh: Movement[] = [];
    for (const m of flat) {
      if (known.has(m.id)) continue;
      known.add(m.id);
      fresh.push(m);
    }
    const isFresh = new Set(fresh);

    // 2. The state the rules read, loaded in a few set-based queries, then kept in memory.
    const state = await this.loadState(c, fresh, consistent);

    // 3. Plan every fresh movement in order (cloud/ledger/rules.ts) and collect the writes.
    const planned = new Map<string, { m: Movement; p: Plan; row: ChainRow & { ts_ms: number; hash: string }; raised: Raised[] }>();
    const rows: Array<ChainRow & { ts_ms: number; hash: string }> = [];
    batches.forEach((b, bi) => {
      for (const m of all[bi]!) {
        if (planned.has(m.id) || !isFresh.has(m)) continue;
        const p = plan(m, state.reader);
        const row = ledgerInsertRow(m, p, now, b.postedBy);
        for (const op of p.ops) state.add(op);
        state.applied(m, p);
        planned.set(m.id, { m, p, row, raised: p.raised.slice() });
        rows.push(row);
      }
    });

    // 4. The writes that lock nothing another commit of the site waits for: dead letters (ids in
    //    insertion order: identity values grow within the statement) and refused seqs (kept apart
    //    until the edge's hwm passes them, CommitBatch.refused).
    const dead = batches.flatMap((b, bi) => b.deadLetters.map((d) => ({ d: pgSafeDeadLetter(d), bi })));
    const deadIds: number[][] = batches.map(() => []);
    if (dead.length) {
      const r = await c.query<{ id: number }>({
        name: 'sg-dead-insert',
        text: `INSERT INTO dead_letters (received_at, topic, site, edge, reason, message, payload, sha256, bytes)
          SELECT $1, topic, site, edge, reason, message, payload, sha256, bytes
          FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[])
            WITH ORDINALITY AS u(topic, site, edge, reason, message, payload, sha256, bytes, ord)
          ORDER BY ord RETURNING id`,
        values: [
          now,
          dead.map((x) => x.d.topic),
          dead.map((x) => x.d.site ?? null),
          dead.map((x) => x.d.edge ?? null),
          dead.map((x) => x.d.reason),
          dead.map((x) => x.d.message),
          dead.map((x) => x.d.payload),
          dead.map((x) => x.d.sha256 ?? null),
          dead.map((x) => x.d.bytes ?? null),
        ],
      });
      const ids = r.rows.map((x) => x.id).sort((a, b) => a - b);
      dead.forEach((x, k) => deadIds[x.bi]!.push(ids[k]!));
    }
    const refused = batches.flatMap((b) => (b.refused ? b.refused.seqs.map((q) => [b.refused!.site, b.refused!.edge, q] as const) : []));
    if (refused.length) {
      await c.query({
        name: 'sg-edge-refused-put',
        text: `INSERT INTO edge_seqs_refused (site, edge, seq) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[]) ON CONFLICT DO NOTHING`,
        values: [refused.map((x) => x[0]), refused.map((x) => x[1]), refused.map((x) => x[2])],
      });
    }

    // 5. Identities (their sites are locked exclusive) and provisional units, in key order. The
    //    ledger rows' literal is written here, outside the locked span, but for chain_n and hash
    //    (still 0 and ''): the last two fields of each row, appended once the head is locked.
    await state.writeOthers(c, now);
    const heads0 = rows.map(ledgerRecordHead);

    // 6. The balances (increments, rows in key order), then the last lock: the chain heads of the
    //    sites with new rows, in site order; one statement, whose parts run in that order (the
    //    heads' insert waits for the balance CTE's count, an InitPlan run before its first row;
    //    the order in which the main query reads the CTEs does not decide it: with `WHERE false`
    //    on the balance part it would read the heads first, and commits with and without a
    //    decrease would lock in opposite orders and deadlock). From here to COMMIT the site's other
    //    commits wait on these rows: check the decreases, insert the exceptions, chain the rows in
    //    commit order, insert them with the heads, track the seqs.
    const heads = new Map<string, ChainHead & { id: string }>();
    // Only a decrease can raise NEGATIVE_STOCK: without one (a commit of receipts) the check is skipped.
    const decreases = [...planned.values()].some((x) => x.p.ops.some((op) => op.check && op.delta < 0));
    const running = await state.writeBalances(c, now, rows.length ? [...new Set(rows.map((r) => r.site))].sort(cmp) : [], heads, decreases);
    // NEGATIVE_STOCK from the value each balance had before this commit, in movement order.
    if (decreases) for (const x of planned.values()) {
      for (const op of x.p.ops) {
        const k = keyStr(op.key);
        const after = running.get(k)! + op.delta;
        running.set(k, after);
        const neg = negative(x.m, op, after);
        if (neg) x.raised.push(neg);
      }
    }
    const raised = [...planned.values()].flatMap(({ row, raised }) => raised.map((e) => ({ e, id: row.id })));
    if (raised.length) {
      await c.query({
        name: 'sg-exceptions-insert',
        text: `INSERT INTO exceptions (type, site, movement_id, sku, location, batch, project, identity, on_hand, message, raised_at)
          SELECT type, site, mid, sku, location, batch, project, identity, on_hand, message, $11
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[])
            WITH ORDINALITY AS u(type, site, mid, sku, location, batch, project, identity, on_hand, message, ord)
          ORDER BY ord`,
        values: [
          raised.map((x) => x.e.type),
          raised.map((x) => x.e.key.site),
          raised.map((x) => x.id),
          raised.map((x) => x.e.key.sku),
          raised.map((x) => x.e.key.location),
          raised.map((x) => x.e.key.batch),
          raised.map((x) => x.e.key.project),
          raised.map((x) => x.e.identity ?? null),
          raised.map((x) => x.e.onHand ?? null),
          raised.map((x) => x.e.message),
          now,
        ],
      });
    }
    if (rows.length) {
      const recs = new Array<string>(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const row = rows[i]!;
        const h = heads.get(row.site)!;
        row.chain_n = h.n + 1;
        row.hash = chainHash(h.hash, row);
        h.n = row.chain_n;
        h.hash = row.hash;
        h.id = row.id;
        recs[i] = `${heads0[i]}${row.chain_n},\\"${row.hash}\\")"`;
      }
      // The rows are final at insert (never updated), in the literal's order (ORDER BY its
      // ordinality: `pos` follows the chain). The unique id decides: a row whose id another
      // ingester committed since step 1 fails the insert with unique_violation on ledger_id_key,
      // and `commit` replays the whole commit (no ON CONFLICT: its speculative insertion cost
      // ~1 µs a row of backend CPU while the site's other commits wait, for the same outcome).
      // The heads' pos is that of their last row, taken from the insert in the same statement;
      // what comes back is the heads, not every row.
      const hs = [...heads.values()];
      const ins = await c.query<{ site: string; pos: number }>({
        name: 'sg-ledger-insert-heads',
        text: `WITH ins AS (
            INSERT INTO ledger (${INSERT_COLS.join(', ')})
            SELECT ${INSERT_COLS.map((k) => `u.${k}`).join(', ')}
            FROM unnest($1::ledger_insert_row[]) WITH ORDINALITY AS u
            ORDER BY u.ordinality
            RETURNING id, pos),
          hw AS (
            UPDATE chain_heads SET n = h.n, hash = h.hash, id = h.id, pos = COALESCE((SELECT ins.pos FROM ins WHERE ins.id = h.id), chain_heads.pos)
            FROM unnest($2::text[], $3::bigint[], $4::text[], $5::text[]) AS h(site, n, hash, id) WHERE chain_heads.site = h.site
            RETURNING chain_heads.site, chain_heads.pos)
          SELECT hw.site, hw.pos FROM hw`,
        values: [`{${recs.join(',')}}`, hs.map((h) => h.site), hs.map((h) => h.n), hs.map((h) => h.hash), hs.map((h) => h.id)],
      });
      for (const x of ins.rows) heads.get(x.site)!.pos = x.pos;
    }

    // 7. Per-edge seq tracking (after the ledger insert: the scan sees this commit's rows).
    const missing = await this.trackSeqs(c, batches, edgeList, now);
    if (refused.length) {
      await c.query({
        name: 'sg-edge-refused-drop',
        text: `DELETE FROM edge_seqs_refused r USING edge_seqs e WHERE r.site = e.site AND r.edge = e.edge AND r.seq <= e.hwm
          AND (r.site, r.edge) IN (SELECT * FROM unnest($1::text[], $2::text[]))`,
        values: [refused.map((x) => x[0]), refused.map((x) => x[1])],
      });
    }
    const moved = [...heads.values()];

    const changed = new Map<string, CommitResult['changed'][number]>();
    const results: CommitBatchResult[] = batches.map((_, bi) => ({
      applied: 0,
      duplicates: 0,
      exceptions: 0,
      deadLetterIds: deadIds[bi]!,
      outcomes: [],
      missing: missing.get(bi) ?? [],
    }));
    const done = new Set<string>();
    batches.forEach((_, bi) => {
      const r = results[bi]!;
      for (const m of all[bi]!) {
        const x = planned.get(m.id);
        if (!x || done.has(m.id)) {
          r.outcomes.push('duplicate');
          r.duplicates++;
          continue;
        }
        done.add(m.id);
        r.exceptions += x.raised.length;
        if (x.p.status === 'exception') {
          r.outcomes.push('exception');
          continue;
        }
        r.outcomes.push('applied');
        r.applied++;
        const key = `${m.site}\u0000${x.p.sku}`;
        const was = changed.get(key);
        changed.set(key, m.expiry || was?.expiry ? { site: m.site, sku: x.p.sku, expiry: true } : { site: m.site, sku: x.p.sku });
      }
    });
    return { batches: results, changed: [...changed.values()], heads: moved.map((h) => ({ site: h.site, n: h.n, pos: h.pos, hash: h.hash })) };
  }

  /**
   * Load what the rules will read for these movements (items and their codes, provisional units;
   * for the `consistent` sites, locked exclusive, identities, balances of the (site, sku) pairs,
   * and for counts the effect of rows stamped after them), and return an in-memory reader that
   * also sees this commit's own effects. The other sites' movements read no balance or identity
   * (class comment): their balances are written as increments.
   */
  private async loadState(c: pg.PoolClient, ms: Movement[], consistent: ReadonlySet<string>): Promise<MemoryState> {
    const st = new MemoryState();
    if (ms.length === 0) return st;
    const codes = new Set<string>();
    const skus = new Set<string>();
    for (const m of ms) {
      if (m.sku !== undefined) skus.add(m.sku);
      if (m.gtin !== undefined) (codes.add(`gtin:${m.gtin}`), skus.add(m.gtin));
      if (m.epc !== undefined && m.sku === undefined && m.gtin === undefined) {
        codes.add(`epc:${m.epc}`);
        const d = decodeEpc(m.epc);
        if (d.scheme === 'sgtin-96') (codes.add(`gtin:${d.gtin}`), skus.add(d.gtin));
        else skus.add(m.epc);
      }
    }
    if (codes.size) {
      const r = await c.query<{ code: string; sku: string }>({ name: 'sg-codes', text: 'SELECT x.code, x.sku FROM item_codes x JOIN unnest($1::text[]) AS u(k) ON x.code = u.k', values: [[...codes]] });
      for (const row of r.rows) (st.codes.set(row.code, row.sku), skus.add(row.sku));
    }
    const skuList = [...skus];
    // Joined with unnest, not `sku = ANY($1)`: for a small table the planner picks a seq scan that
    // compares each row with every element of the array (1,000 SKUs x 1,000 provisional units:
    // 6.7 ms of backend CPU a commit, 0.7 ms as a hash join).
    const [items, unknown] = await Promise.all([
      c.query<Record<string, unknown>>({ name: 'sg-items', text: 'SELECT i.* FROM items i JOIN unnest($1::text[]) AS u(k) ON i.sku = u.k', values: [skuList] }),
      c.query<{ sku: string; uom: string }>({ name: 'sg-unknown', text: 'SELECT x.sku, x.uom FROM unknown_items x JOIN unnest($1::text[]) AS u(k) ON x.sku = u.k', values: [skuList] }),
    ]);
    for (const row of items.rows) st.items.set(row.sku as string, itemRow(row));
    for (const row of unknown.rows) st.unknown.set(row.sku, row.uom);

    // The balance SKU of each movement, as the rules will resolve it (a SKU's rows are read whole).
    const pairs = new Map<string, { site: string; sku: string }>();
    const idents = new Map<string, { site: string; identity: string }>();
    for (const m of ms) {
      if (!consistent.has(m.site)) continue;
      const sku = resolveItem(m, st.reader).sku;
      pairs.set(`${m.site}\u0000${sku}`, { site: m.site, sku });
      const identity = identityOf(m);
      if (identity) idents.set(`${m.site}\u0000${identity}`, { site: m.site, identity });
    }
    if (pairs.size === 0) return st;
    const pl = [...pairs.values()];
    const bal = await c.query<{ site: string; location: string; sku: string; batch: string; project: string; on_hand: number; uom: string }>({
      name: 'sg-balances-read',
      text: `SELECT b.site, b.location, b.sku, b.batch, b.project, b.on_hand, b.uom FROM balances b
        JOIN unnest($1::text[], $2::text[]) AS u(s, k) ON b.site = u.s AND b.sku = u.k`,
      values: [pl.map((p) => p.site), pl.map((p) => p.sku)],
    });
    for (const row of bal.rows) st.balances.set(keyStr(row), { key: { site: row.site, location: row.location, sku: row.sku, batch: row.batch, project: row.project }, onHand: row.on_hand, uom: row.uom, expiry: null, delta: 0, dirty: false });
    if (idents.size) {
      const il = [...idents.values()];
      const r = await c.query<{ site: string; identity: string; in_stock: boolean; location: string }>({
        name: 'sg-identities-read',
        text: `SELECT i.site, i.identity, i.in_stock, i.location FROM identities i JOIN unnest($1::text[], $2::text[]) AS u(s, i) ON i.site = u.s AND i.identity = u.i`,
        values: [il.map((x) => x.site), il.map((x) => x.identity)],
      });
      for (const row of r.rows) st.identities.set(`${row.site}\u0000${row.identity}`, { inStock: row.in_stock, location: row.location, sku: '', movementId: '', dirty: false });
    }
    // Counts: the effect of rows already in the ledger stamped after them (rows of this commit
    // are added in memory).
    for (const m of ms) {
      if (m.kind !== 'count') continue;
      const sku = resolveItem(m, st.reader).sku;
      const tsMs = Date.parse(m.ts);
      for (const batch of m.batch !== undefined ? [m.batch] : [undefined]) {
        const r = await c.query<{ effect: number; rows: number }>({
          name: batch === undefined ? 'sg-later-all' : 'sg-later-batch',
          text: `SELECT COALESCE(SUM(${effectSql('$5')}), 0)::bigint AS effect, count(*)::int AS rows FROM ledger
            WHERE site = $1 AND sku = $2 AND ts_ms > $3 AND project = $4 AND status = 'applied' AND (location = $5 OR to_location = $5)
            ${batch === undefined ? '' : 'AND batch = $6'}`,
          values: [m.site, sku, tsMs, m.project ?? '', m.location, ...(batch === undefined ? [] : [batch])],
        });
        st.later.set(laterKey({ site: m.site, location: m.location, sku, project: m.project ?? '', ...(batch === undefined ? {} : { batch }) }, tsMs), r.rows[0]!);
      }
    }
    return st;
  }

  /**
   * Per-edge seq tracking, as `SqliteStore.trackSeqs` (hwm: every seq up to it is in the ledger;
   * missing: the holes below the highest seq seen). The edge rows are locked in key order, the
   * ledger scanned once per edge, and the batches of the commit played in order.
   *
   * With competing ingesters, the batch before this one is usually committing on another ingester
   * right now, or about to: its seqs look missing although nothing was lost, and reporting them
   * would make the edge resend its window. So while another store instance (ingester) has written
   * any edge in the last GAP_GRACE (database clock), a hole is reported only once it has been
   * outstanding for GAP_GRACE (`gap_seq`/`gap_at` remember when the lowest hole was first seen),
   * and only when no other transaction of the same edge holds the edge's advisory lock. A single
   * writer (the contract) reports every hole at once, like SqliteStore. A hole left by a crashed
   * ingester is thus reported GAP_GRACE after it was first seen, or resent earlier by the edge's
   * ack timeout. hwm never moves back (GREATEST).
   */
  private async trackSeqs(
    c: pg.PoolClient,
    batches: readonly CommitBatch[],
    edgeList: Array<{ site: string; edge: string; batches: number[] }>,
    now: string,
  ): Promise<Map<number, Array<[number, number]>>> {
    const out = new Map<number, Array<[number, number]>>();
    if (edgeList.length === 0) return out;
    const cur = await c.query<{ site: string; edge: string; hwm: number; max_seq: number; gap_seq: number | null; gap_old: boolean }>({
      name: 'sg-edge-seqs-lock',
      text: `INSERT INTO edge_seqs (site, edge, hwm, max_seq, updated_at)
        SELECT s, e, 0, 0, $3 FROM unnest($1::text[], $2::text[]) AS x(s, e) ORDER BY s COLLATE "C", e COLLATE "C"
        ON CONFLICT (site, edge) DO UPDATE SET hwm = edge_seqs.hwm
        RETURNING site, edge, hwm, max_seq, gap_seq, coalesce(gap_at <= now() - interval '${GAP_GRACE}', false) AS gap_old`,
      values: [edgeList.map((e) => e.site), edgeList.map((e) => e.edge), now],
    });
    const state = new Map(cur.rows.map((r) => [`${r.site}\u0000${r.edge}`, r]));
    const plans = edgeList.map((e) => {
      const s = state.get(`${e.site}\u0000${e.edge}`);
      let hi = s?.max_seq ?? 0;
      for (const bi of e.batches) for (const m of batches[bi]!.movements) if (m.seq > hi) hi = m.seq;
      for (const bi of e.batches) for (const q of ownRefused(batches[bi]!, e)) if (q > hi) hi = q;
      return { ...e, hwm: s?.hwm ?? 0, max: s?.max_seq ?? 0, hi, gapSeq: s?.gap_seq ?? null, gapOld: s?.gap_old ?? false };
    });
    const scan = plans.filter((p) => p.hi > p.hwm);
    const seqs = new Map<string, number[]>();
    if (scan.length) {
      const r = await c.query<{ s: string; e: string; seqs: number[] }>({
        name: 'sg-edge-seqs-scan',
        text: `SELECT x.s, x.e, ARRAY(SELECT u.seq FROM (
              SELECT l.seq FROM ledger l WHERE l.site = x.s AND l.edge = x.e AND l.seq > x.lo AND l.seq <= x.hi
              UNION SELECT r.seq FROM edge_seqs_refused r WHERE r.site = x.s AND r.edge = x.e AND r.seq > x.lo AND r.seq <= x.hi
            ) u ORDER BY u.seq LIMIT ${SEQ_SCAN_LIMIT})::float8[] AS seqs
          FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[]) AS x(s, e, lo, hi)`,
        values: [scan.map((p) => p.site), scan.map((p) => p.edge), scan.map((p) => p.hwm), scan.map((p) => p.hi)],
      });
      for (const row of r.rows) seqs.set(`${row.s}\u0000${row.e}`, row.seqs);
    }
    let othersActive: boolean | undefined;
    for (const p of plans) {
      const all = seqs.get(`${p.site}\u0000${p.edge}`) ?? [];
      let gap = false;
      for (const bi of p.batches) {
        let max = p.max;
        for (const m of batches[bi]!.movements) if (m.seq > max) max = m.seq;
        for (const q of ownRefused(batches[bi]!, p)) if (q > max) max = q;
        const missing: Array<[number, number]> = [];
        if (max > p.hwm) {
          let expect = p.hwm + 1;
          let contiguous = true;
          for (const s of all) {
            if (s <= p.hwm) continue;
            if (s > max) break;
            if (s !== expect) {
              contiguous = false;
              if (missing.length < 16) missing.push([expect, s - 1]);
            }
            if (contiguous) p.hwm = s;
            expect = s + 1;
          }
          if (expect <= max && missing.length < 16) missing.push([expect, max]);
        }
        p.max = max;
        if (missing.length) gap = true;
        out.set(bi, missing);
      }
      if (!gap) continue;
      const oldHole = p.gapSeq === p.hwm + 1 && p.gapOld;
      if (!oldHole) {
        othersActive ??= (
          await c.query<{ active: boolean }>({
            name: 'sg-edge-others-active',
            text: `SELECT EXISTS (SELECT 1 FROM edge_seqs WHERE writer <> $1 AND writer_at > now() - interval '${GAP_GRACE}') AS active`,
            values: [this.writerId],
          })
        ).rows[0]!.active;
        let report = !othersActive;
        if (report) {
          // Another commit of this edge in flight (the exclusive try-lock fails while it holds the
          // edge's lock shared): what looks missing may be in it.
          report = (
            await c.query<{ free: boolean }>({
              name: 'sg-edge-try-lock',
              text: `SELECT pg_try_advisory_xact_lock($1, hashtext($2 || '/' || $3)) AS free`,
              values: [LOCK_NS_EDGE, p.site, p.edge],
            })
          ).rows[0]!.free;
        }
        if (!report) for (const bi of p.batches) out.set(bi, []);
      }
    }
    await c.query({
      name: 'sg-edge-seqs-write',
      text: `UPDATE edge_seqs SET hwm = GREATEST(edge_seqs.hwm, x.hwm), max_seq = GREATEST(edge_seqs.max_seq, x.mx), updated_at = $5,
          writer = $6, writer_at = now(),
          gap_seq = x.gs,
          gap_at = CASE WHEN x.gs IS NULL THEN NULL WHEN edge_seqs.gap_seq IS NOT DISTINCT FROM x.gs THEN edge_seqs.gap_at ELSE now() END
        FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $7::bigint[]) AS x(s, e, hwm, mx, gs)
        WHERE edge_seqs.site = x.s AND edge_seqs.edge = x.e`,
      values: [
        plans.map((p) => p.site),
        plans.map((p) => p.edge),
        plans.map((p) => p.hwm),
        plans.map((p) => p.max),
        now,
        this.writerId,
        // The lowest hole, if any: the seq after hwm.
        plans.map((p) => (p.hwm < p.max ? p.hwm + 1 : null)),
      ],
    });
    return out;
  }

  async stock(q: StockQuery): Promise<StockRow[]> {
    const where: string[] = [];
    const args: string[] = [];
    if (q.site !== undefined) (args.push(q.site), where.push(`site = $${args.length}`));
    if (q.sku !== undefined) (args.push(q.sku), where.push(`sku = $${args.length}`));
    if (q.location !== undefined) (args.push(q.location), where.push(`location = $${args.length}`));
    const r = await this.pool.query<Record<string, unknown>>({
      name: `sg-stock-${q.site !== undefined ? 1 : 0}${q.sku !== undefined ? 1 : 0}${q.location !== undefined ? 1 : 0}`,
      text: `SELECT site, location, sku, batch, project, on_hand, uom, expiry, updated_at
        FROM balances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY site, sku, location, batch, project`,
      values: args,
    });
    return r.rows.map(stockRow);
  }

  async totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]> {
    // Per unit of measure: rows of one SKU in different units are never added (C2).
    const select = `SELECT b.site, b.sku, sum(b.on_hand) AS "onHand", b.uom, count(DISTINCT b.location)::int AS locations,
      max(b.updated_at) AS "updatedAt" FROM balances b`;
    const out = (rows: SkuTotal[]) => rows.map((r) => ({ ...r, onHand: fromMilli(Number(r.onHand)) }));
    if (q.pairs) {
      if (q.pairs.length === 0) return [];
      const r = await this.pool.query<SkuTotal>({
        name: 'sg-totals-pairs',
        text: `${select} JOIN (SELECT DISTINCT s, k FROM unnest($1::text[], $2::text[]) AS u(s, k)) p ON b.site = p.s AND b.sku = p.k
          GROUP BY b.site, b.sku, b.uom ORDER BY b.site, b.sku, b.uom`,
        values: [q.pairs.map((p) => p.site), q.pairs.map((p) => p.sku)],
      });
      return out(r.rows);
    }
    if (q.site !== undefined) {
      return out((await this.pool.query<SkuTotal>({ name: 'sg-totals-site', text: `${select} WHERE b.site = $1 GROUP BY b.site, b.sku, b.uom ORDER BY b.site, b.sku, b.uom`, values: [q.site] })).rows);
    }
    return out((await this.pool.query<SkuTotal>({ name: 'sg-totals', text: `${select} GROUP BY b.site, b.sku, b.uom ORDER BY b.site, b.sku, b.uom` })).rows);
  }

  async headPos(): Promise<number> {
    const r = await this.pool.query<{ m: string | null }>({ name: 'sg-head-pos', text: 'SELECT max(pos) AS m FROM ledger' });
    return Number(r.rows[0]?.m ?? 0);
  }

  async movements(q: { site?: string; limit: number; before?: number }): Promise<LedgerRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (args.push(q.site), where.push(`site = $${args.length}`));
    if (q.before !== undefined) (args.push(q.before), where.push(`pos < $${args.length}`));
    args.push(q.limit);
    const r = await this.pool.query<Record<string, unknown>>({
      name: `sg-movements-${q.site !== undefined ? 1 : 0}${q.before !== undefined ? 1 : 0}`,
      text: `SELECT * FROM ledger ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY pos DESC LIMIT $${args.length}`,
      values: args,
    });
    return r.rows.map(ledgerRow);
  }

  async ledgerAfter(after: number, limit: number): Promise<LedgerChange[]> {
    const r = await this.pool.query<unknown[]>({
      name: 'sg-ledger-after',
      text: `SELECT ${LEDGER_CHANGE_COLUMNS} FROM ledger WHERE pos > $1 ORDER BY pos LIMIT $2`,
      values: [after, limit],
      rowMode: 'array',
    });
    return r.rows.map(ledgerChange);
  }

  async ledgerChangeRows(after: number, limit: number): Promise<LedgerChangeRow[]> {
    const r = await this.pool.query<unknown[]>({
      name: 'sg-ledger-change-rows',
      text: `SELECT ${LEDGER_CHANGE_ROW_COLUMNS} FROM ledger WHERE pos > $1 ORDER BY pos LIMIT $2`,
      values: [after, limit],
      rowMode: 'array',
    });
    // BIGINT columns arrive as strings: numbers in place (no object per row).
    for (const row of r.rows) {
      row[0] = Number(row[0]);
      row[1] = Number(row[1]);
      row[7] = Number(row[7]);
      if (row[11] !== null) row[11] = Number(row[11]);
      if (row[13] !== null) row[13] = Number(row[13]);
    }
    return r.rows as LedgerChangeRow[];
  }

  async deadLetters(q: { site?: string; limit: number; before?: number }): Promise<DeadLetter[]> {
    const where: string[] = [];
    const args: Array<string | number> = [q.limit];
    if (q.site !== undefined) (args.push(q.site), where.push(`site = $${args.length}`));
    if (q.before !== undefined) (args.push(q.before), where.push(`id < $${args.length}`));
    const r = await this.pool.query<DeadLetter & { site: string | null; edge: string | null; sha256: string | null; bytes: string | null }>({
      name: `sg-dead-${q.site !== undefined ? 1 : 0}${q.before !== undefined ? 1 : 0}`,
      text: `SELECT id, received_at AS "receivedAt", topic, site, edge, reason, message, payload, sha256, bytes FROM dead_letters
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $1`,
      values: args,
    });
    return r.rows.map(({ site, edge, sha256, bytes, ...rest }) => ({
      ...rest,
      ...(site === null ? {} : { site }),
      ...(edge === null ? {} : { edge }),
      ...(sha256 === null ? {} : { sha256 }),
      ...(bytes === null ? {} : { bytes: Number(bytes) }),
    }));
  }

  async pruneDeadLetters(q: { site: string; maxCount: number; maxBytes: number }): Promise<number> {
    // As in the SQLite store: newest kept, past the count or byte budget deleted (issue 8, finding 5).
    const r = await this.pool.query({
      text: `DELETE FROM dead_letters WHERE id IN (
          SELECT id FROM (
            SELECT id, ROW_NUMBER() OVER w AS n, SUM(octet_length(payload) + octet_length(message)) OVER w AS b
            FROM dead_letters WHERE ${q.site ? 'site = $3' : 'site IS NULL'}
            WINDOW w AS (ORDER BY id DESC)
          ) t WHERE n > $1 OR b > $2)`,
      values: q.site ? [q.maxCount, q.maxBytes, q.site] : [q.maxCount, q.maxBytes],
    });
    return r.rowCount ?? 0;
  }

  async movement(id: string): Promise<LedgerRow | undefined> {
    const r = await this.pool.query<Record<string, unknown>>({ name: 'sg-movement', text: 'SELECT * FROM ledger WHERE id = $1', values: [id] });
    return r.rows[0] ? ledgerRow(r.rows[0]) : undefined;
  }

  async fefo(q: { site: string; sku: string; today?: string }): Promise<StockRow[]> {
    // Never an expired batch (C8): expiry before today is out.
    const r = await this.pool.query<Record<string, unknown>>({
      name: 'sg-fefo',
      text: `SELECT site, location, sku, batch, project, on_hand, uom, expiry, updated_at
        FROM balances WHERE site = $1 AND sku = $2 AND on_hand > 0 AND (expiry IS NULL OR expiry >= $3)
        ORDER BY expiry IS NULL, expiry, batch, location, project`,
      values: [q.site, q.sku, q.today ?? new Date().toISOString().slice(0, 10)],
    });
    return r.rows.map(stockRow);
  }

  async exceptions(q: { site?: string; state: 'open' | 'resolved' | 'all'; limit: number; before?: number }): Promise<ExceptionRow[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.site !== undefined) (args.push(q.site), where.push(`site = $${args.length}`));
    if (q.state !== 'all') (args.push(q.state), where.push(`state = $${args.length}`));
    if (q.before !== undefined) (args.push(q.before), where.push(`id < $${args.length}`));
    args.push(q.limit);
    const r = await this.pool.query<Record<string, unknown>>(
      `SELECT * FROM exceptions ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $${args.length}`,
      args,
    );
    return r.rows.map(exceptionRow);
  }

  async exception(id: number): Promise<ExceptionRow | undefined> {
    const r = await this.pool.query<Record<string, unknown>>('SELECT * FROM exceptions WHERE id = $1', [id]);
    return r.rows[0] ? exceptionRow(r.rows[0]) : undefined;
  }

  async resolveException(id: number, by: string, resolution: string): Promise<ExceptionRow | undefined> {
    await this.pool.query(`UPDATE exceptions SET state = 'resolved', resolved_at = $1, resolved_by = $2, resolution = $3 WHERE id = $4 AND state = 'open'`, [
      new Date().toISOString(),
      by,
      resolution,
      id,
    ]);
    const r = await this.pool.query<Record<string, unknown>>('SELECT * FROM exceptions WHERE id = $1', [id]);
    return r.rows[0] ? exceptionRow(r.rows[0]) : undefined;
  }

  async identity(site: string, identity: string): Promise<IdentityRow | undefined> {
    const r = await this.pool.query<IdentityRow>({
      name: 'sg-identity',
      text: `SELECT site, identity, sku, in_stock AS "inStock", location, last_movement_id AS "lastMovementId", updated_at AS "updatedAt"
        FROM identities WHERE site = $1 AND identity = $2`,
      values: [site, identity],
    });
    return r.rows[0];
  }

  async edgeSeq(site: string, edge: string): Promise<EdgeSeqRow | undefined> {
    const r = await this.pool.query<EdgeSeqRow>({
      name: 'sg-edge-seq',
      text: 'SELECT site, edge, hwm, max_seq AS "maxSeq", updated_at AS "updatedAt" FROM edge_seqs WHERE site = $1 AND edge = $2',
      values: [site, edge],
    });
    return r.rows[0];
  }

  async putItem(item: Omit<ItemMaster, 'updatedAt'>, within?: ItemWriteHook): Promise<ItemMaster> {
    await this.putItems([item], within);
    return (await this.item(item.sku))!;
  }

  async putItems(items: ReadonlyArray<Omit<ItemMaster, 'updatedAt'>>, within?: ItemWriteHook): Promise<void> {
    const now = new Date().toISOString();
    if (within) {
      // In a transaction of the one database (cloud/db), so the caller's writes (the audit rows,
      // issue 10 §5) commit with the change or not at all. Replayed whole on 40001/40P01.
      await this.database.tx(async (trx) => {
        const run: RunSql = async (text, values) => (await trx.executeQuery<Record<string, unknown>>(CompiledQuery.raw(text, values as unknown[]))).rows;
        await within(trx, await this.writeItems(run, items, now));
      });
      return;
    }
    const c = await this.pool.connect();
    try {
      await c.query('BEGIN');
      await this.writeItems(async (text, values) => (await c.query<Record<string, unknown>>(text, values as unknown[])).rows, items, now);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      c.release();
    }
  }

  /** The item master writes of `putItems`, in the caller's transaction; each item's record before and after. */
  private async writeItems(run: RunSql, items: ReadonlyArray<Omit<ItemMaster, 'updatedAt'>>, now: string): Promise<ItemChange[]> {
    // One writer of the item master at a time (a code must name one SKU).
    await run('SELECT pg_advisory_xact_lock($1, 0)', [LOCK_NS_ITEMS]);
    const changes: ItemChange[] = [];
    for (const item of items) {
      const was = (await run('SELECT * FROM items WHERE sku = $1', [item.sku]))[0];
      const codes = [...item.gtins.map((g) => `gtin:${g}`), ...item.epcs.map((e) => `epc:${e}`)];
      const other = (await run('SELECT code, sku FROM item_codes WHERE code = ANY($1::text[]) AND sku <> $2 LIMIT 1', [codes, item.sku]))[0] as { code: string; sku: string } | undefined;
      if (other) throw new ItemCodeConflict(other.code, other.sku, item.sku);
      await run(
        `INSERT INTO items (sku, name, uom, gtins, conversions, unit_weight_kg, tracking, shelf_life_days, standard_cost, epcs, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
        ON CONFLICT (sku) DO UPDATE SET name = excluded.name, uom = excluded.uom, gtins = excluded.gtins, conversions = excluded.conversions,
          unit_weight_kg = excluded.unit_weight_kg, tracking = excluded.tracking, shelf_life_days = excluded.shelf_life_days,
          standard_cost = excluded.standard_cost, epcs = excluded.epcs, updated_at = excluded.updated_at`,
        [item.sku, item.name, item.uom, JSON.stringify(item.gtins), JSON.stringify(item.conversions), item.unitWeightKg === null ? null : String(item.unitWeightKg),
          item.tracking, item.shelfLifeDays, item.standardCost, JSON.stringify(item.epcs), now],
      );
      await run('DELETE FROM item_codes WHERE sku = $1', [item.sku]);
      if (codes.length) await run('INSERT INTO item_codes (code, sku) SELECT DISTINCT unnest($1::text[]), $2', [codes, item.sku]);
      changes.push({ sku: item.sku, before: was ? itemRow(was) : undefined, after: { ...item, updatedAt: now } });
    }
    return changes;
  }

  async item(sku: string): Promise<ItemMaster | undefined> {
    const r = await this.pool.query<Record<string, unknown>>({ name: 'sg-item', text: 'SELECT * FROM items WHERE sku = $1', values: [sku] });
    return r.rows[0] ? itemRow(r.rows[0]) : undefined;
  }

  async items(q: { search?: string; limit: number; after?: string }): Promise<ItemMaster[]> {
    const where: string[] = [];
    const args: Array<string | number> = [];
    if (q.search) {
      args.push(`%${q.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`);
      where.push(`(lower(sku) LIKE $${args.length} OR lower(name) LIKE $${args.length})`);
    }
    if (q.after !== undefined) (args.push(q.after), where.push(`sku > $${args.length}`));
    args.push(q.limit);
    const r = await this.pool.query<Record<string, unknown>>(`SELECT * FROM items ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY sku LIMIT $${args.length}`, args);
    return r.rows.map(itemRow);
  }

  async verifyChain(site: string): Promise<VerifyResult> {
    const v = new ChainVerifier();
    let after = 0;
    for (;;) {
      const r = await this.pool.query<Record<string, unknown>>({
        name: 'sg-verify-page',
        text: 'SELECT * FROM ledger WHERE site = $1 AND chain_n > $2 ORDER BY chain_n LIMIT 5000',
        values: [site, after],
      });
      let broken = false;
      for (const row of r.rows) if (!v.push(row)) (broken = true);
      if (broken || r.rows.length < 5000) break;
      after = Number(r.rows[r.rows.length - 1]!.chain_n);
    }
    // Rows whose chain number was edited away from the sequence (or NULLed) are out of the pages
    // above; the count catches them.
    const head = (await this.pool.query<{ n: number; hash: string; pos: number; id: string }>('SELECT n, hash, pos, id FROM chain_heads WHERE site = $1', [site])).rows[0];
    return v.result(head);
  }

  async chainHeads(): Promise<ChainHead[]> {
    return (await this.pool.query<ChainHead>({ name: 'sg-heads', text: 'SELECT site, n, pos, hash FROM chain_heads WHERE n > 0 ORDER BY site' })).rows;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.own?.close();
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * A site's advisory lock key: 32-bit FNV-1a of its UTF-16 code units, computed here so that every
 * commit sorts its site locks by the key it locks (two sites sharing a key only share a lock).
 */
function siteLockKey(site: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < site.length; i++) h = Math.imul(h ^ site.charCodeAt(i), 0x01000193);
  return h | 0;
}

/**
 * What PostgreSQL text cannot hold: NUL, and (through the JSON parameter) lone UTF-16 surrogates.
 * Both pass the wire schema; left in, they would fail the whole group commit on every resend.
 */
const NOT_PG_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NOT_PG_TEXT_ALL = new RegExp(NOT_PG_TEXT.source, 'g');
/** Every string NOT_PG_TEXT matches has one of these. */
const MAYBE_NOT_PG_TEXT = /[\u0000\uD800-\uDFFF]/;
const pgText = (s: string) => (NOT_PG_TEXT.test(s) ? s.replace(NOT_PG_TEXT_ALL, '\uFFFD') : s);

/** The movement with U+FFFD for what PostgreSQL text cannot hold (the same object when clean). */
function pgSafeMovement(m: Movement): Movement {
  let out: Record<string, unknown> | undefined;
  for (const k in m) {
    const v = (m as Record<string, unknown>)[k];
    // The plain class first: NOT_PG_TEXT's lookarounds cost more, and nearly every field is clean.
    if (typeof v === 'string' && MAYBE_NOT_PG_TEXT.test(v) && NOT_PG_TEXT.test(v)) (out ??= { ...m })[k] = pgText(v);
  }
  if (NOT_PG_TEXT.test(m.device.id) || NOT_PG_TEXT.test(m.device.type)) (out ??= { ...m }).device = { id: pgText(m.device.id), type: pgText(m.device.type) };
  return (out as Movement | undefined) ?? m;
}

/** A dead letter's payload stays recoverable: base64 of its UTF-8 when it is not PostgreSQL text. */
function pgSafeDeadLetter(d: DeadLetterInput): DeadLetterInput {
  const payload = NOT_PG_TEXT.test(d.payload) ? `base64:${Buffer.from(d.payload, 'utf8').toString('base64')}` : d.payload;
  return {
    ...d,
    topic: pgText(d.topic),
    message: pgText(d.message),
    payload,
    ...(d.site !== undefined ? { site: pgText(d.site) } : {}),
    ...(d.edge !== undefined ? { edge: pgText(d.edge) } : {}),
  };
}


/**
 * Fields of a `ledger_insert_row` literal (migration 8) before chain_n and hash, which come last:
 * they are known only once the chain head is locked, the rest is written before.
 */
export const LEDGER_RECORD_COLS = INSERT_COLS.filter((k) => k !== 'chain_n' && k !== 'hash');

/*
 * Rows go to PostgreSQL as one array-of-composite literal, `{"(a,b,)","(c,d,)"}`, cast to a row
 * type of the schema (migration 8): record_in parses it several times faster than
 * json_to_recordset parsed the same rows as JSON objects (the migration has the figures), and
 * building it costs no more than JSON.stringify. A text field is quoted for record_in (`"..."`, an
 * empty string stays distinct from NULL, which is an empty field) and that quoting escaped for
 * array_in (`\"...\"`); a double quote or a backslash inside is doubled for the record, then each of those
 * escaped for the array. Numbers are bare.
 */
const LIT_SPECIAL = /["\\]/;
const LIT_SPECIAL_ALL = /["\\]/g;
const litEscape = (c: string) => (c === '"' ? '\\"\\"' : '\\\\\\\\');

/** One field of a record inside an array literal: NULL is empty, text is quoted, numbers are bare. */
export function recordField(v: string | number | null | undefined): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return String(v);
  return LIT_SPECIAL.test(v) ? `\\"${v.replace(LIT_SPECIAL_ALL, litEscape)}\\"` : `\\"${v}\\"`;
}

/** A ledger row's array element up to chain_n: `"(id,edge,...,sales_order,` (then `n,hash)"`). */
function ledgerRecordHead(row: ChainRow & { ts_ms: number }): string {
  // One join('') of the pieces makes one flat string and no string per field: `+=` kept a rope
  // of ~70 pieces a row alive until the insert, across the statements before it (promoted to the
  // old generation: 7 µs a row of GC), a string per field and a join cost 2 µs a row more.
  const f: string[] = ['"('];
  for (const k of LEDGER_RECORD_COLS) {
    const v = row[k];
    if (typeof v === 'string' && !LIT_SPECIAL.test(v)) f.push('\\"', v, '\\",');
    else f.push(recordField(v), ',');
  }
  return f.join('');
}

type LaterScope = { site: string; location: string; sku: string; project: string; batch?: string };
const laterKey = (s: LaterScope, ts: number) => `${s.site}\u0000${s.location}\u0000${s.sku}\u0000${s.project}\u0000${s.batch ?? '\u0001'}\u0000${ts}`;

/**
 * The rules' view of the database during one PostgreSQL commit: what `loadState` read, plus the
 * effects of the movements of this commit planned so far; then written back in a few statements.
 */
class MemoryState {
  readonly items = new Map<string, ItemMaster>();
  readonly codes = new Map<string, string>();
  readonly unknown = new Map<string, string>();
  /** Loaded (consistent sites) or started at 0 by this commit's first op; `delta`: this commit's net change. */
  readonly balances = new Map<string, { key: Key; onHand: number; uom: string; expiry: string | null; delta: number; dirty: boolean }>();
  readonly identities = new Map<string, { inStock: boolean; location: string; sku: string; movementId: string; dirty: boolean }>();
  readonly later = new Map<string, { effect: number; rows: number }>();
  private readonly newUnknown: Array<{ sku: string; uom: string; site: string; movementId: string }> = [];
  private readonly rows: Array<{ site: string; sku: string; project: string; batch: string; location: string; toLocation: string | null; kind: string; baseQty: number; variance: number | null; tsMs: number }> = [];

  readonly reader: LedgerReader = {
    item: (sku) => this.items.get(sku),
    itemByGtin: (gtin) => this.byCode(`gtin:${gtin}`),
    itemByEpc: (epc) => this.byCode(`epc:${epc}`),
    provisionalUom: (sku) => this.unknown.get(sku),
    identity: (site, identity) => this.identities.get(`${site}\u0000${identity}`),
    balance: (k) => this.balances.get(keyStr(k))?.onHand,
    locationBatches: (site, location, sku, project) =>
      [...this.balances.values()]
        .filter((b) => b.key.site === site && b.key.location === location && b.key.sku === sku && b.key.project === project)
        .map((b) => ({ batch: b.key.batch, onHand: b.onHand }))
        .sort((a, b) => cmp(a.batch, b.batch)),
    laterEffect: (scope, ts) => {
      const db = this.later.get(laterKey(scope, ts)) ?? { effect: 0, rows: 0 };
      let effect = db.effect;
      let rows = db.rows;
      for (const r of this.rows) {
        if (r.tsMs <= ts || r.site !== scope.site || r.sku !== scope.sku || r.project !== scope.project) continue;
        if (scope.batch !== undefined && r.batch !== scope.batch) continue;
        if (r.location !== scope.location && r.toLocation !== scope.location) continue;
        effect += effectAt(r, scope.location);
        rows++;
      }
      return { effect, rows };
    },
  };

  private byCode(code: string): ItemMaster | undefined {
    const sku = this.codes.get(code);
    return sku === undefined ? undefined : this.items.get(sku);
  }

  /** Apply a balance op; the balance after it. */
  add(op: BalanceOp): number {
    const ks = keyStr(op.key);
    let b = this.balances.get(ks);
    if (!b) this.balances.set(ks, (b = { key: op.key, onHand: 0, uom: op.uom, expiry: null, delta: 0, dirty: true }));
    b.onHand += op.delta;
    b.delta += op.delta;
    if (op.expiry) b.expiry = op.expiry;
    b.dirty = true;
    return b.onHand;
  }

  /** Record what a planned (and inserted) movement changed besides balances. */
  applied(m: Movement, p: Plan): void {
    if (p.newUnknown) {
      this.unknown.set(p.newUnknown.sku, p.newUnknown.uom);
      this.newUnknown.push({ ...p.newUnknown, site: m.site, movementId: m.id });
    }
    if (p.identity) this.identities.set(`${m.site}\u0000${p.identity.identity}`, { inStock: p.identity.inStock, location: p.identity.location, sku: p.sku, movementId: m.id, dirty: true });
    if (p.status === 'applied' && p.baseQty !== null) {
      this.rows.push({ site: m.site, sku: p.sku, project: p.key.project, batch: p.key.batch, location: m.location, toLocation: m.toLocation ?? null, kind: m.kind, baseQty: p.baseQty, variance: p.variance, tsMs: p.tsMs });
    }
  }

  /**
   * Write the balances as increments of the committed values, rows in key order (commits of a site
   * lock them in one order), then lock the chain heads of `sites` (site order) into `heads`, in
   * one statement; return each balance row's value before this commit: the value returned after
   * the increment minus this commit's net change. A row another commit is changing is waited for
   * and re-read (READ COMMITTED), so that value is the one its last writer committed.
   */
  async writeBalances(c: pg.PoolClient, now: string, sites: string[], heads: Map<string, ChainHead & { id: string }>, wantBefore: boolean): Promise<Map<string, number>> {
    const before = new Map<string, number>();
    const bal = [...this.balances.values()].filter((b) => b.dirty).sort((a, b) => cmp(keyStr(a.key), keyStr(b.key)));
    if (bal.length === 0 && sites.length === 0) return before;
    const r = await c.query<{ t: number; site: string; location: string; sku: string; batch: string; project: string; on_hand: number; n: number; hash: string; pos: number; id: string }>({
      name: 'sg-balances-heads',
      text: `WITH b AS (
          INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
          SELECT x.site, x.location, x.sku, x.batch, x.project, x.delta, x.uom, x.expiry, $2 FROM unnest($1::balance_increment[]) AS x
          ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET
            on_hand = balances.on_hand + excluded.on_hand, expiry = COALESCE(excluded.expiry, balances.expiry), updated_at = excluded.updated_at
          RETURNING site, location, sku, batch, project, on_hand),
        h AS (
          INSERT INTO chain_heads (site, n, hash, pos, id) SELECT s, 0, $4, 0, '' FROM unnest($3::text[]) AS u(s)
          WHERE (SELECT count(*) FROM b) >= 0 ORDER BY s COLLATE "C"
          ON CONFLICT (site) DO UPDATE SET site = chain_heads.site RETURNING site, n, hash, pos, id)
        SELECT 0 AS t, site, location, sku, batch, project, on_hand, NULL::bigint AS n, NULL::text AS hash, NULL::bigint AS pos, NULL::text AS id FROM b WHERE $5
        UNION ALL SELECT 1, site, NULL, NULL, NULL, NULL, NULL, n, hash, pos, id FROM h`,
      values: [
        `{${bal.map((b) => `"(${recordField(b.key.site)},${recordField(b.key.location)},${recordField(b.key.sku)},${recordField(b.key.batch)},${recordField(b.key.project)},${b.delta},${recordField(b.uom)},${recordField(b.expiry)})"`).join(',')}}`,
        now,
        sites,
        GENESIS,
        // The balance rows come back only for the NEGATIVE_STOCK checks (the CTE runs whole anyway).
        wantBefore,
      ],
    });
    for (const row of r.rows) {
      if (row.t === 1) {
        heads.set(row.site, { site: row.site, n: row.n, hash: row.hash, pos: row.pos, id: row.id });
        continue;
      }
      const k = keyStr(row);
      before.set(k, row.on_hand - this.balances.get(k)!.delta);
    }
    return before;
  }

  /** Write identities (their sites are locked exclusive) and provisional units; in key order. */
  async writeOthers(c: pg.PoolClient, now: string): Promise<void> {
    const ids = [...this.identities.entries()].filter(([, s]) => s.dirty).sort((a, b) => cmp(a[0], b[0]));
    if (ids.length) {
      await c.query({
        name: 'sg-identities-write',
        text: `INSERT INTO identities (site, identity, sku, in_stock, location, last_movement_id, updated_at)
          SELECT s, i, k, v, l, mid, $2 FROM json_to_recordset($1::json) AS x(s text, i text, k text, v boolean, l text, mid text)
          ON CONFLICT (site, identity) DO UPDATE SET in_stock = excluded.in_stock, location = excluded.location,
            last_movement_id = excluded.last_movement_id, updated_at = excluded.updated_at`,
        values: [
          JSON.stringify(ids.map(([k, s]) => ({ s: k.slice(0, k.indexOf('\u0000')), i: k.slice(k.indexOf('\u0000') + 1), k: s.sku, v: s.inStock, l: s.location, mid: s.movementId }))),
          now,
        ],
      });
    }
    if (this.newUnknown.length) {
      // Another commit (of any site) wrote one of these first, after we read: our plan used a unit
      // it no longer has; replayed, it plans with that one (and raises no second UNKNOWN_ITEM).
      const r = await c.query({
        name: 'sg-unknown-write',
        text: `INSERT INTO unknown_items (sku, uom, site, movement_id, first_seen)
          SELECT k, u, s, mid, $2 FROM json_to_recordset($1::json) AS x(k text, u text, s text, mid text) ORDER BY k COLLATE "C" ON CONFLICT (sku) DO NOTHING RETURNING sku`,
        values: [JSON.stringify(this.newUnknown.map((x) => ({ k: x.sku, u: x.uom, s: x.site, mid: x.movementId }))), now],
      });
      if (r.rows.length !== this.newUnknown.length) throw Object.assign(new Error('ledger: a provisional unit was written concurrently; retrying'), { code: '40001' });
    }
  }
}

/** The refused seqs of a batch that belong to this edge (CommitBatch.refused). */
function ownRefused(b: CommitBatch, e: { site: string; edge: string }): readonly number[] {
  return b.refused && b.refused.site === e.site && b.refused.edge === e.edge ? b.refused.seqs : [];
}
