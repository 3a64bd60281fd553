/**
 * AIM symbology identifiers (ISO/IEC 15424): `]` + code character + modifier character, sent by a
 * scanner before the data when enabled. The modifier tells whether FNC1 stood in first position,
 * i.e. whether the data is a GS1 element string (`]C1`, `]d2`, `]Q3`, `]e0`).
 *
 * FNC1 in first position is never transmitted as a character: it only shows in the modifier
 * [ISO/IEC 15424; GS1 GenSpecs 7.8, FNC1 as separator]. FNC1 used as a field separator arrives as GS (0x1D).
 */
export interface AimId {
  /** The three characters as received, e.g. `]C1`. */
  id: string;
  /** Code character: C = Code 128, E = EAN/UPC, d = Data Matrix, Q = QR, ... */
  code: string;
  /** Modifier character. */
  modifier: string;
  /** Human-readable symbology name, when known. */
  symbology: string;
  /** True when the identifier says the data is GS1 (FNC1 in first position). */
  gs1: boolean;
  /**
   * What this exact identifier means (e.g. `GS1-128`, `EAN-8`, `QR Code, FNC1 in first position`),
   * when it is one of the identifiers in {@link AIM_IDENTIFIERS}.
   */
  description?: string;
  /**
   * Where FNC1 stood, when the modifier says so: `first` = GS1 data, `second` = an AIM-registered
   * industry application. Absent when the symbology carries no FNC1 flag.
   */
  fnc1?: 'first' | 'second';
}

const SYMBOLOGIES: Record<string, string> = {
  A: 'Code 39',
  C: 'Code 128',
  E: 'EAN/UPC',
  F: 'Codabar',
  G: 'Code 93',
  I: 'ITF',
  J: 'DotCode',
  L: 'PDF417',
  Q: 'QR Code',
  X: 'Other',
  Z: 'Non-barcode',
  d: 'Data Matrix',
  e: 'GS1 DataBar',
  z: 'Aztec',
};

interface AimEntry {
  description: string;
  gs1: boolean;
  fnc1?: 'first' | 'second';
}

/**
 * The identifiers a warehouse scanner actually sends, with their meaning.
 * [ISO/IEC 15424 symbology identifier tables; GS1 GenSpecs 5, symbology identifiers of the GS1 data carriers]
 * GS1 data = FNC1 in first position: `]C1` GS1-128, `]d2` GS1 DataMatrix, `]Q3` GS1 QR Code,
 * `]e0` GS1 DataBar (always GS1), `]J1` GS1 DotCode, plus the ECI variants `]d5`, `]Q4`.
 * `]E0` (EAN-13/UPC-A/UPC-E), `]E4` (EAN-8) and `]I1` (ITF-14) carry a GTIN without an AI.
 */
export const AIM_IDENTIFIERS: Readonly<Record<string, AimEntry>> = {
  ']A0': { description: 'Code 39, no check character', gs1: false },
  ']C0': { description: 'Code 128', gs1: false },
  ']C1': { description: 'GS1-128', gs1: true, fnc1: 'first' },
  ']C2': { description: 'Code 128, FNC1 in second position', gs1: false, fnc1: 'second' },
  ']E0': { description: 'EAN-13, UPC-A or UPC-E', gs1: false },
  ']E3': { description: 'EAN/UPC with add-on', gs1: false },
  ']E4': { description: 'EAN-8', gs1: false },
  ']I0': { description: 'ITF', gs1: false },
  ']I1': { description: 'ITF, check digit validated (ITF-14)', gs1: false },
  ']J1': { description: 'GS1 DotCode', gs1: true, fnc1: 'first' },
  ']L0': { description: 'PDF417', gs1: false },
  ']Q1': { description: 'QR Code', gs1: false },
  ']Q3': { description: 'GS1 QR Code (FNC1 in first position)', gs1: true, fnc1: 'first' },
  ']Q4': { description: 'GS1 QR Code with ECI', gs1: true, fnc1: 'first' },
  ']Q5': { description: 'QR Code, FNC1 in second position', gs1: false, fnc1: 'second' },
  ']d1': { description: 'Data Matrix ECC 200', gs1: false },
  ']d2': { description: 'GS1 DataMatrix (FNC1 in first position)', gs1: true, fnc1: 'first' },
  ']d3': { description: 'Data Matrix, FNC1 in second position', gs1: false, fnc1: 'second' },
  ']d5': { description: 'GS1 DataMatrix with ECI', gs1: true, fnc1: 'first' },
  ']e0': { description: 'GS1 DataBar', gs1: true, fnc1: 'first' },
  ']z1': { description: 'Aztec, FNC1 in first position', gs1: true, fnc1: 'first' },
};

/**
 * Split a leading AIM identifier off scanned text. Text without one is returned unchanged.
 * Never throws.
 */
export function splitAim(text: string): { aim?: AimId; data: string } {
  const m = /^\]([A-Za-z])([0-9A-Za-z])/.exec(text);
  if (!m) return { data: text };
  const id = m[0];
  const code = m[1]!;
  const entry = AIM_IDENTIFIERS[id];
  const aim: AimId = {
    id,
    code,
    modifier: m[2]!,
    symbology: SYMBOLOGIES[code] ?? 'Unknown',
    gs1: entry?.gs1 ?? false,
  };
  if (entry) aim.description = entry.description;
  if (entry?.fnc1) aim.fnc1 = entry.fnc1;
  return { aim, data: text.slice(3) };
}

/** True when `id` (e.g. `]d2`) says the data that follows is a GS1 element string. */
export function isGs1Aim(id: string): boolean {
  return AIM_IDENTIFIERS[id]?.gs1 ?? false;
}
