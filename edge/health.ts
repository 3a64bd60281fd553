import type { Logger } from 'pino';
import { SCHEMA_VERSION, type DeviceHealth, type EdgeStatus, type EdgeStatusDetails, type Telemetry } from '../protocols/mqtt/index.js';
import type { Device } from '../devices/device.js';
import type { ItemCache } from './item-cache.js';
import type { ItemMasterFeed } from './item-master-feed.js';
import type { SqliteOutbox } from './outbox/sqlite.js';
import type { Publisher } from './publisher.js';
import type { RecorderCounters } from './recorder.js';
import type { Workflows } from './workflows.js';
import { metric, type AgentMetric } from './metric-names.js';

type ErrorReport = NonNullable<EdgeStatusDetails['lastError']>;
export type StatusState = EdgeStatus['state'];
export type StatusReason = EdgeStatus['reason'];

/**
 * The edge status, built here only (issue 15 §1, "one place builds the edge status"): the
 * envelope (who, state, why, when, version) and, when online, the agent's details. The
 * publisher sends what this returns, the last will included (offline: no details).
 */
export function edgeStatus(who: { site: string; edge: string; version?: string }, state: StatusState, reason: StatusReason, details?: Partial<EdgeStatusDetails>): EdgeStatusDetails {
  const base: EdgeStatus = { v: SCHEMA_VERSION, site: who.site, edge: who.edge, state, reason, ts: new Date().toISOString() };
  if (who.version) base.version = who.version;
  return state === 'online' && details ? { ...base, ...details } : base;
}

function report(code: string, message: string, device?: string): ErrorReport {
  const r: ErrorReport = { at: new Date().toISOString(), code, message };
  if (device) r.device = device;
  return r;
}

/** Hysteresis of the backlog and outbox-full problems: they clear below this fraction of the threshold. */
const CLEAR_BELOW = 0.9;
/** How long a refused ack stays a status problem (`ack-signature-invalid`, `ack-beyond-sent`). */
const ACK_PROBLEM_MS = 10 * 60_000;
/** Coalescing of status republishes: a burst of changes is one publish. */
const STATUS_COALESCE_MS = 250;

/** What the health reads of the settings (settings.ts): thresholds and the remote config's state. */
export interface HealthSettings {
  readonly backlogAlert: number;
  readonly telemetryMs: number;
  readonly configVersion: number;
  readonly configError: string | undefined;
  readonly shadowed: readonly string[];
}

export interface EdgeHealthDeps {
  site: string;
  edge: string;
  broker: string;
  version: string;
  log: Logger;
  outbox: SqliteOutbox;
  publisher: Publisher;
  devices: readonly Device[];
  workflows: Workflows;
  items: ItemCache;
  itemMaster: ItemMasterFeed;
  counters: Readonly<RecorderCounters>;
  settings: HealthSettings;
}

/**
 * The edge's health: what it tells about itself. Retained status (built by `edgeStatus`, with
 * last will) republished on changes, coalesced; telemetry every `telemetryMs` with the names of
 * `EDGE_METRICS`; the problems list with hysteresis (outbox full, backlog, write errors, broker
 * unreachable, refused acks, devices); the last error and warning the operator was told.
 */
export class EdgeHealth {
  private started = false;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private outboxFull = false;
  /**
   * The outbox refused the last write for another reason than its bound (disk full, I/O error):
   * status problem `outbox-write-error` until a write succeeds again (issue 8, finding 11).
   */
  private outboxWriteError = false;
  private backlogHigh = false;
  private lastError: ErrorReport | undefined;
  private lastWarning: ErrorReport | undefined;
  private readonly lastFrameAt = new Map<string, number>();
  private readonly startedAt = Date.now();
  /** When an ack was last refused, per kind (status problems for ACK_PROBLEM_MS after). */
  private readonly ackRefusedAt = { 'bad-signature': -Infinity, 'beyond-sent': -Infinity };
  private ackRefusedLogged = 0;
  /** Failed broker connection attempts in a row; `broker-unreachable` while > 0. */
  private brokerFailures = 0;
  private brokerWarnedAt = -Infinity;

  constructor(private readonly d: EdgeHealthDeps) {}

