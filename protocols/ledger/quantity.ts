/**
 * Exact quantities (issue 9): the ledger stores integers in thousandths of a unit ("milli"), the
 * wire and the API speak decimal numbers with at most 3 decimals. A JS number's shortest
 * round-trip text (`String(x)`) is exactly the decimal the sender wrote, so counting its
 * decimals decides exactly; `Math.round(x * 1000)` is then the exact integer (x * 1000 is within
 * far less than 0.5 of it).
 */

/** Decimals kept: the scale is fixed (a change would be a migration of every stored quantity). */
export const QTY_DECIMALS = 3;
export const QTY_SCALE = 1000;
/** Largest magnitude accepted, so that sums of many quantities stay exact integers (< 2^53 milli). */
export const QTY_MAX = 1e12;

/** Number of decimals of a finite number as written (1e-7 has 7, 1.5e3 has 0). */
export function decimalsOf(x: number): number {
  const s = String(Math.abs(x));
  const e = s.indexOf('e');
  if (e < 0) {
    const dot = s.indexOf('.');
    return dot < 0 ? 0 : s.length - dot - 1;
  }
  const mant = s.slice(0, e);
  const exp = Number(s.slice(e + 1));
  const dot = mant.indexOf('.');
  const frac = dot < 0 ? 0 : mant.length - dot - 1;
  return Math.max(0, frac - exp);
}

/** Why `x` is not an exact quantity, or undefined when it is one. */
export function qtyProblem(x: number): string | undefined {
  if (!Number.isFinite(x)) return 'not a finite number';
  if (Math.abs(x) > QTY_MAX) return `larger than ${QTY_MAX}`;
  if (decimalsOf(x) > QTY_DECIMALS) return `more than ${QTY_DECIMALS} decimals (${x})`;
  return undefined;
}

/** The quantity in thousandths. Only for quantities `qtyProblem` accepts. */
export function toMilli(x: number): number {
  const m = Math.round(x * QTY_SCALE);
  return m === 0 ? 0 : m; // no -0
}

/** Thousandths back to the decimal number (the nearest double is the decimal's own). */
export function fromMilli(m: number): number {
  const x = m / QTY_SCALE;
  return x === 0 ? 0 : x;
}
