import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ContextField, EdgeId, ItemRecord, RfidReaderSettings, SESSION_IDLE_MAX_MIN, SiteId, WeighStation, refineEdgeSettings } from '../protocols/mqtt/index.js';
import { parseDeviceSpec } from '../devices/registry.js';
import { DEFAULT_OUTBOX_MAX_BYTES } from './outbox/outbox-store.js';

export const ScanMode = z.enum(['receive', 'issue', 'return', 'count']);
export type ScanMode = z.infer<typeof ScanMode>;

/**
 * The keys the remote config (`RemoteConfig` in protocols/mqtt/remote-config.ts) may set. Everything
 * else (identity, broker, credentials, devices, data dir) is local only.
 */
export const REMOTE_SETTABLE = [
  'mode',
  'location',
  'uom',
  'issueRequires',
  'unknownItems',
  'stations',
  'rfid',
  'telemetryMs',
  'drainRatePerSec',
  'backlogAlert',
  'outboxMaxBytes',
  'sessionIdleMin',
] as const;
export type RemoteSettableKey = (typeof REMOTE_SETTABLE)[number];

/**
 * Edge agent configuration. Sources, lowest precedence first:
 *
 *     defaults  <  --config JSON file  <  remote config (retained .../config)  <  command-line flags
 *
 * A flag is an explicit local override by whoever started the agent, so the remote config does
 * not change a key given as a flag; the agent logs it and lists the key in its status
 * (`configShadowed`), so the drift is visible in the cloud. The remote config sets only
 * `REMOTE_SETTABLE` keys (and the item master). Validated at start; a bad value stops the agent
 * with an error naming the field.
 */
export const EdgeConfig = z.strictObject({
  /** Folder for the outbox database and local state. */
  dataDir: z.string().min(1),
  /** Broker URL: mqtt://HOST:PORT, mqtts://, ws://, wss://. */
  broker: z.string().regex(/^(mqtts?|wss?):\/\/[^\s/]+/, 'broker: expected mqtt://HOST:PORT'),
  site: SiteId,
  edgeId: EdgeId,
  /** Default location of movements until a LOC: control scan changes it. */
  location: z.string().min(1).max(64),
  /** Default movement kind until a MODE: control scan changes it. Default receive. */
  mode: ScanMode.default('receive'),
  /** Unit of measure of scanned items. Default `ea`. */
  uom: z.string().min(1).max(16).default('ea'),
  /** `NAME=DRIVER@URI` entries. */
  devices: z
    .array(z.string())
    .default([])
    .superRefine((specs, ctx) => {
      const names = new Set<string>();
      specs.forEach((s, i) => {
        try {
          const d = parseDeviceSpec(s);
          if (names.has(d.name)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicate device name '${d.name}'` });
          names.add(d.name);
        } catch (err) {
          ctx.addIssue({ code: 'custom', path: [i], message: (err as Error).message });
        }
      });
    }),
  username: z.string().min(1).optional(),
  password: z.string().min(1).optional(),
  /**
   * Shared secret for signed acks with an `--insecure` cloud started with the same `--ack-key`.
   * With a password the ack key is derived from the password instead (issue 8, finding 6).
   */
  ackKey: z.string().min(8, 'ackKey: at least 8 characters').max(1024).optional(),
  /** PEM file of the CA(s) to trust for an `mqtts://` broker (default: the system CAs). */
  ca: z.string().min(1).optional(),
  /**
   * Send batches in the rows form (version 2, protocols/mqtt/movement-rows.ts) to a cloud that
   * offers it in its acks. `--no-rows-form`: version 1 only. Default on.
   */
  rowsForm: z.boolean().default(true),
  /** Movements per published batch. Default 500. */
  batchSize: z.number().int().min(1).max(1000).default(500),
  /** Batches in flight awaiting the cloud's ack. Default 8. */
  window: z.number().int().min(1).max(256).default(8),
  /** ms before an unacked batch is resent. Default 10000. */
  ackTimeoutMs: z.number().int().min(100).default(10_000),
  /** ms between telemetry publishes; 0 turns telemetry off. Default 10000. */
  telemetryMs: z.number().int().min(0).default(10_000),
  /** JSON item master file (`--items FILE`): an array of items, or `{"items":[...]}`. */
  itemsFile: z.string().min(1).optional(),
  /** Items inline in the config file (same shape as the items file). */
  items: z.array(ItemRecord).default([]),
  /** Context an item scan in issue mode needs (`project`, `stage`, `operator`, `crew`). Default none. */
  issueRequires: z.array(ContextField).max(4).default([]),
  /** `reject` refuses items the (non-empty) item cache does not know. Default `accept`. */
  unknownItems: z.enum(['accept', 'reject']).default('accept'),
  /** Operator, crew and project bindings of a scan session expire after this many minutes without a scan; 0 = never. Default 30. */
  sessionIdleMin: z.number().finite().min(0).max(SESSION_IDLE_MAX_MIN).default(30),
  /** Weigh stations: a scanner and a scale paired. */
  stations: z.array(WeighStation).max(64).default([]),
  /** RFID reader roles (zone, portal). A tag reader not listed is a zone with the defaults. */
  rfid: z.array(RfidReaderSettings).max(64).default([]),
  /** Outbox drain limit in movements/s after an outage; 0 = unlimited (default). */
  drainRatePerSec: z.number().finite().min(0).default(0),
  /** Backlog (movements) above which status reports `outbox-backlog` and the log warns. Default 10000. */
  backlogAlert: z.number().int().min(1).default(10_000),
  /** Outbox size bound in bytes of unacked movements; when full, new movements are refused. Default 256 MiB. */
  outboxMaxBytes: z.number().int().min(65_536).default(DEFAULT_OUTBOX_MAX_BYTES),
  /** Apply the retained remote config from `.../config`. Default true. */
  remoteConfig: z.boolean().default(true),
}).superRefine(refineEdgeSettings)
  .refine((c) => c.ackKey === undefined || c.password === undefined, {
    path: ['ackKey'],
    message: 'ackKey: not with a password (an authenticated edge derives its ack key from its password)',
  });
export type EdgeConfig = z.infer<typeof EdgeConfig>;
export type EdgeConfigInput = z.input<typeof EdgeConfig>;

export class ConfigError extends Error {
  readonly code = 'SG_ERR_CONFIG';
  /** The zod issues behind the message, so the CLI can name flags instead of keys. */
  issues?: z.core.$ZodIssue[];
}

/** Validate; on failure throw a ConfigError whose message names every bad field. */
export function parseEdgeConfig(input: unknown): EdgeConfig {
  const r = EdgeConfig.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(root)'}: ${i.message}`);
  throw Object.assign(new ConfigError(`invalid edge configuration:\n${lines.join('\n')}`), { issues: r.error.issues });
}

/** Read the `ca` PEM file; errors name the field. */
export function readCaFile(path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new ConfigError(`invalid edge configuration:\n  ca: cannot read ${path}: ${(err as Error).message}`);
  }
}

/** Read a JSON config file; errors name the file. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`config file ${path}: ${(err as Error).message}`);
  }
}
