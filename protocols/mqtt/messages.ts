/**
 * The wire contract, version 1: zod schemas of every payload on the topics in `topics.ts`.
 * Payloads are UTF-8 JSON. Every message carries `v` (the schema version); a receiver rejects a
 * version it does not know with reason `UNSUPPORTED_VERSION` instead of guessing.
 *
 * Unknown object keys are stripped, not rejected, so a newer edge can add optional fields within
 * version 1 without breaking an older cloud.
 */
import { z } from 'zod';
import { qtyProblem } from '../ledger/quantity.js';
import { isSafeRaw, isSafeText } from './json-guard.js';
import { ID_PATTERN, RESERVED_EDGE_IDS } from './topics.js';
import { hasValidCheckDigit } from '../barcode/check-digit.js';

export const SCHEMA_VERSION = 1 as const;

/** Most movements in one batch message. Bounds memory and one transaction's size at the cloud. */
export const MAX_BATCH = 1000;

/**
 * Text fields: 1..max characters, no control character and no lone surrogate (issue 8, finding 8:
 * such strings reached the ledger as mangled SKUs; PostgreSQL refuses NUL in text outright).
 */
const text = (max: number) => z.string().min(1).max(max).refine(isSafeText, 'no control characters or invalid Unicode allowed');

/**
 * Largest |qty| of one movement, in its uom (issue 8, finding 7: a qty of 1e308 was accepted and two
 * receives made a balance +Infinity). 1e9 is far above any real movement and keeps every balance
 * a finite double (the ledger would need 1e299 movements to overflow).
 */
export const MAX_QTY = 1e9;

export const SiteId = z.string().regex(ID_PATTERN, 'site: 1-64 of [A-Za-z0-9._-], starting alphanumeric');
export const EdgeId = z
  .string()
  .regex(ID_PATTERN, 'edge: 1-64 of [A-Za-z0-9._-], starting alphanumeric')
  .refine((e) => !RESERVED_EDGE_IDS.has(e), 'edge: this id is reserved');

export const MovementKind = z.enum(['receive', 'issue', 'return', 'transfer', 'adjust', 'count']);
export type MovementKind = z.infer<typeof MovementKind>;

/** ISO-8601 instant with an offset or Z, e.g. 2026-11-22T02:19:00.000Z. */
const Instant = z.iso.datetime({ offset: true });
/** Calendar date, e.g. an expiry 2027-03-31. */
const IsoDate = z.iso.date();

export const DeviceRef = z.object({
  /** The device's name in the edge config (`--device NAME=...`). */
  id: text(64),
  /** Driver or device class, e.g. `scanner`, `scale-mt-sics`, `rfid-m100`, `manual`. */
  type: text(64),
});

/**
 * One stock movement, the unit of the ledger. `qty` is in `uom`; its sign rules by kind:
 * receive/issue/return/transfer move a positive quantity (direction comes from the kind),
 * `count` states the counted quantity (>= 0) that the stock is set to, and `adjust` is a signed
 * correction (non-zero).
 */
