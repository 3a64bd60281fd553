/*
 * Why one file (over 400 lines): not yet split: issue 15 asks for wiring, a recorder (effects ->
 * outbox -> feedback), health and settings in their own files; that split is still to do (the
 * workflows are already pure in workflows.ts, the publisher is separate).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import {
  SCHEMA_VERSION,
  deriveAckKey,
  type DeviceHealth,
  type EdgeStatusDetails,
  type ItemRecord,
  type Movement,
  type Reject,
  type RemoteConfig,
  type Telemetry,
} from '../protocols/mqtt/index.js';
import type { Device } from '../devices/device.js';
import type { Feedback, Reading } from '../devices/driver.js';
import { createDevice, parseDeviceSpec } from '../devices/registry.js';
import { ConfigError, readCaFile, REMOTE_SETTABLE, type EdgeConfig, type RemoteSettableKey } from './config.js';
import { IdentityTable } from './identities.js';
import { ItemCache, readItemsFile } from './item-cache.js';
import { ItemMasterFeed } from './item-master-feed.js';
import { OutboxFullError, type MovementDraft } from './outbox/outbox-store.js';
import { SqliteOutbox } from './outbox/sqlite.js';
import { Publisher } from './publisher.js';
import { RemoteConfigManager } from './remote-config.js';
import type { ScanSession } from './scan-session.js';
import { openStateDb } from './state-db.js';
import { SqliteTallyStore } from './tally-store.js';
import { Workflows, WorkflowConfigError, type WorkflowDevice, type WorkflowEffect, type WorkflowSettings } from './workflows.js';

export const AGENT_VERSION = '0.2.0';

export interface EdgeAgentOptions {
  /**
   * Config keys set by command-line flags. The remote config does not change them (precedence:
   * defaults < config file < remote config < flags); they are reported as `configShadowed`.
   */
  pinned?: Iterable<string>;
}

type Settings = Pick<EdgeConfig, RemoteSettableKey>;
type MovementEffect = Extract<WorkflowEffect, { type: 'movement' }>;
type ErrorReport = NonNullable<EdgeStatusDetails['lastError']>;

/** Hysteresis of the backlog and outbox-full problems: they clear below this fraction of the threshold. */
const CLEAR_BELOW = 0.9;
/** Least time between two feedback commands of one kind to one device (a burst of errors beeps once). */
const FEEDBACK_GAP_MS = 250;
/** How long a refused ack stays a status problem (`ack-signature-invalid`, `ack-beyond-sent`). */
const ACK_PROBLEM_MS = 10 * 60_000;

/**
 * The edge agent: devices -> workflows (scan sessions, weigh stations, RFID readers) -> durable
 * outbox -> publisher. A reading becomes a movement committed to the outbox before anything is
 * sent; the publisher drains the outbox independently, so an operator never waits on the
 * network.
 *
 * - Movements made in one event-loop turn (a burst of scans in one serial chunk) are committed
 *   in one transaction (group commit), then logged, fed back and published.
 * - Operator feedback: every refusal (local validation, outbox full, a cloud reject, a duplicate
 *   serialised unit) is a log line, the status's `lastError`, and an `error` beep/LED on the
 *   device where its driver supports one (`Driver.feedback`).
 * - Health: retained status (with last will) on changes, telemetry every `telemetryMs` with the
 *   outbox gauge and per-device numbers (`scale.<device>.zeroDriftKg`, time since last frame...).
 * - Remote config: `remote-config.ts`; applied live, rolled back on failure.
 */
