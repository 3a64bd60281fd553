import type { Movement } from '../../protocols/mqtt/index.js';
import type { ChainRow } from '../ledger/chain.js';
import type { Plan } from '../ledger/rules.js';
import type { CommitBatch } from './store.js';

/** Columns of a ledger insert, in the order of the positional statement. */
export const INSERT_COLS = [
  'id', 'edge', 'seq', 'ts', 'ts_ms', 'site', 'location', 'to_location', 'kind', 'sku', 'gtin', 'epc', 'batch', 'expiry', 'serial',
  'qty', 'uom', 'base_qty', 'base_uom', 'rounding', 'project', 'stage', 'operator', 'crew', 'device_id', 'device_type', 'raw',
  'status', 'variance', 'posted_token', 'posted_user', 'applied_at', 'chain_n', 'hash', 'po', 'req', 'sales_order',
] as const;

/** The ledger row a plan inserts (hash columns + ts_ms), before its chain number and hash. */
export function ledgerInsertRow(m: Movement, p: Plan, now: string, postedBy: CommitBatch['postedBy']): ChainRow & { ts_ms: number; hash: string } {
  // The document refs (issue 10 §3): kept on the row so the ledger follower's consumers see them.
  return {
    chain_n: 0,
    id: m.id,
    edge: m.edge,
    seq: m.seq,
    ts: m.ts,
    ts_ms: p.tsMs,
    site: m.site,
    location: m.location,
    to_location: m.toLocation ?? null,
    kind: m.kind,
    sku: p.sku,
    gtin: m.gtin ?? null,
    epc: m.epc ?? null,
    batch: p.key.batch,
    expiry: m.expiry ?? null,
    serial: m.serial ?? null,
    qty: p.qty,
    uom: m.uom,
    base_qty: p.baseQty,
    base_uom: p.baseUom,
    rounding: p.rounding,
    project: p.key.project,
    stage: m.stage ?? null,
    operator: m.operator ?? null,
    crew: m.crew ?? null,
    device_id: m.device.id,
    device_type: m.device.type,
    raw: m.raw,
    status: p.status,
    variance: p.variance,
    posted_token: postedBy?.tokenId ?? null,
    posted_user: postedBy?.tokenId ? postedBy.user : null,
    applied_at: now,
    hash: '',
    po: m.po ?? null,
    req: m.req ?? null,
    sales_order: m.order ?? null,
  };
}

/** A GTIN or EPC of an item already names another SKU. */
export class ItemCodeConflict extends Error {
  constructor(
    readonly code: string,
    readonly sku: string,
    /** The SKU that was being written. */
    readonly forSku = '',
  ) {
    super(`${code.startsWith('gtin:') ? 'gtins' : 'epcs'}: ${code.slice(code.indexOf(':') + 1)} already belongs to ${sku}`);
  }
}