export const MovementFields = z.object({
  v: z.literal(SCHEMA_VERSION),
  /** Globally unique, generated at the edge (a ULID); the idempotency key of the ledger. */
  id: z.string().regex(/^[0-9A-Za-z_-]{10,64}$/, 'id: 10-64 of [0-9A-Za-z_-]'),
  edge: EdgeId,
  /** Per-edge sequence number, strictly increasing from 1 without gaps. */
  seq: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
  /** When the reading happened, at the edge. */
  ts: Instant,
  site: SiteId,
  location: text(64),
  /** Destination location of a transfer (required for kind `transfer`, else absent). */
  toLocation: text(64).optional(),
  kind: MovementKind,
  sku: text(64).optional(),
  /** GTIN-14, digits only. */
  gtin: z.string().regex(/^\d{14}$/, 'gtin: 14 digits').optional(),
  /** EPC as upper-case hex (96 bits or more). */
  epc: z.string().regex(/^[0-9A-F]{8,128}$/, 'epc: upper-case hex').optional(),
  batch: text(20).optional(),
  expiry: IsoDate.optional(),
  serial: text(64).optional(),
  /**
   * Exact decimal with at most 3 decimals (the ledger keeps integer thousandths, issue 9), and
   * |qty| <= 1e9 per movement (issue 8, finding 7: 1e308 was accepted and two receives made a
   * balance +Infinity).
   */
  qty: z.number().superRefine((x, ctx) => {
    const p = qtyProblem(x) ?? (Math.abs(x) > MAX_QTY ? 'larger than 1e9 (|qty| per movement)' : undefined);
    if (p) ctx.addIssue({ code: 'custom', message: `qty: ${p}` });
  }),
  /** Unit of measure: `ea`, `kg`, `m`, ... */
  uom: text(16),
  project: text(64).optional(),
  stage: text(64).optional(),
  operator: text(64).optional(),
  crew: text(64).optional(),
  /**
   * Business documents the movement is scanned against (issue 10 §2-3, issue 11 §1), optional
   * within version 1 (an older edge omits them; an older cloud strips them): `po` pins a receipt
   * to that purchase order (`stockgate:po/ID`), `req` books an issue against that requisition's
   * reservation (`stockgate:req/ID`), `order` ships against that sales order (`stockgate:so/ID`).
   */
  po: text(64).optional(),
  req: text(64).optional(),
  order: text(64).optional(),
  device: DeviceRef,
  /** The scan text or frame as read (audit: a ledger row traces back to these bytes). */
  raw: z.string().max(4096).refine(isSafeRaw, 'raw: no NUL or invalid Unicode allowed'),
});

/** The movement with its cross-field rules; `MovementFields` is the plain shape for derived schemas. */
export const Movement = MovementFields.superRefine((m, ctx) => {
  if (m.sku === undefined && m.gtin === undefined && m.epc === undefined) {
    ctx.addIssue({ code: 'custom', path: ['sku'], message: 'sku: one of sku, gtin or epc is required' });
  }
  if (m.kind === 'transfer') {
    if (m.toLocation === undefined) ctx.addIssue({ code: 'custom', path: ['toLocation'], message: 'toLocation: required for a transfer' });
    else if (m.toLocation === m.location) ctx.addIssue({ code: 'custom', path: ['toLocation'], message: 'toLocation: equals location' });
  } else if (m.toLocation !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['toLocation'], message: 'toLocation: only a transfer has one' });
  }
  if (m.kind === 'count' ? m.qty < 0 : m.kind === 'adjust' ? m.qty === 0 : m.qty <= 0) {
    const rule = m.kind === 'count' ? '>= 0' : m.kind === 'adjust' ? 'non-zero' : '> 0';
    ctx.addIssue({ code: 'custom', path: ['qty'], message: `qty: must be ${rule} for kind ${m.kind}` });
  }
});
export type Movement = z.infer<typeof Movement>;

/** One publish on `.../movements`: many movements of one edge, in seq order. */
export const MovementBatch = z.object({
  v: z.literal(SCHEMA_VERSION),
  site: SiteId,
  edge: EdgeId,
  /** When the edge published this batch (resends carry a new time). */
  sentAt: Instant,
  movements: z.array(z.unknown()).min(1).max(MAX_BATCH),
});
/**
 * The batch envelope is validated first and each movement on its own, so one bad movement is
 * dead-lettered alone and the rest of the batch still applies.
 */
export type MovementBatch = Omit<z.infer<typeof MovementBatch>, 'movements'> & { movements: Movement[] };

/** Inclusive seq ranges `[from, to]`, ascending and disjoint: compact acks for long batches. */
export const SeqRanges = z
  .array(z.tuple([z.number().int().positive(), z.number().int().positive()]).refine(([a, b]) => a <= b, 'ranges: from > to'))
  .max(10_000)
  .refine((rs) => rs.every((r, i) => i === 0 || r[0] > rs[i - 1]![1]), 'ranges: not ascending and disjoint');
