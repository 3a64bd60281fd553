import type { Movement } from '../protocols/mqtt/index.js';

export type ItemFields = Pick<Movement, 'sku' | 'gtin' | 'epc' | 'batch' | 'expiry' | 'serial'> & { qty?: number };

/**
 * What an item scan identifies. Plain codes are SKUs as printed on the shelf label.
 * (GS1 element strings are decoded by the protocol library once it lands; see issue 3/4.)
 */
export function resolveItem(data: string, _aim?: string): ItemFields | { error: string; code: string } {
  if (data.length > 64) return { code: 'SG_ERR_SCAN_ITEM', error: `item code longer than 64 characters (${data.length})` };
  // eslint-style guard: control characters would be unreadable on boards and in CSV exports.
  const bad = data.search(/[\x00-\x1f\x7f]/);
  if (bad >= 0) return { code: 'SG_ERR_SCAN_ITEM', error: `item code has control byte 0x${data.charCodeAt(bad).toString(16).padStart(2, '0')} at position ${bad}` };
  return { sku: data };
}
