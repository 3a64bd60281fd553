import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import type { Logger } from 'pino';
import { deriveAckKey, type EdgeStatusDetails, type Movement, type Telemetry } from '../protocols/mqtt/index.js';
import type { Device } from '../devices/device.js';
import { createDevice, parseDeviceSpec } from '../devices/registry.js';
import { ConfigError, readCaFile, type EdgeConfig } from './config.js';
import { EdgeHealth } from './health.js';
import { IdentityTable } from './identities.js';
import { ItemCache } from './item-cache.js';
import { ItemMasterFeed } from './item-master-feed.js';
import type { MovementDraft } from './outbox/outbox-store.js';
import { SqliteOutbox } from './outbox/sqlite.js';
import { Publisher } from './publisher.js';
import { newCounters, Recorder, type RecorderCounters } from './recorder.js';
import type { RemoteConfigManager } from './remote-config.js';
import type { ScanSession } from './scan-session.js';
import { EdgeSettings, localItems, workflowSettings } from './settings.js';
import { openStateDb } from './state-db.js';
import { SqliteTallyStore } from './tally-store.js';
import { Workflows, WorkflowConfigError, type WorkflowDevice, type WorkflowEffect } from './workflows.js';

export const AGENT_VERSION = '0.2.0';

export interface EdgeAgentOptions {
  /**
   * Config keys set by command-line flags. The remote config does not change them (precedence:
   * defaults < config file < remote config < flags); they are reported as `configShadowed`.
   */
  pinned?: Iterable<string>;
}

/**
 * The edge agent, the composition root (issue 15 §1): devices -> workflows (scan sessions, weigh
 * stations, RFID readers) -> recorder (group commit into the durable outbox, operator feedback)
 * -> publisher. A reading becomes a movement committed to the outbox before anything is sent;
 * the publisher drains the outbox independently, so an operator never waits on the network.
 *
 * This file only builds the parts and wires their events; each job is in its own file:
 * - `recorder.ts`: effects -> outbox group commit -> feedback (log line, `lastError`, beep);
 * - `health.ts`: status (the one place it is built), telemetry (`EDGE_METRICS`), problems;
 * - `settings.ts`: the remote config applied live and rolled back, the cloud's item master;
 * - `workflows.ts` (pure) and `publisher.ts` (the uplink).
 */
