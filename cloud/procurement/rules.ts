/**
 * Procurement's pure rules (issue 10 §2-3): requisition amounts, the purchase-order state
 * machine, and the receipt -> PO line match. Quantities are integer thousandths of the item's
 * base unit, money integer fen; exact products go through decimal.js (cloud/money.ts).
 */
import { Money, roundFen } from '../money.js';

/** Where a line's unit price came from (issue 10 §2: the first that exists wins). */
export type PriceSource = 'unitPrice' | 'last-po' | 'moving-average' | 'standard-cost';

export interface PricedLine {
  /** Thousandths of the base unit. */
  qty: number;
  /** Fen per base unit (a Decimal string when exact, e.g. a moving average of 3333.333...). */
  price: string;
}

/**
 * Σ qty × unit price, in whole fen: the exact sum of the exact line products, rounded once,
 * half up (cloud/money.ts). Rounding each line first would drift.
 */
export function amountOf(lines: readonly PricedLine[]): number {
  let exact = new Money(0);
  for (const l of lines) exact = exact.plus(new Money(l.qty).times(l.price).dividedBy(1000));
  return roundFen(exact);
}

/** The first price that exists, in the order of the issue. */
export function pickPrice(c: { unitPrice?: number; lastPo?: number; average?: string; standard?: number }): { price: string; source: PriceSource } | undefined {
  if (c.unitPrice !== undefined) return { price: String(c.unitPrice), source: 'unitPrice' };
  if (c.lastPo !== undefined) return { price: String(c.lastPo), source: 'last-po' };
  if (c.average !== undefined) return { price: c.average, source: 'moving-average' };
  if (c.standard !== undefined) return { price: String(c.standard), source: 'standard-cost' };
  return undefined;
}

export type PoStatus = 'draft' | 'pending' | 'approved' | 'partially-received' | 'received' | 'closed' | 'cancelled' | 'rejected';
export type PoAction = 'submit' | 'approve' | 'reject' | 'receive' | 'close' | 'cancel';

/**
 * The purchase order's transitions (issue 10 §3): `draft -> pending -> approved ->
 * partially-received -> received -> closed`, or `cancelled` while nothing was received.
 * Approval itself (pending -> approved | rejected, step by step) is the approval engine's.
 * Receipts arrive whatever the status (the goods are physically there): `receiveStatus` says
 * what they make of it.
 */
export const PO_TRANSITIONS: Readonly<Record<PoStatus, Partial<Record<PoAction, true>>>> = {
  draft: { submit: true, cancel: true },
  pending: { approve: true, reject: true, cancel: true },
  approved: { receive: true, cancel: true, close: true },
  'partially-received': { receive: true, close: true },
  received: { receive: true, close: true },
  rejected: {},
  closed: {},
  cancelled: {},
};

export function poAllows(status: PoStatus, action: PoAction): boolean {
  return PO_TRANSITIONS[status][action] === true;
}

/** The status after receipts: received when every line has its ordered quantity, else partially. */
export function receiveStatus(status: PoStatus, lines: ReadonlyArray<{ qty: number; received: number }>): PoStatus {
  if (status !== 'approved' && status !== 'partially-received' && status !== 'received') return status;
  const any = lines.some((l) => l.received > 0);
  if (!any) return status;
  return lines.every((l) => l.received >= l.qty) ? 'received' : 'partially-received';
}

/** Receipt tolerance (issue 10 §3): up to ordered + 2% is a normal receipt. */
export const OVER_RECEIPT_PCT = 2;

/** Most a line may receive before it is an over-receipt: ordered × 1.02, in whole thousandths (down). */
export function receiveCap(ordered: number): number {
  return Math.floor((ordered * (100 + OVER_RECEIPT_PCT)) / 100);
}

export interface OpenLine {
  po: number;
  line: number;
  /** ISO date: earliest first. */
  expectedAt: string;
  qty: number;
  received: number;
  unitPrice: number;
}

export interface Match {
  po: number;
  line: number;
  qty: number;
  unitPrice: number;
}

/**
 * Match a receipt of `qty` (thousandths) to open PO lines of its site and SKU: earliest
 * `expectedAt` first (then PO, then line), each filled to its ordered quantity; what is left then
 * fills the same lines up to the 2% tolerance; anything beyond is `over` (OVER_RECEIPT) and is
 * booked to the last line it reached, because it did arrive on that delivery and costs that price.
 * With no line at all nothing matches (a receipt without a PO: costed at standard cost, flagged).
 */
export function matchReceipt(qty: number, open: readonly OpenLine[]): { matches: Match[]; over: number } {
  const lines = [...open].sort((a, b) => (a.expectedAt < b.expectedAt ? -1 : a.expectedAt > b.expectedAt ? 1 : a.po - b.po || a.line - b.line));
  const got = new Map<string, Match>();
  let left = qty;
  const take = (l: OpenLine, room: number) => {
    const n = Math.min(left, Math.max(0, room));
    if (n <= 0) return;
    left -= n;
    const k = `${l.po}/${l.line}`;
    const m = got.get(k) ?? { po: l.po, line: l.line, qty: 0, unitPrice: l.unitPrice };
    m.qty += n;
    got.set(k, m);
  };
  for (const l of lines) take(l, l.qty - l.received);
  for (const l of lines) take(l, receiveCap(l.qty) - l.received - (got.get(`${l.po}/${l.line}`)?.qty ?? 0));
  const over = left;
  if (over > 0 && lines.length) {
    const last = [...got.values()].pop() ?? { po: lines[lines.length - 1]!.po, line: lines[lines.length - 1]!.line, qty: 0, unitPrice: lines[lines.length - 1]!.unitPrice };
    last.qty += over;
    got.set(`${last.po}/${last.line}`, last);
    left = 0;
  }
  return { matches: [...got.values()].filter((m) => m.qty > 0), over: lines.length ? over : 0 };
}

/** `PO-12` or `12` -> 12; `REQ-7` or `7` -> 7; undefined when it is neither. */
export function parseDocId(prefix: 'PO' | 'REQ', s: string): number | undefined {
  const m = new RegExp(`^(?:${prefix}-)?([1-9][0-9]{0,14})$`, 'i').exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

export const poId = (n: number) => `PO-${n}`;
export const reqId = (n: number) => `REQ-${n}`;
