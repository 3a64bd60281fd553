/**
 * The procurement tests' database on either backend: the cloud's one database with every module
 * (a temp SQLite file, or a fresh PostgreSQL schema), the ledger Store on it, and the procurement
 * service. `ledger(ids)` reads committed ledger rows back as the follower hands them to consumers
 * (base quantities in thousandths).
 */
import { rmSync } from 'node:fs';
import pg from 'pg';
import { type Db, openDatabase, type PostgresDb, type SqliteDb } from '../../../cloud/db/index.js';
import { cloudModules } from '../../../cloud/modules.js';
import { type LedgerRowLike, type ProcurementPorts, type ProjectRef, procurementService, type ProcurementService } from '../../../cloud/procurement/index.js';
import { PostgresStore } from '../../../cloud/store/postgres.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import type { ItemMaster, Store } from '../../../cloud/store/store.js';
import { toMilli } from '../../../protocols/ledger/quantity.js';
import type { Movement } from '../../../protocols/mqtt/index.js';
import { PG_URL } from '../../helpers/api-cloud.js';
import { tempDir } from '../../helpers/procs.js';

export type Backend = 'sqlite' | 'postgres';

export interface Harness {
  db: Db;
  store: Store;
  svc: ProcurementService;
  /** Projects known to the service (the projects module's view: site, manager, stages). */
  projects: Map<string, ProjectRef>;
  audits: Array<{ entity: string; id: string; action: string; by: string }>;
  item(sku: string, over?: Partial<ItemMaster>): Promise<void>;
  /** Commit movements, then hand their ledger rows to the procurement consumer in its own transaction. */
  scan(...ms: Movement[]): Promise<LedgerRowLike[]>;
  /** Commit movements only: their ledger rows (with the commit time), for a follower that comes later (`follow`). */
  commit(...ms: Movement[]): Promise<LedgerRowLike[]>;
  /** Hand committed rows to the procurement consumer in its own transaction (a follower behind the ledger). */
  follow(rows: LedgerRowLike[]): Promise<void>;
  close(): Promise<void>;
}

let seq = 0;
export function mv(over: Partial<Movement>): Movement {
  seq++;
  return { v: 1, id: `PRC${process.pid}X${Date.now().toString(36)}N${seq}`.slice(0, 64), edge: 'edge-p', seq, ts: new Date().toISOString(), site: 'S1', location: 'DOCK', kind: 'receive', sku: 'CEM', qty: 1, uom: 'bag', device: { id: 'dock', type: 'scanner' }, raw: 'x', ...over };
}

export async function openHarness(backend: Backend, overrides: Partial<ProcurementPorts> = {}): Promise<Harness> {
  const dir = tempDir('sg-proc-');
  let schema: string | undefined;
  let storeUrl: string | undefined;
  if (backend === 'postgres') {
    schema = `sg_proc_${process.pid}_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 6)}`;
    const c = new pg.Client({ connectionString: PG_URL });
    await c.connect();
    await c.query(`CREATE SCHEMA "${schema}"`);
    await c.end();
    storeUrl = `${PG_URL}${PG_URL.includes('?') ? '&' : '?'}options=-csearch_path%3D${schema}`;
  }
  const db = await openDatabase({ dataDir: dir, ...(storeUrl ? { store: storeUrl } : {}), modules: cloudModules });
  const store: Store = db.dialect === 'postgres' ? await PostgresStore.on(db as PostgresDb) : new SqliteStore(db as SqliteDb);
  const projects = new Map<string, ProjectRef>();
  const audits: Harness['audits'] = [];
  const svc = procurementService(db, {
    project: async (_q, code) => projects.get(code),
    audit: async (_tx, e) => void audits.push({ entity: e.entity, id: e.id, action: e.action, by: e.by }),
    ...overrides,
  });
  const commit = async (ms: Movement[]): Promise<LedgerRowLike[]> => {
    await store.commit([{ movements: ms, deadLetters: [] }]);
    const rows: LedgerRowLike[] = [];
    for (const m of ms) {
      const r = (await store.movement(m.id))!;
      rows.push({ pos: r.pos, id: r.id, site: r.site, location: r.location, kind: r.kind, sku: r.sku!, status: r.status, appliedAt: r.appliedAt, ...(r.baseQty !== undefined ? { baseQty: toMilli(r.baseQty) } : {}), ...(r.po ? { po: r.po } : {}), ...(r.req ? { req: r.req } : {}), ...(r.batch ? { batch: r.batch } : {}), ...(r.project ? { project: r.project } : {}) });
    }
    return rows;
  };
  const follow = async (rows: LedgerRowLike[]): Promise<void> => {
    await db.tx((tx) => svc.applyLedger(tx, rows));
  };
  return {
    db,
    store,
    svc,
    projects,
    audits,
    async item(sku, over = {}) {
      await store.putItem({ sku, name: sku, uom: 'bag', gtins: [], conversions: [], unitWeightKg: null, tracking: 'none', shelfLifeDays: null, standardCost: null, epcs: [], ...over });
    },
    scan: async (...ms) => {
      const rows = await commit(ms);
      await follow(rows);
      return rows;
    },
    commit: (...ms) => commit(ms),
    follow: (rows) => follow(rows),
    async close() {
      await store.close();
      await db.close();
      if (schema) {
        const c = new pg.Client({ connectionString: PG_URL });
        await c.connect();
        await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await c.end();
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
