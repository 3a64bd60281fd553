import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Movement } from '../../protocols/mqtt/index.js';
import { postgresMigrations } from './postgres-migrations.js';
import {
  identityOf,
  type CommitBatch,
  type CommitBatchResult,
  type CommitResult,
  type DeadLetter,
  type DeadLetterInput,
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

/** Advisory lock namespace ('SG'): key 1 = migrations of a schema, 2 = an edge's commits. */
const LOCK_NS_MIGRATE = 0x5347_0001;
const LOCK_NS_EDGE = 0x5347_0002;
/** Same bound as the SQLite store: a huge gap is reported in parts. */
const SEQ_SCAN_LIMIT = 100_000;
/**
 * With other ingesters active, a seq hole is reported only once it is this old: the batch before
 * ours may still be on its way through another ingester. Below the edges' ack timeout (10 s).
 */
const GAP_GRACE = '3 seconds';

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;
const SCHEMA_RE = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** int8 and numeric come back as JS numbers (seqs and positions are safe integers; qty is rounded). */
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 || oid === 1700) return (v: string) => Number(v);
    return pg.types.getTypeParser(oid, format);
  }) as typeof pg.types.getTypeParser,
};

interface Key {
  site: string;
  location: string;
  sku: string;
  batch: string;
  project: string;
}
const keyStr = (k: Key) => `${k.site}\u0000${k.location}\u0000${k.sku}\u0000${k.batch}\u0000${k.project}`;

/** One balance operation of one applied movement, in commit order. */
type Op = { kind: 'add'; delta: number; item: Item } | { kind: 'set'; qty: number; item: Item };

interface Item {
  m: Movement;
  batch: number;
  sku: string;
  key: Key;
  /** First occurrence of its id in this commit (later ones are duplicates whatever happens). */
  first: boolean;
  outcome?: MovementOutcome;
  /** Exceptions raised, in order (identity first, then balances, as the SQLite store does). */
  raised: Array<{ type: ExceptionType; key: Key; message: string; identity?: string; onHand?: number }>;
  variance?: number;
}

interface KeyState {
  key: Key;
  ops: Op[];
  uom: string;
  /** expiry of the first op (a new row starts with it). */
  firstExpiry: string | null;
  /** Last non-null expiry (balances keep COALESCE(new, old)). */
  lastExpiry: string | null;
  hasSet: boolean;
  hasNegative: boolean;
}

/**
 * The PostgreSQL store: the same ledger semantics as `SqliteStore`, for several ingesters sharing
 * one database (shared MQTT subscriptions spread one edge's batches over all of them).
 *
 * A commit is one READ COMMITTED transaction of a handful of set-based statements, whatever its
 * size: the ledger insert is one `INSERT ... SELECT FROM json_to_recordset($1) ... ON CONFLICT (id)
 * DO NOTHING RETURNING id` (the unique index on id decides exactly once, also between ingesters;
 * one JSON parameter is several times cheaper than per-column arrays, which pg serialises element
 * by element in JS), and only the rows it returns move stock. Balances are then updated in one statement, rows in key order (so
 * two commits lock them in the same order and cannot deadlock on them):
 * - without counts, atomic increments (`on_hand = round(on_hand + excluded.on_hand, 6)`), the
 *   value before derived from the value returned, for the NEGATIVE_STOCK checks;
 * - with a count in the commit, the rows are locked and read first, the sequence (counts set,
 *   variances, negatives) is played in order in memory, and the results written in one UPDATE.
 * Serialised identities are locked (placeholder rows, in key order) before they are read. The
 * whole transaction is retried on 40001/40P01. Movements of one commit are applied in order; the
 * exceptions and variances are those the SQLite store reports for the same input, and so are the
 * per-edge gaps with one writer (with competing writers see `trackSeqs`).
 */
export class PostgresStore implements Store {
  private closed = false;
  /** This store instance (one per ingester process), recorded per edge in `edge_seqs.writer`. */
  private readonly writerId = randomUUID();

  private constructor(
    private readonly pool: pg.Pool,
    private readonly maxAttempts: number,
  ) {}

