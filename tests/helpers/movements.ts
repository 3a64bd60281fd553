import type { MovementDraft } from '../../edge/outbox/outbox-store.js';
import { BATCH_VERSIONS, ROW_COLUMNS, ROWS_BATCH_VERSION, movementRow, type Movement, type MovementBatch, type RowColumn } from '../../protocols/mqtt/index.js';

let counter = 0;

/** A valid movement for tests; override any field. */
export function movement(o: Partial<Movement> & Pick<Movement, 'site' | 'edge' | 'seq'>): Movement {
  counter++;
  return {
    v: 1,
    id: `T${Date.now().toString(36).toUpperCase()}${process.pid}X${counter}`.padEnd(12, '0'),
    ts: new Date().toISOString(),
    location: 'DOCK-1',
    kind: 'receive',
    sku: 'SKU-1',
    qty: 1,
    uom: 'ea',
    device: { id: 'dock1', type: 'scanner' },
    raw: 'SKU-1',
    ...o,
  } as Movement;
}

export function batch(site: string, edge: string, movements: Movement[]): MovementBatch {
  return { v: 1, site, edge, sentAt: new Date().toISOString(), movements };
}

/**
 * A receipt as an edge's outbox takes it (a scanner at DOCK-{edge}, one of `skus` SKUs), for the
 * multi-edge e2e tests that count every movement in the ledger (scale-out, NATS cluster).
 */
export function receiveDraft(i: number, edge: number, skus: number): MovementDraft {
  return {
    ts: new Date().toISOString(),
    location: `DOCK-${edge}`,
    kind: 'receive',
    sku: `SKU-${i % skus}`,
    qty: 1,
    uom: 'ea',
    device: { id: 'dock1', type: 'scanner' },
    raw: `]C0SKU-${i % skus}`,
  };
}

/** A batch version 2 (the rows form) as text, from movement objects (the edge splices stored rows instead). */
export function encodeRowsBatch(site: string, edge: string, sentAt: string, movements: ReadonlyArray<Record<string, unknown>>, cols: readonly RowColumn[] = ROW_COLUMNS): string {
  return JSON.stringify({ v: ROWS_BATCH_VERSION, site, edge, sentAt, cols, rows: movements.map((m) => movementRow(m, cols)), batchVersions: BATCH_VERSIONS });
}
