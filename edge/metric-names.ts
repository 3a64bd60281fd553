/**
 * One telemetry metric of the edge. `name` is what `.../telemetry` carries (`<name>` stands for a
 * device name); `prom` is its series on `--metrics-port` (metrics.ts), when it has one: per-device
 * numbers have none (unbounded labels; the cloud exports the telemetry as `stockgate_device`).
 */
export interface EdgeMetric {
  readonly name: string;
  /** One line; for a metric with a `prom` series, its Prometheus HELP (in the Prometheus unit). */
  readonly help: string;
  /** `scale` converts the telemetry unit to the Prometheus base unit (ms -> s). */
  readonly prom?: { readonly name: string; readonly type: 'gauge' | 'counter'; readonly scale?: number };
}

/**
 * Every metric name of the edge, one row each (issue 15 §1: "metric names as one table"). The
 * telemetry (health.ts) is typed on these names, and metrics.ts registers its Prometheus series from
 * the `prom` column, so a name is spelled here only. Contracts (named in issues and keyed on by
 * the cloud): `outbox.backlog` (outbox-backlog alert), `scale.<name>.zeroDriftKg` (scale-drift
 * alert, cloud/alerts/rules.ts DRIFT_METRIC), the `stockgate_edge_*` names (issue 13 part 4).
 */
export const EDGE_METRICS = [
  { name: 'outbox.backlog', help: 'Movements in the outbox not yet acknowledged by the cloud', prom: { name: 'stockgate_edge_outbox_backlog', type: 'gauge' } },
  { name: 'outbox.oldestAgeMs', help: 'Age of the oldest unacknowledged movement, seconds (0 when none)', prom: { name: 'stockgate_edge_outbox_oldest_age_seconds', type: 'gauge', scale: 1 / 1000 } },
  { name: 'outbox.bytes', help: 'Bytes of unacknowledged movements in the outbox', prom: { name: 'stockgate_edge_outbox_bytes', type: 'gauge' } },
  { name: 'outbox.maxBytes', help: 'Outbox bound, bytes: beyond it new movements are refused', prom: { name: 'stockgate_edge_outbox_max_bytes', type: 'gauge' } },
  { name: 'outbox.refused', help: 'Movements refused because the outbox was full', prom: { name: 'stockgate_edge_outbox_refused_total', type: 'counter' } },
  { name: 'publisher.sent', help: 'Movements published (resends included)', prom: { name: 'stockgate_edge_movements_published_total', type: 'counter' } },
  { name: 'publisher.acked', help: 'Movements acknowledged by the cloud after its commit', prom: { name: 'stockgate_edge_movements_acked_total', type: 'counter' } },
  { name: 'publisher.rejected', help: 'Movements the cloud rejected (dead-lettered)', prom: { name: 'stockgate_edge_movements_rejected_total', type: 'counter' } },
  { name: 'publisher.resends', help: 'Batches sent again (ack timeout or gap report)', prom: { name: 'stockgate_edge_resends_total', type: 'counter' } },
  { name: 'publisher.connects', help: 'Connections to the broker', prom: { name: 'stockgate_edge_broker_connects_total', type: 'counter' } },
  { name: 'publisher.acksBadSignature', help: 'Acks dropped: signature missing or wrong', prom: { name: 'stockgate_edge_acks_bad_signature_total', type: 'counter' } },
  { name: 'publisher.ackSeqsBeyondSent', help: 'Acked seqs ignored because they were never sent', prom: { name: 'stockgate_edge_ack_seqs_beyond_sent_total', type: 'counter' } },
  { name: 'publisher.rowsBatches', help: 'Batches sent as version 2, the rows form (the cloud offered it)', prom: { name: 'stockgate_edge_rows_batches_total', type: 'counter' } },
  { name: 'publisher.rowsFallbacks', help: 'Version 2 batches refused whole: back to version 1 for the connection', prom: { name: 'stockgate_edge_rows_fallbacks_total', type: 'counter' } },
  { name: 'publisher.drainRatePerSec', help: 'Drain limit, movements/s (0 = unlimited)' },
  { name: 'config.version', help: 'Running remote config version (0 = none)' },
  { name: 'identity.duplicates', help: 'Serialised units received again while in stock here' },
  { name: 'workflow.refused', help: 'Scans and readings refused at the edge' },
  { name: 'workflow.warnings', help: 'Workflow warnings (count by weight, uom, idle expiry...)' },
  { name: 'process.rssBytes', help: 'Resident set size, bytes' },
  { name: 'process.heapUsedBytes', help: 'V8 heap used, bytes' },
  { name: 'process.heapTotalBytes', help: 'V8 heap reserved, bytes' },
  { name: 'process.externalBytes', help: 'Memory of C++ objects bound to JS (buffers), bytes' },
  { name: 'device.<name>.connected', help: 'The device is connected (1/0)' },
  { name: 'device.<name>.sinceLastFrameMs', help: 'ms since its last frame (since agent start when none)' },
  { name: 'device.<name>.reconnects', help: 'Reconnections of the device' },
  { name: 'device.<name>.droppedFrames', help: 'Frames its parser dropped (bad checksum, garbage)' },
  { name: 'scanner.<name>.sinceLastFrameMs', help: 'Scanner liveness: ms since its last scan' },
  { name: 'scale.<name>.zeroDriftKg', help: 'Latest stable weight with the scale empty, kg (the cloud scale-drift alert)' },
  { name: 'scale.<name>.weightKg', help: 'Current weight, kg' },
  { name: 'scale.<name>.stable', help: 'The weight is stable (1/0)' },
  { name: 'rfid.<name>.tagsPresent', help: 'Tags present in the reader zone' },
  { name: 'rfid.<name>.reads', help: 'Tag reads' },
  { name: 'rfid.<name>.events', help: 'Arrivals, departures and portal passes' },
] as const satisfies readonly EdgeMetric[];

export type MetricName = (typeof EDGE_METRICS)[number]['name'];
/** The agent-wide names (no device in them). */
export type AgentMetric = Exclude<MetricName, `${string}<name>${string}`>;
export type DeviceMetric = Extract<MetricName, `${string}<name>${string}`>;

/** A per-device metric name: `metric('scale.<name>.zeroDriftKg', 'scale1')` = `scale.scale1.zeroDriftKg`. */
export function metric(name: DeviceMetric, device: string): string {
  return name.replace('<name>', device);
}
