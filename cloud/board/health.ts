import { EdgeStatusDetails, Telemetry, parseEdgeTopic } from '../../protocols/mqtt/index.js';
import { edgeKey, type BoardDevice, type BoardEdge } from '../../protocols/http/board.js';

/** Edges remembered (each ~1 KB); beyond it new edges are ignored, counted. */
const MAX_EDGES = 10_000;
/** Devices per edge, as the alert engine's cap (cloud/alerts/engine.ts). */
const MAX_DEVICES = 64;
/** `scale.<device>.zeroDriftKg` (cloud/alerts/rules.ts DRIFT_METRIC). */
const DRIFT = /^scale\.(.+)\.zeroDriftKg$/;

/**
 * Device health per edge for the board, from the edges' retained `status` (with its MQTT last
 * will: a crashed edge reads offline) and periodic `telemetry`. Every ingester subscribes to both
 * without a shared group, so every board sees every edge. Held in memory, bounded; invalid
 * messages are ignored (the alert engine logs them).
 */
export class EdgeHealth {
  private readonly edges = new Map<string, BoardEdge>();
  ignored = 0;

  constructor(
    private readonly changed: (e: BoardEdge) => void,
    private readonly now: () => Date = () => new Date(),
  ) {}

  list(): BoardEdge[] {
    return [...this.edges.values()];
  }

  onStatus = (topic: string, payload: Buffer): void => {
    const s = parse(topic, payload, 'status', EdgeStatusDetails);
    if (!s) return;
    const e = this.edge(s.site, s.edge);
    if (!e) return;
    e.state = s.state;
    if (s.backlog !== undefined) e.backlog = s.backlog;
    else if (s.outbox) e.backlog = s.outbox.count;
    if (s.version !== undefined) e.version = s.version;
    if (s.problems) e.problems = s.problems.slice(0, 16);
    if (s.devices) mergeDevices(e, s.devices);
    this.changed(e);
  };

  onTelemetry = (topic: string, payload: Buffer): void => {
    const m = parse(topic, payload, 'telemetry', Telemetry);
    if (!m) return;
    const e = this.edge(m.site, m.edge);
    if (!e) return;
    // Telemetry is sent by a live edge only.
    e.state = 'online';
    const backlog = m.metrics['outbox.backlog'];
    if (backlog !== undefined && Number.isInteger(backlog) && backlog >= 0) e.backlog = backlog;
    if (m.devices) mergeDevices(e, m.devices);
    for (const [k, v] of Object.entries(m.metrics)) {
      const d = DRIFT.exec(k);
      if (!d) continue;
      const dev = e.devices.find((x) => x.id === d[1]);
      if (dev) dev.driftKg = v;
      else if (e.devices.length < MAX_DEVICES) e.devices.push({ id: d[1]!, type: 'scale', state: 'connected', driftKg: v });
    }
    this.changed(e);
  };

  private edge(site: string, edge: string): BoardEdge | undefined {
    const k = edgeKey({ site, edge });
    let e = this.edges.get(k);
    if (!e) {
      if (this.edges.size >= MAX_EDGES) {
        this.ignored++;
        return undefined;
      }
      e = { site, edge, state: 'online', lastSeenAt: '', devices: [] };
      this.edges.set(k, e);
    }
    e.lastSeenAt = this.now().toISOString();
    return e;
  }
}

function mergeDevices(e: BoardEdge, devices: ReadonlyArray<{ id: string; type: string; state: BoardDevice['state']; lastFrameAt?: string; reconnects?: number; error?: string }>): void {
  for (const d of devices.slice(0, MAX_DEVICES)) {
    let cur = e.devices.find((x) => x.id === d.id);
    if (!cur) {
      if (e.devices.length >= MAX_DEVICES) continue;
      cur = { id: d.id, type: d.type, state: d.state };
      e.devices.push(cur);
    }
    cur.type = d.type;
    cur.state = d.state;
    if (d.lastFrameAt !== undefined) cur.lastFrameAt = d.lastFrameAt;
    if (d.reconnects !== undefined) cur.reconnects = d.reconnects;
    if (d.error !== undefined) cur.error = d.error.slice(0, 200);
    else delete cur.error;
  }
}

function parse<T extends { site: string; edge: string }>(
  topic: string,
  payload: Buffer,
  channel: 'status' | 'telemetry',
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
): T | undefined {
  const t = parseEdgeTopic(topic);
  if (!t || t.channel !== channel || payload.length > 256 * 1024) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch {
    return undefined;
  }
  const r = schema.safeParse(json);
  // The topic names the edge: a payload naming another is ignored.
  if (!r.success || r.data.site !== t.site || r.data.edge !== t.edge) return undefined;
  return r.data;
}
