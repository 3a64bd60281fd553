/**
 * GS1 dates: six digits YYMMDD with a sliding century window [GS1 GenSpecs 7.12 "Determination of
 * century in dates"]: the year is taken within -49..+50 years of the current year. So in 2025,
 * `75` is 2075 and `76` is 1976.
 */

/** Four-digit year for the two-digit `yy`, relative to `now` (UTC) [GenSpecs 7.12]. */
export function gs1Year(yy: number, now: Date): number {
  const current = now.getUTCFullYear();
  const diff = yy - (current % 100);
  const century = current - (current % 100);
  if (diff > 50) return century - 100 + yy; // 51..99 ahead: previous century
  if (diff < -49) return century + 100 + yy; // 50..99 behind: next century
  return century + yy;
}

/** Days in `month` (1-12) of `year`, Gregorian. */
export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/**
 * Decode YYMMDD to ISO `YYYY-MM-DD`. With `zeroDay`, DD = 00 is allowed and means the last day of
 * the month (AIs 11-17: "if only year and month are available, DD must be 00" in their GenSpecs definitions).
 * Returns a reason string instead of a date when the digits are not a valid date.
 */
export function decodeYymmdd(digits: string, zeroDay: boolean, now: Date): { iso: string } | { reason: string } {
  const yy = Number(digits.slice(0, 2));
  const mm = Number(digits.slice(2, 4));
  let dd = Number(digits.slice(4, 6));
  if (mm < 1 || mm > 12) return { reason: `month ${digits.slice(2, 4)} is not 01-12` };
  const year = gs1Year(yy, now);
  const last = daysInMonth(year, mm);
  if (dd === 0) {
    if (!zeroDay) return { reason: 'day 00 is not allowed for this AI' };
    dd = last;
  }
  if (dd > last) return { reason: `day ${digits.slice(4, 6)} does not exist in ${year}-${digits.slice(2, 4)}` };
  return { iso: `${year}-${pad2(mm)}-${pad2(dd)}` };
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}