export class EdgeAgent {
  readonly outbox: SqliteOutbox;
  readonly publisher: Publisher;
  readonly devices: Device[] = [];
  readonly items: ItemCache;
  readonly identities: IdentityTable;
  readonly workflows: Workflows;
  readonly remote: RemoteConfigManager;
  readonly itemMaster: ItemMasterFeed;
  private readonly state: Database.Database;
  private readonly pinned: Set<string>;
  private settings!: Settings;
  private shadowed: string[] = [];
  private pending: MovementEffect[] = [];
  private flushScheduled = false;
  private telemetryTimer: NodeJS.Timeout | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
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
  private readonly lastFeedback = new Map<string, number>();
  private readonly startedAt = Date.now();
  /** When an ack was last refused, per kind (status problems for ACK_PROBLEM_MS after). */
  private readonly ackRefusedAt = { 'bad-signature': -Infinity, 'beyond-sent': -Infinity };
  private ackRefusedLogged = 0;
  /** Failed broker connection attempts in a row; `broker-unreachable` while > 0. */
  private brokerFailures = 0;
  private brokerWarnedAt = -Infinity;
  /** Counters for telemetry. */
  readonly counters = { recorded: 0, outboxRefused: 0, localRefused: 0, cloudRejected: 0, duplicates: 0, warnings: 0 };

  constructor(
    readonly config: EdgeConfig,
    private readonly log: Logger,
    opts: EdgeAgentOptions = {},
  ) {
    this.pinned = new Set(opts.pinned ?? []);
    // Read first: a missing CA file stops the agent at start, before it opens anything.
    const ca = config.ca ? readCaFile(config.ca) : undefined;
    mkdirSync(config.dataDir, { recursive: true });
    this.outbox = new SqliteOutbox({ path: join(config.dataDir, 'outbox.db'), site: config.site, edge: config.edgeId, maxBytes: config.outboxMaxBytes });
    this.state = openStateDb(join(config.dataDir, 'state.db'));
    this.items = new ItemCache(this.state);
    this.identities = new IdentityTable(this.state);
    this.items.replace('local', localItems(config));
    this.itemMaster = new ItemMasterFeed(this.state, this.items);

    const wfDevices: WorkflowDevice[] = [];
    for (const spec of config.devices.map(parseDeviceSpec)) {
      const dev = createDevice(spec);
      const driver = dev.driver;
      let everConnected = false;
      dev.on('reading', (r) => this.onReading(dev, r));
      dev.on('state', (s, err) => {
        if (s === 'connected') everConnected = true;
        if (s !== 'connected' && !everConnected) {
          // Issue 8, finding 12: a device missing at start used to be silent at the default level.
          const message = `configured device ${spec.name} is absent at start (${spec.uri}): retrying; scans from it are not read until it appears`;
          this.lastWarning = report('SG_ERR_DEVICE_ABSENT', `${message}${err ? ` (${err.message})` : ''}`, spec.name);
          log.warn({ code: 'SG_ERR_DEVICE_ABSENT', device: spec.name, uri: spec.uri, state: s, err: err?.message }, message);
        } else {
          log[s === 'connected' ? 'info' : 'warn']({ device: spec.name, uri: spec.uri, state: s, err: err?.message }, 'device state');
        }
        this.statusChanged();
      });
      this.devices.push(dev);
      wfDevices.push({ name: spec.name, driver: spec.driver, reads: driver.profile.reads });
    }
    try {
      this.workflows = new Workflows(wfDevices, workflowSettings(config), this.items, this.identities, new SqliteTallyStore(this.state));
    } catch (err) {
      this.outbox.close();
      this.state.close();
      throw err instanceof WorkflowConfigError ? new ConfigError(`invalid edge configuration:\n  ${err.message}`) : err;
    }
    this.settings = pick(config);

    this.publisher = new Publisher(this.outbox, {
      broker: config.broker,
      site: config.site,
      edge: config.edgeId,
      username: config.username,
      password: config.password,
      batchSize: config.batchSize,
      window: config.window,
      ackTimeoutMs: config.ackTimeoutMs,
      drainRatePerSec: config.drainRatePerSec,
      remoteConfig: config.remoteConfig,
      version: AGENT_VERSION,
      statusExtra: () => this.statusDetails(),
      ...(ca ? { ca } : {}),
      // The ack key (issue 8, finding 6): from the password when authenticated, else --ack-key.
      ...(config.password || config.ackKey ? { ackKey: deriveAckKey((config.password ?? config.ackKey)!) } : {}),
    });
    if (!config.password && !config.ackKey) {
      log.warn('acks are unsigned (no password, no --ack-key): only the seq bound protects the outbox from forged acks on a broker without ACLs');
    }
    this.publisher.on('connected', () => {
      log.info({ broker: config.broker, backlog: this.outbox.backlog().count, ...(this.brokerFailures ? { failedAttempts: this.brokerFailures } : {}) }, 'connected to broker');
      this.brokerFailures = 0;
    });
    this.publisher.on('unreachable', (err, failures) => this.onBrokerUnreachable(err, failures));
    this.publisher.on('disconnected', () => log.warn('broker connection lost; movements keep going to the outbox'));
    this.publisher.on('error', (err) => log.debug({ err: err.message }, 'mqtt error'));
    this.publisher.on('acked', () => this.checkOutbox());
    this.publisher.on('ackRefused', (why, d) => this.onAckRefused(why, d));
    this.publisher.on('rejected', (rej, moved) => this.onCloudReject(rej, moved));
    this.publisher.on('config', (payload) => this.onRemoteConfig(payload));
    this.publisher.on('items', (payload) => this.onItemMaster(payload));

    this.remote = new RemoteConfigManager(this.state, (cfg) => this.applySettings(cfg));
    if (config.remoteConfig) {
      const out = this.remote.restore();
      if (out.result === 'applied') log.info({ configVersion: out.version }, 'remote config restored from the data dir');
      else if (out.result === 'rejected') log.error({ configError: out.error }, 'stored remote config not applied');
    }
    // Open counts restored from state.db (logged; nothing to commit).
    this.handleEffects(this.workflows.restoreTallies());
  }

