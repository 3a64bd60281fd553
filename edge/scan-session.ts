import type { MovementKind } from '../protocols/mqtt/index.js';
import type { ScanReading } from '../devices/driver.js';
import type { MovementDraft } from './outbox/outbox-store.js';
import { resolveItem } from './item.js';
import type { CachedItem, ItemLookup } from './item-cache.js';
import { roundQty, weightInItemUom } from './item-uom.js';
import { CountTally } from './count-tally.js';

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
  /**
   * Operator, crew and project (with its stage) bindings expire after this long without a scan on
   * the session, ms (`sessionIdleMin`). 0 or absent: never.
   */
  idleMs?: number;
}

/** Bindings an idle session dropped (value each had). */
export type ExpiredBindings = Partial<Record<'operator' | 'crew' | 'project' | 'stage' | 'po' | 'req' | 'order', string>>;

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
  /**
   * The business document the session works against (issue 10 §2-3, issue 11 §1), one at a time:
   * `po` pins receipts to that purchase order, `req` books issues against that requisition's
   * reservation, `order` ships issues against that sales order. Set by `stockgate:po/ID`,
   * `stockgate:req/ID`, `stockgate:so/ID` (or `PO:`, `REQ:`, `SO:`; an empty value clears).
   */
  po?: string;
  req?: string;
  order?: string;
}

export type ScanOutcome =
  | {
      type: 'control';
      code: string;
      context: SessionContext;
      /** What the operator is told (a document pinned or cleared), for the log and the status. */
      say?: string;
      /** A count ended (COUNT:END, or a MODE: leaving count mode): one count movement per tally line. */
      ended?: MovementDraft[];
      /** COUNT:CANCEL: tally lines dropped. */
      cancelled?: number;
    }
  | {
      type: 'movement';
      draft: MovementDraft;
      item?: CachedItem;
      /** A GS1 weight converted into the item's uom (log detail). */
      converted?: { fromQty: number; fromUom: 'kg'; via: string; rounded: boolean };
      /** The scan's uom could not be converted into the item's: sent as is, the cloud raises UOM_MISMATCH. Tell the operator. */
      uomMismatch?: string;
    }
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
 * | stockgate:req/ID, REQ:ID           | issue against a requisition (mode ISSUE; issues carry `req`) |
 * | stockgate:po/ID, PO:ID             | receive against a purchase order (mode RECEIVE; receipts carry `po`) |
 * | stockgate:so/ID, SO:ID             | ship against a sales order (mode ISSUE; issues carry `order`) |
 *
 * | COUNT:END, COUNT:CANCEL           | end the open count (send it) / drop it        |
 *
 * The `stockgate:` URL parts are percent-decoded (`stockgate:project/P%2F7` is project `P/7`).
 * A stage belongs to its project: `PRJ:` with another project (or none) clears the stage, as a
 * project QR without a stage does (issue 9: `PRJ:` used to keep it).
 *
 * Item scans are checked against the rules (`SessionRules`): the item cache maps a GTIN to its
 * sku and gives the uom; a serialised item needs its serial; a scan carrying a serial (one unit)
 * moves quantity 1 whatever `QTY:` says; an issue can require project/crew context.
 *
 * Units (issue 9, C3): the item master's uom wins over the scan's and the session's. A GS1 net
 * weight (310n, kg) of an item mastered in another uom is converted through the item's
 * `unitWeightKg` (`item-uom.ts`); without one it is sent in kg and flagged `uomMismatch` (the
 * cloud records it as a UOM_MISMATCH exception; the operator is told).
 *
 * Idle expiry (issue 9): operator, crew and project bindings are dropped after `idleMs` without a
 * scan (`expireIdle`, called by the workflows before each scan and on their timer), so a badge
 * does not stay bound to a scanner for hours.
 *
 * Count mode keeps a tally (`count-tally.ts`) that the workflows fill; this class ends it on
 * `COUNT:END` or a `MODE:` leaving count mode.
 *
 * Pure apart from the clock: no I/O, so the whole state machine is unit-tested.
 */
export class ScanSession {
  readonly context: SessionContext;
  /** The open count of this session (count mode). */
  readonly tally = new CountTally();
  private rules: SessionRules;
  /** Time of the last scan on this session (idle expiry). */
  private lastScanAt: number | undefined;

  constructor(initial: Pick<SessionContext, 'mode' | 'location' | 'uom'>, rules: SessionRules = {}) {
    this.context = { qty: 1, ...initial };
    this.rules = rules;
  }

