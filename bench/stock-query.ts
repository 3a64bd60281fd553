/**
 * `npm run bench -- --stock-query`: the stock lookup a dock or an ERP makes most,
 * `GET /api/v1/stock?site=&sku=`, on a big ledger. The ledger is generated inside the database
 * (SQLite: a recursive CTE in transactions of 1M rows; PostgreSQL: generate_series), not through
 * MQTT; balances are aggregated from it with one GROUP BY. Then:
 * - HTTP: p50/p99 over `requests` sequential requests with random SKUs against `stockgate cloud`
 *   serving that database (after 200 warm-up requests);
 * - store: the same for `store.stock({site, sku})` called in this process.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresStore } from '../cloud/store/postgres.js';
import { SqliteStore } from '../cloud/store/sqlite.js';
import type { Store } from '../cloud/store/store.js';
import { percentile, printTable, round3, startCloud, writeResults } from './common.js';

const SITE = 'bench-sq';
const LOCATIONS = 4;
const CHUNK = 1_000_000;
const WARMUP = 200;

interface Options {
  stores: Array<'sqlite' | 'pg'>;
  skus: number;
  ledgerRows: number;
  requests: number;
  pgUrl: string;
  out: string;
  machine: Record<string, unknown>;
}

interface Latency {
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  requests: number;
}

const skuName = (i: number) => `SKU-${String(i).padStart(6, '0')}`;

async function measure(n: number, skus: number, call: (sku: string) => Promise<unknown>): Promise<Latency> {
  for (let i = 0; i < WARMUP; i++) await call(skuName(Math.floor(Math.random() * skus)));
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const sku = skuName(Math.floor(Math.random() * skus));
    const t0 = performance.now();
    await call(sku);
    t.push(performance.now() - t0);
  }
  const mean = t.reduce((a, b) => a + b, 0) / t.length;
  t.sort((a, b) => a - b);
  return { p50Ms: round3(percentile(t, 50)), p99Ms: round3(percentile(t, 99)), meanMs: round3(mean), requests: n };
}

/**
 * HTTP and store-call latencies, each with its floor measured the same way: `GET /healthz` (no
 * query) for HTTP, and for PostgreSQL a `SELECT 1` round trip (`roundTrip`): on a loaded 2-core
 * machine the p99 of anything that crosses processes is mostly scheduling, not the query.
 */
async function httpAndStore(
  cloudArgs: string[],
  store: Store,
  o: Options,
  roundTrip?: () => Promise<unknown>,
): Promise<{ http: Latency; httpFloor: Latency; store: Latency; storeFloor?: Latency; rowsPerSku: number }> {
  const cloud = await startCloud(cloudArgs);
  try {
    const probe = (await (await fetch(`${cloud.url}/api/v1/stock?site=${SITE}&sku=${skuName(1)}`)).json()) as { items: unknown[] };
    const get = async (path: string) => {
      const res = await fetch(`${cloud.url}${path}`);
      if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
      await res.json();
    };
    const http = await measure(o.requests, o.skus, (sku) => get(`/api/v1/stock?site=${SITE}&sku=${sku}`));
    const httpFloor = await measure(o.requests, o.skus, () => get('/healthz'));
    const direct = await measure(o.requests, o.skus, (sku) => store.stock({ site: SITE, sku }));
    const storeFloor = roundTrip ? await measure(o.requests, o.skus, roundTrip) : undefined;
    return { http, httpFloor, store: direct, ...(storeFloor ? { storeFloor } : {}), rowsPerSku: probe.items.length };
  } finally {
    await cloud.kill();
  }
}

