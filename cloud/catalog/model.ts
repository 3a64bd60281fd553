/**
 * The item master's wire shapes (zod), for `PUT /api/v1/items/:sku`, the CSV import and the
 * OpenAPI document (issue 9). Numbers are checked for what the ledger can hold exactly:
 * conversion factors and unit weights with at most 6 decimals, shelf life in whole days. The
 * standard cost is money (issue 10 §0 "Money"): a decimal string in CNY on the wire ("33.50"),
 * integer fen in the record; `parseMoney`/`formatMoney` convert exactly (never a float).
 */
import { z } from 'zod';
import { toGtin14 } from '../../protocols/barcode/check-digit.js';
import { decimalsOf } from '../../protocols/ledger/quantity.js';
import { formatMoney, MONEY_STRING, parseMoney } from '../money.js';
import type { ItemMaster } from '../ledger/rules.js';

export const TRACKING = ['none', 'batch', 'serial'] as const;

const Uom = z.string().min(1).max(16).regex(/^\S+$/, 'uom: no spaces');
const Positive6 = (field: string) =>
  z
    .number()
    .positive(`${field}: must be > 0`)
    .max(1e9, `${field}: at most 1e9`)
    .refine((x) => decimalsOf(x) <= 6, `${field}: at most 6 decimals`);

/** A GTIN-8/12/13/14 with a valid check digit, kept as GTIN-14. */
export const Gtin = z
  .string()
  .transform((g, ctx) => {
    const t = toGtin14(g);
    if (t === undefined) {
      ctx.addIssue({ code: 'custom', message: `gtins: ${g} is not a GTIN-8/12/13/14 with a valid check digit` });
      return z.NEVER;
    }
    return t;
  });

export const Conversion = z.object({ uom: Uom, factor: Positive6('factor').describe('1 uom = factor base units') });

/**
 * `standardCost` in: a non-negative decimal string with at most 2 decimals ("33", "33.5",
 * "33.50"), turned into integer fen as a string ("3350"), which is what the record stores.
 */
const StandardCost = z
  .string()
  .transform((v, ctx) => {
    if (!MONEY_STRING.test(v) || v.startsWith('-')) {
      ctx.addIssue({ code: 'custom', message: `"${v.slice(0, 40)}" is not a non-negative amount in CNY with at most 2 decimals, e.g. "33.50"` });
      return z.NEVER;
    }
    try {
      return String(parseMoney(v, 'standardCost'));
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message.replace(/^standardCost: /, '') });
      return z.NEVER;
    }
  });

/** The body of `PUT /api/v1/items/:sku`. */
export const ItemInput = z
  .object({
    name: z.string().min(1).max(200),
    uom: Uom.describe('base unit of measure: balances of the item are in it'),
    gtins: z.array(Gtin).max(50).default([]),
    conversions: z.array(Conversion).max(50).default([]),
    unitWeightKg: Positive6('unitWeightKg').nullable().default(null).describe('weight of one base unit: a weight in kg converts through it'),
    tracking: z.enum(TRACKING).default('none'),
    shelfLifeDays: z.number().int().min(0).max(36_500).nullable().default(null),
    standardCost: StandardCost.nullable().default(null).describe('CNY as a decimal string, at most 2 decimals, >= 0 ("33.50"); stored as integer fen'),
    epcs: z
      .array(z.string().regex(/^[0-9A-F]{8,128}$/, 'epcs: upper-case hex'))
      .max(1000)
      .default([])
      .describe('EPCs of tags that stand for this item (SSCC, GRAI, GIAI, raw tags are otherwise not booked)'),
  })
  .superRefine((it, ctx) => {
    const seen = new Set<string>();
    it.conversions.forEach((c, i) => {
      if (c.uom === it.uom) ctx.addIssue({ code: 'custom', path: ['conversions', i, 'uom'], message: `conversions: ${c.uom} is the base uom` });
      if (seen.has(c.uom)) ctx.addIssue({ code: 'custom', path: ['conversions', i, 'uom'], message: `conversions: ${c.uom} twice` });
      seen.add(c.uom);
    });
  });
export type ItemInput = z.infer<typeof ItemInput>;

export const Sku = z.string().min(1).max(64).regex(/^[^\s/?#]+$/, 'sku: no spaces, /, ? or #');

export const ItemSchema = z.object({
  sku: z.string(),
  name: z.string(),
  uom: z.string(),
  gtins: z.array(z.string()),
  conversions: z.array(z.object({ uom: z.string(), factor: z.number() })),
  unitWeightKg: z.number().nullable(),
  tracking: z.enum(TRACKING),
  shelfLifeDays: z.number().int().nullable(),
  standardCost: z.string().nullable().describe('CNY as a decimal string with 2 decimals ("33.50")'),
  epcs: z.array(z.string()),
  updatedAt: z.string(),
});

export const ImportResult = z.object({
  rows: z.number().int().describe('data rows read'),
  errors: z.array(z.object({ line: z.number().int(), field: z.string(), message: z.string() })),
  written: z.number().int().describe('rows written (0 with dryRun=1 or any error)'),
});

/** The record's integer fen as the wire's CNY decimal string ("3350" -> "33.50"). */
export function standardCostOut(fen: string | null): string | null {
  return fen === null || fen === '' ? null : formatMoney(Number(fen));
}

/** An item record as the API and the audit log show it: money as CNY decimal strings. */
export function itemOut<T extends Pick<ItemMaster, 'standardCost'>>(it: T): T {
  return { ...it, standardCost: standardCostOut(it.standardCost) };
}
