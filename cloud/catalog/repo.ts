import type { Store } from '../store/store.js';

/**
 * Where the item master lives: the ledger database (`items`, `item_codes`; both store dialects),
 * because the ledger's rules read it inside the ingest transaction (unit conversion, GTIN/EPC
 * mapping). The routes see only this slice of the Store.
 */
export type ItemRepo = Pick<Store, 'putItem' | 'putItems' | 'item' | 'items'>;