  /** The full status the publisher sends (and its last will). */
  status(state: StatusState, reason: StatusReason): EdgeStatusDetails {
    return edgeStatus(this.d, state, reason, state === 'online' ? this.details() : undefined);
  }

  start(): void {
    this.started = true;
    this.restartTelemetry();
    this.checkOutbox();
  }

  stop(): void {
    clearInterval(this.telemetryTimer);
    clearTimeout(this.statusTimer);
  }

  /** A frame from a device (telemetry's `sinceLastFrameMs`). */
  frame(device: string, at: number): void {
    this.lastFrameAt.set(device, at);
  }

  telemetry(): Telemetry {
    const { outbox, publisher, counters, workflows, settings, devices } = this.d;
    const now = Date.now();
    const b = outbox.backlog();
    const p = publisher.stats;
    const mem = process.memoryUsage();
    const agent: Record<AgentMetric, number> = {
      'outbox.backlog': b.count,
      'outbox.oldestAgeMs': b.oldestAt ? Math.max(0, now - b.oldestAt) : 0,
      'outbox.bytes': b.bytes,
      'outbox.maxBytes': outbox.maxBytes,
      'outbox.refused': counters.outboxRefused,
      'publisher.sent': p.movementsSent,
      'publisher.acked': p.acked,
      'publisher.rejected': p.rejected,
      'publisher.resends': p.resends,
      'publisher.connects': p.connects,
      'publisher.acksBadSignature': p.acksBadSignature,
      'publisher.ackSeqsBeyondSent': p.ackSeqsBeyondSent,
      'publisher.rowsBatches': p.rowsBatchesSent,
      'publisher.rowsFallbacks': p.rowsFallbacks,
      'publisher.drainRatePerSec': publisher.drainRatePerSec,
      'config.version': settings.configVersion,
      'identity.duplicates': counters.duplicates,
      'workflow.refused': counters.localRefused,
      'workflow.warnings': counters.warnings,
      'process.rssBytes': mem.rss,
      'process.heapUsedBytes': mem.heapUsed,
      'process.heapTotalBytes': mem.heapTotal,
      'process.externalBytes': mem.external,
    };
    const metrics: Record<string, number> = agent;
    for (const dev of devices) {
      const h = dev.health();
      const since = now - (this.lastFrameAt.get(dev.name) ?? this.startedAt);
      metrics[metric('device.<name>.connected', dev.name)] = h.state === 'connected' ? 1 : 0;
      metrics[metric('device.<name>.sinceLastFrameMs', dev.name)] = since;
      metrics[metric('device.<name>.reconnects', dev.name)] = h.reconnects ?? 0;
      metrics[metric('device.<name>.droppedFrames', dev.name)] = h.droppedFrames ?? 0;
      if (dev.driver.profile.reads === 'scan') metrics[metric('scanner.<name>.sinceLastFrameMs', dev.name)] = since;
    }
    const wh = workflows.health();
    for (const s of wh.scales) {
      if (s.zeroDriftKg !== undefined) metrics[metric('scale.<name>.zeroDriftKg', s.device)] = s.zeroDriftKg;
      if (s.weightKg !== undefined) metrics[metric('scale.<name>.weightKg', s.device)] = s.weightKg;
      metrics[metric('scale.<name>.stable', s.device)] = s.stable ? 1 : 0;
    }
    for (const r of wh.readers) {
      metrics[metric('rfid.<name>.tagsPresent', r.device)] = r.present;
      metrics[metric('rfid.<name>.reads', r.device)] = r.reads;
      metrics[metric('rfid.<name>.events', r.device)] = r.events;
    }
    return { v: SCHEMA_VERSION, site: this.d.site, edge: this.d.edge, ts: new Date(now).toISOString(), metrics, devices: this.deviceHealth() };
  }

