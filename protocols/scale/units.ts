/**
 * Weight units and number handling shared by the scale parsers.
 *
 * Conversions use exact legal definitions only (lb = 0.45359237 kg by the 1959 international
 * yard and pound agreement; oz = lb/16; troy oz = 31.1034768 g; metric carat = 0.2 g). A unit not
 * in the table (`GN` grain, `mom` momme, `%`, `PCS`, a unit typo) gives `undefined`, never a guess.
 */

interface UnitDef {
  /** kg = value * num / den (kept as a ratio so 12.34 g divides cleanly instead of multiplying by 0.001). */
  num: number;
  den: number;
  /** Extra decimals the conversion adds, used to round the result without float artefacts. */
  extraDecimals: number;
}

const UNITS: Record<string, UnitDef> = {
  mg: { num: 1, den: 1e6, extraDecimals: 6 },
  g: { num: 1, den: 1000, extraDecimals: 3 },
  kg: { num: 1, den: 1, extraDecimals: 0 },
  t: { num: 1000, den: 1, extraDecimals: 0 },
  lb: { num: 0.45359237, den: 1, extraDecimals: 8 },
  oz: { num: 0.45359237, den: 16, extraDecimals: 12 },
  ozt: { num: 0.0311034768, den: 1, extraDecimals: 10 },
  ct: { num: 1, den: 5000, extraDecimals: 4 },
};

/** Normalise a unit as sent (`KG`, ` kg`, `Kg`, `lbs`) to the table key, or undefined if unknown. */
export function normaliseUnit(unit: string): string | undefined {
  let u = unit.trim().toLowerCase();
  if (u === 'lbs') u = 'lb';
  return u in UNITS ? u : undefined;
}

/** True when `unit` is a mass unit we can convert exactly. */
export function isKnownUnit(unit: string): boolean {
  return normaliseUnit(unit) !== undefined;
}

/** Units that mean "pieces" (counting mode: A&D `PC`, Ohaus/MT `PCS`): a count, not a weight. */
export function isCountUnit(unit: string): boolean {
  return /^pcs?$/i.test(unit.trim());
}

/** Round to `decimals` places (0..15), turning -0 into 0. */
export function roundTo(value: number, decimals: number): number {
  const d = Math.max(0, Math.min(15, Math.trunc(decimals)));
  const r = Number(value.toFixed(d));
  return r === 0 ? 0 : r;
}

/**
 * Convert a value with `decimals` decimal places in `unit` to kilograms, rounded to the
 * precision the conversion can carry. Returns undefined for an unknown unit.
 */
export function toKg(value: number, unit: string, decimals: number): number | undefined {
  const key = normaliseUnit(unit);
  if (key === undefined) return undefined;
  const def = UNITS[key]!;
  return roundTo((value * def.num) / def.den, decimals + def.extraDecimals);
}

/** Convert kilograms to `unit` (for encoders and simulators); undefined for an unknown unit. */
export function fromKg(kg: number, unit: string, decimals: number): number | undefined {
  const key = normaliseUnit(unit);
  if (key === undefined) return undefined;
  const def = UNITS[key]!;
  return roundTo((kg * def.den) / def.num, decimals);
}

/** A decimal number as written by a device: its value and how many decimals it carried. */
export interface ParsedDecimal {
  value: number;
  decimals: number;
}

/**
 * Parse a device number: optional sign, digits with at most one `.`, spaces allowed between the
 * sign and the digits (A&D and Ohaus pad there). Returns undefined when it is not a number, so a
 * garbled field is dropped rather than read as 0.
 */
export function parseDecimal(text: string): ParsedDecimal | undefined {
  const m = /^\s*([+-]?)\s*(\d*)(?:\.(\d*))?\s*$/.exec(text);
  if (!m) return undefined;
  const int = m[2]!;
  const frac = m[3] ?? '';
  if (int.length === 0 && frac.length === 0) return undefined;
  const decimals = frac.length;
  const value = roundTo(Number(`${m[1] === '-' ? '-' : ''}${int || '0'}.${frac || '0'}`), decimals);
  return { value, decimals };
}

/** Count the decimals of a finite number as JavaScript prints it (12.5 -> 1, 100 -> 0). */
export function decimalsOf(value: number): number {
  const s = String(value);
  if (/e/i.test(s)) {
    const [mant, exp] = s.toLowerCase().split('e');
    const mantDec = (mant!.split('.')[1] ?? '').length;
    return Math.max(0, mantDec - Number(exp));
  }
  return (s.split('.')[1] ?? '').length;
}
