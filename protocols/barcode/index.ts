/** Barcode scanners and GS1 data: the public API of `protocols/barcode` (see README.md). */
export { AIM_IDENTIFIERS, isGs1Aim, splitAim, type AimId } from './aim.js';
export { gs1CheckDigit, hasValidCheckDigit, toGtin14 } from './check-digit.js';
export {
  classifyScan,
  type ClassifiedScan,
  type Gs1Scan,
  type InvalidScan,
  type PlainScan,
} from './classify-scan.js';
export {
  GS1_AI_TABLE,
  PREDEFINED_LENGTH_PREFIXES,
  lookupAi,
  type Gs1AiSpec,
  type Gs1CharSet,
  type Gs1Component,
  type Gs1Rule,
} from './gs1-ai-table.js';
export { decodeYymmdd, gs1Year } from './gs1-date.js';
export { parseDigitalLink } from './gs1-digital-link.js';
export { GS, findHiddenSplit, parseElementString, type Gs1AmbiguityPolicy, type Gs1RawElement } from './gs1-element-string.js';
export { parseHri } from './gs1-hri.js';
export type { Gs1Element, Gs1Form, Gs1ParseOptions, Gs1Result } from './gs1-result.js';
export { checkValue, decimalNumber } from './gs1-value.js';
export { parseGs1 } from './gs1.js';
export {
  HID_POS_REPORT_ID,
  HONEYWELL_CODE_IDS,
  HidPosAssembler,
  type HidPosLayout,
  type HidPosOptions,
  type HidPosScan,
} from './hid-pos.js';
export { BOOT_REPORT_LENGTH, KeyboardWedgeDecoder, type KeyboardWedgeOptions } from './keyboard-wedge.js';
export { ScanLineParser, type ScanLineParserOptions } from './scan-line-parser.js';