async function sqlite(o: Options) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-sq-'));
  try {
    mkdirSync(join(dir, 'cloud'));
    const path = join(dir, 'cloud', 'ledger.db');
    await new SqliteStore(path).close(); // migrations
    const db = new Database(path);
    db.pragma('synchronous = OFF');
    const now = new Date().toISOString();
    const t0 = performance.now();
    const gen = db.prepare(`WITH RECURSIVE c(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM c WHERE i < ?)
      INSERT INTO ledger (id, edge, seq, ts, site, location, kind, sku, batch, qty, uom, project, device_id, device_type, raw, applied_at)
      SELECT printf('G%012d', i), 'gen-' || (i % 8), i, @ts, '${SITE}', 'BIN-' || ((i / ${o.skus}) % ${LOCATIONS}), 'receive',
        printf('SKU-%06d', i % ${o.skus}), '', 1, 'ea', '', 'gen', 'scanner', 'generated', @ts FROM c`);
    for (let from = 1; from <= o.ledgerRows; from += CHUNK) {
      const to = Math.min(o.ledgerRows, from + CHUNK - 1);
      db.transaction(() => gen.run(from, to, { ts: now }))();
    }
    const ledgerSecs = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    db.prepare(`INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
      SELECT site, location, sku, batch, project, SUM(qty), 'ea', NULL, ? FROM ledger WHERE site = '${SITE}' GROUP BY site, location, sku, batch, project`).run(now);
    db.exec('ANALYZE');
    const balanceSecs = (performance.now() - t1) / 1000;
    const counts = db.prepare('SELECT (SELECT COUNT(*) FROM ledger) AS ledger, (SELECT COUNT(*) FROM balances) AS balances').get() as { ledger: number; balances: number };
    const plan = (db.prepare(`EXPLAIN QUERY PLAN SELECT * FROM balances WHERE site = ? AND sku = ? ORDER BY site, sku, location, batch, project`).all(SITE, 'x') as Array<{ detail: string }>)
      .map((r) => r.detail)
      .join('; ');
    db.close();
    const store = new SqliteStore(path);
    try {
      const m = await httpAndStore(['--data-dir', join(dir, 'cloud')], store, o);
      return { ledgerRows: counts.ledger, balanceRows: counts.balances, generateSecs: { ledger: Math.round(ledgerSecs), balances: Math.round(balanceSecs) }, plan, ...m };
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function postgres(o: Options) {
  const schema = `sg_bench_sq_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: o.pgUrl });
  await admin.connect();
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-sq-pg-'));
  try {
    await (await PostgresStore.open({ url: o.pgUrl, schema })).close(); // schema + migrations
    await admin.query(`SET search_path TO "${schema}"`);
    await admin.query('SET synchronous_commit = off');
    const now = new Date().toISOString();
    const t0 = performance.now();
    for (let from = 1; from <= o.ledgerRows; from += CHUNK) {
      const to = Math.min(o.ledgerRows, from + CHUNK - 1);
      await admin.query(
        `INSERT INTO ledger (id, edge, seq, ts, site, location, kind, sku, batch, qty, uom, project, device_id, device_type, raw, applied_at)
        SELECT 'G' || lpad(i::text, 12, '0'), 'gen-' || (i % 8), i, $3, '${SITE}', 'BIN-' || ((i / ${o.skus}) % ${LOCATIONS}), 'receive',
          'SKU-' || lpad((i % ${o.skus})::text, 6, '0'), '', 1, 'ea', '', 'gen', 'scanner', 'generated', $3
        FROM generate_series($1::bigint, $2::bigint) AS i`,
        [from, to, now],
      );
    }
    const ledgerSecs = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    await admin.query(
      `INSERT INTO balances (site, location, sku, batch, project, on_hand, uom, expiry, updated_at)
      SELECT site, location, sku, batch, project, sum(qty), 'ea', NULL, $1 FROM ledger WHERE site = '${SITE}' GROUP BY site, location, sku, batch, project`,
      [now],
    );
    await admin.query('VACUUM ANALYZE balances');
    await admin.query('ANALYZE ledger');
    const balanceSecs = (performance.now() - t1) / 1000;
    const counts = (await admin.query<{ ledger: number; balances: number }>('SELECT (SELECT count(*) FROM ledger)::int AS ledger, (SELECT count(*) FROM balances)::int AS balances')).rows[0]!;
    const plan = (
      await admin.query<{ 'QUERY PLAN': string }>(
        `EXPLAIN (ANALYZE, COSTS OFF) SELECT site, location, sku, batch, project, on_hand, uom, expiry, updated_at FROM balances
        WHERE site = '${SITE}' AND sku = '${skuName(7)}' ORDER BY site, sku, location, batch, project`,
      )
    ).rows
      .map((r) => r['QUERY PLAN'].trim())
      .join('; ');
    const store = await PostgresStore.open({ url: o.pgUrl, schema });
    const rt = new pg.Client({ connectionString: o.pgUrl });
    await rt.connect();
    try {
      const sep = o.pgUrl.includes('?') ? '&' : '?';
      const m = await httpAndStore(['--data-dir', join(dir, 'cloud'), '--store', `${o.pgUrl}${sep}options=-csearch_path%3D${schema}`], store, o, () =>
        rt.query({ name: 'rt', text: 'SELECT 1' }),
      );
      return { ledgerRows: counts.ledger, balanceRows: counts.balances, generateSecs: { ledger: Math.round(ledgerSecs), balances: Math.round(balanceSecs) }, plan, ...m };
    } finally {
      await rt.end();
      await store.close();
    }
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined);
    await admin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function stockQueryBench(o: Options): Promise<void> {
  const at = new Date().toISOString();
  const out: Record<string, unknown> = { at, skus: o.skus, locationsPerSku: LOCATIONS };
  const rows: Array<[string, string]> = [['ledger rows / SKUs', `${o.ledgerRows} / ${o.skus}`]];
  for (const s of o.stores) {
    process.stderr.write(`stock-query: generating ${o.ledgerRows} ledger rows in ${s}...\n`);
    const r = s === 'sqlite' ? await sqlite(o) : await postgres(o);
    out[s] = r;
    rows.push(
      [`${s}: generated ledger / balances s`, `${r.generateSecs.ledger} / ${r.generateSecs.balances} (${r.ledgerRows} / ${r.balanceRows} rows)`],
      [`${s}: HTTP GET stock?site=&sku= p50 / p99 ms`, `${r.http.p50Ms} / ${r.http.p99Ms}`],
      [`${s}: HTTP floor GET /healthz p50 / p99 ms`, `${r.httpFloor.p50Ms} / ${r.httpFloor.p99Ms}`],
      [`${s}: store.stock() p50 / p99 ms`, `${r.store.p50Ms} / ${r.store.p99Ms}`],
      ...('storeFloor' in r && r.storeFloor ? [[`${s}: floor SELECT 1 round trip p50 / p99 ms`, `${r.storeFloor.p50Ms} / ${r.storeFloor.p99Ms}`] as [string, string]] : []),
      [`${s}: rows per response`, String(r.rowsPerSku)],
      [`${s}: plan`, r.plan],
    );
  }
  writeResults(o.out, { at, machine: o.machine, stockQuery: out });
  printTable(rows);
  process.stdout.write(`\nwritten: bench/results/latest.json (key "stockQuery")\n`);
}