export type SeqRanges = Array<[number, number]>;

/** An HMAC-SHA256 in lowercase hex (`ack-signature.ts`). */
const AckSig = z.string().regex(/^[0-9a-f]{64}$/, 'sig: expected 64 lowercase hex digits (HMAC-SHA256)');

/**
 * Application-level ack on `.../acks`, published only after the ledger transaction committed.
 * It is the only thing that frees outbox entries at the edge (not the broker's PUBACK).
 */
export const Ack = z.object({
  v: z.literal(SCHEMA_VERSION),
  edge: EdgeId,
  /** Seqs now durable in the ledger (newly applied or already there). */
  ranges: SeqRanges,
  /** How many of them were duplicates (already applied earlier). */
  duplicates: z.number().int().nonnegative(),
  /**
   * Gap detection: seqs of this edge below the highest seen that the ledger still lacks. The
   * edge resends them (from its outbox) without waiting for its ack timeout.
   */
  missing: SeqRanges.optional(),
  at: Instant,
  /**
   * HMAC-SHA256 (hex) over the ack's canonical content under the edge's ack key
   * (`ack-signature.ts`). Optional on the wire: unsigned acks (older clouds, `--insecure` without
   * `--ack-key`) stay valid; an edge that holds a key drops an ack without a valid one.
   */
  sig: AckSig.optional(),
});
export type Ack = z.infer<typeof Ack>;

export const RejectReason = z.enum([
  /** Payload is not UTF-8 JSON. */
  'INVALID_JSON',
  /** Envelope or movement fails the schema; `message` names the field. */
  'INVALID_SCHEMA',
  /** `v` is a version this receiver does not speak. */
  'UNSUPPORTED_VERSION',
  /** site/edge in the payload differ from the topic it came on. */
  'TOPIC_MISMATCH',
  /** Payload larger than the receiver accepts. */
  'TOO_LARGE',
]);
export type RejectReason = z.infer<typeof RejectReason>;

/**
 * Reject on `.../rejects`: the cloud kept the payload in its dead-letter store and will not apply
 * it. `ranges` names the rejected movements when their seqs could be read, so the edge can move
 * them out of its outbox (into its local rejected table) instead of resending them forever.
 */
export const Reject = z.object({
  v: z.literal(SCHEMA_VERSION),
  edge: EdgeId,
  reason: RejectReason,
  message: z.string(),
  ranges: SeqRanges.optional(),
  ids: z.array(z.string()).max(MAX_BATCH).optional(),
  deadLetterId: z.number().int().optional(),
  at: Instant,
  /** Signature as on {@link Ack} (a reject also moves entries out of the outbox). */
  sig: AckSig.optional(),
});
export type Reject = z.infer<typeof Reject>;

export const DeviceHealth = z.object({
  id: text(64),
  type: text(64),
  state: z.enum(['connected', 'disconnected', 'error']),
  lastFrameAt: Instant.optional(),
  reconnects: z.number().int().nonnegative().optional(),
  droppedFrames: z.number().int().nonnegative().optional(),
  error: z.string().optional(),
});
export type DeviceHealth = z.infer<typeof DeviceHealth>;

/**
 * Retained on `.../status`. The same shape with `state: 'offline'` and `reason: 'lwt'` is the
 * MQTT last will, so a crashed edge reads offline without anyone polling it.
 */
export const EdgeStatus = z.object({
  v: z.literal(SCHEMA_VERSION),
  site: SiteId,
  edge: EdgeId,
  state: z.enum(['online', 'offline']),
  reason: z.enum(['connect', 'shutdown', 'lwt', 'update']).optional(),
  ts: Instant,
  /** Movements in the outbox not yet acked. */
  backlog: z.number().int().nonnegative().optional(),
  version: z.string().optional(),
  devices: z.array(DeviceHealth).optional(),
});
export type EdgeStatus = z.infer<typeof EdgeStatus>;

