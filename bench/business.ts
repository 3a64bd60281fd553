/**
 * Section `business` of `npm run bench` (`--only business`, or `--business`): what the business
 * layer's ledger consumers cost per ledger row, measured alone in this process (issues 10, 14: the
 * consumers run in the cloud process after each ingest commit, on the same SQLite connection).
 *
 * 1. A fresh SQLite database with every module migrated; an item master (`--business-skus` SKUs,
 *    two in three with a standard cost), a supplier, 4 projects with 2 stages and plans, approved
 *    purchase orders for one SKU in four, and sales reservations on 10 SKUs.
 * 2. `--business-rows` deterministic movements committed through the real store (`SqliteStore`,
 *    500 per commit like a group commit): receives and issues over the SKUs, 60% of the issues to a
 *    project stage, a few returns, adjustments, counts and transfers. Not timed.
 * 3. A `LedgerFollower` with every registered consumer (`cloud/ledger-consumers.ts`) catches up
 *    from position 0: process CPU and wall time, rows/s, and the CPU per row of each consumer and of
 *    the follower itself (its own instrumentation, `status().cpu`).
 * 4. A digest (SHA-256) of what the consumers wrote (averages, cost entries, receipts, PO lines,
 *    stage issues, exceptions, ERP events, reservations): the same for the same flags whatever
 *    the consumers' implementation, so an optimisation that changes a figure shows here.
 *
 * `--cpu-prof DIR` of bench/main.ts does not profile this process: run
 * `node --cpu-prof --cpu-prof-dir DIR dist/bench/main.js --only business` (bench/README.md).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import type { Movement } from '../protocols/mqtt/index.js';
import { sql } from 'kysely';
import { type Db, openDatabase, reusableStats, type SqliteDb } from '../cloud/db/index.js';
import { ledgerConsumers } from '../cloud/ledger-consumers.js';
import { LedgerFollower } from '../cloud/ledger-follower/index.js';
import { cloudModules } from '../cloud/modules.js';
import { procurementService } from '../cloud/procurement/index.js';
import { createProject, putPlan } from '../cloud/projects/service.js';
import { getProject } from '../cloud/projects/index.js';
import { reserve } from '../cloud/sales/index.js';
import { SqliteStore } from '../cloud/store/sqlite.js';
import type { Store } from '../cloud/store/store.js';
import { round1 } from './common.js';
import type { BenchSection, Flags } from './section.js';

const SITE = 'bench';
/** A number as text (node-postgres gives BIGINT and NUMERIC so). */
const NUMBER_TEXT = /^-?\d+(\.\d+)?$/;
const PROJECTS = 4;
const PLAN_LINES = 40;
const num = (f: Flags, k: string) => Number(f[k]);
/** The SKU of plan line `j` of a project's stage. */
const planSku = (p: number, stage: string, j: number, skus: number) => `BIZ-${(p * 37 + j * 7 + (stage === 'S1' ? 0 : 3)) % skus}`;

/** Movement `i` of the run: a pure function of (i, skus). */
export function businessMovement(i: number, skus: number, reserveAfter: number): Movement {
  const h = Math.imul(i + 1, 2654435761) >>> 0;
  const k = (h >>> 8) % skus;
  const roll = h % 100;
  // The first rows only receive (stock to issue from, and to reserve); then the daily mix.
  const kind = i < reserveAfter ? 'receive' : roll < 45 ? 'receive' : roll < 90 ? 'issue' : roll < 93 ? 'return' : roll < 96 ? 'adjust' : roll < 98 ? 'count' : 'transfer';
  const m: Record<string, unknown> = {
    v: 1,
    id: `biz-${String(i).padStart(10, '0')}`,
    edge: 'biz-e1',
    seq: i + 1,
    ts: new Date(Date.UTC(2026, 11, 1) + i * 50).toISOString(),
    site: SITE,
    location: `L${(h >>> 4) % 4}`,
    kind,
    sku: `BIZ-${k}`,
    qty: kind === 'adjust' ? ((h >>> 12) % 2 ? 1 : -1) * (1 + ((h >>> 14) % 3)) : kind === 'count' ? (h >>> 12) % 50 : kind === 'receive' ? 5 + ((h >>> 12) % 40) : 1 + ((h >>> 12) % 9),
    uom: 'ea',
    operator: 'W-1',
    device: { id: 'dock1', type: 'scanner' },
    raw: 'x',
  };
  if (kind === 'transfer') m.toLocation = `L${(((h >>> 4) % 4) + 1) % 4}`;
  if ((kind === 'issue' || kind === 'return') && (h >>> 20) % 5 < 3) {
    // To a project stage: mostly a SKU of its plan (planSku), now and then one it did not plan.
    const p = (h >>> 23) % PROJECTS;
    const stage = (h >>> 26) % 2 ? 'S1' : 'S2';
    m.project = `P${p}`;
    m.stage = stage;
    if ((h >>> 27) % 16 !== 0) m.sku = planSku(p, stage, (h >>> 12) % PLAN_LINES, skus);
  }
  return m as unknown as Movement;
}

