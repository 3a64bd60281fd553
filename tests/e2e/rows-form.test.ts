import { afterEach, describe, expect, it } from 'vitest';
import mqtt from 'mqtt';
import pino from 'pino';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../cloud/service.js';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig, type EdgeConfigInput } from '../../edge/config.js';
import type { MovementDraft } from '../../edge/outbox/outbox-store.js';
import { topics } from '../../protocols/mqtt/index.js';
import { getJson, tempDir, uniqueId, waitFor } from '../helpers/procs.js';

/**
 * The batch version 2 (rows form) negotiation end to end: the real edge agent and its outbox, the
 * real cloud, on the shared Mosquitto (so a cloud can be replaced under an edge that stays
 * connected). An edge sends rows only after a signed ack offered them; a cloud that stops reading
 * them costs a round trip, never a movement; an edge or cloud with the form off speaks version 1.
 */
const MOSQUITTO = 'mqtt://127.0.0.1:1883';
const quiet = pino({ level: 'silent' });
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

const drafts = (n: number, from = 0): MovementDraft[] =>
  Array.from({ length: n }, (_, i) => ({ ts: new Date().toISOString(), location: 'DOCK-1', kind: 'receive', sku: `SKU-${(from + i) % 3}`, qty: 1, uom: 'ea', operator: 'W-7', device: { id: 'dock1', type: 'scanner' }, raw: `scan-${from + i}` }) as MovementDraft);

function edge(site: string, over: Partial<EdgeConfigInput> = {}): EdgeAgent {
  const agent = new EdgeAgent(parseEdgeConfig({ dataDir: tempDir(), broker: MOSQUITTO, site, edgeId: 'e1', location: 'DOCK-1', telemetryMs: 0, window: 2, batchSize: 5, ackTimeoutMs: 60_000, ackKey: 'rows-ack-secret', ...over }), quiet);
  stops.push(() => agent.stop());
  return agent;
}

async function cloudOn(site: string, o: Record<string, unknown> = {}): Promise<RunningCloud> {
  const c = await startCloud(parseCloudConfig({ dataDir: tempDir(), httpPort: 0, mqttPort: 0, broker: MOSQUITTO, insecure: true, ackKey: 'rows-ack-secret', sites: [site], ...o }), quiet);
  stops.push(() => c.stop()); // a second stop() returns at once
  return c;
}

/** Movements in the ledger and their total quantity: 40 of qty 1 each is 40 and 40 (none doubled). */
async function ledger(c: RunningCloud, site: string): Promise<{ rows: number; onHand: number }> {
  const { items } = await getJson<{ items: Array<{ onHand: number }> }>(`http://127.0.0.1:${c.httpPort}/api/v1/stock?site=${site}`);
  const { items: rows } = await getJson<{ items: unknown[] }>(`http://127.0.0.1:${c.httpPort}/api/v1/movements?site=${site}&limit=1000`);
  return { rows: rows.length, onHand: items.reduce((s, i) => s + i.onHand, 0) };
}

/** Every batch version seen on the movements topic of `site`, in order. */
async function watchVersions(site: string): Promise<number[]> {
  const seen: number[] = [];
  const w = await mqtt.connectAsync(MOSQUITTO, { reconnectPeriod: 0 });
  stops.push(() => w.endAsync(true));
  w.on('message', (_t, p) => seen.push((JSON.parse(p.toString()) as { v: number }).v));
  await w.subscribeAsync(topics.movements(site, 'e1'), { qos: 0 });
  return seen;
}

describe('batch version 2 (rows form) between real edges and clouds', () => {
  it('a new edge and cloud: version 1 until a signed ack offers rows, then rows; all applied once', async () => {
    const site = uniqueId('rows');
    const versions = await watchVersions(site);
    const cloud = await cloudOn(site);
    const agent = edge(site);
    agent.start();
    agent.record(drafts(40));
    await waitFor(async () => agent.outbox.backlog().count === 0 && (await ledger(cloud, site)).onHand === 40, 'ledger 40 of 40, outbox empty', 30_000);
    expect(await ledger(cloud, site)).toEqual({ rows: 40, onHand: 40 });
    expect(versions[0]).toBe(1); // nothing offered yet
    expect(versions).toContain(2);
    expect(agent.publisher.stats.rowsBatchesSent).toBeGreaterThan(0);
    expect(agent.publisher.stats.rowsFallbacks).toBe(0);
    expect(agent.telemetry().metrics['publisher.rowsBatches']).toBe(agent.publisher.stats.rowsBatchesSent);
    expect(agent.publisher.stats.acksBadSignature).toBe(0);
    expect(agent.outbox.rejected(10)).toEqual([]);
  }, 60_000);

  it('a cloud with --no-rows-form, and an edge with --no-rows-form: version 1 only, all applied', async () => {
    const site = uniqueId('rows');
    const versions = await watchVersions(site);
    const cloud = await cloudOn(site, { rowsForm: false });
    const a = edge(site);
    a.start();
    a.record(drafts(20));
    await waitFor(async () => a.outbox.backlog().count === 0 && (await ledger(cloud, site)).onHand === 20, 'ledger 20, outbox empty', 30_000);
    await a.stop();
    const site2 = uniqueId('rows');
    const versions2 = await watchVersions(site2);
    const cloud2 = await cloudOn(site2);
    const b = edge(site2, { rowsForm: false });
    b.start();
    b.record(drafts(20));
    await waitFor(async () => b.outbox.backlog().count === 0 && (await ledger(cloud2, site2)).onHand === 20, 'ledger 20, outbox empty', 30_000);
    for (const v of [versions, versions2]) {
      expect(v.length).toBeGreaterThan(0);
      expect(new Set(v)).toEqual(new Set([1]));
    }
    expect(a.publisher.stats.rowsBatchesSent + b.publisher.stats.rowsBatchesSent).toBe(0);
  }, 60_000);

  it('the cloud replaced by one that does not read rows, under a connected edge: one refusal, back to version 1, 0 lost, 0 doubled', async () => {
    const site = uniqueId('rows');
    const versions = await watchVersions(site);
    const dataDir = tempDir();
    const first = await cloudOn(site, { dataDir });
    const agent = edge(site);
    agent.start();
    agent.record(drafts(20));
    await waitFor(async () => agent.outbox.backlog().count === 0 && (await ledger(first, site)).onHand === 20, 'first 20 applied', 30_000);
    expect(agent.publisher.stats.rowsBatchesSent).toBeGreaterThan(0);
    await first.stop();

    // Same ledger, rows off: what an older release of the cloud does with version 2.
    const older = await cloudOn(site, { dataDir, rowsForm: false });
    agent.record(drafts(20, 20));
    await waitFor(async () => agent.outbox.backlog().count === 0 && (await ledger(older, site)).onHand === 40, 'all 40 applied', 30_000);
    expect(await ledger(older, site)).toEqual({ rows: 40, onHand: 40 });
    expect(agent.publisher.stats.rowsFallbacks).toBe(1);
    expect(agent.telemetry().metrics['publisher.rowsFallbacks']).toBe(1);
    expect(agent.outbox.rejected(10)).toEqual([]); // the refused rows batch never left the outbox for the rejected table
    // After the fallback, version 1 only on this connection.
    const after = versions.slice(versions.lastIndexOf(2) + 1);
    expect(after.length).toBeGreaterThan(0);
    expect(new Set(after)).toEqual(new Set([1]));
  }, 90_000);
});
