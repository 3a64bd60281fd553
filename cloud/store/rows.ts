import type { ExceptionRow, ExceptionType, LedgerRow } from './store.js';

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
  if (r.on_hand !== null) out.onHand = r.on_hand as number;
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
    qty: r.qty,
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
    ['variance', 'variance'],
  ];
  for (const [k, col] of opt) if (r[col] !== null && r[col] !== '') out[k] = r[col];
  return out as unknown as LedgerRow;
}
