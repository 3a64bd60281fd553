/**
 * Pure rules of the item master (issue 9): an API/CSV input becomes a record; the CSV columns
 * and how lists are written in one cell; the text encoding of an uploaded file.
 */
import iconv from 'iconv-lite';
import type { ItemMaster } from '../ledger/rules.js';
import { type ItemInput, standardCostOut } from './model.js';

/** The record stored for `PUT /api/v1/items/:sku` with this body. */
export function toRecord(sku: string, it: ItemInput): Omit<ItemMaster, 'updatedAt'> {
  return {
    sku,
    name: it.name,
    uom: it.uom,
    gtins: [...new Set(it.gtins)],
    conversions: it.conversions,
    unitWeightKg: it.unitWeightKg,
    tracking: it.tracking,
    shelfLifeDays: it.shelfLifeDays,
    standardCost: it.standardCost,
    epcs: [...new Set(it.epcs)],
  };
}

/**
 * CSV columns, in this order. Lists sit in one cell: `gtins` and `epcs` separated by `;`,
 * `conversions` as `uom=factor` pairs separated by `;` (e.g. `box=50;pallet=2000`).
 */
export const CSV_COLUMNS = ['sku', 'name', 'uom', 'gtins', 'conversions', 'unitWeightKg', 'tracking', 'shelfLifeDays', 'standardCost', 'epcs'] as const;
export type CsvColumn = (typeof CSV_COLUMNS)[number];

export function toCsvRow(it: ItemMaster): string[] {
  return [
    it.sku,
    it.name,
    it.uom,
    it.gtins.join(';'),
    it.conversions.map((c) => `${c.uom}=${c.factor}`).join(';'),
    it.unitWeightKg === null ? '' : String(it.unitWeightKg),
    it.tracking,
    it.shelfLifeDays === null ? '' : String(it.shelfLifeDays),
    // CNY with 2 decimals, as in the JSON (issue 10 §0 "Money"); the record holds fen.
    standardCostOut(it.standardCost) ?? '',
    it.epcs.join(';'),
  ];
}

/** A CSV row (column -> cell text) as the unvalidated body of an item PUT; problems by column. */
export function fromCsvRow(row: Record<string, string>): { sku: string; body: Record<string, unknown>; errors: Array<{ field: string; message: string }> } {
  const errors: Array<{ field: string; message: string }> = [];
  const cell = (c: CsvColumn) => (row[c] ?? '').trim();
  const list = (c: CsvColumn) => cell(c).split(/[;；]/).map((x) => x.trim()).filter(Boolean);
  const num = (c: CsvColumn): number | null => {
    const v = cell(c);
    if (v === '') return null;
    const n = Number(v);
    if (!Number.isFinite(n)) errors.push({ field: c, message: `${c}: '${v}' is not a number` });
    return n;
  };
  const body: Record<string, unknown> = { name: cell('name'), uom: cell('uom'), gtins: list('gtins'), epcs: list('epcs') };
  body.conversions = list('conversions').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq <= 0) {
      errors.push({ field: 'conversions', message: `conversions: '${pair}' is not uom=factor` });
      return { uom: pair, factor: 0 };
    }
    return { uom: pair.slice(0, eq).trim(), factor: Number(pair.slice(eq + 1).trim()) };
  });
  body.unitWeightKg = num('unitWeightKg');
  body.shelfLifeDays = num('shelfLifeDays');
  if (cell('tracking') !== '') body.tracking = cell('tracking');
  body.standardCost = cell('standardCost') === '' ? null : cell('standardCost');
  return { sku: cell('sku'), body, errors };
}

/**
 * The text of an uploaded CSV: UTF-8 (with or without a BOM) when the bytes are valid UTF-8,
 * else GBK, which is what Excel on a Chinese Windows saves as "CSV". A GBK file is almost never
 * valid UTF-8 (its lead bytes 0x81-0xFE are followed by bytes UTF-8 forbids there), so the
 * strict UTF-8 decode decides.
 */
export function decodeCsv(bytes: Buffer): { text: string; encoding: 'utf-8' | 'utf-8-bom' | 'gbk' } {
  if (bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    return { text: new TextDecoder('utf-8').decode(bytes.subarray(3)), encoding: 'utf-8-bom' };
  }
  try {
    return { text: new TextDecoder('utf-8', { fatal: true }).decode(bytes), encoding: 'utf-8' };
  } catch {
    return { text: iconv.decode(bytes, 'gbk'), encoding: 'gbk' };
  }
}