  /** The agent's part of the retained status (what `status('online')` adds to the envelope). */
  details(): Partial<EdgeStatusDetails> {
    const { outbox, counters, settings, itemMaster, items } = this.d;
    const b = outbox.backlog();
    const out: Partial<EdgeStatusDetails> = {
      backlog: b.count,
      devices: this.deviceHealth(),
      configVersion: settings.configVersion,
      problems: this.problems(),
      outbox: {
        count: b.count,
        bytes: b.bytes,
        maxBytes: outbox.maxBytes,
        oldestAgeMs: b.oldestAt ? Math.max(0, Date.now() - b.oldestAt) : 0,
        refused: counters.outboxRefused,
      },
    };
    if (settings.configError) out.configError = settings.configError;
    if (settings.shadowed.length) out.configShadowed = [...settings.shadowed];
    const im = itemMaster.version;
    if (im || itemMaster.error) {
      out.itemMaster = { version: im, items: items.counts().master };
      if (itemMaster.error) out.itemMaster.error = itemMaster.error;
    }
    if (this.lastError) out.lastError = this.lastError;
    if (this.lastWarning) out.lastWarning = this.lastWarning;
    return out;
  }

  problems(): string[] {
    const p: string[] = [];
    if (this.outboxFull) p.push('outbox-full');
    if (this.outboxWriteError) p.push('outbox-write-error');
    if (this.backlogHigh) p.push('outbox-backlog');
    if (this.d.settings.configError) p.push('config-error');
    if (this.brokerFailures > 0 && !this.d.publisher.isConnected) p.push('broker-unreachable');
    const now = Date.now();
    if (now - this.ackRefusedAt['bad-signature'] < ACK_PROBLEM_MS) p.push('ack-signature-invalid');
    if (now - this.ackRefusedAt['beyond-sent'] < ACK_PROBLEM_MS) p.push('ack-beyond-sent');
    for (const dev of this.d.devices) if (dev.health().state !== 'connected' && this.started) p.push(`device-${dev.health().state}:${dev.name}`);
    return p;
  }

  private deviceHealth(): DeviceHealth[] {
    return this.d.devices.map((dev) => dev.health());
  }

  // ---- what the operator was told (status lastError / lastWarning) ---------------------------

  error(code: string, message: string, device?: string): void {
    this.lastError = report(code, message, device);
    this.statusChanged();
  }

  warning(code: string, message: string, device?: string): void {
    this.lastWarning = report(code, message, device);
    this.statusChanged();
  }

  // ---- the outbox gauge ----------------------------------------------------------------------

  /** A group commit failed: `outbox-full` (the bound; clears with hysteresis) or `outbox-write-error` (until a write succeeds). */
  outboxRefused(full: boolean, err: Error): void {
    if (full && !this.outboxFull) {
      this.outboxFull = true;
      this.statusChanged();
    }
    if (!full && !this.outboxWriteError) {
      this.outboxWriteError = true;
      this.d.log.error({ err: err.message }, 'outbox write error: movements are refused until the outbox can be written (disk full?)');
      this.statusChanged(true);
    }
  }

  /** A group commit succeeded. */
  outboxWritten(): void {
    if (!this.outboxWriteError) return;
    this.outboxWriteError = false;
    this.d.log.info('outbox writes succeed again');
    this.statusChanged();
  }

  /** Backlog alert and outbox-full state, with hysteresis; cheap (counters). */
  checkOutbox(): void {
    const { outbox, log } = this.d;
    const { count, bytes } = outbox.backlog();
    const alert = this.d.settings.backlogAlert;
    if (!this.backlogHigh && count > alert) {
      this.backlogHigh = true;
      log.warn({ backlog: count, threshold: alert }, 'outbox backlog above threshold: movements are not reaching the cloud');
      this.statusChanged();
    } else if (this.backlogHigh && count < alert * CLEAR_BELOW) {
      this.backlogHigh = false;
      log.info({ backlog: count, threshold: alert }, 'outbox backlog back below threshold');
      this.statusChanged();
    }
    if (this.outboxFull && bytes <= outbox.maxBytes * CLEAR_BELOW) {
      this.outboxFull = false;
      log.info({ bytes, maxBytes: outbox.maxBytes }, 'outbox has room again: movements are accepted');
      this.statusChanged();
    }
  }

  // ---- devices and the uplink ------------------------------------------------------------------

