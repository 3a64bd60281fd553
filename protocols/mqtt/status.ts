/** The wire contract, version 1: the edge's status and telemetry (`.../status`, `.../telemetry`; see `fields.ts`). */
import { z } from 'zod';
import { EdgeId, Instant, SCHEMA_VERSION, SiteId, text } from './fields.js';
import { isSafeText } from './json-guard.js';

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