/**
 * The business tables as text, in an order that does not depend on insertion order, on either
 * dialect. Across dialects (`o.numeric`, tests/cloud/ledger-follower/dialects.test.ts) every
 * number, numeric text and boolean is read as a number: PostgreSQL gives BIGINT and NUMERIC as
 * strings (with the column's scale) and booleans as booleans where SQLite gives numbers, and a
 * raw result does not say which column had which type. Without it, values exactly as read.
 */
export async function digest(db: Db, o: { numeric?: boolean } = {}): Promise<{ sha256: string; rows: Record<string, number> }> {
  const q: Record<string, string> = {
    cost_averages: 'SELECT site, sku, qty_milli, value_exact, last_average, updated_pos FROM cost_averages ORDER BY site, sku',
    cost_entries: 'SELECT project, stage, category, source, amount_fen, exact_fen, date, period, site, sku, qty_milli, unit_cost, movement, pos FROM cost_entries ORDER BY pos, source, project',
    cost_receipts: 'SELECT movement, pos, site, sku, po, po_line, qty_milli, unit_cost, landed_exact, flag FROM cost_receipts ORDER BY pos',
    cost_carries: 'SELECT project, category, exact_fen, posted_fen FROM cost_carries ORDER BY project, category',
    receipt_matches: 'SELECT ledger_id, pos, site, sku, po_id, line, qty, unit_price, over_receipt FROM receipt_matches ORDER BY pos, po_id, line',
    po_lines: 'SELECT po_id, line, sku, qty, received FROM po_lines ORDER BY po_id, line',
    purchase_orders: 'SELECT id, status FROM purchase_orders ORDER BY id',
    stage_issues: 'SELECT project, stage, sku, issued_milli, over_exception IS NOT NULL AS over FROM stage_issues ORDER BY project, stage, sku',
    exceptions: "SELECT type, site, movement_id, sku, location, project, message FROM exceptions WHERE type NOT IN ('UNKNOWN_ITEM', 'UOM_MISMATCH', 'LATE_COUNT') ORDER BY movement_id, type, message",
    erp_outbox: 'SELECT event_id, kind, doc_id, site, body, state FROM erp_outbox ORDER BY event_id',
    stock_reservations: 'SELECT owner_id, line, sku, qty, consumed, status FROM stock_reservations ORDER BY owner_id, line',
    stock_reservation_totals: 'SELECT site, sku, on_hand, reserved FROM stock_reservation_totals ORDER BY site, sku',
  };
  const h = createHash('sha256');
  const rows: Record<string, number> = {};
  const numeric = (v: unknown) => (typeof v === 'boolean' ? Number(v) : typeof v === 'string' && NUMBER_TEXT.test(v) ? Number(v) : v);
  const read = async (text: string): Promise<unknown[][]> => {
    const all =
      db.dialect === 'sqlite'
        ? ((db as SqliteDb).handle.prepare(text).raw().all() as unknown[][])
        : (await sql.raw<Record<string, unknown>>(text).execute(db.kysely)).rows.map((r) => Object.values(r));
    return o.numeric ? all.map((r) => r.map(numeric)) : all;
  };
  for (const [t, text] of Object.entries(q)) {
    const all = await read(text);
    rows[t] = all.length;
    h.update(`${t}\n`);
    for (const r of all) h.update(`${JSON.stringify(r)}\n`);
  }
  for (const [type, n] of await read('SELECT type, count(*) AS n FROM exceptions GROUP BY type ORDER BY type')) rows[`exceptions.${type}`] = Number(n);
  return { sha256: h.digest('hex'), rows };
}