  /** A device changed state. Issue 8, finding 12: a device missing at start used to be silent at the default level. */
  deviceState(spec: { name: string; uri: string }, state: string, err: Error | undefined, everConnected: boolean): void {
    const { log } = this.d;
    if (state !== 'connected' && !everConnected) {
      const message = `configured device ${spec.name} is absent at start (${spec.uri}): retrying; scans from it are not read until it appears`;
      this.lastWarning = report('SG_ERR_DEVICE_ABSENT', `${message}${err ? ` (${err.message})` : ''}`, spec.name);
      log.warn({ code: 'SG_ERR_DEVICE_ABSENT', device: spec.name, uri: spec.uri, state, err: err?.message }, message);
    } else {
      log[state === 'connected' ? 'info' : 'warn']({ device: spec.name, uri: spec.uri, state, err: err?.message }, 'device state');
    }
    this.statusChanged();
  }

  brokerConnected(): void {
    this.d.log.info({ broker: this.d.broker, backlog: this.d.outbox.backlog().count, ...(this.brokerFailures ? { failedAttempts: this.brokerFailures } : {}) }, 'connected to broker');
    this.brokerFailures = 0;
  }

  /**
   * Issue 8, finding 12: a broker that cannot be reached used to be logged at debug only. Warn at
   * the first failure and then at most once a minute while it lasts; it is a status problem and
   * the status's `lastWarning` (seen by the cloud once the link is up).
   */
  brokerUnreachable(err: Error | undefined, failures: number): void {
    this.brokerFailures = failures;
    const now = Date.now();
    const { broker, log } = this.d;
    const message = `broker ${broker} unreachable${err ? ` (${err.message})` : ''}: movements keep going to the outbox; retrying`;
    this.lastWarning = report('SG_ERR_BROKER_UNREACHABLE', message);
    if (failures === 1 || now - this.brokerWarnedAt >= 60_000) {
      this.brokerWarnedAt = now;
      log.warn({ code: 'SG_ERR_BROKER_UNREACHABLE', broker, err: err?.message, attempts: failures, backlog: this.d.outbox.backlog().count }, message);
    }
  }

  /**
   * A forged or stale ack/reject was dropped (or the seqs it named above the highest sent). Logged
   * at warn (at most once a minute: a flood of forged acks must not flood the log) and shown in
   * the status problems for ACK_PROBLEM_MS.
   */
  ackRefused(why: 'unsigned' | 'bad-signature' | 'beyond-sent', detail: { topic: string; seqs?: number; highestSent: number }): void {
    const now = Date.now();
    const kind = why === 'beyond-sent' ? 'beyond-sent' : 'bad-signature';
    const fresh = now - this.ackRefusedAt[kind] >= ACK_PROBLEM_MS;
    this.ackRefusedAt[kind] = now;
    if (now - this.ackRefusedLogged >= 60_000) {
      this.ackRefusedLogged = now;
      const p = this.d.publisher.stats;
      this.d.log.warn(
        { code: why === 'beyond-sent' ? 'SG_ERR_ACK_BEYOND_SENT' : 'SG_ERR_ACK_SIGNATURE', why, ...detail, acksBadSignature: p.acksBadSignature, ackSeqsBeyondSent: p.ackSeqsBeyondSent },
        why === 'beyond-sent' ? 'ack names seqs never sent: those seqs ignored (forged or stale ack)' : 'ack dropped: signature missing or wrong (forged ack, or the cloud holds another ack key)',
      );
    }
    if (fresh) this.statusChanged();
  }

  // ---- publishing ------------------------------------------------------------------------------

  /** Telemetry every `telemetryMs` (0 = none); called again when the remote config changes it. */
  restartTelemetry(): void {
    if (!this.started) return;
    clearInterval(this.telemetryTimer);
    this.telemetryTimer = undefined;
    const ms = this.d.settings.telemetryMs;
    if (ms > 0) {
      this.telemetryTimer = setInterval(() => {
        this.checkOutbox();
        this.d.publisher.publishTelemetry(this.telemetry());
      }, ms);
      this.telemetryTimer.unref();
    }
  }

  /** Publish the retained status soon (coalesced: a burst of changes is one publish), or now. */
  statusChanged(now = false): void {
    if (now) {
      clearTimeout(this.statusTimer);
      this.statusTimer = undefined;
      this.d.publisher.publishStatus('update');
      return;
    }
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.d.publisher.publishStatus('update');
    }, STATUS_COALESCE_MS);
    this.statusTimer.unref();
  }
}
