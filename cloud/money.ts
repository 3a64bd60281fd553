import { Decimal } from 'decimal.js';

/**
 * Money for the business layer (issue 10, "Money"): stored as integer minor units (fen, 1/100
 * CNY), exchanged in JSON as decimal strings ("4140.00"), computed with decimal.js. Floats never
 * touch an amount: 0.1 + 0.2 is not 0.3 in binary, and Odoo's average-cost bugs (#41669 3.67
 * instead of 3.33, #109908 a unit cost rounded to 0) are what that costs.
 *
 * Rounding rule, stated once: half up (away from zero for negatives: ROUND_HALF_UP in decimal.js),
 * to whole fen, only when an amount is posted. Intermediate values (an average unit cost, a
 * share of a landed cost) stay exact Decimals.
 */

/** A decimal.js constructor of our own so that no other user of the library changes our rounding. */
export const Money = Decimal.clone({ precision: 40, rounding: Decimal.ROUND_HALF_UP, toExpNeg: -40, toExpPos: 40 });
export type MoneyValue = InstanceType<typeof Money>;

/** Minor units per major unit (CNY → fen). */
export const MINOR_PER_MAJOR = 100;

/** The decimal string shape money has on the wire: optional minus, digits, at most 2 decimals. */
export const MONEY_STRING = /^-?(0|[1-9]\d{0,14})(\.\d{1,2})?$/;

/** Largest amount in fen that stays an exact JS number (2^53 − 1 fen ≈ 90 trillion CNY). */
export const MAX_FEN = Number.MAX_SAFE_INTEGER;

export class MoneyError extends Error {
  readonly code = 'SG_ERR_MONEY';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/**
 * Parse a money amount from JSON: a decimal string with at most 2 decimals ("4140.00", "12.5",
 * "-3"). Numbers are refused, as are more decimals than fen can hold: the caller names the field.
 */
export function parseMoney(value: unknown, field: string): number {
  if (typeof value !== 'string') throw new MoneyError(field, `expected a decimal string such as "12.50", got ${typeof value}`);
  if (!MONEY_STRING.test(value)) throw new MoneyError(field, `"${value.slice(0, 40)}" is not an amount with at most 2 decimals`);
  const fen = new Money(value).times(MINOR_PER_MAJOR);
  if (fen.abs().greaterThan(MAX_FEN)) throw new MoneyError(field, 'amount too large');
  return fen.toNumber();
}

/** Integer fen as the wire's decimal string, always with 2 decimals ("4140.00", "-0.05"). */
export function formatMoney(fen: number): string {
  if (!Number.isSafeInteger(fen)) throw new MoneyError('amount', `${fen} is not a whole number of fen`);
  return new Money(fen).dividedBy(MINOR_PER_MAJOR).toFixed(2);
}

/**
 * A unit cost in fen, possibly an exact fraction (a moving average: 10000 fen / 3 units), as the
 * wire's CNY decimal string: 2 decimals when exact to the fen ("32.50"), else up to 6, half up
 * ("33.333333"). Only for display: amounts are computed from the exact value, never from this.
 */
export function formatUnitCost(fen: string | number | MoneyValue): string {
  const v = new Money(fen).dividedBy(MINOR_PER_MAJOR).toDecimalPlaces(6, Money.ROUND_HALF_UP);
  return v.decimalPlaces() <= 2 ? v.toFixed(2) : v.toFixed();
}

/** Round an exact amount in fen (a Decimal, possibly fractional) to whole fen, half up. */
export function roundFen(exactFen: MoneyValue): number {
  return exactFen.toDecimalPlaces(0, Money.ROUND_HALF_UP).toNumber();
}

/**
 * Posting many amounts whose exact values have fractions of a fen (10,000 issues at an average
 * of 0.333333): rounding each entry on its own drifts (10,000 × 0.33 = 3300.00, not 3333.33).
 * A RoundingCarry posts each entry as round(running exact total) − round(previous running total),
 * so that the sum of the posted entries is always the rounded exact sum, to the fen.
 */
export class RoundingCarry {
  private exact: MoneyValue;
  private posted: number;

  constructor(state: { exactFen?: string; postedFen?: number } = {}) {
    this.exact = new Money(state.exactFen ?? 0);
    this.posted = state.postedFen ?? 0;
  }

  /** Add an exact amount (fen, fractional allowed); returns the whole fen to post for it. */
  post(exactFen: MoneyValue): number {
    this.exact = this.exact.plus(exactFen);
    const target = roundFen(this.exact);
    const entry = target - this.posted;
    this.posted = target;
    return entry;
  }

  /** Persistable state (the exact running total as a string, the fen posted so far). */
  state(): { exactFen: string; postedFen: number } {
    return { exactFen: this.exact.toString(), postedFen: this.posted };
  }
}

/** margin % = margin / revenue × 100, a decimal string with 2 places, half up; null without revenue. */
export function marginPct(marginFen: number, revenueFen: number): string | null {
  if (revenueFen === 0) return null;
  return new Money(marginFen).dividedBy(revenueFen).times(100).toDecimalPlaces(2, Money.ROUND_HALF_UP).toFixed(2);
}
