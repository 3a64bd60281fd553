import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The cloud's Prometheus metrics (issue 13 part 4), one prom-client registry per process so tests
 * can run several clouds in one process without colliding on the global registry.
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: the `stockgate_` prefix, base units
 * (`_seconds`), `_total` on counters. Labels are bounded sets only (results, reasons, channel
 * types, guards): never a site, SKU, serial, edge or movement id, whose number grows with the
 * business. Per-site figures belong in the time series (cloud/timeseries/), not here.
 */
export class CloudMetrics {
  readonly registry = new Registry();

  /** MQTT movements messages (and REST submissions) by what became of them. */
  readonly ingestMessages = new Counter({
    name: 'stockgate_ingest_messages_total',
    help: 'Movements messages committed, by result (accepted, or the reject reason), and REST submissions (result="rest")',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  /** Movements by outcome; `applied` equals the ledger rows applied (MQTT and REST). */
  readonly ingestMovements = new Counter({
    name: 'stockgate_ingest_movements_total',
    help: 'Movements by outcome: applied (new ledger rows, MQTT and REST), duplicate, exception, dead_letter',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly commitDuration = new Histogram({
    name: 'stockgate_ledger_commit_duration_seconds',
    help: 'Duration of one ledger group commit (one durable transaction), seconds',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });
  readonly deviceToCommit = new Histogram({
    name: 'stockgate_device_to_commit_latency_seconds',
    help: 'From the reading at the device (movement ts, edge clock) to its ledger commit, seconds: one per message, its oldest movement not a duplicate',
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
    registers: [this.registry],
  });
  /** The ingest queue's bounds (cloud/ingest/ingester.ts, issue 14): read at scrape time. */
  readonly ingestQueued = new Gauge({
    name: 'stockgate_ingest_queued_movements',
    help: 'Movements read and waiting for a ledger commit (bounded by --max-queued-per-edge and --max-queued)',
    registers: [this.registry],
  });
  readonly ingestBackpressure = new Counter({
    name: 'stockgate_ingest_backpressure_total',
    help: 'Times the ingest queue bound held a publisher back (door="mqtt_edge": its edge over --max-queued-per-edge; "mqtt_all": all over --max-queued) or refused a REST submission with 503 (door="rest")',
    labelNames: ['door'] as const,
    registers: [this.registry],
  });
  readonly deadLetters = new Counter({
    name: 'stockgate_dead_letters_total',
    help: 'Dead letters written by the ingester',
    registers: [this.registry],
  });
  /** Edge outbox figures as the edges report them in telemetry (summed over edges). */
  readonly edgeOutboxBacklog = new Gauge({
    name: 'stockgate_edge_outbox_backlog',
    help: 'Unacknowledged movements in the edge outboxes, summed over the edges last heard from (telemetry outbox.backlog)',
    registers: [this.registry],
  });
  readonly edgeOutboxOldestAge = new Gauge({
    name: 'stockgate_edge_outbox_oldest_age_seconds',
    help: 'Age of the oldest unacknowledged movement over all edges (telemetry outbox.oldestAgeMs), seconds',
    registers: [this.registry],
  });
  readonly tsdbBacklog = new Gauge({
    name: 'stockgate_tsdb_export_backlog',
    help: 'Ledger rows, telemetry samples and alert changes not yet exported to the time-series database; 0 when caught up',
    registers: [this.registry],
  });
  readonly tsdbLag = new Gauge({
    name: 'stockgate_tsdb_export_lag_seconds',
    help: 'Now minus the time the oldest row not yet exported entered the database; 0 when caught up',
    registers: [this.registry],
  });
  readonly tsdbLines = new Counter({
    name: 'stockgate_tsdb_export_lines_total',
    help: 'Line-protocol lines by result: written (2xx), failed (a write that got no 2xx), resent (trailing window after a failure), refused (by a guard)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly tsdbGuards = new Counter({
    name: 'stockgate_tsdb_export_guard_total',
    help: 'Values the server would silently drop, by guard (string_field, retention, future, precision) and action (repaired, refused)',
    labelNames: ['guard', 'action'] as const,
    registers: [this.registry],
  });
  readonly tsdbRequests = new Counter({
    name: 'stockgate_tsdb_export_requests_total',
    help: 'Write requests to the time-series database by result (ok, error)',
    labelNames: ['result'] as const,
    registers: [this.registry],
  });
  readonly tsdbDropped = new Counter({
    name: 'stockgate_tsdb_export_dropped_total',
    help: 'Telemetry samples and alert changes dropped unexported because their bounded table was full',
    registers: [this.registry],
  });
  /** For cloud/channels/: one increment per delivery attempt outcome. */
  readonly notifications = new Counter({
    name: 'stockgate_notifications_total',
    help: 'Alert notifications by channel type (webhook, mqtt, dingtalk, feishu, wecom, email) and result (delivered, retrying, failed)',
    labelNames: ['channel', 'result'] as const,
    registers: [this.registry],
  });
  readonly sseClients = new Gauge({
    name: 'stockgate_sse_clients',
    help: 'Live board Server-Sent Events clients connected',
    registers: [this.registry],
  });
  readonly buildInfo = new Gauge({
    name: 'stockgate_build_info',
    help: 'Build information; the value is always 1',
    labelNames: ['version', 'node'] as const,
    registers: [this.registry],
  });

  constructor(version: string) {
    collectDefaultMetrics({ register: this.registry });
    this.buildInfo.set({ version, node: process.version }, 1);
  }

  /** Gauges read at scrape time (SSE clients, ...). */
  readonly onScrape: Array<() => void> = [];

  get contentType(): string {
    return this.registry.contentType;
  }

  async text(): Promise<string> {
    for (const f of this.onScrape) f();
    return this.registry.metrics();
  }
}
