import type { Movement } from '../protocols/mqtt/index.js';
import { classifyScan } from '../protocols/barcode/classify-scan.js';

export type ItemFields = Pick<Movement, 'sku' | 'gtin' | 'epc' | 'batch' | 'expiry' | 'serial'> & {
  /** Quantity the scan itself carries (GS1 AI 30/37 count, or 310n net kg). */
  qty?: number;
  /** Unit the scan's quantity is in, when it carries one (`kg` for 310n). */
  uom?: string;
};

/**
 * What an item scan identifies. `raw` is the line as read, AIM id included:
 * - GS1 data (AIM `]C1`/`]d2`/`]Q3`/`]e0`, a leading GS, the "(01)..." form or a Digital Link URI)
 *   gives GTIN, batch, expiry, serial and a count (AI 30/37) or net weight (310n, in kg);
 * - an EAN/UPC/ITF-14 symbol (`]E0`, `]E4`, `]I1`) with a valid check digit gives its GTIN-14;
 * - anything else is an internal SKU label, as printed.
 * GS1 data that fails validation (check digit, date, ambiguous separator) is refused with the
 * protocol library's code and message, never guessed at.
 */
export function resolveItem(raw: string): ItemFields | { error: string; code: string } {
  const c = classifyScan(raw);
  if (c.type === 'invalid') return { code: c.error.code, error: c.error.message };
  if (c.type === 'gs1') {
    const g = c.gs1;
    if (!g.gtin) {
      return g.sscc
        ? { code: 'SG_ERR_SCAN_ITEM', error: `SSCC ${g.sscc} is a logistic unit label, not an item: scan the item labels` }
        : { code: 'SG_ERR_SCAN_ITEM', error: 'GS1 data without a GTIN (AI 01) names no item' };
    }
    const out: ItemFields = { gtin: g.gtin };
    if (g.batch) out.batch = g.batch;
    if (g.expiry) out.expiry = g.expiry;
    if (g.serial) out.serial = g.serial;
    if (g.count !== undefined) out.qty = g.count;
    else if (g.netWeightKg !== undefined) Object.assign(out, { qty: g.netWeightKg, uom: 'kg' });
    return out;
  }
  if (c.gtin) return { gtin: c.gtin };
  const data = c.data;
  if (data.length > 64) return { code: 'SG_ERR_SCAN_ITEM', error: `item code longer than 64 characters (${data.length})` };
  // Control characters would be unreadable on boards and in exports.
  const bad = data.search(/[\x00-\x1f\x7f]/);
  if (bad >= 0) return { code: 'SG_ERR_SCAN_ITEM', error: `item code has control byte 0x${data.charCodeAt(bad).toString(16).padStart(2, '0')} at position ${bad}` };
  return { sku: data };
}