  /** The edge's default scan session (context of readers without a paired scanner). */
  get session(): ScanSession {
    return this.workflows.session();
  }

  start(): void {
    this.started = true;
    for (const d of this.devices) d.start();
    this.publisher.start();
    this.restartTelemetry();
    // RFID departures and portal passes need 100 ms; idle session expiry (sessionIdleMin) 1 s.
    const tickMs = this.devices.some((d) => d.driver.profile.reads === 'tag') ? 100 : 1000;
    this.tickTimer = setInterval(() => this.handleEffects(this.workflows.tick(Date.now())), tickMs);
    this.tickTimer.unref();
    this.checkOutbox();
  }

  /**
   * Record movements from any source (a test, a bench, a REST bridge) and publish them when
   * possible. Throws OutboxFullError when the outbox bound is reached (nothing stored).
   */
  record(drafts: readonly MovementDraft[]): Movement[] {
    const out = this.outbox.append(drafts);
    this.counters.recorded += out.length;
    this.publisher.kick();
    this.checkOutbox();
    return out;
  }

  telemetry(): Telemetry {
    const now = Date.now();
    const b = this.outbox.backlog();
    const p = this.publisher.stats;
    const metrics: Record<string, number> = {
      'outbox.backlog': b.count,
      'outbox.bytes': b.bytes,
      'outbox.maxBytes': this.outbox.maxBytes,
      'outbox.oldestAgeMs': b.oldestAt ? Math.max(0, now - b.oldestAt) : 0,
      'outbox.refused': this.counters.outboxRefused,
      'publisher.sent': p.movementsSent,
      'publisher.acked': p.acked,
      'publisher.rejected': p.rejected,
      'publisher.resends': p.resends,
      'publisher.connects': p.connects,
      'publisher.acksBadSignature': p.acksBadSignature,
      'publisher.ackSeqsBeyondSent': p.ackSeqsBeyondSent,
      'publisher.drainRatePerSec': this.publisher.drainRatePerSec,
      'config.version': this.remote.version,
      'identity.duplicates': this.counters.duplicates,
      'workflow.refused': this.counters.localRefused,
      'workflow.warnings': this.counters.warnings,
    };
    const mem = process.memoryUsage();
    metrics['process.rssBytes'] = mem.rss;
    metrics['process.heapUsedBytes'] = mem.heapUsed;
    metrics['process.heapTotalBytes'] = mem.heapTotal;
    metrics['process.externalBytes'] = mem.external;
    for (const d of this.devices) {
      const h = d.health();
      const kind = d.driver.profile.reads === 'scan' ? 'scanner' : d.driver.profile.reads === 'weight' ? 'scale' : 'rfid';
      const since = now - (this.lastFrameAt.get(d.name) ?? this.startedAt);
      metrics[`device.${d.name}.connected`] = h.state === 'connected' ? 1 : 0;
      metrics[`device.${d.name}.sinceLastFrameMs`] = since;
      metrics[`device.${d.name}.reconnects`] = h.reconnects ?? 0;
      metrics[`device.${d.name}.droppedFrames`] = h.droppedFrames ?? 0;
      if (kind === 'scanner') metrics[`scanner.${d.name}.sinceLastFrameMs`] = since;
    }
    const wh = this.workflows.health();
    for (const s of wh.scales) {
      // `scale.<device>.zeroDriftKg`: the cloud's alert engine keys its scale-drift alert on this name.
      if (s.zeroDriftKg !== undefined) metrics[`scale.${s.device}.zeroDriftKg`] = s.zeroDriftKg;
      if (s.weightKg !== undefined) metrics[`scale.${s.device}.weightKg`] = s.weightKg;
      metrics[`scale.${s.device}.stable`] = s.stable ? 1 : 0;
    }
    for (const r of wh.readers) {
      metrics[`rfid.${r.device}.tagsPresent`] = r.present;
      metrics[`rfid.${r.device}.reads`] = r.reads;
      metrics[`rfid.${r.device}.events`] = r.events;
    }
    return { v: SCHEMA_VERSION, site: this.config.site, edge: this.config.edgeId, ts: new Date(now).toISOString(), metrics, devices: this.deviceHealth() };
  }

