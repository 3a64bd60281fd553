/** Types of a parsed GS1 message (see `parseGs1`). */
import type { AimId } from './aim.js';
import type { Gs1AmbiguityPolicy } from './gs1-element-string.js';

/** One element string of the message, in the order received. */
export interface Gs1Element {
  /** The AI, e.g. `3102`. */
  ai: string;
  /** GS1 data title, e.g. `NET WEIGHT (kg)`. */
  title: string;
  /** The data field exactly as received (after percent-decoding for Digital Link). */
  raw: string;
  /** Typed value where the AI has one: a number (measures, amounts, counts) or an ISO date/time. */
  value?: string | number;
}

/** Which textual form the input had. */
export type Gs1Form = 'element-string' | 'hri' | 'digital-link';

/** A parsed GS1 message. Dates are ISO `YYYY-MM-DD`; measures are numbers in the unit named. */
export interface Gs1Result {
  /** AI -> raw data string. */
  ais: Record<string, string>;
  elements: Gs1Element[];
  form: Gs1Form;
  /** AIM identifier, when the input carried one. */
  aim?: AimId;
  /** AI 01, 14 digits. */
  gtin?: string;
  /** AI 02: GTIN of the trade items contained in a logistic unit. */
  contentGtin?: string;
  /** AI 00. */
  sscc?: string;
  /** AI 414: GLN of a physical location. */
  gln?: string;
  /** AI 410: ship-to / deliver-to GLN. */
  shipToGln?: string;
  /** AI 10. */
  batch?: string;
  /** AI 21. */
  serial?: string;
  /** AI 17, ISO date (DD = 00 -> last day of the month). */
  expiry?: string;
  /** AI 15, ISO date. */
  bestBefore?: string;
  /** AI 16, ISO date. */
  sellBy?: string;
  /** AI 11, ISO date. */
  productionDate?: string;
  /** AI 13, ISO date. */
  packagingDate?: string;
  /** AI 37 (count of trade items in a logistic unit), else AI 30 (variable count). */
  count?: number;
  /** AI 310n, kilograms. */
  netWeightKg?: number;
  /** AI 330n, kilograms. */
  grossWeightKg?: number;
}

/** Options of `parseGs1` and `classifyScan`. */
export interface Gs1ParseOptions {
  /** Reference time for the century of YYMMDD dates [GenSpecs 7.12]. Default: the current time. */
  now?: Date;
  /**
   * A variable-length value that hides a plausible further element string (a probably missing GS):
   * `'error'` (default) throws SG_ERR_PROTO_AMBIGUOUS; `'accept'` keeps the value as received.
   */
  ambiguity?: Gs1AmbiguityPolicy;
  /** AIM identifier received out of band (e.g. in a HID-POS report), used when the text has none. */
  aim?: AimId;
}
