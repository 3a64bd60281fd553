import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { memorySimulatorEnd } from '../../devices/memory.js';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig } from '../../edge/config.js';
import { edgeStatus } from '../../edge/health.js';
import { EDGE_METRICS } from '../../edge/metric-names.js';
import { EdgeMetrics } from '../../edge/metrics.js';
import { EdgeStatusDetails, type Telemetry } from '../../protocols/mqtt/index.js';
import { encodeAscii } from '../../protocols/scale/encode.js';
import { tempDir, uniqueId, waitFor } from '../helpers/procs.js';

/** A telemetry name is in the table when it is a row, or a `<name>` row with a device name in it. */
function inTable(name: string): boolean {
  return EDGE_METRICS.some((row) => {
    if (!row.name.includes('<name>')) return row.name === name;
    const [pre, post] = row.name.split('<name>') as [string, string];
    return name.length > pre.length + post.length && name.startsWith(pre) && name.endsWith(post);
  });
}

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
});

describe('edge health: one table of metric names (issue 15 §1)', () => {
  it('the table has each name once, and Prometheus names with their units and _total on counters', () => {
    const names = EDGE_METRICS.map((r) => r.name);
    expect(new Set(names).size).toBe(names.length);
    const prom = EDGE_METRICS.flatMap((r) => ('prom' in r ? [r.prom] : []));
    expect(new Set(prom.map((p) => p.name)).size).toBe(prom.length);
    for (const p of prom) {
      expect(p.name).toMatch(/^stockgate_edge_[a-z_]+$/);
      expect(p.name.endsWith('_total')).toBe(p.type === 'counter');
    }
    // The contracts the cloud keys on (cloud/alerts/rules.ts) are rows of the table.
    expect(inTable('outbox.backlog')).toBe(true);
    expect(inTable('scale.dock-scale.zeroDriftKg')).toBe(true);
    // The check can fail.
    expect(inTable('outbox.backlogg')).toBe(false);
    expect(inTable('scale..zeroDriftKg')).toBe(false);
  });

  it('every telemetry name of a running agent is a row of the table, and every agent-wide row is sent', async () => {
    const tag = uniqueId('h');
    const sims = ['dock1', 'scale1', 'gate'].map((d) => memorySimulatorEnd(`${tag}-${d}`));
    for (const sim of sims) await sim.open();
    const config = parseEdgeConfig({
      dataDir: tempDir(),
      broker: 'mqtt://127.0.0.1:9',
      site: 's1',
      edgeId: 'e1',
      location: 'DOCK-1',
      telemetryMs: 0,
      devices: [`dock1=scanner@memory://${tag}-dock1`, `scale1=scale-ascii@memory://${tag}-scale1`, `gate=rfid-m100@memory://${tag}-gate`],
      stations: [{ scanner: 'dock1', scale: 'scale1' }],
      rfid: [{ reader: 'gate', role: 'zone' }],
    });
    const agent = new EdgeAgent(config, pino({ level: 'silent' }));
    agent.start();
    stops.push(() => agent.stop());
    await waitFor(() => agent.devices.every((d) => d.health().state === 'connected'), 'devices connected');
    // A stable empty scale gives the scale's weight and zero-drift names too.
    const sim = sims[1]!;
    let t: Telemetry | undefined;
    await waitFor(async () => {
      await sim.write(encodeAscii({ kind: 'weight', weight: 0.002, unit: 'kg', stable: true, net: true }, 'and', { decimals: 3 }));
      t = agent.telemetry();
      return t.metrics['scale.scale1.zeroDriftKg'] !== undefined;
    }, 'zero drift reported');
    const names = Object.keys(t!.metrics);
    expect(names.filter((n) => !inTable(n))).toEqual([]);
    const agentWide = EDGE_METRICS.map((r) => r.name).filter((n) => !n.includes('<name>'));
    expect(agentWide.filter((n) => !names.includes(n))).toEqual([]);
    for (const n of ['device.dock1.connected', 'scanner.dock1.sinceLastFrameMs', 'scale.scale1.weightKg', 'scale.scale1.stable', 'rfid.gate.tagsPresent']) expect(names).toContain(n);
  });

  it('/metrics registers exactly the Prometheus column of the table, in base units', async () => {
    const metrics: Record<string, number> = Object.fromEntries(EDGE_METRICS.map((r, i) => [r.name, i + 1]));
    metrics['outbox.oldestAgeMs'] = 2500;
    const m = new EdgeMetrics({ telemetry: () => ({ v: 1, site: 's', edge: 'e', ts: new Date().toISOString(), metrics }) }, 'test');
    const json = await m.registry.getMetricsAsJSON();
    const ours = json.map((x) => x.name).filter((n) => n.startsWith('stockgate_edge_') && n !== 'stockgate_edge_devices');
    expect(ours.sort()).toEqual(EDGE_METRICS.flatMap((r) => ('prom' in r ? [r.prom.name] : [])).sort());
    const value = (name: string) => json.find((x) => x.name === name)!.values[0]!.value;
    expect(value('stockgate_edge_outbox_oldest_age_seconds')).toBe(2.5);
    expect(value('stockgate_edge_outbox_backlog')).toBe(metrics['outbox.backlog']);
    expect(value('stockgate_edge_movements_acked_total')).toBe(metrics['publisher.acked']);
  });
});

describe('edge health: the status is built in one place', () => {
  it('online carries the details, offline (shutdown, last will) only the envelope', () => {
    const details = { backlog: 3, problems: ['outbox-backlog'], configVersion: 2 };
    const on = edgeStatus({ site: 's1', edge: 'e1', version: '0.2.0' }, 'online', 'update', details);
    expect(EdgeStatusDetails.parse(on)).toEqual(on);
    expect(on).toMatchObject({ v: 1, site: 's1', edge: 'e1', state: 'online', reason: 'update', version: '0.2.0', backlog: 3, configVersion: 2 });
    const lwt = edgeStatus({ site: 's1', edge: 'e1' }, 'offline', 'lwt', details);
    expect(Object.keys(lwt).sort()).toEqual(['edge', 'reason', 'site', 'state', 'ts', 'v']);
  });
});
