import type { Kysely } from 'kysely';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import type { BoardItem, BoardMovement, BoardStockRow } from '../../protocols/http/board.js';
import { stockRow } from '../store/rows.js';

/**
 * The board's reads, through Kysely on the cloud's one database (both dialects). Read only: the
 * ledger, balances and item tables belong to the ledger module; the board reads them by position
 * (`ledger.pos`, the commit order the whole cloud shares), never through an ingester's memory, so
 * a board served by one ingester sees what another applied (issue 12 #4).
 */
export class BoardRepo {
  constructor(private readonly db: Kysely<any>) {}

  /** The highest ledger position (0 when the ledger is empty). */
  async maxPos(): Promise<number> {
    const r = await this.db.selectFrom('ledger').select((eb) => eb.fn.max('pos').as('m')).executeTakeFirst();
    return Number(r?.m ?? 0);
  }

  /** Ledger rows with `pos > after`, oldest first, at most `limit`. */
  async after(after: number, limit: number): Promise<BoardMovement[]> {
    const rows = await this.db.selectFrom('ledger').select(COLUMNS).where('pos', '>', after).orderBy('pos').limit(limit).execute();
    return rows.map(movement);
  }

  /** Ledger rows at these positions (late commits inside a gap), oldest first. */
  async at(positions: readonly number[]): Promise<BoardMovement[]> {
    if (positions.length === 0) return [];
    const rows = await this.db.selectFrom('ledger').select(COLUMNS).where('pos', 'in', [...positions]).orderBy('pos').execute();
    return rows.map(movement);
  }

  /** The newest `limit` rows of these sites (undefined = all), newest first. */
  async recent(sites: readonly string[] | undefined, limit: number): Promise<BoardMovement[]> {
    let q = this.db.selectFrom('ledger').select(COLUMNS);
    if (sites) {
      if (sites.length === 0) return [];
      q = q.where('site', 'in', [...sites]);
    }
    return (await q.orderBy('pos', 'desc').limit(limit).execute()).map(movement);
  }

  /** Every balance row of these (site, sku) pairs: the latest values after a frame's movements. */
  async stockOf(pairs: ReadonlyArray<{ site: string; sku: string }>): Promise<BoardStockRow[]> {
    const out: BoardStockRow[] = [];
    // Chunks keep the statement's parameter count far below SQLite's and PostgreSQL's limits.
    for (let i = 0; i < pairs.length; i += 200) {
      const chunk = pairs.slice(i, i + 200);
      const rows = await this.db
        .selectFrom('balances')
        .select(BALANCE_COLUMNS)
        .where((eb) => eb.or(chunk.map((p) => eb.and([eb('site', '=', p.site), eb('sku', '=', p.sku)]))))
        .execute();
      for (const r of rows) out.push(stockRow(r));
    }
    return out;
  }

  /** Every balance row of these sites (undefined = all). */
  async stock(sites: readonly string[] | undefined): Promise<BoardStockRow[]> {
    let q = this.db.selectFrom('balances').select(BALANCE_COLUMNS);
    if (sites) {
      if (sites.length === 0) return [];
      q = q.where('site', 'in', [...sites]);
    }
    return (await q.orderBy('site').orderBy('sku').orderBy('location').orderBy('batch').orderBy('project').execute()).map(stockRow);
  }

  /** Item master names of these SKUs (the ones it knows). */
  async items(skus: readonly string[]): Promise<BoardItem[]> {
    const out: BoardItem[] = [];
    const list = [...new Set(skus)];
    for (let i = 0; i < list.length; i += 500) {
      const rows = await this.db.selectFrom('items').select(['sku', 'name', 'uom']).where('sku', 'in', list.slice(i, i + 500)).execute();
      for (const r of rows) out.push({ sku: r.sku as string, name: r.name as string, uom: r.uom as string });
    }
    return out;
  }

