/**
 * A hand-compiled fast path for the two schemas the ingester runs per message and per movement
 * (`MovementBatch`, `Movement` of movement.ts; issue 14 §1: "zod per movement vs a compiled
 * validator"). zod's generic object walk cost ~8% of the cloud's samples at saturation.
 *
 * The contract, checked by a property test (tests/protocols/mqtt/movement-fast.test.ts): when
 * `fastMovement(x)` returns a value, it is exactly what `Movement.parse(x)` returns (same keys in
 * the same order, unknown keys stripped, `device` copied); when it returns `undefined` the caller
 * runs zod, so every refusal keeps zod's message naming the field. It defers on anything it is not
 * sure of: a refused field, a prototype other than Object's (zod accepts class instances), an
 * optional key present with the value `undefined` (JSON never makes one). Every rule below names
 * its line in movement.ts / fields.ts; the patterns are the very RegExp objects the schemas use.
 */
import { ID_PATTERN, RESERVED_EDGE_IDS } from './topics.js';
import { Instant, IsoDate, MAX_BATCH, MAX_QTY, SCHEMA_VERSION } from './fields.js';
import { isSafeRaw, isSafeText } from './json-guard.js';
import { BatchVersions } from './movement-rows.js';
import { EPC_PATTERN, GTIN_PATTERN, MAX_RAW_CHARS, MOVEMENT_ID_PATTERN, MOVEMENT_KINDS, type Movement, type MovementKind } from './movement.js';

// zod's own patterns for `z.iso.datetime({ offset: true })` and `z.iso.date()` (a zod upgrade that
// changes them changes both paths alike).
const INSTANT_PATTERN = patternOf(Instant);
const DATE_PATTERN = patternOf(IsoDate);
const KINDS: ReadonlySet<string> = new Set(MOVEMENT_KINDS);

function patternOf(schema: { _zod: { def: { pattern?: RegExp } } }): RegExp {
  const p = schema._zod.def.pattern;
  if (!(p instanceof RegExp) || p.global || p.sticky) throw new TypeError('zod format without a plain pattern: the fast path cannot mirror it');
  return p;
}

type Obj = Record<string, unknown>;

/** A plain object (what JSON.parse makes); zod also takes class instances, left to it. */
function plain(x: unknown): x is Obj {
  return typeof x === 'object' && x !== null && Object.getPrototypeOf(x) === Object.prototype;
}

/**
 * zod 4 measures a string's max length in code points (a pair counts once, a lone surrogate as
 * itself: `util.codePointLength`); the UTF-16 length is an upper bound, so only a longer string
 * is counted.
 */
function fitsIn(s: string, max: number): boolean {
  if (s.length <= max) return true;
  let n = s.length;
  for (let i = 0; i < s.length - 1; i++) {
    if ((s.charCodeAt(i) & 0xfc00) === 0xd800 && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n--;
      i++;
    }
  }
  return n <= max;
}

/** `text(max)` of fields.ts: 1..max characters (a non-empty string has at least one), safe text. */
function isText(x: unknown, max: number): x is string {
  return typeof x === 'string' && x.length >= 1 && fitsIn(x, max) && isSafeText(x);
}

/** `SiteId` / `EdgeId` of fields.ts; `known` is an id the caller has already checked (the topic's). */
function isSite(x: unknown, known: string | undefined): x is string {
  return typeof x === 'string' && (x === known || ID_PATTERN.test(x));
}
function isEdge(x: unknown, known: string | undefined): x is string {
  return typeof x === 'string' && (x === known || (ID_PATTERN.test(x) && !RESERVED_EDGE_IDS.has(x)));
}

/**
 * `qty` of movement.ts: a finite number, |qty| <= MAX_QTY, at most 3 decimals as written. For
 * |qty| <= 1e9 (13 significant digits at most), `round(q*1000)/1000 === q` holds exactly when the
 * shortest text of q has <= 3 decimals (`decimalsOf` of protocols/ledger/quantity.ts): q*1000 is
 * within 1e-4 of the integer, the division is correctly rounded, and a 13-digit decimal is its
 * double's shortest text (fewer than 15 digits). The property test compares both on random doubles.
 */
function isQty(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x) && Math.abs(x) <= MAX_QTY && (Number.isInteger(x) || Math.round(x * 1000) / 1000 === x);
}

/**
 * `Movement.parse(x)` when `x` is a valid movement, else `undefined` (run zod for the message).
 * `known` names a site and edge already validated (the topic's): equal strings skip their pattern.
 */
