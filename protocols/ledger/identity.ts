import type { Movement } from '../mqtt/index.js';

/**
 * The identity of a serialised unit, one definition for the edge (`edge/identities.ts`, duplicate
 * warnings while offline) and the cloud ledger (`cloud/ledger/rules.ts`, the authority):
 * `epc:<EPC>` for a tag, `<gtin or sku>+<serial>` for a GS1 serial. Undefined for a movement of
 * unserialised stock (issue 9: defined once, in the layer both may import).
 */
export function identityOf(m: Pick<Movement, 'epc' | 'gtin' | 'sku' | 'serial'>): string | undefined {
  if (m.epc) return `epc:${m.epc}`;
  if (m.serial) return `${m.gtin ?? m.sku}+${m.serial}`;
  return undefined;
}

/** Whether a unit is in stock at its site after a movement of this kind (the identity transition). */
export function inStockAfter(m: Pick<Movement, 'kind' | 'qty'>): boolean {
  switch (m.kind) {
    case 'receive':
    case 'return':
    case 'transfer':
      return true;
    case 'issue':
      return false;
    case 'count':
    case 'adjust':
      return m.qty > 0;
  }
}
