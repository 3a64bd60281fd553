import type { Movement, MovementBatch } from '../../protocols/mqtt/index.js';

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
