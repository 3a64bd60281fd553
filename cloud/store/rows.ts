import { fromMilli } from '../../protocols/ledger/quantity.js';
import type { ItemMaster } from '../ledger/rules.js';
import type { ExceptionRow, ExceptionType, LedgerChange, LedgerRow, StockRow } from './store.js';

/** Row mappers shared by the SQL stores (same column names in SQLite and PostgreSQL). */

export function exceptionRow(r: Record<string, unknown>): ExceptionRow {
  const out: ExceptionRow = {
    id: r.id as number,
    type: r.type as ExceptionType,
    site: r.site as string,
    movementId: r.movement_id as string,
    sku: r.sku as string,
    location: r.location as string,
    batch: r.batch as string,
    project: r.project as string,
    message: r.message as string,
    state: r.state as ExceptionRow['state'],
    raisedAt: r.raised_at as string,
  };
  if (r.identity !== null) out.identity = r.identity as string;
  if (r.on_hand !== null) out.onHand = fromMilli(Number(r.on_hand));
  if (r.resolved_at !== null) out.resolvedAt = r.resolved_at as string;
  if (r.resolved_by !== null) out.resolvedBy = r.resolved_by as string;
  if (r.resolution !== null) out.resolution = r.resolution as string;
  return out;
}

/** A ledger row back in the wire shape (absent optionals omitted, '' keys dropped). */
export function ledgerRow(r: Record<string, unknown>): LedgerRow {
  const out: Record<string, unknown> = {
    pos: r.pos,
    v: 1,
    id: r.id,
    edge: r.edge,
    seq: r.seq,
    ts: r.ts,
    site: r.site,
    location: r.location,
    kind: r.kind,
    sku: r.sku,
    qty: fromMilli(Number(r.qty)),
    uom: r.uom,
    device: { id: r.device_id, type: r.device_type },
    raw: r.raw,
    appliedAt: r.applied_at,
    status: r.status,
  };
  const opt: Array<[string, string]> = [
    ['toLocation', 'to_location'],
    ['gtin', 'gtin'],
    ['epc', 'epc'],
    ['batch', 'batch'],
    ['expiry', 'expiry'],
    ['serial', 'serial'],
    ['project', 'project'],
    ['stage', 'stage'],
    ['operator', 'operator'],
    ['crew', 'crew'],
    ['baseUom', 'base_uom'],
    ['rounding', 'rounding'],
    ['hash', 'hash'],
    ['po', 'po'],
    ['req', 'req'],
    ['order', 'sales_order'],
  ];
  for (const [k, col] of opt) if (r[col] !== null && r[col] !== undefined && r[col] !== '') out[k] = r[col];
  if (r.variance !== null && r.variance !== undefined) out.variance = fromMilli(Number(r.variance));
  if (r.base_qty !== null && r.base_qty !== undefined) out.baseQty = fromMilli(Number(r.base_qty));
  if (r.chain_n !== null && r.chain_n !== undefined) out.chainN = Number(r.chain_n);
  if (r.posted_token !== null && r.posted_token !== undefined) out.postedBy = { tokenId: r.posted_token, user: r.posted_user ?? '' };
  return out as unknown as LedgerRow;
}

/** A balance row (on_hand in thousandths) in the API's decimal numbers. */
export function stockRow(r: Record<string, unknown>): StockRow {
  return {
    site: r.site as string,
    location: r.location as string,
    sku: r.sku as string,
    batch: r.batch as string,
    project: r.project as string,
    onHand: fromMilli(Number(r.on_hand)),
    uom: r.uom as string,
    expiry: (r.expiry as string | null) ?? null,
    updatedAt: r.updated_at as string,
    // C8: a batch past its expiry date is expired (still stock: it is there until scrapped).
    state: typeof r.expiry === 'string' && r.expiry < new Date().toISOString().slice(0, 10) ? 'expired' : 'ok',
  };
}

/** An item master row (JSON text columns parsed; unit weight as a number, cost a decimal string). */
export function itemRow(r: Record<string, unknown>): ItemMaster {
  const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v) as never;
  return {
    sku: r.sku as string,
    name: r.name as string,
    uom: r.uom as string,
    gtins: json(r.gtins),
    conversions: json(r.conversions),
    unitWeightKg: r.unit_weight_kg === null || r.unit_weight_kg === undefined ? null : Number(r.unit_weight_kg),
    tracking: r.tracking as ItemMaster['tracking'],
    shelfLifeDays: r.shelf_life_days === null || r.shelf_life_days === undefined ? null : Number(r.shelf_life_days),
    standardCost: (r.standard_cost as string | null) ?? null,
    epcs: json(r.epcs),
    updatedAt: r.updated_at as string,
  };
}

/** Columns of a LedgerChange (Store.ledgerAfter), in this order for raw (array) rows. */
export const LEDGER_CHANGE_COLUMNS = 'pos, id, ts, site, location, to_location, kind, sku, qty, uom, project, status, variance, applied_at, base_qty, base_uom';

/** Columns of a LedgerChangeRow (Store.ledgerChangeRows), in its order. */
export const LEDGER_CHANGE_ROW_COLUMNS = 'pos, ts_ms, site, location, to_location, kind, sku, qty, uom, project, status, variance, applied_at, base_qty, base_uom';

/** A raw row of LEDGER_CHANGE_COLUMNS as a LedgerChange (absent optionals omitted). */
export function ledgerChange(r: unknown[]): LedgerChange {
  const c: LedgerChange = {
    pos: Number(r[0]),
    id: r[1] as string,
    ts: r[2] as string,
    site: r[3] as string,
    location: r[4] as string,
    kind: r[6] as LedgerChange['kind'],
    sku: r[7] as string,
    qty: fromMilli(Number(r[8])),
    uom: r[9] as string,
    status: r[11] as LedgerChange['status'],
    appliedAt: r[13] as string,
  };
  if (r[5] !== null && r[5] !== '') c.toLocation = r[5] as string;
  if (r[10] !== null && r[10] !== '') c.project = r[10] as string;
  if (r[12] !== null && r[12] !== undefined) c.variance = fromMilli(Number(r[12]));
  if (r[14] !== null && r[14] !== undefined) c.baseQty = fromMilli(Number(r[14]));
  if (r[15] !== null && r[15] !== undefined && r[15] !== '') c.baseUom = r[15] as string;
  return c;
}
