/**
 * Procurement's wire shapes (zod): request bodies and the JSON views. Quantities are decimal
 * numbers of the item's base unit (at most 3 decimals, kept as thousandths), money decimal
 * strings ("4140.00", kept as fen), dates ISO `YYYY-MM-DD`.
 */
import { z } from 'zod';
import { fromMilli, qtyProblem, toMilli } from '../../protocols/ledger/quantity.js';
import { SafeText, SiteParam } from '../api/input.js';
import { Sku } from '../catalog/model.js';
import { formatMoney, formatUnitCost, MoneyError, parseMoney } from '../money.js';
import type { PoView, ReqView } from './service.js';
import type { SupplierRow } from './repo.js';
import { poId, reqId } from './rules.js';

/** A money amount: decimal string (a JSON number with at most 2 decimals is taken too) -> fen. */
export const MoneyIn = z.union([z.string().max(40), z.number()]).transform((v, ctx) => {
  try {
    return parseMoney(typeof v === 'number' ? String(v) : v, 'amount');
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: e instanceof MoneyError ? e.message.replace(/^amount: /, '') : 'not an amount' });
    return z.NEVER;
  }
});
export const QtyIn = z
  .number()
  .positive()
  .refine((x) => qtyProblem(x) === undefined, { message: 'at most 3 decimals, at most 1e12' })
  .transform(toMilli);
export const IsoDay = z.iso.date();
export const Code = SafeText(64);

export const SupplierBody = z.strictObject({ name: SafeText(200), leadTimeDays: z.number().int().min(0).max(3650) });
export const SupplierCode = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a supplier code: 1-64 of [A-Za-z0-9._-], starting alphanumeric');

const ReqLine = z.strictObject({ sku: Sku, qty: QtyIn, unitPrice: MoneyIn.optional() });
export const ReqBody = z.strictObject({
  kind: z.enum(['purchase', 'issue']),
  project: Code,
  stage: Code,
  lines: z.array(ReqLine).min(1).max(200),
  note: SafeText(500).optional(),
});
export const ReqEditBody = z.strictObject({ lines: z.array(ReqLine).min(1).max(200), note: SafeText(500).optional() });
export const ApproveBody = z.strictObject({ comment: SafeText(500).optional() }).optional();
export const RejectBody = z.strictObject({ comment: SafeText(500) });

/** `REQ-12` or `12`. */
export const ReqId = z
  .string()
  .regex(/^(?:REQ-)?[1-9][0-9]{0,14}$/i, 'a requisition id, e.g. REQ-12')
  .transform((s) => Number(s.replace(/^REQ-/i, '')));
/** `PO-12` or `12`. */
export const PoId = z
  .string()
  .regex(/^(?:PO-)?[1-9][0-9]{0,14}$/i, 'a purchase order id, e.g. PO-12')
  .transform((s) => Number(s.replace(/^PO-/i, '')));

const PoLine = z.strictObject({ sku: Sku, qty: QtyIn, unitPrice: MoneyIn, project: Code.optional(), stage: Code.optional(), requisition: z.union([z.string().max(20), z.number().int().positive()]).optional() });
export const PoBody = z.strictObject({ supplier: SupplierCode, site: SiteParam, expectedAt: IsoDay, lines: z.array(PoLine).min(1).max(500) });
export const FromReqBody = z.strictObject({ requisitions: z.array(z.union([z.string().max(20), z.number().int().positive()])).min(1).max(100), supplier: SupplierCode, expectedAt: IsoDay });

export const ListQuery = z.object({
  site: SiteParam.optional(),
  project: Code.optional(),
  status: z.string().max(32).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
  before: z.string().max(20).optional(),
});

/**
 * A unit price in fen (possibly an exact fraction, e.g. a moving average) as CNY: 2 decimals, or
 * up to 6 when not exact to the fen (one rule for unit costs: `formatUnitCost`, cloud/money.ts).
 */
export function formatPrice(fen: string | number): string {
  return formatUnitCost(fen);
}

const ApprovalOut = z.object({ step: z.number(), role: z.string(), state: z.string(), by: z.string().optional(), at: z.string().optional(), comment: z.string().optional() });
export const SupplierOut = z.object({ code: z.string(), name: z.string(), leadTimeDays: z.number(), updatedAt: z.string() });
export const ReqOut = z.object({
  id: z.string(),
  kind: z.string(),
  project: z.string(),
  stage: z.string(),
  site: z.string(),
  status: z.string(),
  amount: z.string().optional().describe('cost field: omitted for callers who may not see costs'),
  revision: z.number(),
  requester: z.string(),
  note: z.string().optional(),
  po: z.string().optional(),
  lines: z.array(z.object({ line: z.number(), sku: z.string(), qty: z.number(), unitPrice: z.string().optional(), priceSource: z.string() })),
  approvals: z.array(ApprovalOut),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export const PoOut = z.object({
  id: z.string(),
  supplier: z.string(),
  site: z.string(),
  expectedAt: z.string(),
  status: z.string(),
  amount: z.string().optional(),
  revision: z.number(),
  requester: z.string(),
  lines: z.array(z.object({ line: z.number(), sku: z.string(), qty: z.number(), unitPrice: z.string().optional(), project: z.string().optional(), stage: z.string().optional(), requisition: z.string().optional(), received: z.number() })),
  approvals: z.array(ApprovalOut),
  createdAt: z.string(),
  updatedAt: z.string(),
});

export const supplierJson = (s: SupplierRow) => ({ code: s.code, name: s.name, leadTimeDays: s.leadTimeDays, updatedAt: s.updatedAt });

export function reqJson(r: ReqView): z.infer<typeof ReqOut> {
  return {
    id: reqId(r.id),
    kind: r.kind,
    project: r.project,
    stage: r.stage,
    site: r.site,
    status: r.status,
    amount: formatMoney(r.amount),
    revision: r.revision,
    requester: r.requester,
    ...(r.note !== undefined ? { note: r.note } : {}),
    ...(r.po !== undefined ? { po: poId(r.po) } : {}),
    lines: r.lines.map((l) => ({ line: l.line, sku: l.sku, qty: fromMilli(l.qty), unitPrice: formatPrice(l.price), priceSource: l.priceSource })),
    approvals: r.approvals,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
  };
}

export function poJson(p: PoView): z.infer<typeof PoOut> {
  return {
    id: poId(p.id),
    supplier: p.supplier,
    site: p.site,
    expectedAt: p.expectedAt,
    status: p.status,
    amount: formatMoney(p.amount),
    revision: p.revision,
    requester: p.requester,
    lines: p.lines.map((l) => ({
      line: l.line,
      sku: l.sku,
      qty: fromMilli(l.qty),
      unitPrice: formatMoney(l.unitPrice),
      ...(l.project !== undefined ? { project: l.project } : {}),
      ...(l.stage !== undefined ? { stage: l.stage } : {}),
      ...(l.requisition !== undefined ? { requisition: reqId(l.requisition) } : {}),
      received: fromMilli(l.received),
    })),
    approvals: p.approvals,
    createdAt: p.createdAt,
    updatedAt: p.updatedAt,
  };
}
