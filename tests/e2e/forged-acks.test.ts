import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import pino from 'pino';
import { parseCloudConfig } from '../../cloud/config.js';
import { startCloud, type RunningCloud } from '../../cloud/service.js';
import { SqliteCredentialStore, authDbPath } from '../../cloud/auth/sqlite.js';
import { dbPath } from '../../cloud/db/index.js';
import { EdgeAgent } from '../../edge/agent.js';
import { parseEdgeConfig, type EdgeConfigInput } from '../../edge/config.js';
import type { MovementDraft } from '../../edge/outbox/outbox-store.js';
import { deriveAckKey, topics } from '../../protocols/mqtt/index.js';
import { getJson, tempDir, uniqueId, waitFor } from '../helpers/procs.js';

/**
 * Issue 8, finding 6: on a broker without ACLs one forged ack `{"ranges":[[1,1000000]]}` made an
 * edge delete 60 outbox rows, 55 never published, and the ledger got 0 of 60. Here: the real edge
 * agent and outbox on the shared Mosquitto (no ACL), the cloud down, a window of one batch of 5;
 * an attacker publishes forged acks; then the real cloud starts and the ledger must get all 60.
 */
const MOSQUITTO = 'mqtt://127.0.0.1:1883';
const quiet = pino({ level: 'silent' });
const stops: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
});

const drafts = (n: number): MovementDraft[] =>
  Array.from({ length: n }, (_, i) => ({ ts: new Date().toISOString(), location: 'DOCK-1', kind: 'receive', sku: 'SKU-F', qty: 1, uom: 'ea', device: { id: 'dock1', type: 'scanner' }, raw: `scan-${i}` }) as MovementDraft);

function edge(site: string, over: Partial<EdgeConfigInput>, logs: Array<Record<string, unknown>> = []): EdgeAgent {
  const log = pino({ level: 'info' }, { write: (l: string) => void logs.push(JSON.parse(l) as Record<string, unknown>) });
  const agent = new EdgeAgent(parseEdgeConfig({ dataDir: tempDir(), broker: MOSQUITTO, site, edgeId: 'e1', location: 'DOCK-1', telemetryMs: 0, window: 1, batchSize: 5, ackTimeoutMs: 60_000, ...over }), log);
  stops.push(() => agent.stop());
  return agent;
}

async function forge(site: string, acks: object[]): Promise<void> {
  const attacker = await mqtt.connectAsync(MOSQUITTO, { reconnectPeriod: 0 });
  for (const a of acks) await attacker.publishAsync(topics.acks(site, 'e1'), JSON.stringify(a), { qos: 1 });
  await attacker.endAsync();
}

const forged = (extra: object = {}) => ({ v: 1, edge: 'e1', ranges: [[1, 1_000_000]], duplicates: 0, at: new Date().toISOString(), ...extra });

async function cloudOn(o: Record<string, unknown>): Promise<RunningCloud> {
  const c = await startCloud(parseCloudConfig({ dataDir: tempDir(), httpPort: 0, mqttPort: 0, ...o }), quiet);
  stops.push(() => c.stop());
  return c;
}

async function onHand(c: RunningCloud, site: string): Promise<number> {
  const { items } = await getJson<{ items: Array<{ onHand: number }> }>(`http://127.0.0.1:${c.httpPort}/api/v1/stock?site=${site}`);
  return items.reduce((s, i) => s + i.onHand, 0);
}