  /** Issued per (site, sku, base unit) since `since` (ISO), thousandths: the days-of-cover window. */
  async issuedSince(sites: readonly string[] | undefined, since: string, projects?: readonly string[]): Promise<Array<{ site: string; sku: string; uom: string; milli: number }>> {
    if (sites && sites.length === 0) return [];
    let q = this.db
      .selectFrom('ledger')
      .select(['site', 'sku', 'base_uom'])
      .select((eb) => eb.fn.sum('base_qty').as('milli'))
      .where('kind', '=', 'issue')
      .where('base_qty', 'is not', null)
      .where('ts', '>=', since);
    if (sites) q = q.where('site', 'in', [...sites]);
    if (projects) {
      if (projects.length === 0) return [];
      q = q.where('project', 'in', [...projects]);
    }
    const rows = await q.groupBy(['site', 'sku', 'base_uom']).execute();
    return rows.map((r) => ({ site: r.site as string, sku: r.sku as string, uom: r.base_uom as string, milli: Number(r.milli) }));
  }

  /** Booked ledger rows of one SKU at a site, newest first: kind, base quantity and unit, count variance. */
  async bookings(site: string, sku: string, limit: number, projects?: readonly string[]): Promise<Array<{ ts: string; kind: string; milli: number; uom: string; variance: number | null }>> {
    if (projects?.length === 0) return [];
    const rows = await this.db
      .selectFrom('ledger')
      .$if(projects !== undefined, (q) => q.where('project', 'in', [...projects!]))
      .select(['ts', 'kind', 'base_qty', 'base_uom', 'variance'])
      .where('site', '=', site)
      .where('sku', '=', sku)
      .where('base_qty', 'is not', null)
      .orderBy('pos', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ts: r.ts as string, kind: r.kind as string, milli: Number(r.base_qty), uom: r.base_uom as string, variance: r.variance === null ? null : Number(r.variance) }));
  }

  /** Movements per hour (`YYYY-MM-DDTHH` of their ts) at a site since `since`. */
  async perHour(site: string, since: string, projects?: readonly string[]): Promise<Array<{ hour: string; n: number }>> {
    if (projects?.length === 0) return [];
    const rows = await this.db
      .selectFrom('ledger')
      .$if(projects !== undefined, (q) => q.where('project', 'in', [...projects!]))
      .select((eb) => [eb.fn<string>('substr', [eb.ref('ts'), eb.val(1), eb.val(13)]).as('hour'), eb.fn.countAll().as('n')])
      .where('site', '=', site)
      .where('ts', '>=', since)
      .groupBy('hour')
      .execute();
    return rows.map((r) => ({ hour: r.hour as string, n: Number(r.n) }));
  }
}

const COLUMNS = ['pos', 'id', 'ts', 'applied_at', 'site', 'edge', 'location', 'to_location', 'kind', 'sku', 'qty', 'uom', 'batch', 'project', 'stage', 'operator', 'crew', 'device_id', 'device_type', 'status'] as const;
const BALANCE_COLUMNS = ['site', 'location', 'sku', 'batch', 'project', 'on_hand', 'uom', 'expiry', 'updated_at'] as const;

function movement(r: Record<string, unknown>): BoardMovement {
  const m: BoardMovement = {
    pos: Number(r.pos),
    id: r.id as string,
    ts: r.ts as string,
    appliedAt: r.applied_at as string,
    site: r.site as string,
    edge: r.edge as string,
    location: r.location as string,
    kind: r.kind as string,
    sku: r.sku as string,
    // Integer thousandths in both stores (protocols/ledger/quantity.ts).
    qty: fromMilli(Number(r.qty)),
    uom: r.uom as string,
    device: { id: r.device_id as string, type: r.device_type as string },
    status: r.status as BoardMovement['status'],
  };
  for (const [k, col] of [['toLocation', 'to_location'], ['batch', 'batch'], ['project', 'project'], ['stage', 'stage'], ['operator', 'operator'], ['crew', 'crew']] as const) {
    const v = r[col];
    if (typeof v === 'string' && v !== '') m[k] = v;
  }
  return m;
}