  /** The agent's part of the retained status (merged into `EdgeStatus` by the publisher). */
  statusDetails(): Partial<EdgeStatusDetails> {
    const b = this.outbox.backlog();
    const out: Partial<EdgeStatusDetails> = {
      backlog: b.count,
      devices: this.deviceHealth(),
      configVersion: this.remote.version,
      problems: this.problems(),
      outbox: {
        count: b.count,
        bytes: b.bytes,
        maxBytes: this.outbox.maxBytes,
        oldestAgeMs: b.oldestAt ? Math.max(0, Date.now() - b.oldestAt) : 0,
        refused: this.counters.outboxRefused,
      },
    };
    if (this.remote.error) out.configError = this.remote.error;
    if (this.shadowed.length) out.configShadowed = this.shadowed;
    const im = this.itemMaster.version;
    if (im || this.itemMaster.error) {
      out.itemMaster = { version: im, items: this.items.counts().master };
      if (this.itemMaster.error) out.itemMaster.error = this.itemMaster.error;
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
    if (this.remote?.error) p.push('config-error');
    if (this.brokerFailures > 0 && !this.publisher.isConnected) p.push('broker-unreachable');
    const now = Date.now();
    if (now - this.ackRefusedAt['bad-signature'] < ACK_PROBLEM_MS) p.push('ack-signature-invalid');
    if (now - this.ackRefusedAt['beyond-sent'] < ACK_PROBLEM_MS) p.push('ack-beyond-sent');
    for (const d of this.devices) if (d.health().state !== 'connected' && this.started) p.push(`device-${d.health().state}:${d.name}`);
    return p;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.telemetryTimer);
    clearInterval(this.tickTimer);
    clearTimeout(this.statusTimer);
    this.flush(); // commit what this turn made before closing
    await Promise.all(this.devices.map((d) => d.stop()));
    await this.publisher.stop();
    this.outbox.close();
    this.state.close();
  }

  // ---- readings -> effects --------------------------------------------------------------------

