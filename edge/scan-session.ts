import type { MovementKind } from '../protocols/mqtt/index.js';
import type { ScanReading } from '../devices/driver.js';
import type { MovementDraft } from './outbox/outbox-store.js';
import { resolveItem } from './item.js';
import type { CachedItem, ItemLookup } from './item-cache.js';

/** Context fields a workflow can require (`issueRequires`). */
export type ContextField = 'project' | 'stage' | 'operator' | 'crew';

/** Validation a session applies to item scans (from the config; changeable at runtime). */
export interface SessionRules {
  /** The offline item cache: GTIN -> sku, uom, serialised. */
  items?: ItemLookup;
  /** Context an item scan in issue mode needs, e.g. `['project', 'crew']`. Default none. */
  issueRequires?: readonly ContextField[];
  /** `reject`: an item the (non-empty) item cache does not know is refused. Default `accept`. */
  unknownItems?: 'accept' | 'reject';
}

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
  | { type: 'movement'; draft: MovementDraft; item?: CachedItem }
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
 * | stockgate:project/CODE[/STAGE]     | project QR: project (and stage, else cleared) |
 * | stockgate:crew/CODE, stockgate:op/BADGE | crew / operator badge as a URL QR code   |
 *
 * The `stockgate:` URL parts are percent-decoded (`stockgate:project/P%2F7` is project `P/7`).
 *
 * Item scans are checked against the rules (`SessionRules`): the item cache maps a GTIN to its
 * sku and gives the uom; a serialised item needs its serial; a scan carrying a serial (one unit)
 * moves quantity 1 whatever `QTY:` says; an issue can require project/crew context.
 *
 * Pure apart from the clock: no I/O, so the whole state machine is unit-tested.
 */
export class ScanSession {
  readonly context: SessionContext;
  private rules: SessionRules;

  constructor(initial: Pick<SessionContext, 'mode' | 'location' | 'uom'>, rules: SessionRules = {}) {
    this.context = { qty: 1, ...initial };
    this.rules = rules;
  }

  /** Replace the validation rules (remote config). The context set by control scans stays. */
  setRules(rules: SessionRules): void {
    this.rules = rules;
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
    const { items, unknownItems = 'accept', issueRequires = [] } = this.rules;
    const cached = items && (item.gtin ? items.byGtin(item.gtin) : item.sku ? items.bySku(item.sku) : undefined);
    const name = item.sku ?? item.gtin ?? item.epc;
    if (!cached && unknownItems === 'reject' && items && items.size() > 0) {
      return { type: 'error', code: 'SG_ERR_ITEM_UNKNOWN', message: `${name} is not in the item master` };
    }
    if (cached?.serialised && !item.serial) {
      return { type: 'error', code: 'SG_ERR_ITEM_SERIAL', message: `${cached.sku} is serialised: scan the label with its serial` };
    }
    if (c.mode === 'issue') {
      const missing = issueRequires.filter((f) => !c[f]);
      if (missing.length) {
        const codes = missing.map((f) => CONTEXT_CODES[f]).join(' and ');
        return { type: 'error', code: 'SG_ERR_SCAN_CONTEXT', message: `issue needs ${codes} scanned first` };
      }
    }
    const draft: MovementDraft = {
      ts: new Date(reading.at).toISOString(),
      location: c.location,
      kind: c.mode,
      ...item,
      qty: item.qty ?? (item.serial ? 1 : c.qty),
      uom: item.uom ?? cached?.uom ?? c.uom,
      device: { id: device.id, type: device.type },
      raw: reading.raw,
    };
    if (cached && !draft.sku) draft.sku = cached.sku;
    applyContext(draft, c);
    return cached ? { type: 'movement', draft, item: cached } : { type: 'movement', draft };
  }
}

const CONTEXT_CODES: Record<ContextField, string> = { project: 'PRJ:', stage: 'STAGE:', operator: 'OP:', crew: 'CREW:' };

/** Copy the session's project, stage, operator and crew onto a draft. */
export function applyContext(draft: MovementDraft, c: SessionContext): MovementDraft {
  if (c.project) draft.project = c.project;
  if (c.stage) draft.stage = c.stage;
  if (c.operator) draft.operator = c.operator;
  if (c.crew) draft.crew = c.crew;
  return draft;
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
  STOCKGATE: (c, value) => {
    // stockgate:project/CODE[/STAGE], stockgate:crew/CODE, stockgate:op/BADGE (a QR on a job sheet or badge).
    const parts = value.split('/');
    let decoded: string[];
    try {
      decoded = parts.map((p) => decodeURIComponent(p));
    } catch {
      return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `stockgate: bad percent-encoding in '${value}'` };
    }
    const [kind = '', code, stage, ...rest] = decoded;
    const bad = (why: string): ScanOutcome => ({ type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `stockgate:${value}: ${why}` });
    if (!code || rest.length || /[\x00-\x1f\x7f]/.test(decoded.join(''))) return bad('expected stockgate:project/CODE[/STAGE], stockgate:crew/CODE or stockgate:op/BADGE');
    switch (kind.toLowerCase()) {
      case 'project': {
        const out = setText('project', 'PRJ')(c, code);
        if (out.type === 'error') return out;
        return setText('stage', 'PRJ')(c, stage ?? '');
      }
      case 'crew':
        return stage === undefined ? setText('crew', 'CREW')(c, code) : bad('a crew code has no stage');
      case 'op':
        return stage === undefined ? setText('operator', 'OP')(c, code) : bad('a badge has no stage');
      default:
        return bad(`unknown kind '${kind}'`);
    }
  },
  PRJ: setText('project', 'PRJ'),
  STAGE: setText('stage', 'STAGE'),
  OP: setText('operator', 'OP'),
  CREW: setText('crew', 'CREW'),
};