export class EdgeAgent {
  readonly outbox: SqliteOutbox;
  readonly publisher: Publisher;
  readonly devices: Device[] = [];
  readonly items: ItemCache;
  readonly identities: IdentityTable;
  readonly workflows: Workflows;
  readonly itemMaster: ItemMasterFeed;
  readonly settings: EdgeSettings;
  readonly health: EdgeHealth;
  readonly recorder: Recorder;
  private readonly state: Database.Database;
  private tickTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly config: EdgeConfig,
    log: Logger,
    opts: EdgeAgentOptions = {},
  ) {
    // Read first: a missing CA file stops the agent at start, before it opens anything.
    const ca = config.ca ? readCaFile(config.ca) : undefined;
    mkdirSync(config.dataDir, { recursive: true });
    this.outbox = new SqliteOutbox({ path: join(config.dataDir, 'outbox.db'), site: config.site, edge: config.edgeId, maxBytes: config.outboxMaxBytes, rows: config.rowsForm });
    try {
      this.state = openStateDb(join(config.dataDir, 'state.db'));
    } catch (err) {
      this.outbox.close();
      throw err;
    }
    this.items = new ItemCache(this.state);
    this.identities = new IdentityTable(this.state);
    this.items.replace('local', localItems(config));
    this.itemMaster = new ItemMasterFeed(this.state, this.items);

    const wfDevices: WorkflowDevice[] = [];
    for (const spec of config.devices.map(parseDeviceSpec)) {
      const dev = createDevice(spec);
      let everConnected = false;
      dev.on('reading', (r) => {
        this.health.frame(dev.name, r.at);
        this.recorder.handle(this.workflows.handle(dev.name, r));
      });
      dev.on('state', (s, err) => {
        if (s === 'connected') everConnected = true;
        this.health.deviceState(spec, s, err, everConnected);
      });
      this.devices.push(dev);
      wfDevices.push({ name: spec.name, driver: spec.driver, reads: dev.driver.profile.reads });
    }
    try {
      this.workflows = new Workflows(wfDevices, workflowSettings(config), this.items, this.identities, new SqliteTallyStore(this.state));
    } catch (err) {
      this.outbox.close();
      this.state.close();
      throw err instanceof WorkflowConfigError ? new ConfigError(`invalid edge configuration:\n  ${err.message}`) : err;
    }

    this.settings = new EdgeSettings({
      config,
      pinned: new Set(opts.pinned ?? []),
      log,
      state: this.state,
      workflows: this.workflows,
      items: this.items,
      itemMaster: this.itemMaster,
      outbox: this.outbox,
      // Called from restore() below, once every part exists.
      effects: (effects) => this.recorder.handle(effects),
      drainRate: (perSec) => this.publisher.setDrainRate(perSec),
      telemetryChanged: () => this.health.restartTelemetry(),
      checkOutbox: () => this.health.checkOutbox(),
      statusNow: () => this.health.statusChanged(true),
    });
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
      rowsForm: config.rowsForm,
      status: (state, reason) => this.health.status(state, reason),
      ...(ca ? { ca } : {}),
      // The ack key (issue 8, finding 6): from the password when authenticated, else --ack-key.
      ...(config.password || config.ackKey ? { ackKey: deriveAckKey((config.password ?? config.ackKey)!) } : {}),
    });
    if (!config.password && !config.ackKey) {
      log.warn('acks are unsigned (no password, no --ack-key): only the seq bound protects the outbox from forged acks on a broker without ACLs');
    }
    const counters = newCounters();
    this.health = new EdgeHealth({
      site: config.site,
      edge: config.edgeId,
      broker: config.broker,
      version: AGENT_VERSION,
      log,
      outbox: this.outbox,
      publisher: this.publisher,
      devices: this.devices,
      workflows: this.workflows,
      items: this.items,
      itemMaster: this.itemMaster,
      settings: this.settings,
      counters,
    });
    this.recorder = new Recorder({ counters, log, outbox: this.outbox, workflows: this.workflows, identities: this.identities, devices: this.devices, health: this.health, kick: () => this.publisher.kick() });

    this.publisher.on('connected', () => this.health.brokerConnected());
    this.publisher.on('unreachable', (err, failures) => this.health.brokerUnreachable(err, failures));
    this.publisher.on('disconnected', () => log.warn('broker connection lost; movements keep going to the outbox'));
    this.publisher.on('error', (err) => log.debug({ err: err.message }, 'mqtt error'));
    this.publisher.on('acked', () => this.health.checkOutbox());
    this.publisher.on('ackRefused', (why, d) => this.health.ackRefused(why, d));
    this.publisher.on('rejected', (rej, moved) => this.recorder.cloudRejected(rej, moved));
    this.publisher.on('config', (payload) => this.settings.onRemoteConfig(payload));
    this.publisher.on('items', (payload) => this.settings.onItemMaster(payload));

    this.settings.restore();
    // Open counts restored from state.db (logged; nothing to commit).
    this.recorder.handle(this.workflows.restoreTallies());
  }

  /** The edge's default scan session (context of readers without a paired scanner). */
  get session(): ScanSession {
    return this.workflows.session();
  }

  /** The versioned remote config (`settings.remote`). */
  get remote(): RemoteConfigManager {
    return this.settings.remote;
  }

  /** The recorder's counters (telemetry). */
  get counters(): Readonly<RecorderCounters> {
    return this.recorder.counters;
  }

  start(): void {
    for (const d of this.devices) d.start();
    this.publisher.start();
    // RFID departures and portal passes need 100 ms; idle session expiry (sessionIdleMin) 1 s.
    const tickMs = this.devices.some((d) => d.driver.profile.reads === 'tag') ? 100 : 1000;
    this.tickTimer = setInterval(() => this.recorder.handle(this.workflows.tick(Date.now())), tickMs);
    this.tickTimer.unref();
    this.health.start();
  }

  /**
   * Record movements from any source (a test, a bench, a REST bridge) and publish them when
   * possible. Throws OutboxFullError when the outbox bound is reached (nothing stored).
   */
  record(drafts: readonly MovementDraft[]): Movement[] {
    return this.recorder.record(drafts);
  }

  /** Visible for tests: what the agent does with workflow effects. */
  handleEffects(effects: readonly WorkflowEffect[]): void {
    this.recorder.handle(effects);
  }

  telemetry(): Telemetry {
    return this.health.telemetry();
  }

  /** The agent's part of the retained status (`health.status()` adds the envelope). */
  statusDetails(): Partial<EdgeStatusDetails> {
    return this.health.details();
  }

  problems(): string[] {
    return this.health.problems();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.health.stop();
    clearInterval(this.tickTimer);
    this.recorder.flush(); // commit what this turn made before closing
    await Promise.all(this.devices.map((d) => d.stop()));
    await this.publisher.stop();
    this.outbox.close();
    this.state.close();
  }
}
