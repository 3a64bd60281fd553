/**
 * Pure rules of sales orders (issue 11 §1): the status an order starts in, its transition table,
 * and the status a shipment leaves it in. No I/O.
 */

export type OrderStatus = 'reserved' | 'partially-reserved' | 'backordered' | 'picking' | 'shipped' | 'closed' | 'cancelled';
export type OrderAction = 'pick' | 'ship' | 'close' | 'cancel';

/** The status at creation, from what each line got: all in full, some, or none. */
export function initialStatus(lines: ReadonlyArray<{ qty: number; reserved: number }>): 'reserved' | 'partially-reserved' | 'backordered' {
  if (lines.every((l) => l.reserved >= l.qty)) return 'reserved';
  if (lines.some((l) => l.reserved > 0)) return 'partially-reserved';
  return 'backordered';
}

/**
 * Transition table (`reserved -> picking -> shipped -> closed`, cancel while nothing shipped). A
 * shipment scanned against an order that is not yet picking moves it through picking on the way.
 */
const TABLE: Readonly<Record<OrderAction, readonly OrderStatus[]>> = {
  pick: ['reserved', 'partially-reserved', 'backordered'],
  ship: ['reserved', 'partially-reserved', 'backordered', 'picking'],
  close: ['shipped'],
  cancel: ['reserved', 'partially-reserved', 'backordered', 'picking'],
};

export const TARGET: Readonly<Record<Exclude<OrderAction, 'ship'>, OrderStatus>> = { pick: 'picking', close: 'closed', cancel: 'cancelled' };

export function canDo(action: OrderAction, from: OrderStatus): boolean {
  return TABLE[action].includes(from);
}

/** After a shipment: `shipped` when every line is shipped in full, else `picking`. */
export function statusAfterShipment(lines: ReadonlyArray<{ qty: number; shipped: number }>): 'picking' | 'shipped' {
  return lines.every((l) => l.shipped >= l.qty) ? 'shipped' : 'picking';
}