/** Periodic numbers on `.../telemetry` (QoS 0: a lost sample is replaced by the next). */
export const Telemetry = z.object({
  v: z.literal(SCHEMA_VERSION),
  site: SiteId,
  edge: EdgeId,
  ts: Instant,
  /** Flat name -> number, e.g. `outbox.backlog`, `outbox.oldestAgeMs`, `scale.dock1.weightKg`. */
  metrics: z.record(z.string().max(128).refine(isSafeText, 'metric name: no control characters or invalid Unicode allowed'), z.number()),
  devices: z.array(DeviceHealth).optional(),
});
export type Telemetry = z.infer<typeof Telemetry>;

/** First issue of a failed zod parse as `path: message` (messages already name their field). */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid';
  const path = issue.path.join('.');
  return path && !issue.message.startsWith(`${String(issue.path[issue.path.length - 1])}:`) ? `${path}: ${issue.message}` : issue.message;
}

// ---------------------------------------------------------------------------------------------
// Remote configuration (cloud -> edge, retained on `.../config`) and the edge's detailed status.

/** A device's name in the edge config (`--device NAME=DRIVER@URI`): a single id, like site and edge ids. */
export const DeviceName = z.string().regex(ID_PATTERN, 'device: 1-64 of [A-Za-z0-9._-], starting alphanumeric');

/** Upper bound of `sessionIdleMin`: one week. */
export const SESSION_IDLE_MAX_MIN = 10_080;

/** The session kinds an item scan (or an RFID arrival) can make. */
export const ScanKind = z.enum(['receive', 'issue', 'return', 'count']);

/** Context a workflow may require before an issue: `issueRequires: ["project", "crew"]`. */
export const ContextField = z.enum(['project', 'stage', 'operator', 'crew']);

/** One item of the item master, as the edge caches it for offline validation. */
export const ItemRecord = z.strictObject({
  sku: text(64),
  /** GTIN-14 (digits only, valid check digit): a GS1 scan or an SGTIN tag of this GTIN is this sku. */
  gtin: z
    .string()
    .regex(/^\d{14}$/, 'gtin: 14 digits')
    .refine(hasValidCheckDigit, 'gtin: wrong check digit')
    .optional(),
  /** Unit of the item's quantities. Default `ea`. */
  uom: text(16).optional(),
  /** Weight of one piece, kg: a weigh station counts this item in pieces (count by weight). */
  unitWeightKg: z.number().finite().positive().optional(),
  /** Tracked by identity (GS1 serial or SGTIN): one scan or tag is one unit. */
  serialised: z.boolean().optional(),
  description: z.string().max(256).optional(),
});
export type ItemRecord = z.infer<typeof ItemRecord>;

/**
 * A weigh station: a scanner and a scale paired. Scan the item, place the load: one stable net
 * weight (the scale's flag plus `stableMs` of samples within ±1 division) makes one movement;
 * the scale must return within `zeroBandKg` of zero before the next placement counts.
 */
export const WeighStation = z.strictObject({
  /** Station name for logs and status. Default `<scanner>+<scale>`. */
  name: DeviceName.optional(),
  scanner: DeviceName,
  scale: DeviceName,
  /** Scale division d, kg. Default: from the frames when they carry it, else 0.001. */
  divisionKg: z.number().finite().positive().optional(),
  /** |weight| at or below this is "empty". Default 1 d. */
  zeroBandKg: z.number().finite().nonnegative().optional(),
  /** How long every sample must stay within ±1 d to be stable, ms. Default 1000. */
  stableMs: z.number().int().min(0).max(60_000).optional(),
  /** Scale capacity (Max), kg, for the count-by-weight sample warning. */
  capacityKg: z.number().finite().positive().optional(),
});
export type WeighStation = z.infer<typeof WeighStation>;

const RfidAction = z.enum(['session', 'receive', 'issue', 'return', 'none']);