  private onReading(dev: Device, r: Reading): void {
    this.lastFrameAt.set(dev.name, r.at);
    this.handleEffects(this.workflows.handle(dev.name, r));
  }

  /** Visible for tests: what the agent does with workflow effects. */
  handleEffects(effects: readonly WorkflowEffect[]): void {
    for (const e of effects) {
      switch (e.type) {
        case 'movement':
          this.pending.push(e);
          if (!this.flushScheduled) {
            this.flushScheduled = true;
            setImmediate(() => this.flush());
          }
          break;
        case 'control':
          this.log.info({ device: e.device, control: e.code, context: e.context }, e.say ?? 'scan context changed');
          // A document pinned or cleared (stockgate:po/req/so): the operator hears it took (ok beep).
          if (e.say) this.feedback([e.device], 'ok');
          break;
        case 'tallied':
          // Count mode: the scan is accepted into the open count; the operator hears it (ok beep).
          this.log.info({ device: e.device, line: e.label, qty: e.qty, total: e.total, uom: e.uom, scans: e.scans, raw: e.raw }, 'count tally');
          this.feedback(e.feedback, 'ok');
          break;
        case 'refused':
          this.counters.localRefused++;
          this.tellOperator('error', e.feedback, { code: e.code, message: e.message, device: e.device }, { raw: e.raw }, `${this.readsOf(e.device) === 'scan' ? 'scan' : 'reading'} refused: ${e.message}`);
          break;
        case 'warning':
          this.counters.warnings++;
          this.lastWarning = report(e.code, e.message, e.device);
          this.log.warn({ device: e.device, code: e.code, ...e.data }, e.message);
          if (e.feedback?.length) this.feedback(e.feedback, 'error');
          this.statusChanged();
          break;
        case 'event':
          this.log.info({ device: e.device, ...e.data }, e.msg);
          break;
      }
    }
  }