  /** Replace the validation rules (remote config). The context set by control scans stays. */
  setRules(rules: SessionRules): void {
    this.rules = rules;
  }

  /**
   * Drop operator, crew and project (and stage) when the session was idle longer than `idleMs`
   * at `now`. Returns what was dropped, or undefined. Idempotent.
   */
  expireIdle(now: number): ExpiredBindings | undefined {
    const idle = this.rules.idleMs;
    if (!idle || this.lastScanAt === undefined || now - this.lastScanAt < idle) return undefined;
    const c = this.context;
    const out: ExpiredBindings = {};
    for (const k of ['operator', 'crew', 'project', 'stage', 'po', 'req', 'order'] as const) {
      if (c[k] === undefined) continue;
      out[k] = c[k];
      delete c[k];
    }
    return Object.keys(out).length ? out : undefined;
  }

  /** When the next idle expiry is due (undefined: nothing bound, or no idle limit). */
  idleDeadline(): number | undefined {
    const c = this.context;
    if (!this.rules.idleMs || this.lastScanAt === undefined) return undefined;
    if (!c.operator && !c.crew && !c.project && !c.stage && !c.po && !c.req && !c.order) return undefined;
    return this.lastScanAt + this.rules.idleMs;
  }

  handle(reading: ScanReading, device: { id: string; type: string }): ScanOutcome {
    this.expireIdle(reading.at);
    this.lastScanAt = reading.at;
    const data = reading.data.trim();
    const control = /^([A-Za-z]+):(.*)$/.exec(data);
    if (control && control[1]!.toUpperCase() in CONTROL) {
      const key = control[1]!.toUpperCase();
      const value = control[2]!.trim();
      const bad = value.search(/[\x00-\x1f\x7f]/);
      if (bad >= 0) {
        return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `${key}: control byte 0x${value.charCodeAt(bad).toString(16).padStart(2, '0')} at position ${bad}` };
      }
      if (key === 'COUNT') return this.countControl(value, reading);
      const wasCount = this.context.mode === 'count';
      const out = CONTROL[key]!(this.context, value);
      // Leaving count mode ends the count (issue 9, C6).
      if (out.type === 'control' && wasCount && this.context.mode !== 'count' && this.tally.size > 0) {
        out.ended = this.tally.end(reading.at, reading.raw);
      }
      return out;
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
    const { qty: scanQty, uom: scanUom, ...fields } = item;
    const draft: MovementDraft = {
      ts: new Date(reading.at).toISOString(),
      location: c.location,
      kind: c.mode,
      ...fields,
      qty: scanQty ?? (item.serial ? 1 : c.qty),
      // The item master's uom wins over the session's (C3).
      uom: cached?.uom ?? c.uom,
      device: { id: device.id, type: device.type },
      raw: reading.raw,
    };
    if (cached && !draft.sku) draft.sku = cached.sku;
    applyContext(draft, c);
    const out: Extract<ScanOutcome, { type: 'movement' }> = { type: 'movement', draft };
    if (cached) out.item = cached;
    if (scanUom === 'kg' && scanQty !== undefined) {
      // A GS1 net weight: in the item's uom when the edge can convert it (C3), else kg for the cloud's UOM_MISMATCH.
      const w = weightInItemUom(scanQty, cached);
      if (w.ok) {
        draft.qty = w.qty;
        draft.uom = w.uom;
        if (w.via !== 'kg') out.converted = { fromQty: scanQty, fromUom: 'kg', via: w.via, rounded: w.rounded };
      } else {
        draft.uom = 'kg';
        draft.qty = roundQty(scanQty);
        out.uomMismatch = `${cached?.sku ?? name} weighs ${scanQty} kg on its label but ${w.reason}: sent in kg, the cloud records a UOM_MISMATCH exception (add unitWeightKg to the item master)`;
      }
    }
    return out;
  }

  private countControl(value: string, reading: ScanReading): ScanOutcome {
    switch (value.toUpperCase()) {
      case 'END': {
        if (this.tally.size === 0) return { type: 'error', code: 'SG_ERR_COUNT_EMPTY', message: 'COUNT:END: nothing was counted (MODE:COUNT, then scan the items)' };
        return { type: 'control', code: 'COUNT', context: { ...this.context }, ended: this.tally.end(reading.at, reading.raw) };
      }
      case 'CANCEL':
        return { type: 'control', code: 'COUNT', context: { ...this.context }, cancelled: this.tally.cancel() };
      default:
        return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `COUNT: '${value}' is not END or CANCEL` };
    }
  }
}