  /** Connect, create the schema if asked, run pending migrations. */
  static async open(opts: PostgresStoreOptions): Promise<PostgresStore> {
    if (!/^postgres(ql)?:\/\//.test(opts.url)) throw new TypeError('store: expected a postgres:// or postgresql:// URL');
    if (opts.schema !== undefined && !SCHEMA_RE.test(opts.schema)) throw new TypeError(`store schema: '${opts.schema}' is not a plain identifier`);
    const pool = new pg.Pool({ connectionString: opts.url, max: opts.maxConnections ?? 8, types });
    // Idle clients can fail (server restart): log nothing here, the next query reconnects.
    pool.on('error', () => undefined);
    if (opts.schema !== undefined) {
      // Queued before any query of the new connection, so every statement sees the schema.
      const set = `SET search_path TO "${opts.schema}"`;
      pool.on('connect', (c) => void c.query(set).catch(() => undefined));
    }
    const store = new PostgresStore(pool, opts.maxAttempts ?? 5);
    try {
      await store.migrate(opts.schema);
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw err;
    }
    return store;
  }

  /**
   * Pending migrations, each in its own transaction, under a session advisory lock keyed on the
   * schema: two ingesters starting at once migrate one after the other, the second finds nothing
   * left to do.
   */
  private async migrate(schema: string | undefined): Promise<void> {
    const c = await this.pool.connect();
    let broken = false;
    try {
      await c.query('SELECT pg_advisory_lock($1, hashtext(coalesce($2, current_schema(), \'\')))', [LOCK_NS_MIGRATE, schema ?? null]);
      try {
        if (schema !== undefined) await c.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
        else if ((await c.query<{ s: string | null }>('SELECT current_schema() AS s')).rows[0]!.s === null) {
          throw new Error('store: no schema of the search_path exists: create it (CREATE SCHEMA ...) or fix search_path in the URL');
        }
        await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
        const done = new Set((await c.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version));
        for (const m of postgresMigrations) {
          if (done.has(m.version)) continue;
          await c.query('BEGIN');
          try {
            await c.query(m.sql);
            await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, new Date().toISOString()]);
            await c.query('COMMIT');
          } catch (err) {
            await c.query('ROLLBACK').catch(() => undefined);
            throw err;
          }
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock($1, hashtext(coalesce($2, current_schema(), \'\')))', [LOCK_NS_MIGRATE, schema ?? null]).catch(() => {
          broken = true;
        });
      }
    } finally {
      c.release(broken);
    }
  }

  async commit(batches: readonly CommitBatch[]): Promise<CommitResult> {
    if (batches.length === 0) return { batches: [], changed: [] };
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
        if ((code === '40001' || code === '40P01') && attempt < this.maxAttempts) {
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

    // Every movement of the commit, in order. Only the first occurrence of an id may be inserted.
    const items: Item[] = [];
    const seen = new Set<string>();
    batches.forEach((b, bi) => {
      for (const raw of b.movements) {
        const m = pgSafeMovement(raw);
        const sku = m.sku ?? m.gtin ?? m.epc!;
        const first = !seen.has(m.id);
        seen.add(m.id);
        items.push({ m, batch: bi, sku, key: { site: m.site, location: m.location, sku, batch: m.batch ?? '', project: m.project ?? '' }, first, raised: [] });
      }
    });

    // Edges whose seqs this commit tracks. A shared advisory lock per edge marks "a commit of this
    // edge is in progress" for the gap report (trackSeqs); taken in key order.
    const edges = new Map<string, { site: string; edge: string; batches: number[] }>();
    batches.forEach((b, bi) => {
      const f = b.movements[0];
      if (!f || f.seq <= 0) return;
      const k = `${f.site}\u0000${f.edge}`;
      const e = edges.get(k) ?? edges.set(k, { site: f.site, edge: f.edge, batches: [] }).get(k)!;
      e.batches.push(bi);
    });
    const edgeList = [...edges.values()].sort((a, b) => cmp(a.site, b.site) || cmp(a.edge, b.edge));
    // One round trip: BEGIN and the locks (literals: site and edge are validated ids, escaped anyway).
    // Shared locks never wait on each other, and the exclusive try-lock in trackSeqs never waits.
    await c.query(
      ['BEGIN', ...edgeList.map((e) => `SELECT pg_advisory_xact_lock_shared(${LOCK_NS_EDGE}, hashtext(${pg.escapeLiteral(`${e.site}/${e.edge}`)}))`)].join(';'),
    );

    // 1. The ledger: one insert; the unique index on id decides what is new.
    const fresh = items.filter((i) => i.first);
    const inserted = new Set<string>();
    if (fresh.length) {
      // The movements go as one JSON array: JSON.stringify and the server's json parser are several
      // times cheaper than 23 text arrays (pg's array serialisation is per element, in JS).
      const r = await c.query<{ id: string }>({
        name: 'sg-ledger-insert',
        text: `INSERT INTO ledger (id, edge, seq, ts, site, location, to_location, kind, sku, gtin, epc, batch, expiry, serial, qty, uom,
            project, stage, operator, crew, device_id, device_type, raw, applied_at)
          SELECT id, edge, seq, ts, site, location, "toLocation", kind, coalesce(sku, gtin, epc), gtin, epc, coalesce(batch, ''), expiry, serial,
            qty, uom, coalesce(project, ''), stage, operator, crew, device->>'id', device->>'type', raw, $2
          FROM ROWS FROM (json_to_recordset($1::json) AS (id text, edge text, seq bigint, ts text, site text, location text, "toLocation" text,
            kind text, sku text, gtin text, epc text, batch text, expiry text, serial text, qty numeric, uom text, project text, stage text,
            operator text, crew text, device json, raw text)) WITH ORDINALITY AS u
          ORDER BY u.ordinality
          ON CONFLICT (id) DO NOTHING
          RETURNING id`,
        values: [JSON.stringify(fresh.map((i) => i.m)), now],
      });
      for (const row of r.rows) inserted.add(row.id);
    }
    const applied: Item[] = [];
    for (const i of items) {
      if (!i.first || !inserted.has(i.m.id)) i.outcome = 'duplicate';
      else applied.push(i);
    }

    // 2. Serialised identities, then 3. balances, then 4. the rows that need more than the insert.
    await this.trackIdentities(c, applied, now);
    const stockItems = applied.filter((i) => i.outcome !== 'exception');
    for (const i of stockItems) i.outcome = 'applied';
    await this.applyBalances(c, stockItems, now);

    const raised = applied.flatMap((i) => i.raised.map((e) => ({ ...e, m: i.m })));
    if (raised.length) {
      await c.query({
        name: 'sg-exceptions-insert',
        text: `INSERT INTO exceptions (type, site, movement_id, sku, location, batch, project, identity, on_hand, message, raised_at)
          SELECT type, site, mid, sku, location, batch, project, identity, on_hand, message, $11
          FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::numeric[], $10::text[])
            WITH ORDINALITY AS u(type, site, mid, sku, location, batch, project, identity, on_hand, message, ord)
          ORDER BY ord`,
        values: [
          raised.map((e) => e.type),
          raised.map((e) => e.key.site),
          raised.map((e) => e.m.id),
          raised.map((e) => e.key.sku),
          raised.map((e) => e.key.location),
          raised.map((e) => e.key.batch),
          raised.map((e) => e.key.project),
          raised.map((e) => e.identity ?? null),
          raised.map((e) => e.onHand ?? null),
          raised.map((e) => e.message),
          now,
        ],
      });
    }
    const patched = applied.filter((i) => i.outcome === 'exception' || i.variance !== undefined);
    if (patched.length) {
      await c.query({
        name: 'sg-ledger-patch',
        text: `UPDATE ledger SET status = u.status, variance = u.variance
          FROM unnest($1::text[], $2::text[], $3::numeric[]) AS u(id, status, variance) WHERE ledger.id = u.id`,
        values: [patched.map((i) => i.m.id), patched.map((i) => (i.outcome === 'exception' ? 'exception' : 'applied')), patched.map((i) => i.variance ?? null)],
      });
    }

    // 5. Dead letters, ids in insertion order (identity values grow within the statement).
    const dead = batches.flatMap((b, bi) => b.deadLetters.map((d) => ({ d: pgSafeDeadLetter(d), bi })));
    const deadIds: number[][] = batches.map(() => []);
    if (dead.length) {
      const r = await c.query<{ id: number }>({
        name: 'sg-dead-insert',
        text: `INSERT INTO dead_letters (received_at, topic, site, edge, reason, message, payload)
          SELECT $1, topic, site, edge, reason, message, payload
          FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) WITH ORDINALITY AS u(topic, site, edge, reason, message, payload, ord)
          ORDER BY ord RETURNING id`,
        values: [
          now,
          dead.map((x) => x.d.topic),
          dead.map((x) => x.d.site ?? null),
          dead.map((x) => x.d.edge ?? null),
          dead.map((x) => x.d.reason),
          dead.map((x) => x.d.message),
          dead.map((x) => x.d.payload),
        ],
      });
      const ids = r.rows.map((x) => x.id).sort((a, b) => a - b);
      dead.forEach((x, k) => deadIds[x.bi]!.push(ids[k]!));
    }

    // 6. Per-edge seq tracking.
    const missing = await this.trackSeqs(c, batches, edgeList, now);

    const changed = new Map<string, CommitResult['changed'][number]>();
    for (const i of stockItems) {
      const key = `${i.m.site}\u0000${i.sku}`;
      const was = changed.get(key);
      changed.set(key, i.m.expiry || was?.expiry ? { site: i.m.site, sku: i.sku, expiry: true } : { site: i.m.site, sku: i.sku });
    }
    const results: CommitBatchResult[] = batches.map((_, bi) => ({
      applied: 0,
      duplicates: 0,
      exceptions: 0,
      deadLetterIds: deadIds[bi]!,
      outcomes: [],
      missing: missing.get(bi) ?? [],
    }));
    for (const i of items) {
      const r = results[i.batch]!;
      r.outcomes.push(i.outcome!);
      if (i.outcome === 'duplicate') r.duplicates++;
      else if (i.outcome === 'applied') r.applied++;
      r.exceptions += i.raised.length;
    }
    return { batches: results, changed: [...changed.values()] };
  }

  /**
   * Identity rows are created as placeholders (not in stock) and locked in key order, then the
   * movements are played in order in memory, as `SqliteStore.trackIdentity` does, and the final
   * states written back. A receive of an identity already in stock becomes outcome 'exception'.
   */
  private async trackIdentities(c: pg.PoolClient, applied: Item[], now: string): Promise<void> {
    const withId = applied.map((i) => ({ i, identity: identityOf(i.m) })).filter((x): x is { i: Item; identity: string } => x.identity !== undefined);
    if (withId.length === 0) return;
    const keys = new Map<string, { site: string; identity: string; sku: string }>();
    for (const { i, identity } of withId) {
      const k = `${i.m.site}\u0000${identity}`;
      if (!keys.has(k)) keys.set(k, { site: i.m.site, identity, sku: i.sku });
    }
    const list = [...keys.values()];
    const r = await c.query<{ site: string; identity: string; in_stock: boolean; location: string }>({
      name: 'sg-identities-lock',
      text: `INSERT INTO identities (site, identity, sku, in_stock, location, last_movement_id, updated_at)
        SELECT s, i, k, false, '', '', $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS u(s, i, k) ORDER BY s COLLATE "C", i COLLATE "C"
        ON CONFLICT (site, identity) DO UPDATE SET site = identities.site
        RETURNING site, identity, in_stock, location`,
      values: [list.map((x) => x.site), list.map((x) => x.identity), list.map((x) => x.sku), now],
    });
    const state = new Map<string, { inStock: boolean; location: string; lastMovementId?: string }>();
    for (const row of r.rows) state.set(`${row.site}\u0000${row.identity}`, { inStock: row.in_stock, location: row.location });
    for (const { i, identity } of withId) {
      const { m, key: k } = i;
      const cur = state.get(`${m.site}\u0000${identity}`)!;
      const put = (inStock: boolean, location: string) => {
        cur.inStock = inStock;
        cur.location = location;
        cur.lastMovementId = m.id;
      };
      switch (m.kind) {
        case 'receive':
        case 'return':
          if (cur.inStock) {
            i.raised.push({ type: 'DUPLICATE_IDENTITY', key: k, identity, message: `${identity} is already in stock at ${k.site} (${cur.location}): ${m.kind} not counted` });
            i.outcome = 'exception';
          } else put(true, m.location);
          break;
        case 'issue':
          if (!cur.inStock) i.raised.push({ type: 'IDENTITY_NOT_IN_STOCK', key: k, identity, message: `${identity} was not in stock at ${k.site} when issued` });
          put(false, m.location);
          break;
        case 'transfer':
          if (!cur.inStock) i.raised.push({ type: 'IDENTITY_NOT_IN_STOCK', key: k, identity, message: `${identity} was not in stock at ${k.site} when transferred` });
          put(true, m.toLocation!);
          break;
        case 'count':
        case 'adjust':
          put(m.qty > 0, m.location);
          break;
      }
    }
    const writes = [...state.entries()].filter(([, s]) => s.lastMovementId !== undefined);
    if (writes.length === 0) return;
    await c.query({
      name: 'sg-identities-write',
      text: `UPDATE identities SET in_stock = u.in_stock, location = u.location, last_movement_id = u.mid, updated_at = $6
        FROM unnest($1::text[], $2::text[], $3::bool[], $4::text[], $5::text[]) AS u(s, i, in_stock, location, mid)
        WHERE identities.site = u.s AND identities.identity = u.i`,
      values: [
        writes.map(([k]) => k.split('\u0000')[0]!),
        writes.map(([k]) => k.slice(k.indexOf('\u0000') + 1)),
        writes.map(([, s]) => s.inStock),
        writes.map(([, s]) => s.location),
        writes.map(([, s]) => s.lastMovementId!),
        now,
      ],
    });
  }

  private async applyBalances(c: pg.PoolClient, items: Item[], now: string): Promise<void> {
    const keys = new Map<string, KeyState>();
    const op = (key: Key, o: Op) => {
      const ks = keyStr(key);
      let s = keys.get(ks);
      if (!s) {
        s = { key, ops: [], uom: o.item.m.uom, firstExpiry: o.item.m.expiry ?? null, lastExpiry: null, hasSet: false, hasNegative: false };
        keys.set(ks, s);
      }
      s.ops.push(o);
      if (o.item.m.expiry) s.lastExpiry = o.item.m.expiry;
      if (o.kind === 'set') s.hasSet = true;
      else if (o.delta < 0) s.hasNegative = true;
    };
    for (const i of items) {
      const { m } = i;
      switch (m.kind) {
        case 'receive':
        case 'return':
        case 'adjust':
          op(i.key, { kind: 'add', delta: m.qty, item: i });
          break;
        case 'issue':
          op(i.key, { kind: 'add', delta: -m.qty, item: i });
          break;
        case 'transfer':
          op(i.key, { kind: 'add', delta: -m.qty, item: i });
          op({ ...i.key, location: m.toLocation! }, { kind: 'add', delta: m.qty, item: i });
          break;
        case 'count':
          op(i.key, { kind: 'set', qty: m.qty, item: i });
          break;
      }
    }
    if (keys.size === 0) return;
    const list = [...keys.values()];
    const cols = (f: (s: KeyState) => unknown) => list.map(f);
    const keyCols = [cols((s) => s.key.site), cols((s) => s.key.location), cols((s) => s.key.sku), cols((s) => s.key.batch), cols((s) => s.key.project)];
    const before = new Map<string, number>();

    if (!list.some((s) => s.hasSet)) {
      // Atomic increments: correct whatever other ingesters commit meanwhile.
      const deltas = list.map((s) => round6(s.ops.reduce((a, o) => a + (o.kind === 'add' ? o.delta : 0), 0)));
      const needBefore = list.some((s) => s.hasNegative);
      const rows = list.map((s, k) => ({ s: s.key.site, l: s.key.location, k: s.key.sku, b: s.key.batch, p: s.key.project, d: deltas[k], u: s.uom, e: s.lastExpiry }));
      const r = await c.query<Key & { on_hand: number }>({
        name: needBefore ? 'sg-balances-add-returning' : 'sg-balances-add',
        text: `INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
          SELECT s, l, k, b, p, round(d, 6), u, e, $2
          FROM json_to_recordset($1::json) AS x(s text, l text, k text, b text, p text, d numeric, u text, e text)
          ORDER BY s COLLATE "C", l COLLATE "C", k COLLATE "C", b COLLATE "C", p COLLATE "C"
          ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET
            on_hand = round(balances.on_hand + excluded.on_hand, 6),
            expiry = COALESCE(excluded.expiry, balances.expiry),
            updated_at = excluded.updated_at
          ${needBefore ? 'RETURNING site, location, sku, batch, project, on_hand' : ''}`,
        values: [JSON.stringify(rows), now],
      });
      if (!needBefore) return;
      const d = new Map(list.map((s, k) => [keyStr(s.key), deltas[k]!]));
      for (const row of r.rows) before.set(keyStr(row), round6(row.on_hand - d.get(keyStr(row))!));
      for (const s of list) if (s.hasNegative) play(s, before.get(keyStr(s.key)) ?? 0);
      return;
    }

    // A count sets the stock and records a variance against the value before it: lock and read the
    // rows (new ones start at 0), play every key's operations in order, write the results.
    const r = await c.query<Key & { on_hand: number }>({
      name: 'sg-balances-lock',
      text: `INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
        SELECT s, l, k, b, p, 0, u, e, $8
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(s, l, k, b, p, u, e)
        ORDER BY s COLLATE "C", l COLLATE "C", k COLLATE "C", b COLLATE "C", p COLLATE "C"
        ON CONFLICT (site, location, sku, batch, project) DO UPDATE SET on_hand = balances.on_hand
        RETURNING site, location, sku, batch, project, on_hand`,
      values: [...keyCols, cols((s) => s.uom), cols((s) => s.firstExpiry), now],
    });
    for (const row of r.rows) before.set(keyStr(row), row.on_hand);
    const finals = list.map((s) => play(s, before.get(keyStr(s.key)) ?? 0));
    await c.query({
      name: 'sg-balances-set',
      text: `UPDATE balances SET on_hand = x.v, expiry = COALESCE(x.e, balances.expiry), updated_at = $8
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::numeric[], $7::text[]) AS x(s, l, k, b, p, v, e)
        WHERE balances.site = x.s AND balances.location = x.l AND balances.sku = x.k AND balances.batch = x.b AND balances.project = x.p`,
      values: [...keyCols, finals, cols((s) => s.lastExpiry), now],
    });
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
      return { ...e, hwm: s?.hwm ?? 0, max: s?.max_seq ?? 0, hi, gapSeq: s?.gap_seq ?? null, gapOld: s?.gap_old ?? false };
    });
    const scan = plans.filter((p) => p.hi > p.hwm);
    const seqs = new Map<string, number[]>();
    if (scan.length) {
      const r = await c.query<{ s: string; e: string; seqs: number[] }>({
        name: 'sg-edge-seqs-scan',
        text: `SELECT x.s, x.e, ARRAY(SELECT DISTINCT l.seq FROM ledger l WHERE l.site = x.s AND l.edge = x.e AND l.seq > x.lo AND l.seq <= x.hi
            ORDER BY l.seq LIMIT ${SEQ_SCAN_LIMIT})::float8[] AS seqs
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
    const r = await this.pool.query<StockRow>({
      name: `sg-stock-${q.site !== undefined ? 1 : 0}${q.sku !== undefined ? 1 : 0}${q.location !== undefined ? 1 : 0}`,
      text: `SELECT site, location, sku, batch, project, on_hand AS "onHand", uom, expiry, updated_at AS "updatedAt"
        FROM balances ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY site, sku, location, batch, project`,
      values: args,
    });
    return r.rows;
  }

  async totals(q: { site?: string; pairs?: Array<{ site: string; sku: string }> }): Promise<SkuTotal[]> {
    const select = `SELECT b.site, b.sku, round(sum(b.on_hand), 6) AS "onHand", max(b.uom) AS uom, count(DISTINCT b.location) AS locations,
      max(b.updated_at) AS "updatedAt" FROM balances b`;
    if (q.pairs) {
      if (q.pairs.length === 0) return [];
      const r = await this.pool.query<SkuTotal>({
        name: 'sg-totals-pairs',
        text: `${select} JOIN (SELECT DISTINCT s, k FROM unnest($1::text[], $2::text[]) AS u(s, k)) p ON b.site = p.s AND b.sku = p.k
          GROUP BY b.site, b.sku ORDER BY b.site, b.sku`,
        values: [q.pairs.map((p) => p.site), q.pairs.map((p) => p.sku)],
      });
      return r.rows;
    }
    if (q.site !== undefined) {
      return (await this.pool.query<SkuTotal>({ name: 'sg-totals-site', text: `${select} WHERE b.site = $1 GROUP BY b.site, b.sku ORDER BY b.site, b.sku`, values: [q.site] })).rows;
    }
    return (await this.pool.query<SkuTotal>({ name: 'sg-totals', text: `${select} GROUP BY b.site, b.sku ORDER BY b.site, b.sku` })).rows;
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

  async deadLetters(q: { site?: string; limit: number; before?: number }): Promise<DeadLetter[]> {
    const where: string[] = [];
    const args: Array<string | number> = [q.limit];
    if (q.site !== undefined) (args.push(q.site), where.push(`site = $${args.length}`));
    if (q.before !== undefined) (args.push(q.before), where.push(`id < $${args.length}`));
    const r = await this.pool.query<DeadLetter & { site: string | null; edge: string | null }>({
      name: `sg-dead-${q.site !== undefined ? 1 : 0}${q.before !== undefined ? 1 : 0}`,
      text: `SELECT id, received_at AS "receivedAt", topic, site, edge, reason, message, payload FROM dead_letters
        ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT $1`,
      values: args,
    });
    return r.rows.map(({ site, edge, ...rest }) => ({ ...rest, ...(site === null ? {} : { site }), ...(edge === null ? {} : { edge }) }));
  }

  async movement(id: string): Promise<LedgerRow | undefined> {
    const r = await this.pool.query<Record<string, unknown>>({ name: 'sg-movement', text: 'SELECT * FROM ledger WHERE id = $1', values: [id] });
    return r.rows[0] ? ledgerRow(r.rows[0]) : undefined;
  }

  async fefo(q: { site: string; sku: string }): Promise<StockRow[]> {
    const r = await this.pool.query<StockRow>({
      name: 'sg-fefo',
      text: `SELECT site, location, sku, batch, project, on_hand AS "onHand", uom, expiry, updated_at AS "updatedAt"
        FROM balances WHERE site = $1 AND sku = $2 AND on_hand > 0
        ORDER BY expiry IS NULL, expiry, batch, location, project`,
      values: [q.site, q.sku],
    });
    return r.rows;
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

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * What PostgreSQL text cannot hold: NUL, and (through the JSON parameter) lone UTF-16 surrogates.
 * Both pass the wire schema; left in, they would fail the whole group commit on every resend.
 */
const NOT_PG_TEXT = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const NOT_PG_TEXT_ALL = new RegExp(NOT_PG_TEXT.source, 'g');
const pgText = (s: string) => (NOT_PG_TEXT.test(s) ? s.replace(NOT_PG_TEXT_ALL, '\uFFFD') : s);

/** The movement with U+FFFD for what PostgreSQL text cannot hold (the same object when clean). */
function pgSafeMovement(m: Movement): Movement {
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'string' && NOT_PG_TEXT.test(v)) (out ??= { ...m })[k] = pgText(v);
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
 * Play one key's operations in commit order from the value before the commit, as the SQLite
 * store applies them one by one: adds round to 6 decimals, a count sets the value and records its
 * variance, a decrease that ends below zero raises NEGATIVE_STOCK. Returns the final value.
 */
function play(s: KeyState, before: number): number {
  let v = before;
  for (const o of s.ops) {
    const { m } = o.item;
    if (o.kind === 'set') {
      o.item.variance = round6(o.qty - v);
      v = o.qty;
      continue;
    }
    v = round6(v + o.delta);
    if (o.delta < 0 && v < 0) {
      o.item.raised.push({ type: 'NEGATIVE_STOCK', key: s.key, onHand: v, message: `${m.kind} of ${m.qty} ${m.uom} took ${s.key.sku} at ${s.key.location} to ${v}` });
    }
  }
  return v;
}