  /** Group commit: every movement made since the last flush, in one outbox transaction. */
  private flush(): void {
    this.flushScheduled = false;
    const batch = this.pending;
    if (batch.length === 0 || this.outbox === undefined) return;
    this.pending = [];
    let stored: Movement[];
    try {
      stored = this.outbox.append(batch.map((e) => e.draft));
    } catch (err) {
      this.workflows.settle(false); // an ended count whose movements were refused is open again
      if (batch.some((e) => e.draft.kind === 'count' && e.info?.count === 'ended')) {
        this.log.warn({ code: 'SG_ERR_COUNT_NOT_SENT' }, 'count not sent: it stays open; scan COUNT:END again when the outbox has room');
      }
      const full = err instanceof OutboxFullError;
      if (full && !this.outboxFull) {
        this.outboxFull = true;
        this.statusChanged();
      }
      if (!full && !this.outboxWriteError) {
        this.outboxWriteError = true;
        this.log.error({ err: (err as Error).message }, 'outbox write error: movements are refused until the outbox can be written (disk full?)');
        this.statusChanged(true);
      }
      this.counters.outboxRefused += batch.length;
      for (const e of batch) {
        const code = full ? 'SG_ERR_OUTBOX_FULL' : 'SG_ERR_OUTBOX_WRITE';
        this.tellOperator('error', [e.device, ...e.okFeedback], { code, message: (err as Error).message, device: e.device }, {
          kind: e.draft.kind,
          sku: e.draft.sku ?? e.draft.gtin ?? e.draft.epc,
          qty: e.draft.qty,
          raw: e.draft.raw,
        }, full ? 'outbox full: movement refused, not recorded (scan it again when the link is back)' : 'outbox write failed: movement not recorded');
      }
      return;
    }
    this.counters.recorded += stored.length;
    if (this.outboxWriteError) {
      this.outboxWriteError = false;
      this.log.info('outbox writes succeed again');
      this.statusChanged();
    }
    try {
      this.identities.apply(stored);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'identity table update failed (the cloud still checks identities)');
    }
    try {
      this.workflows.settle(true);
    } catch (err) {
      // state.db failing to forget an ended count: it would be offered again after a restart, never lost.
      this.log.error({ err: (err as Error).message }, 'count tally update failed');
    }
    stored.forEach((m, i) => {
      const e = batch[i]!;
      this.log.info({ device: e.device, seq: m.seq, kind: m.kind, sku: m.sku ?? m.gtin ?? m.epc, qty: m.qty, uom: m.uom, ...e.info }, 'movement recorded');
      if (e.duplicate) {
        this.counters.duplicates++;
        const msg = `${e.identity} is already in stock here: ${m.kind} sent for the cloud's exception queue, not counted twice`;
        this.tellOperator('error', [e.device, ...e.okFeedback], { code: 'SG_ERR_DUPLICATE_IDENTITY', message: msg, device: e.device }, { seq: m.seq, identity: e.identity }, msg);
      } else if (e.okFeedback.length) {
        this.feedback(e.okFeedback, 'ok');
      }
    });
    this.publisher.kick();
    this.checkOutbox();
  }

  private readsOf(device: string): string | undefined {
    return this.devices.find((d) => d.name === device)?.driver.profile.reads;
  }

  // ---- operator feedback ----------------------------------------------------------------------

  /** Log line, status `lastError`, and a beep/LED on the devices that support one. */
  private tellOperator(kind: Feedback, devices: readonly string[], rep: { code: string; message: string; device?: string }, fields: Record<string, unknown>, msg: string): void {
    this.lastError = report(rep.code, rep.message, rep.device);
    this.log.warn({ device: rep.device, code: rep.code, ...fields }, msg);
    this.feedback(devices, kind);
    this.statusChanged();
  }

  private feedback(names: readonly string[], kind: Feedback): void {
    const now = Date.now();
    for (const name of new Set(names)) {
      const dev = this.devices.find((d) => d.name === name);
      if (!dev?.driver.feedback) continue;
      const key = `${name}\u0000${kind}`;
      if (now - (this.lastFeedback.get(key) ?? 0) < FEEDBACK_GAP_MS) continue;
      this.lastFeedback.set(key, now);
      dev.feedback(kind).then(
        (sent) => sent && this.log.debug({ device: name, feedback: kind }, 'device feedback'),
        (err: Error) => this.log.debug({ device: name, err: err.message }, 'device feedback failed'),
      );
    }
  }

  private onCloudReject(rej: Reject, moved: number): void {
    this.counters.cloudRejected += moved;
    const devices = new Set<string>();
    const seqs: number[] = [];
    if (moved > 0) {
      for (const e of this.outbox.rejected(Math.min(moved, 1000))) {
        seqs.push(e.seq);
        try {
          devices.add((JSON.parse(e.json) as Movement).device.id);
        } catch {
          /* stored JSON is ours; ignore */
        }
      }
    }
    const first = [...devices][0];
    this.tellOperator(
      'error',
      [...devices],
      { code: `SG_ERR_CLOUD_REJECT_${rej.reason}`, message: rej.message, ...(first ? { device: first } : {}) },
      { reason: rej.reason, message: rej.message, moved, deadLetterId: rej.deadLetterId, seqs: seqs.length ? [Math.min(...seqs), Math.max(...seqs)] : undefined, devices: [...devices] },
      'cloud rejected movements',
    );
  }

  /**
   * Issue 8, finding 12: a broker that cannot be reached used to be logged at debug only. Warn at
   * the first failure and then at most once a minute while it lasts; it is a status problem and
   * the status's `lastWarning` (seen by the cloud once the link is up).
   */
  private onBrokerUnreachable(err: Error | undefined, failures: number): void {
    this.brokerFailures = failures;
    const now = Date.now();
    const message = `broker ${this.config.broker} unreachable${err ? ` (${err.message})` : ''}: movements keep going to the outbox; retrying`;
    this.lastWarning = report('SG_ERR_BROKER_UNREACHABLE', message);
    if (failures === 1 || now - this.brokerWarnedAt >= 60_000) {
      this.brokerWarnedAt = now;
      this.log.warn({ code: 'SG_ERR_BROKER_UNREACHABLE', broker: this.config.broker, err: err?.message, attempts: failures, backlog: this.outbox.backlog().count }, message);
    }
  }

  /**
   * A forged or stale ack/reject was dropped (or the seqs it named above the highest sent). Logged
   * at warn (at most once a minute: a flood of forged acks must not flood the log) and shown in
   * the status problems for ACK_PROBLEM_MS.
   */
  private onAckRefused(why: 'unsigned' | 'bad-signature' | 'beyond-sent', d: { topic: string; seqs?: number; highestSent: number }): void {
    const now = Date.now();
    const kind = why === 'beyond-sent' ? 'beyond-sent' : 'bad-signature';
    const fresh = now - this.ackRefusedAt[kind] >= ACK_PROBLEM_MS;
    this.ackRefusedAt[kind] = now;
    if (now - this.ackRefusedLogged >= 60_000) {
      this.ackRefusedLogged = now;
      const p = this.publisher.stats;
      this.log.warn(
        { code: why === 'beyond-sent' ? 'SG_ERR_ACK_BEYOND_SENT' : 'SG_ERR_ACK_SIGNATURE', why, ...d, acksBadSignature: p.acksBadSignature, ackSeqsBeyondSent: p.ackSeqsBeyondSent },
        why === 'beyond-sent' ? 'ack names seqs never sent: those seqs ignored (forged or stale ack)' : 'ack dropped: signature missing or wrong (forged ack, or the cloud holds another ack key)',
      );
    }
    if (fresh) this.statusChanged();
  }

  // ---- remote config --------------------------------------------------------------------------

  private onRemoteConfig(payload: Buffer): void {
    const out = this.remote.receive(payload);
    switch (out.result) {
      case 'applied':
        this.log.info({ configVersion: out.version, shadowed: this.shadowed.length ? this.shadowed : undefined }, 'remote config applied');
        break;
      case 'ignored':
        this.log.debug({ reason: out.reason }, 'remote config ignored');
        return;
      case 'rejected':
        this.log.error({ configVersion: out.version, offered: out.offered, configError: out.error }, 'remote config not applied: rolled back to the last good version');
        break;
    }
    this.statusChanged(true);
  }

  /** The cloud's item master snapshot (`.../items`): into the cache's `master` source. */
  private onItemMaster(payload: Buffer): void {
    let out: ReturnType<ItemMasterFeed['receive']>;
    try {
      out = this.itemMaster.receive(payload);
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'item master snapshot not stored');
      return;
    }
    if (out.result === 'ignored') return void this.log.debug({ reason: out.reason }, 'item master snapshot ignored');
    if (out.result === 'applied') this.log.info({ itemMasterVersion: out.version, items: out.items }, 'item master snapshot applied');
    else this.log.error({ itemMasterVersion: out.version, error: out.error }, 'item master snapshot not applied');
    this.statusChanged(true);
  }

  /** Apply (or roll back to) a remote config on top of the local one. Throws without changing anything when it cannot apply. */
  private applySettings(cfg: RemoteConfig | undefined): void {
    const eff = pick(this.config);
    const shadowed: string[] = [];
    for (const k of REMOTE_SETTABLE) {
      if (cfg?.[k] === undefined) continue;
      if (this.pinned.has(k)) {
        if (JSON.stringify(cfg[k]) !== JSON.stringify(this.config[k])) shadowed.push(k);
        continue;
      }
      (eff as Record<string, unknown>)[k] = cfg[k];
    }
    this.workflows.configure(workflowSettings(eff)); // validates; throws before any change
    // A mode change leaving count mode ended the open counts: commit their movements.
    this.handleEffects(this.workflows.takeDeferred());
    this.items.replace('remote', cfg?.items ?? []);
    this.outbox.setMaxBytes(eff.outboxMaxBytes);
    this.publisher?.setDrainRate(eff.drainRatePerSec);
    const telemetryChanged = this.settings && this.settings.telemetryMs !== eff.telemetryMs;
    this.settings = eff;
    if (shadowed.length && cfg) this.log.warn({ keys: shadowed, configVersion: cfg.version }, 'remote config keys not applied: set by command-line flags');
    this.shadowed = shadowed;
    if (telemetryChanged && this.started) this.restartTelemetry();
    this.checkOutbox();
  }

  // ---- health ---------------------------------------------------------------------------------

  private deviceHealth(): DeviceHealth[] {
    return this.devices.map((d) => d.health());
  }

  private restartTelemetry(): void {
    clearInterval(this.telemetryTimer);
    this.telemetryTimer = undefined;
    if (this.settings.telemetryMs > 0) {
      this.telemetryTimer = setInterval(() => {
        this.checkOutbox();
        this.publisher.publishTelemetry(this.telemetry());
      }, this.settings.telemetryMs);
      this.telemetryTimer.unref();
    }
  }

  /** Backlog alert and outbox-full state, with hysteresis; cheap (counters). */
  private checkOutbox(): void {
    if (!this.outbox || !this.settings) return;
    const { count, bytes } = this.outbox.backlog();
    const alert = this.settings.backlogAlert;
    if (!this.backlogHigh && count > alert) {
      this.backlogHigh = true;
      this.log.warn({ backlog: count, threshold: alert }, 'outbox backlog above threshold: movements are not reaching the cloud');
      this.statusChanged();
    } else if (this.backlogHigh && count < alert * CLEAR_BELOW) {
      this.backlogHigh = false;
      this.log.info({ backlog: count, threshold: alert }, 'outbox backlog back below threshold');
      this.statusChanged();
    }
    if (this.outboxFull && bytes <= this.outbox.maxBytes * CLEAR_BELOW) {
      this.outboxFull = false;
      this.log.info({ bytes, maxBytes: this.outbox.maxBytes }, 'outbox has room again: movements are accepted');
      this.statusChanged();
    }
  }

  /** Publish the retained status soon (coalesced: a burst of changes is one publish). */
  private statusChanged(now = false): void {
    if (!this.publisher) return;
    if (now) {
      clearTimeout(this.statusTimer);
      this.statusTimer = undefined;
      this.publisher.publishStatus('update');
      return;
    }
    if (this.statusTimer) return;
    this.statusTimer = setTimeout(() => {
      this.statusTimer = undefined;
      this.publisher.publishStatus('update');
    }, 250);
    this.statusTimer.unref();
  }
}