/**
 * An RFID reader's role. `zone` (a dock gate, a shelf): a tag arriving makes an `arrive` movement
 * (default: the kind of the paired scanner's session, else the edge's mode), a tag departing
 * (unseen for `departureMs`) a `depart` one (default none). `portal`: the antenna order of one
 * pass gives the direction: outside -> inside is a receive, inside -> outside an issue.
 */
export const RfidReaderSettings = z
  .strictObject({
    reader: DeviceName,
    role: z.enum(['zone', 'portal']).optional(),
    /** Reads of one EPC closer together than this are one sighting. Default 2000 ms. */
    readWindowMs: z.number().int().min(50).max(600_000).optional(),
    /** A tag unseen for this long has departed. Default 10000 ms; at least `readWindowMs`. */
    departureMs: z.number().int().min(50).max(3_600_000).optional(),
    /** Portal: the antenna (1-based) on the outside of the doorway. */
    outsideAntenna: z.number().int().min(1).max(64).optional(),
    /** Portal: the antenna on the inside. */
    insideAntenna: z.number().int().min(1).max(64).optional(),
    arrive: RfidAction.optional(),
    depart: RfidAction.optional(),
    /** The scanner whose session (operator, crew, project, mode) these movements take. */
    scanner: DeviceName.optional(),
    /** Location of these movements. Default: the session's. */
    location: text(64).optional(),
  })
  .superRefine((r, ctx) => {
    if (r.role === 'portal') {
      if (r.outsideAntenna === undefined || r.insideAntenna === undefined) {
        ctx.addIssue({ code: 'custom', path: ['outsideAntenna'], message: 'outsideAntenna: a portal needs outsideAntenna and insideAntenna' });
      } else if (r.outsideAntenna === r.insideAntenna) {
        ctx.addIssue({ code: 'custom', path: ['insideAntenna'], message: 'insideAntenna: equals outsideAntenna' });
      }
    }
    if (r.readWindowMs !== undefined && r.departureMs !== undefined && r.departureMs < r.readWindowMs) {
      ctx.addIssue({ code: 'custom', path: ['departureMs'], message: 'departureMs: shorter than readWindowMs' });
    }
  });
export type RfidReaderSettings = z.infer<typeof RfidReaderSettings>;

/**
 * The settings the cloud may change at runtime, shared by the edge's local config file.
 * Omitted keys keep their local value.
 */
export const EdgeSettings = z.strictObject({
  mode: ScanKind.optional(),
  location: text(64).optional(),
  uom: text(16).optional(),
  /** Context an issue needs (an item scan in issue mode is refused until it is scanned). */
  issueRequires: z.array(ContextField).max(4).optional(),
  /** `reject`: an item the item cache does not know is refused at the edge. Default `accept`. */
  unknownItems: z.enum(['accept', 'reject']).optional(),
  stations: z.array(WeighStation).max(64).optional(),
  rfid: z.array(RfidReaderSettings).max(64).optional(),
  /** The item master (replaces what the previous remote config sent). */
  items: z.array(ItemRecord).max(500_000).optional(),
  telemetryMs: z.number().int().min(0).max(86_400_000).optional(),
  /** Outbox drain limit, movements/s; 0 = unlimited. */
  drainRatePerSec: z.number().finite().min(0).optional(),
  /** Backlog (movements) above which the edge raises `outbox-backlog` in its status. */
  backlogAlert: z.number().int().min(1).optional(),
  /** Outbox bound, bytes of unacked movements; when full, new movements are refused. */
  outboxMaxBytes: z.number().int().min(65_536).optional(),
  /** Scan-session operator, crew and project bindings expire after this many idle minutes; 0 = never (issue 9). */
  sessionIdleMin: z.number().finite().min(0).max(SESSION_IDLE_MAX_MIN).optional(),
});
export type EdgeSettings = z.infer<typeof EdgeSettings>;

