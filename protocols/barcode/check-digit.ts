/**
 * GS1 mod-10 check digits [GS1 GenSpecs 7.9.1]: multiply the digits, starting from the one right of
 * the check digit's position, alternately by 3 and 1 going left; the check digit brings the sum up
 * to a multiple of ten. The same rule serves GTIN-8/12/13/14, GLN (13), SSCC (18), GSIN (17) and
 * GSRN (18), which is why it lives here rather than in the `gtin` package (GTIN lengths only).
 */

/** Check digit for `body` (all digits, without the check digit). Throws a TypeError on non-digits (caller bug). */
export function gs1CheckDigit(body: string): number {
  let sum = 0;
  let weight = 3;
  for (let i = body.length - 1; i >= 0; i--) {
    const d = body.charCodeAt(i) - 48;
    if (d < 0 || d > 9) throw new TypeError(`gs1CheckDigit: '${body}' is not all digits`);
    sum += d * weight;
    weight = 4 - weight;
  }
  return (10 - (sum % 10)) % 10;
}

/** True when the last digit of `code` is its correct GS1 check digit. False for non-digit input. */
export function hasValidCheckDigit(code: string): boolean {
  if (!/^\d{2,}$/.test(code)) return false;
  return gs1CheckDigit(code.slice(0, -1)) === code.charCodeAt(code.length - 1) - 48;
}

/**
 * Normalise a GTIN-8/12/13/14 to 14 digits (left-padded with zeros, as GTIN-14 [GS1 GenSpecs 3.2, AI 01]) when its
 * check digit is valid; `undefined` otherwise.
 */
export function toGtin14(code: string): string | undefined {
  if (!/^(\d{8}|\d{12,14})$/.test(code)) return undefined;
  return hasValidCheckDigit(code) ? code.padStart(14, '0') : undefined;
}