export function fastMovement(x: unknown, known?: { site: string; edge: string }): Movement | undefined {
  if (!plain(x)) return undefined;
  const m = x;
  // Each optional field: absent (undefined and not `in` m: left out, like zod), valid, or defer.
  // A key present with the value undefined is kept by zod as undefined: deferred. The reads use
  // constant property names (not a helper taking the key) so they stay monomorphic inline caches.
  if (m.v !== SCHEMA_VERSION) return undefined;
  const id = m.id;
  if (typeof id !== 'string' || !MOVEMENT_ID_PATTERN.test(id)) return undefined;
  const edge = m.edge;
  if (!isEdge(edge, known?.edge)) return undefined;
  const seq = m.seq;
  // z.number().int().positive().max(MAX_SAFE_INTEGER): zod's int is a safe integer.
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq <= 0) return undefined;
  const ts = m.ts;
  if (typeof ts !== 'string' || !INSTANT_PATTERN.test(ts)) return undefined;
  const site = m.site;
  if (!isSite(site, known?.site)) return undefined;
  const location = m.location;
  if (!isText(location, 64)) return undefined;
  const toLocation = m.toLocation;
  if (toLocation !== undefined ? !isText(toLocation, 64) : 'toLocation' in m) return undefined;
  const kind = m.kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) return undefined;
  const sku = m.sku;
  if (sku !== undefined ? !isText(sku, 64) : 'sku' in m) return undefined;
  const gtin = m.gtin;
  if (gtin !== undefined ? typeof gtin !== 'string' || !GTIN_PATTERN.test(gtin) : 'gtin' in m) return undefined;
  const epc = m.epc;
  if (epc !== undefined ? typeof epc !== 'string' || !EPC_PATTERN.test(epc) : 'epc' in m) return undefined;
  const batch = m.batch;
  if (batch !== undefined ? !isText(batch, 20) : 'batch' in m) return undefined;
  const expiry = m.expiry;
  if (expiry !== undefined ? typeof expiry !== 'string' || !DATE_PATTERN.test(expiry) : 'expiry' in m) return undefined;
  const serial = m.serial;
  if (serial !== undefined ? !isText(serial, 64) : 'serial' in m) return undefined;
  const qty = m.qty;
  if (!isQty(qty)) return undefined;
  const uom = m.uom;
  if (!isText(uom, 16)) return undefined;
  const project = m.project;
  if (project !== undefined ? !isText(project, 64) : 'project' in m) return undefined;
  const stage = m.stage;
  if (stage !== undefined ? !isText(stage, 64) : 'stage' in m) return undefined;
  const operator = m.operator;
  if (operator !== undefined ? !isText(operator, 64) : 'operator' in m) return undefined;
  const crew = m.crew;
  if (crew !== undefined ? !isText(crew, 64) : 'crew' in m) return undefined;
  const po = m.po;
  if (po !== undefined ? !isText(po, 64) : 'po' in m) return undefined;
  const req = m.req;
  if (req !== undefined ? !isText(req, 64) : 'req' in m) return undefined;
  const order = m.order;
  if (order !== undefined ? !isText(order, 64) : 'order' in m) return undefined;
  const device = m.device;
  if (!plain(device)) return undefined;
  const deviceId = device.id;
  const deviceType = device.type;
  if (!isText(deviceId, 64) || !isText(deviceType, 64)) return undefined;
  const raw = m.raw;
  if (typeof raw !== 'string' || !fitsIn(raw, MAX_RAW_CHARS) || !isSafeRaw(raw)) return undefined;

  // The cross-field rules of `Movement` (its superRefine).
  if (sku === undefined && gtin === undefined && epc === undefined) return undefined;
  if (kind === 'transfer' ? toLocation === undefined || toLocation === location : toLocation !== undefined) return undefined;
  if (kind === 'count' ? qty < 0 : kind === 'adjust' ? qty === 0 : qty <= 0) return undefined;

  // zod's output: the shape's keys in shape order, an absent optional key left out.
  const out: Obj = { v: SCHEMA_VERSION, id, edge, seq, ts, site, location };
  if (toLocation !== undefined) out.toLocation = toLocation;
  out.kind = kind as MovementKind;
  if (sku !== undefined) out.sku = sku;
  if (gtin !== undefined) out.gtin = gtin;
  if (epc !== undefined) out.epc = epc;
  if (batch !== undefined) out.batch = batch;
  if (expiry !== undefined) out.expiry = expiry;
  if (serial !== undefined) out.serial = serial;
  out.qty = qty;
  out.uom = uom;
  if (project !== undefined) out.project = project;
  if (stage !== undefined) out.stage = stage;
  if (operator !== undefined) out.operator = operator;
  if (crew !== undefined) out.crew = crew;
  if (po !== undefined) out.po = po;
  if (req !== undefined) out.req = req;
  if (order !== undefined) out.order = order;
  out.device = { id: deviceId, type: deviceType };
  out.raw = raw;
  return out as Movement;
}

/** What `MovementBatch.parse` returns: the envelope, movements not yet validated. */
export interface MovementBatchEnvelope {
  v: typeof SCHEMA_VERSION;
  site: string;
  edge: string;
  sentAt: string;
  movements: unknown[];
  batchVersions?: number[];
}

/** `MovementBatch.parse(x)` when the envelope is valid, else `undefined` (run zod for the message). */
export function fastMovementBatch(x: unknown): MovementBatchEnvelope | undefined {
  if (!plain(x)) return undefined;
  if (x.v !== SCHEMA_VERSION) return undefined;
  const site = x.site;
  if (!isSite(site, undefined)) return undefined;
  const edge = x.edge;
  if (!isEdge(edge, undefined)) return undefined;
  const sentAt = x.sentAt;
  if (typeof sentAt !== 'string' || !INSTANT_PATTERN.test(sentAt)) return undefined;
  const list = x.movements;
  if (!Array.isArray(list) || list.length < 1 || list.length > MAX_BATCH) return undefined;
  // z.array copies (a hole becomes an explicit undefined).
  const movements = new Array<unknown>(list.length);
  for (let i = 0; i < list.length; i++) movements[i] = list[i];
  const out: MovementBatchEnvelope = { v: SCHEMA_VERSION, site, edge, sentAt, movements };
  if (x.batchVersions !== undefined) {
    // Once per batch: zod itself (it copies the array, as its output would).
    const v = BatchVersions.safeParse(x.batchVersions);
    if (!v.success) return undefined;
    out.batchVersions = v.data;
  }
  return out;
}
