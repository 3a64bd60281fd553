import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SCHEMA_VERSION, type Movement, type Telemetry } from '../protocols/mqtt/index.js';
import { Device } from '../devices/device.js';
import type { Reading } from '../devices/driver.js';
import { createTransport, drivers, parseDeviceSpec } from '../devices/registry.js';
import type { EdgeConfig } from './config.js';
import { SqliteOutbox } from './outbox/sqlite.js';
import type { OutboxStore } from './outbox/outbox-store.js';
import { Publisher } from './publisher.js';
import { ScanSession } from './scan-session.js';

export const AGENT_VERSION = '0.1.0';

/**
 * The edge agent: devices -> scan session -> durable outbox -> publisher. A reading becomes a
 * movement committed to the outbox before anything is sent; the publisher drains the outbox
 * independently, so an operator never waits on the network.
 */
export class EdgeAgent {
  readonly outbox: OutboxStore;
  readonly publisher: Publisher;
  readonly session: ScanSession;
  readonly devices: Device[] = [];
  private telemetryTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: EdgeConfig,
    private readonly log: Logger,
  ) {
    mkdirSync(config.dataDir, { recursive: true });
    this.outbox = new SqliteOutbox({ path: join(config.dataDir, 'outbox.db'), site: config.site, edge: config.edgeId });
    this.session = new ScanSession({ mode: config.mode, location: config.location, uom: config.uom });
    this.publisher = new Publisher(this.outbox, {
      broker: config.broker,
      site: config.site,
      edge: config.edgeId,
      username: config.username,
      password: config.password,
      batchSize: config.batchSize,
      window: config.window,
      ackTimeoutMs: config.ackTimeoutMs,
      version: AGENT_VERSION,
      statusExtra: () => ({ backlog: this.outbox.backlog().count, devices: this.devices.map((d) => d.health()) }),
    });
    this.publisher.on('connected', () => log.info({ broker: config.broker, backlog: this.outbox.backlog().count }, 'connected to broker'));
    this.publisher.on('disconnected', () => log.warn('broker connection lost; scans keep going to the outbox'));
    this.publisher.on('error', (err) => log.debug({ err: err.message }, 'mqtt error'));
    this.publisher.on('rejected', (rej, moved) => {
      // Operator feedback: the cloud refused movements. They are kept in the local rejected table.
      log.error({ reason: rej.reason, message: rej.message, moved, deadLetterId: rej.deadLetterId }, 'cloud rejected movements');
    });
    for (const spec of config.devices.map(parseDeviceSpec)) {
      const driver = drivers[spec.driver]!();
      const dev = new Device(spec.name, driver, createTransport(spec.uri, driver.profile.line));
      dev.on('reading', (r) => this.onReading(dev, r));
      dev.on('state', (s, err) => {
        log[s === 'connected' ? 'info' : 'warn']({ device: spec.name, uri: spec.uri, state: s, err: err?.message }, 'device state');
        this.publisher.publishStatus('update');
      });
      this.devices.push(dev);
    }
  }

  start(): void {
    for (const d of this.devices) d.start();
    this.publisher.start();
    if (this.config.telemetryMs > 0) {
      this.telemetryTimer = setInterval(() => this.publisher.publishTelemetry(this.telemetry()), this.config.telemetryMs);
      this.telemetryTimer.unref();
    }
  }

  /** Record a movement from any source (a scan, a test, a bench) and publish it when possible. */
  record(drafts: Parameters<OutboxStore['append']>[0]): Movement[] {
    const out = this.outbox.append(drafts);
    this.publisher.kick();
    return out;
  }

  telemetry(): Telemetry {
    const b = this.outbox.backlog();
    return {
      v: SCHEMA_VERSION,
      site: this.config.site,
      edge: this.config.edgeId,
      ts: new Date().toISOString(),
      metrics: {
        'outbox.backlog': b.count,
        'outbox.bytes': b.bytes,
        'outbox.oldestAgeMs': b.oldestAt ? Date.now() - b.oldestAt : 0,
        'publisher.acked': this.publisher.stats.acked,
        'publisher.rejected': this.publisher.stats.rejected,
        'publisher.resends': this.publisher.stats.resends,
      },
      devices: this.devices.map((d) => d.health()),
    };
  }

  async stop(): Promise<void> {
    clearInterval(this.telemetryTimer);
    await Promise.all(this.devices.map((d) => d.stop()));
    await this.publisher.stop();
    this.outbox.close();
  }

  private onReading(dev: Device, r: Reading): void {
    if (r.kind !== 'scan') {
      this.log.debug({ device: dev.name, reading: r }, 'reading');
      return;
    }
    const out = this.session.handle(r, { id: dev.name, type: dev.driver.profile.driver });
    if (out.type === 'control') {
      this.log.info({ device: dev.name, control: out.code, context: out.context }, 'scan context changed');
    } else if (out.type === 'error') {
      this.log.warn({ device: dev.name, code: out.code, raw: r.raw }, `scan refused: ${out.message}`);
    } else {
      const [m] = this.record([out.draft]);
      this.log.info({ device: dev.name, seq: m!.seq, kind: m!.kind, sku: m!.sku ?? m!.gtin, qty: m!.qty }, 'movement recorded');
    }
  }
}