describe('forged acks on an open broker (issue 8, finding 6)', () => {
  it('with an ack key: forged acks are dropped and counted, the edge loses nothing, the ledger gets 60 of 60', async () => {
    const site = uniqueId('forge');
    const logs: Array<Record<string, unknown>> = [];
    // The first batch goes out before any cloud subscribes: it comes back through the ack timeout.
    const agent = edge(site, { ackKey: 'shared-ack-secret', ackTimeoutMs: 1000 }, logs);
    agent.start();
    agent.record(drafts(60));
    await waitFor(() => agent.publisher.stats.batchesSent >= 1 && agent.publisher.isConnected, 'first batch out');
    // Unsigned, signed with a guessed key, and a replay of a well-formed but wrong signature.
    await forge(site, [forged(), forged({ sig: 'a'.repeat(64) }), forged({ ranges: [[1, 5]], sig: '0'.repeat(64) })]);
    await waitFor(() => agent.publisher.stats.acksBadSignature >= 3, 'three forged acks dropped');
    expect(agent.outbox.backlog().count).toBe(60);
    expect(agent.problems()).toContain('ack-signature-invalid');
    expect(agent.telemetry().metrics['publisher.acksBadSignature']).toBe(3);
    expect(logs.some((l) => l.code === 'SG_ERR_ACK_SIGNATURE' && l.level === 40)).toBe(true);

    // The real cloud (same --ack-key) then applies all 60, and its signed acks free the outbox.
    const cloud = await cloudOn({ broker: MOSQUITTO, insecure: true, ackKey: 'shared-ack-secret', sites: [site] });
    await waitFor(async () => agent.outbox.backlog().count === 0 && (await onHand(cloud, site)) === 60, 'ledger 60 of 60, outbox empty', 60_000);
    expect(agent.publisher.stats.acked).toBe(60);
    expect(agent.publisher.stats.acksBadSignature).toBe(3);
  }, 90_000);

  it('without a key (unsigned acks): the seq bound keeps every movement never published', async () => {
    const site = uniqueId('forge');
    const agent = edge(site, {});
    agent.start();
    agent.record(drafts(60));
    await waitFor(() => agent.publisher.stats.batchesSent >= 1, 'first batch out');
    const sent = agent.publisher.stats.movementsSent;
    expect(sent).toBe(5);
    await forge(site, [forged()]);
    await waitFor(() => agent.publisher.stats.ackSeqsBeyondSent > 0, 'forged ack seen');
    // Only seqs 1..5 (sent, so an ack could be true) were freed; 6..60 (never sent) stay.
    expect(agent.publisher.stats.ackSeqsBeyondSent).toBe(1_000_000 - 5);
    expect(agent.outbox.backlog().count).toBe(55);
    expect(agent.outbox.backlog().oldestSeq).toBe(6);
    expect(agent.problems()).toContain('ack-beyond-sent');
  });

  it('a cloud with a different --ack-key: its acks are dropped, nothing is lost, the outbox keeps everything', async () => {
    const site = uniqueId('forge');
    const agent = edge(site, { ackKey: 'edge-secret-one', window: 8 });
    agent.start();
    agent.record(drafts(10));
    const cloud = await cloudOn({ broker: MOSQUITTO, insecure: true, ackKey: 'cloud-secret-two', sites: [site] });
    await waitFor(async () => (await onHand(cloud, site)) === 10 && agent.publisher.stats.acksBadSignature >= 1, 'applied, acks refused');
    expect(agent.outbox.backlog().count).toBe(10);
  });
});

describe('ack keys of authenticated edges (embedded broker)', () => {
  it('the cloud signs with the key stored at issue, and learns it at CONNECT for a credential of an earlier release', async () => {
    const dataDir = tempDir();
    const site = uniqueId('auth');
    const store = new SqliteCredentialStore(authDbPath(dataDir));
    const fresh = await store.createMqttUser({ role: 'edge', site, edge: 'e1' });
    const old = await store.createMqttUser({ role: 'edge', site, edge: 'e2' });
    expect((await store.getAckKey(fresh.username))?.equals(deriveAckKey(fresh.password))).toBe(true);
    await store.close();
    // A credential issued by the previous release: no ack key stored.
    const db = new Database(authDbPath(dataDir));
    db.prepare('UPDATE mqtt_users SET ack_key = NULL WHERE username = ?').run(old.username);
    db.close();

    const cloud = await cloudOn({ dataDir });
    const broker = `mqtt://127.0.0.1:${cloud.mqttPort}`;
    const a = edge(site, { broker, username: fresh.username, password: fresh.password, window: 8 });
    const b = edge(site, { broker, edgeId: 'e2', username: old.username, password: old.password, window: 8 });
    a.start();
    b.start();
    a.record(drafts(7));
    b.record(drafts(9));
    // Both outboxes drain: each edge accepted the cloud's signed acks (it drops unsigned ones).
    await waitFor(() => a.outbox.backlog().count === 0 && b.outbox.backlog().count === 0, 'both outboxes drained');
    expect(a.publisher.stats.acksBadSignature + b.publisher.stats.acksBadSignature).toBe(0);
    // The cloud imported auth.db into its one database (cloud/db/legacy.ts): read the key there.
    const check = new SqliteCredentialStore(dbPath(dataDir));
    stops.push(() => check.close());
    expect((await check.getAckKey(old.username))?.equals(deriveAckKey(old.password))).toBe(true);
    // Rotation stores the new password's key.
    const rotated = await check.rotateMqttUser(old.username);
    expect((await check.getAckKey(old.username))?.equals(deriveAckKey(rotated!.password))).toBe(true);
  });
});