/** Item master, supplier, projects with plans, approved POs: what the consumers match rows against. */
async function setup(db: Db, store: Store, skus: number, planScale: number): Promise<void> {
  await store.putItems(
    Array.from({ length: skus }, (_, k) => ({
      sku: `BIZ-${k}`,
      name: `bench item ${k}`,
      uom: 'ea',
      gtins: [],
      conversions: [],
      unitWeightKg: null,
      tracking: 'none' as const,
      shelfLifeDays: null,
      // Fen as a decimal string; one in three has none (receipts with no PO: flagged, at the average).
      standardCost: k % 3 === 0 ? null : String(100 + (k % 97) * 7),
      epcs: [],
    })),
  );
  for (let p = 0; p < PROJECTS; p++) {
    await createProject(db, { code: `P${p}`, name: `bench project ${p}`, site: SITE, manager: `pm-${p}`, contractRevenueFen: 100_000_000, stages: [{ code: 'S1', name: 'one', needBy: '2026-12-20' }, { code: 'S2', name: 'two', needBy: '2027-01-20' }] }, 'bench');
    const row = (await getProject(db.kysely, `P${p}`))!;
    for (const stage of ['S1', 'S2']) {
      // 40 SKUs each, planned so that a long run over-issues some of them (OVER_ISSUE).
      const lines = Array.from({ length: PLAN_LINES }, (_, j) => ({ sku: planSku(p, stage, j, skus), qty: Math.max(1, Math.round((100 + j * 10) * planScale)) }));
      await putPlan(db, row, stage, [...new Map(lines.map((l) => [l.sku, l])).values()], 'bench');
    }
  }
  const proc = procurementService(db);
  await proc.putSupplier('SUP-B', { name: 'bench supplier', leadTimeDays: 3 }, 'bench');
  // One SKU in four on order: two POs each (earliest expectedAt filled first), over-received
  // (OVER_RECEIPT) only late in a long run.
  for (let k = 0; k < skus; k += 4) {
    for (const [expectedAt, qty] of [['2026-12-10', 1_000_000], ['2026-12-20', 2_000_000]] as const) {
      const po = await proc.createPo({ supplier: 'SUP-B', site: SITE, expectedAt, lines: [{ sku: `BIZ-${k}`, qty, unitPrice: 150 + k * 3 + (expectedAt === '2026-12-20' ? 11 : 0), ...(k % 8 === 0 ? { project: `P${k % PROJECTS}`, stage: 'S1' } : {}) }] }, 'bench');
      await proc.submitPo(po.id, 'bench');
    }
  }
}

/**
 * The business data and the committed ledger of a run (not followed yet): what `businessBench`
 * times, and what tests/cloud/ledger-follower/batching.test.ts follows twice to compare.
 * `first`: the first movement index (another sequence of the same kind); `planScale` scales the
 * planned quantities (small: over-issues early).
 */
export async function prepareBusiness(db: Db, store: Store, o: { rows: number; skus: number; first?: number; planScale?: number; reserveAfter?: number }): Promise<void> {
  await setup(db, store, o.skus, o.planScale ?? 1);
  const first = o.first ?? 0;
  const reserveAfter = o.reserveAfter ?? Math.min(o.rows, 5000);
  const commit = async (from: number, to: number) => {
    for (let i = from; i < to; i += 500) {
      const movements: Movement[] = [];
      for (let j = i; j < Math.min(to, i + 500); j++) movements.push(businessMovement(first + j, o.skus, first + reserveAfter));
      await store.commit([{ movements, deadLetters: [] }]);
    }
  };
  await commit(0, reserveAfter);
  // Reservations on 10 SKUs (sales orders' and requisitions' stock): the sales consumer keeps
  // their on-hand in step and puts the newest at risk when issues take the stock away.
  await db.tx(async (tx) => {
    for (let k = 1; k <= Math.min(10, o.skus - 1); k++) await reserve(tx, { ownerKind: 'sales-order', ownerId: `SO-B${k}`, site: SITE, lines: [{ line: 1, sku: `BIZ-${k}`, qty: 20_000 }], partial: true, by: 'bench' });
  });
  await commit(reserveAfter, o.rows);
}