const CONTEXT_CODES: Record<ContextField, string> = { project: 'PRJ:', stage: 'STAGE:', operator: 'OP:', crew: 'CREW:' };

/** Copy the session's project, stage, operator and crew onto a draft. */
export function applyContext(draft: MovementDraft, c: SessionContext): MovementDraft {
  if (c.project) draft.project = c.project;
  if (c.stage) draft.stage = c.stage;
  if (c.operator) draft.operator = c.operator;
  if (c.crew) draft.crew = c.crew;
  // A document applies to its own kind of movement only: a pinned PO to receipts, a requisition or
  // a sales order to issues (a return or a count never consumes a reservation).
  if (c.po && draft.kind === 'receive') draft.po = c.po;
  if (c.req && draft.kind === 'issue') draft.req = c.req;
  if (c.order && draft.kind === 'issue') draft.order = c.order;
  return draft;
}

type DocKey = 'po' | 'req' | 'order';
const DOC_MODE: Record<DocKey, SessionContext['mode']> = { po: 'receive', req: 'issue', order: 'issue' };
const DOC_NAME: Record<DocKey, string> = { po: 'purchase order', req: 'requisition', order: 'sales order' };
const DOC_CODE: Record<DocKey, string> = { po: 'PO', req: 'REQ', order: 'SO' };

/**
 * Pin a business document (or clear it with ''): one at a time, so a receipt never carries a
 * requisition nor an issue a PO; pinning switches the mode to the document's (receive for a PO,
 * issue for a requisition or a sales order) and tells the operator so.
 */
function pinDoc(c: SessionContext, key: DocKey, value: string): ScanOutcome {
  const code = DOC_CODE[key];
  if (value.length > 64 || !/^[A-Za-z0-9._-]*$/.test(value)) return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `${code}: '${value.slice(0, 64)}' is not a document id (1-64 of A-Z a-z 0-9 . _ -)` };
  if (!value) {
    const had = c[key];
    delete c[key];
    return { type: 'control', code, context: { ...c }, say: had ? `${DOC_NAME[key]} ${had} unpinned` : `no ${DOC_NAME[key]} was pinned` };
  }
  delete c.po;
  delete c.req;
  delete c.order;
  c[key] = value;
  c.mode = DOC_MODE[key];
  return { type: 'control', code, context: { ...c }, say: `${DOC_NAME[key]} ${value}: mode ${c.mode.toUpperCase()}, ${key === 'po' ? 'receipts' : 'issues'} are booked against it` };
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
    // At most 3 decimals: the ledger's exact scale (the wire refuses more, issue 9).
    if (!/^\d+(\.\d{1,3})?$/.test(value) || !(n > 0) || !Number.isFinite(n) || n > 1e9) {
      return { type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: `QTY: '${value}' is not a positive number with at most 3 decimals (up to 1e9)` };
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
    if (!code || rest.length || /[\x00-\x1f\x7f]/.test(decoded.join(''))) return bad('expected stockgate:project/CODE[/STAGE], stockgate:crew/CODE, stockgate:op/BADGE, stockgate:req/ID, stockgate:po/ID or stockgate:so/ID');
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
      case 'req':
        return stage === undefined ? pinDoc(c, 'req', code) : bad('a requisition id has no stage');
      case 'po':
        return stage === undefined ? pinDoc(c, 'po', code) : bad('a purchase order id has no stage');
      case 'so':
        return stage === undefined ? pinDoc(c, 'order', code) : bad('a sales order id has no stage');
      default:
        return bad(`unknown kind '${kind}'`);
    }
  },
  PRJ: (c, value) => {
    const before = c.project;
    const out = setText('project', 'PRJ')(c, value);
    // A stage belongs to its project: another project (or none) clears it.
    if (out.type === 'control' && c.project !== before && c.stage !== undefined) {
      delete c.stage;
      return { type: 'control', code: 'PRJ', context: { ...c } };
    }
    return out;
  },
  // Handled by ScanSession.countControl (needs the tally); listed so COUNT:... is a control code.
  COUNT: () => ({ type: 'error', code: 'SG_ERR_SCAN_CONTROL', message: 'COUNT: unreachable' }),
  STAGE: setText('stage', 'STAGE'),
  REQ: (c, value) => pinDoc(c, 'req', value),
  PO: (c, value) => pinDoc(c, 'po', value),
  SO: (c, value) => pinDoc(c, 'order', value),
  OP: setText('operator', 'OP'),
  CREW: setText('crew', 'CREW'),
};
