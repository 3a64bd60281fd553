/**
 * AIM symbology identifiers (ISO/IEC 15424): `]` + code character + modifier character, sent by a
 * scanner before the data when enabled. The modifier tells whether FNC1 stood in first position,
 * i.e. whether the data is a GS1 element string (`]C1`, `]d2`, `]Q3`, `]e0`).
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
}

const SYMBOLOGIES: Record<string, string> = {
  A: 'Code 39',
  C: 'Code 128',
  E: 'EAN/UPC',
  I: 'ITF',
  d: 'Data Matrix',
  Q: 'QR Code',
  e: 'GS1 DataBar',
  L: 'PDF417',
  X: 'Other',
  z: 'Aztec',
};

/** Identifiers whose modifier signals GS1 data (FNC1 in first position). */
const GS1_IDS = new Set([']C1', ']d2', ']Q3', ']e0', ']J1', ']z1']);

/**
 * Split a leading AIM identifier off scanned text. Text without one is returned unchanged.
 * Never throws.
 */
export function splitAim(text: string): { aim?: AimId; data: string } {
  const m = /^\]([A-Za-z])([0-9A-Za-z])/.exec(text);
  if (!m) return { data: text };
  const id = m[0];
  const code = m[1]!;
  return {
    aim: {
      id,
      code,
      modifier: m[2]!,
      symbology: SYMBOLOGIES[code] ?? 'Unknown',
      gs1: GS1_IDS.has(id),
    },
    data: text.slice(3),
  };
}
