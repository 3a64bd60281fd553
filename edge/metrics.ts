import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { Telemetry } from '../protocols/mqtt/index.js';

/** What the edge's metrics read at scrape time (the agent's telemetry snapshot). */
export interface EdgeMetricsSource {
  telemetry(): Telemetry;
}

/**
 * The edge's Prometheus metrics (issue 13 part 4) on `--metrics-port`: the same numbers as its
 * telemetry, read at scrape time, with Prometheus names (base units, `_total` on counters) and no
 * unbounded labels (no device names: a per-device series belongs in the time series, where the
 * cloud exports the edge's telemetry as `stockgate_device`).
 */
export class EdgeMetrics {
  readonly registry = new Registry();

  constructor(source: EdgeMetricsSource, version: string) {
    const r = [this.registry];
    const read = () => source.telemetry();
    let snap: Telemetry | undefined;
    // One telemetry snapshot per scrape, shared by every collector below.
    const m = (name: string) => snap?.metrics[name] ?? 0;
    const gauge = (name: string, help: string, from: () => number) =>
      new Gauge({ name, help, registers: r, collect() { this.set(from()); } });
    // Counters mirror the agent's monotonic counters: add what grew since the last scrape.
    const last = new Map<string, number>();
    const counter = (name: string, help: string, key: string) =>
      new Counter({
        name,
        help,
        registers: r,
        collect() {
          const v = m(key);
          const d = v - (last.get(key) ?? 0);
          last.set(key, v);
          if (d > 0) this.inc(d);
        },
      });
    new Gauge({
      name: 'stockgate_edge_outbox_backlog',
      help: 'Movements in the outbox not yet acknowledged by the cloud',
      registers: r,
      collect() {
        snap = read();
        this.set(m('outbox.backlog'));
      },
    });
    gauge('stockgate_edge_outbox_oldest_age_seconds', 'Age of the oldest unacknowledged movement, seconds (0 when none)', () => m('outbox.oldestAgeMs') / 1000);
    gauge('stockgate_edge_outbox_bytes', 'Bytes of unacknowledged movements in the outbox', () => m('outbox.bytes'));
    gauge('stockgate_edge_outbox_max_bytes', 'Outbox bound, bytes: beyond it new movements are refused', () => m('outbox.maxBytes'));
    for (const [name, help, key] of [
      ['stockgate_edge_outbox_refused_total', 'Movements refused because the outbox was full', 'outbox.refused'],
      ['stockgate_edge_movements_published_total', 'Movements published (resends included)', 'publisher.sent'],
      ['stockgate_edge_movements_acked_total', 'Movements acknowledged by the cloud after its commit', 'publisher.acked'],
      ['stockgate_edge_movements_rejected_total', 'Movements the cloud rejected (dead-lettered)', 'publisher.rejected'],
      ['stockgate_edge_resends_total', 'Batches sent again (ack timeout or gap report)', 'publisher.resends'],
      ['stockgate_edge_broker_connects_total', 'Connections to the broker', 'publisher.connects'],
      ['stockgate_edge_acks_bad_signature_total', 'Acks dropped: signature missing or wrong', 'publisher.acksBadSignature'],
      ['stockgate_edge_ack_seqs_beyond_sent_total', 'Acked seqs ignored because they were never sent', 'publisher.ackSeqsBeyondSent'],
    ] as const) {
      counter(name, help, key);
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
