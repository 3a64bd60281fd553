/** The wire contract, version 1: remote configuration and the item master (`.../config`; see `fields.ts`). */
import { z } from 'zod';
import { hasValidCheckDigit } from '../barcode/check-digit.js';
import { SCHEMA_VERSION, text } from './fields.js';
import { ID_PATTERN } from './topics.js';

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