function report(code: string, message: string, device?: string): ErrorReport {
  const r: ErrorReport = { at: new Date().toISOString(), code, message };
  if (device) r.device = device;
  return r;
}

function pick(c: EdgeConfig): Settings {
  const out = {} as Record<string, unknown>;
  for (const k of REMOTE_SETTABLE) out[k] = c[k];
  return out as Settings;
}

function workflowSettings(s: Settings): WorkflowSettings {
  return {
    mode: s.mode,
    location: s.location,
    uom: s.uom,
    issueRequires: s.issueRequires,
    unknownItems: s.unknownItems,
    stations: s.stations,
    rfid: s.rfid,
    sessionIdleMin: s.sessionIdleMin,
  };
}

/** Items of the config file plus `--items FILE` (the file wins for a sku in both). */
function localItems(config: EdgeConfig): ItemRecord[] {
  const bySku = new Map<string, ItemRecord>();
  for (const i of config.items) bySku.set(i.sku, i);
  if (config.itemsFile) for (const i of readItemsFile(config.itemsFile)) bySku.set(i.sku, i);
  const gtins = new Map<string, string>();
  for (const i of bySku.values()) {
    if (!i.gtin) continue;
    const other = gtins.get(i.gtin);
    if (other) throw new ConfigError(`invalid edge configuration:\n  items: GTIN ${i.gtin} is both ${other} and ${i.sku}`);
    gtins.set(i.gtin, i.sku);
  }
  return [...bySku.values()];
}