export async function businessBench(o: { rows: number; skus: number; batchRows?: number; minGapMs?: number }) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-biz-'));
  const db = (await openDatabase({ dataDir: dir, modules: cloudModules })) as SqliteDb;
  const store = new SqliteStore(db);
  try {
    await prepareBusiness(db, store, o);

    const follower = new LedgerFollower(db, pino({ level: 'silent' }), { pollMs: 0, minGapMs: o.minGapMs ?? 0, ...(o.batchRows ? { batchRows: o.batchRows } : {}) });
    for (const make of ledgerConsumers) follower.register(make({ db, log: pino({ level: 'silent' }) })!);
    const compiles0 = reusableStats.compiles;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await follower.start();
    await follower.caughtUp();
    const wallMs = performance.now() - t0;
    const c = process.cpuUsage(cpu0);
    const cpuMs = (c.user + c.system) / 1000;
    const compiles = reusableStats.compiles - compiles0;
    await follower.stop();
    const st = follower.status();
    if (st.failing) throw new Error(`business bench: the follower failed: ${st.failing.consumer}: ${st.failing.error}`);
    if (st.rows !== o.rows) throw new Error(`business bench: the follower took ${st.rows} rows of ${o.rows}`);
    const perRow = (ms: number) => round1((ms * 1000) / o.rows);
    const perConsumer = Object.fromEntries(Object.entries(st.cpu).map(([k, v]) => [k, { cpuUsPerRow: perRow(v.cpuMs), cpuMs: round1(v.cpuMs) }]));
    return {
      rows: o.rows,
      skus: o.skus,
      batchRows: o.batchRows ?? 'default',
      batches: st.batches,
      cpuUsPerRow: perRow(cpuMs),
      wallUsPerRow: perRow(wallMs),
      rowsPerSecCpu: Math.round(o.rows / (cpuMs / 1000)),
      rowsPerSecWall: Math.round(o.rows / (wallMs / 1000)),
      perConsumer,
      /** Query shapes the consumers' reusable queries built and compiled (cloud/db/reusable-query.ts): against `batches`, how often Kysely still builds. */
      reusableCompiles: compiles,
      digest: await digest(db),
    };
  } finally {
    await store.close().catch(() => undefined);
    await db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export const businessSection: BenchSection = {
  name: 'business',
  about: 'CPU per ledger row of the business layer (ledger follower + every consumer) catching up on N committed rows, per consumer; digest of what they wrote',
  byDefault: false,
  options: {
    'business-rows': { type: 'string', default: '100000' },
    'business-skus': { type: 'string', default: '300' },
    'business-batch': { type: 'string', default: '0' },
  },
  async run(ctx) {
    const f = ctx.flags;
    const batch = num(f, 'business-batch');
    const r = await businessBench({ rows: num(f, 'business-rows'), skus: num(f, 'business-skus'), ...(batch > 0 ? { batchRows: batch } : {}) });
    const table: Array<[string, string]> = [
      ['business: rows / SKUs / batches', `${r.rows} / ${r.skus} / ${r.batches}`],
      ['business: catch-up CPU µs per row (all consumers + follower)', String(r.cpuUsPerRow)],
      ['business: catch-up rows/s (CPU / wall)', `${r.rowsPerSecCpu} / ${r.rowsPerSecWall}`],
      ...Object.entries(r.perConsumer).map(([k, v]): [string, string] => [`business: ${k} CPU µs per row`, String(v.cpuUsPerRow)]),
      ['business: reusable query shapes compiled (cloud/db)', String(r.reusableCompiles)],
      ['business: digest of what the consumers wrote', r.digest.sha256.slice(0, 16)],
    ];
    return { figures: { ...r, load1AtStart: ctx.machine.load1 }, table, ok: true };
  },
};
