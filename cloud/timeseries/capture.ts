import type { Logger } from 'pino';
import { Telemetry } from '../../protocols/mqtt/index.js';
import type { AlertStore } from '../alerts/alert-store.js';
import type { CloudMetrics } from '../metrics/registry.js';
import type { ExportStore, TelemetryRow } from './export-store.js';

/**
 * Persists what the exporter sends besides the ledger, each with a sequence (issue 13):
 * - telemetry samples from `stockgate/v1/+/+/telemetry`, one row per (message, device);
 * - alert state changes: the number of open alerts per (site, type), recorded when it changes.
 *
 * Both tables are bounded (ExportStore); the in-memory queue in front of them is bounded too, and
 * what either drops is counted in `stockgate_tsdb_export_dropped_total` and logged once.
 */
export class Capture {
  private queue: Array<Omit<TelemetryRow, 'seq'>> = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private alertTail: Promise<void> = Promise.resolve();
  private alertScheduled = false;
  private loggedDrop = false;
  /** Latest outbox figures per edge (bounded by the edges that exist) for the cloud's gauges. */
  private readonly outbox = new Map<string, { backlog: number; oldestAgeMs: number }>();

  constructor(
    private readonly store: ExportStore,
    private readonly log: Logger,
    private readonly metrics: CloudMetrics | undefined,
    private readonly onStored: () => void,
    private readonly maxQueue = 10_000,
  ) {}

  /** Bus handler for telemetry. Never throws. */
  readonly onTelemetry = (_topic: string, payload: Buffer): void => {
    let m: Telemetry;
    try {
      const r = Telemetry.safeParse(JSON.parse(payload.toString('utf8')));
      if (!r.success) return; // the alert engine already logs and counts bad telemetry
      m = r.data;
    } catch {
      return;
    }
    const receivedAt = Date.now();
    const ts = Date.parse(m.ts);
    const byDevice = new Map<string, Record<string, number>>();
    const put = (device: string, field: string, v: number) => {
      const f = byDevice.get(device) ?? {};
      f[field] = v;
      byDevice.set(device, f);
    };
    for (const [name, v] of Object.entries(m.metrics)) {
      // `scale.dock1.weightKg` -> device dock1, field scale_weightKg; `outbox.backlog` -> the edge's own.
      const parts = name.split('.');
      if (parts.length >= 3) put(parts[1]!, [parts[0], ...parts.slice(2)].join('_'), v);
      else put('edge', parts.join('_'), v);
    }
    for (const d of m.devices ?? []) {
      put(d.id, 'connected', d.state === 'connected' ? 1 : 0);
      if (d.reconnects !== undefined) put(d.id, 'reconnects', d.reconnects);
      if (d.droppedFrames !== undefined) put(d.id, 'dropped_frames', d.droppedFrames);
    }
    const backlog = m.metrics['outbox.backlog'];
    if (backlog !== undefined) {
      this.outbox.set(`${m.site}/${m.edge}`, { backlog, oldestAgeMs: m.metrics['outbox.oldestAgeMs'] ?? 0 });
      let sum = 0;
      let oldest = 0;
      for (const o of this.outbox.values()) (sum += o.backlog, oldest = Math.max(oldest, o.oldestAgeMs));
      this.metrics?.edgeOutboxBacklog.set(sum);
      this.metrics?.edgeOutboxOldestAge.set(oldest / 1000);
    }
    for (const [device, fields] of byDevice) {
      if (this.queue.length >= this.maxQueue) {
        this.dropped(1);
        continue;
      }
      this.queue.push({ ts, receivedAt, site: m.site, edge: m.edge, device, fields });
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, 100);
  };

  /** Alerts opened or resolved: record the open count of each (site, type) that changed. */
  alertsChanged(alerts: AlertStore): void {
    if (this.alertScheduled) return;
    this.alertScheduled = true;
    this.alertTail = this.alertTail.then(async () => {
      this.alertScheduled = false;
      try {
        const open = new Map<string, number>();
        for (const a of await alerts.openAlerts({})) {
          const k = `${a.site}\u001f${a.type}`;
          open.set(k, (open.get(k) ?? 0) + 1);
        }
        const last = await this.store.lastAlertStates();
        const now = Date.now();
        const rows: Array<{ ts: number; site: string; type: string; open: number }> = [];
        for (const k of new Set([...open.keys(), ...last.keys()])) {
          const v = (open.get(k) ?? 0) > 0 ? 1 : 0;
          const prev = last.get(k);
          if (prev === v || (prev === undefined && v === 0)) continue;
          const [site, type] = k.split('\u001f');
          rows.push({ ts: now, site: site!, type: type!, open: v });
        }
        if (rows.length) {
          this.dropped(await this.store.appendAlertChanges(rows));
          this.onStored();
        }
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'tsdb export: recording alert changes failed');
      }
    });
  }

  async flush(): Promise<void> {
    this.flushing = this.flushing.then(async () => {
      const rows = this.queue;
      this.queue = [];
      if (rows.length === 0) return;
      try {
        this.dropped(await this.store.appendTelemetry(rows));
        this.onStored();
      } catch (err) {
        this.log.error({ err: (err as Error).message, rows: rows.length }, 'tsdb export: storing telemetry failed; samples dropped');
        this.dropped(rows.length);
      }
    });
    await this.flushing;
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.flush();
    await this.alertTail;
  }

  private dropped(n: number): void {
    if (n <= 0) return;
    this.metrics?.tsdbDropped.inc(n);
    if (!this.loggedDrop) {
      this.loggedDrop = true;
      this.log.warn({ dropped: n }, 'tsdb export: telemetry or alert changes dropped unexported (bounded table or queue full); logged once, counted in stockgate_tsdb_export_dropped_total');
    }
  }
}
