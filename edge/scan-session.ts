import type { MovementKind } from '../protocols/mqtt/index.js';
import type { ScanReading } from '../devices/driver.js';
import type { MovementDraft } from './outbox/outbox-store.js';
import { resolveItem } from './item.js';

/** The context control scans set for the item scans that follow. */
export interface SessionContext {
  mode: Extract<MovementKind, 'receive' | 'issue' | 'return' | 'count'>;
  /** Quantity each item scan moves. Sticky until the next QTY: scan. Default 1. */
  qty: number;
  location: string;
  uom: string;
  project?: string;
  stage?: string;
  operator?: string;
  crew?: string;
}

export type ScanOutcome =
  | { type: 'control'; code: string; context: SessionContext }
  | { type: 'movement'; draft: MovementDraft }
  | { type: 'error'; code: string; message: string };

const MODES: Record<string, SessionContext['mode']> = { RECEIVE: 'receive', ISSUE: 'issue', RETURN: 'return', COUNT: 'count' };

/**
 * A scan session at one edge: operator, project and location context set by control scans, and
 * the movement each item scan makes. Control codes (case-insensitive key, value kept as is):
 *
 * | scan                               | effect                                        |
 * |------------------------------------|-----------------------------------------------|
 * | MODE:RECEIVE / ISSUE / RETURN / COUNT | kind of the following movements            |
 * | QTY:n                              | quantity per item scan (n > 0), until changed |
 * | PRJ:code, STAGE:code               | project / stage (empty value clears)          |
 * | OP:badge, CREW:code                | operator badge / crew (empty value clears)    |
 * | LOC:code                           | location of the following movements           |
 *
 * Pure apart from the clock: no I/O, so the whole state machine is unit-tested.
 */
export class ScanSession {
  readonly context: SessionContext;

  constructor(initial: Pick<SessionContext, 'mode' | 'location' | 'uom'>) {
    this.context = { qty: 1, ...initial };
  }

  handle(reading: ScanReading, device: { id: string; type: string }): ScanOutcome {
    const data = reading.data.trim();
    const control = /^([A-Za-z]+):(.*)$/.exec(data);
    if (control && control[1]!.toUpperCase() in CONTROL) {
      const key = control[1]!.toUpperCase();
      const value = control[2]!.trim();
      const bad = value.search(/[\x00-\x1f\x7f]/);
      if (bad >= 0) {
        return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `${key}: control byte 0x${value.charCodeAt(bad).toString(16).padStart(2, '0')} at position ${bad}` };
      }
      return CONTROL[key]!(this.context, value);
    }
    if (!data) return { type: 'error', code: 'SG_ERR_SCAN_EMPTY', message: 'empty scan' };
    const item = resolveItem(reading.raw.trim());
    if ('error' in item) return { type: 'error', code: item.code, message: item.error };
    const c = this.context;
    const draft: MovementDraft = {
      ts: new Date(reading.at).toISOString(),
      location: c.location,
      kind: c.mode,
      ...item,
      qty: item.qty ?? c.qty,
      uom: item.uom ?? c.uom,
      device: { id: device.id, type: device.type },
      raw: reading.raw,
    };
    if (c.project) draft.project = c.project;
    if (c.stage) draft.stage = c.stage;
    if (c.operator) draft.operator = c.operator;
    if (c.crew) draft.crew = c.crew;
    return { type: 'movement', draft };
  }
}

type ControlFn = (c: SessionContext, value: string) => ScanOutcome;

const setText =
  (key: 'project' | 'stage' | 'operator' | 'crew', code: string): ControlFn =>
  (c, value) => {
    if (value.length > 64) return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `${code}: value longer than 64 characters` };
    if (value) c[key] = value;
    else delete c[key];
    return { type: 'control', code, context: { ...c } };
  };

const CONTROL: Record<string, ControlFn> = {
  MODE: (c, value) => {
    const mode = MODES[value.toUpperCase()];
    if (!mode) return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `MODE: '${value}' is not RECEIVE, ISSUE, RETURN or COUNT` };
    c.mode = mode;
    return { type: 'control', code: 'MODE', context: { ...c } };
  },
  QTY: (c, value) => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0) || !Number.isFinite(n)) {
      return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `QTY: '${value}' is not a positive number` };
    }
    c.qty = n;
    return { type: 'control', code: 'QTY', context: { ...c } };
  },
  LOC: (c, value) => {
    if (!value || value.length > 64) return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: 'LOC: location code must be 1-64 characters' };
    c.location = value;
    return { type: 'control', code: 'LOC', context: { ...c } };
  },
  PRJ: setText('project', 'PRJ'),
  STAGE: setText('stage', 'STAGE'),
  OP: setText('operator', 'OP'),
  CREW: setText('crew', 'CREW'),
};
