import type { Logger } from 'pino';
import { filters, TOPIC_ROOT } from '../../protocols/mqtt/index.js';
import type { AlertStore } from '../alerts/alert-store.js';
import type { Bus } from '../broker/bus.js';
import type { CloudConfig } from '../config.js';
import type { Db } from '../db/index.js';
import type { CloudMetrics } from '../metrics/registry.js';
import type { Store } from '../store/store.js';
import { Capture } from './capture.js';
import type { ExportStore } from './export-store.js';
import { TsdbExporter } from './exporter.js';
import { SqlExportStore } from './sql-export-store.js';

export interface Timeseries {
  exporter: TsdbExporter;
  capture: Capture;
  store: ExportStore;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The exporter wired from the cloud's configuration; undefined without `--tsdb`. */
export async function openTimeseries(config: CloudConfig, deps: { ledger: Store; bus: Bus; alerts: AlertStore; log: Logger; metrics?: CloudMetrics; db: Db }): Promise<Timeseries | undefined> {
  if (!config.tsdb) return undefined;
  const log = deps.log.child({ part: 'tsdb' });
  // Beside the ledger, in the cloud's one database.
  const store: ExportStore = await SqlExportStore.on(deps.db);
  const exporter = new TsdbExporter(deps.ledger, store, log, deps.metrics, {
    url: config.tsdb,
    ...(config.tsdbToken ? { token: config.tsdbToken } : {}),
    ...(config.tsdbBucket ? { bucket: config.tsdbBucket } : {}),
    ...(config.tsdbOrg ? { org: config.tsdbOrg } : {}),
    resendWindowMs: config.tsdbResendWindowS * 1000,
  });
  const capture = new Capture(store, log, deps.metrics, () => exporter.kick());
  return {
    exporter,
    capture,
    store,
    async start() {
      const scoped = config.sites ? config.sites.map((s) => `${TOPIC_ROOT}/${s}/+/telemetry`) : [filters.telemetry];
      for (const f of scoped) await deps.bus.subscribe(f, capture.onTelemetry);
      await exporter.start();
      capture.alertsChanged(deps.alerts);
    },
    async stop() {
      await capture.stop();
      await exporter.stop();
      await store.close();
    },
  };
}
