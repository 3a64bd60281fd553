import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Telemetry } from '../protocols/mqtt/index.js';
import { EDGE_METRICS } from './metric-names.js';

/** What the edge's metrics read at scrape time (the agent's telemetry snapshot). */
export interface EdgeMetricsSource {
  telemetry(): Telemetry;
}

/**
 * The edge's Prometheus metrics (issue 13 part 4) on `--metrics-port`: the same numbers as its
 * telemetry, read at scrape time, with Prometheus names (base units, `_total` on counters) and no
 * unbounded labels (no device names: a per-device series belongs in the time series, where the
 * cloud exports the edge's telemetry as `stockgate_device`). The series are the `prom` column of
 * `EDGE_METRICS` (metric-names.ts), so a name is spelled once for telemetry and Prometheus.
 */
export class EdgeMetrics {
  readonly registry = new Registry();

  constructor(source: EdgeMetricsSource, version: string) {
    const r = [this.registry];
    let snap: Telemetry | undefined;
    // One telemetry snapshot per scrape, shared by every collector below: the first one takes it.
    let first = true;
    const m = (name: string) => snap?.metrics[name] ?? 0;
    // Counters mirror the agent's monotonic counters: add what grew since the last scrape.
    const last = new Map<string, number>();
    const exported = EDGE_METRICS.flatMap((row) => ('prom' in row ? [{ key: row.name, help: row.help, ...row.prom }] : []));
    // Gauges first, then counters (the order of the page before the table existed).
    for (const e of [...exported.filter((x) => x.type === 'gauge'), ...exported.filter((x) => x.type === 'counter')]) {
      const takesSnapshot = first;
      first = false;
      const scale = 'scale' in e ? e.scale : 1;
      if (e.type === 'gauge') {
        new Gauge({
          name: e.name,
          help: e.help,
          registers: r,
          collect() {
            if (takesSnapshot) snap = source.telemetry();
            this.set(m(e.key) * scale);
          },
        });
      } else {
        new Counter({
          name: e.name,
          help: e.help,
          registers: r,
          collect() {
            if (takesSnapshot) snap = source.telemetry();
            const v = m(e.key);
            const d = v - (last.get(e.key) ?? 0);
            last.set(e.key, v);
            if (d > 0) this.inc(d);
          },
        });
      }
    }
    new Gauge({
      name: 'stockgate_edge_devices',
      help: 'Devices by state (connected, disconnected, error)',
      labelNames: ['state'] as const,
      registers: r,
      collect() {
        const n = { connected: 0, disconnected: 0, error: 0 };
        for (const d of snap?.devices ?? []) n[d.state]++;
        for (const [state, v] of Object.entries(n)) this.set({ state }, v);
      },
    });
    new Gauge({ name: 'stockgate_build_info', help: 'Build information; the value is always 1', labelNames: ['version', 'node'] as const, registers: r }).set({ version, node: process.version }, 1);
    collectDefaultMetrics({ register: this.registry });
  }

  /** Serve `GET /metrics` on host:port (0 = any free port); resolves with the server listening. */
  async listen(port: number, host: string): Promise<Server> {
    const server = createServer((req, res) => {
      if (req.method !== 'GET' || (req.url ?? '').split('?')[0] !== '/metrics') {
        res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: 404, code: 'SG_ERR_NOT_FOUND', error: 'Not Found', message: 'path: only GET /metrics is served here' }));
        return;
      }
      this.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': this.registry.contentType, 'cache-control': 'no-store' }).end(text),
        () => res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ statusCode: 500, code: 'SG_ERR_INTERNAL', error: 'Internal Server Error', message: 'metrics: collection failed' })),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    return server;
  }
}