/**
 * Cross-field rules of {@link EdgeSettings} (as `superRefine`): no sku or GTIN twice in the item
 * master, no reader twice, no scanner or scale in two stations.
 */
export function refineEdgeSettings(c: EdgeSettings, ctx: z.RefinementCtx): void {
  const dup = (list: readonly string[], path: string) => {
    const seen = new Set<string>();
    list.forEach((k, i) => {
      if (seen.has(k)) ctx.addIssue({ code: 'custom', path: [path, i], message: `${path}: duplicate '${k}'` });
      seen.add(k);
    });
  };
  dup((c.items ?? []).map((i) => i.sku), 'items');
  dup((c.items ?? []).flatMap((i) => (i.gtin ? [i.gtin] : [])), 'items');
  dup((c.rfid ?? []).map((r) => r.reader), 'rfid');
  dup((c.stations ?? []).map((s) => s.scale), 'stations');
  dup((c.stations ?? []).map((s) => s.scanner), 'stations');
}

/**
 * Versioned remote config, retained on `stockgate/v1/{site}/{edge}/config`. Unlike the other
 * messages, unknown keys are an error here (strict): a key the edge does not know would silently
 * not apply, so the edge refuses the whole version and reports `configError` in its status.
 */
export const RemoteConfig = EdgeSettings.extend({
  v: z.literal(SCHEMA_VERSION),
  /** Monotonic version; the edge applies a version higher than the one it runs, ignores others. */
  version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
}).superRefine(refineEdgeSettings);
export type RemoteConfig = z.infer<typeof RemoteConfig>;

/**
 * The cloud's item master as the edge caches it, retained on `stockgate/v1/{site}/{edge}/items`
 * (issue 9: the edge's item cache is fed from the cloud's item master). A channel of its own so
 * the cloud never writes the operator's versioned `config`; each snapshot is complete and
 * replaces the previous one; `version` only grows (the edge ignores a version at or below the one
 * it has). An operator's own items (remote config `items`, the local file) win over these.
 */
export const ItemMasterSnapshot = z
  .strictObject({
    v: z.literal(SCHEMA_VERSION),
    version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER),
    items: z.array(ItemRecord).max(500_000),
  })
  .superRefine((c, ctx) => refineEdgeSettings({ items: c.items }, ctx));
export type ItemMasterSnapshot = z.infer<typeof ItemMasterSnapshot>;

/** What the edge reports of the last error an operator was told about. */
export const EdgeErrorReport = z.object({
  at: Instant,
  code: z.string(),
  message: z.string(),
  device: z.string().optional(),
});

/**
 * `EdgeStatus` with the edge agent's details (all optional, so any v1 status still parses):
 * remote config version and error, current problems (`outbox-full`, `outbox-backlog`,
 * `config-error`, `scale-not-zero:<device>`), the outbox gauge and the last operator error.
 */
export const EdgeStatusDetails = EdgeStatus.extend({
  configVersion: z.number().int().nonnegative().optional(),
  configError: z.string().optional(),
  /** Remote config keys not applied because a command-line flag sets them (flags win). */
  configShadowed: z.array(z.string()).optional(),
  /** Version and size of the cloud item master snapshot in the edge's cache (`.../items`). */
  itemMaster: z.object({ version: z.number().int().nonnegative(), items: z.number().int().nonnegative(), error: z.string().optional() }).optional(),
  problems: z.array(z.string()).optional(),
  outbox: z
    .object({
      count: z.number().int().nonnegative(),
      bytes: z.number().int().nonnegative(),
      maxBytes: z.number().int().nonnegative(),
      oldestAgeMs: z.number().nonnegative(),
      refused: z.number().int().nonnegative(),
    })
    .optional(),
  lastError: EdgeErrorReport.optional(),
  /** The last warning (count-by-weight doubt, scale not at zero, device status...). */
  lastWarning: EdgeErrorReport.optional(),
});
export type EdgeStatusDetails = z.infer<typeof EdgeStatusDetails>;
