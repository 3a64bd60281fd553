import { readdirSync, readFileSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { topics } from '../../protocols/mqtt/index.js';
import { batch, movement } from '../helpers/movements.js';
import { getJson, startCloudProc, tempDir, uniqueId, waitFor, type CloudProc } from '../helpers/procs.js';

/**
 * Issue 8 acceptance, "Bounded resources", on a spawned cloud (embedded broker, SQLite):
 * - 50 anonymous sockets each announcing a 256 MB CONNECT and streaming its body: cloud RSS grows
 *   by less than 50 MB and comes back (finding 4: two such sockets took it from 95 to 599 MB);
 * - 100 MB of invalid payloads from one edge grow the data dir by less than 10 MB (finding 5:
 *   170 MB of dead letters in 4 s).
 * The figures are printed for the closing note.
 */
const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, f.name);
    n += f.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return n;
}

describe('door bounds (issue 8 acceptance)', () => {
  let cloud: CloudProc;
  let dataDir: string;
  beforeAll(async () => {
    dataDir = join(tempDir(), 'cloud');
    cloud = await startCloudProc({ dataDir });
  });
  afterAll(() => cloud?.kill());

  it('50 anonymous sockets announcing 256 MB CONNECTs: RSS grows < 50 MB and returns', async () => {
    const pid = cloud.child.pid!;
    await new Promise((r) => setTimeout(r, 500));
    const base = rssMb(pid);
    let peak = base;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 20);
    // 0x10 CONNECT, remaining length 268,435,455 (the MQTT maximum), then 8 MB of body each.
    const header = Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]);
    const chunk = Buffer.alloc(256 * 1024, 0x41);
    const results = await Promise.all(
      Array.from({ length: 50 }, () => new Promise<number>((resolve) => {
        let written = 0;
        let done = false;
        const s: Socket = connect(cloud.mqttPort, '127.0.0.1', () => {
          s.write(header);
          const pump = () => {
            while (!done && written < 8 * 1024 * 1024) {
              written += chunk.length;
              if (!s.write(chunk)) return void s.once('drain', pump);
            }
          };
          pump();
        });
        const finish = () => {
          if (done) return;
          done = true;
          s.destroy();
          resolve(written);
        };
        s.on('error', finish);
        s.on('close', finish);
        setTimeout(finish, 5000);
      })),
    );
    await new Promise((r) => setTimeout(r, 1500));
    clearInterval(sampler);
    const after = rssMb(pid);
    console.log(`[door-bounds] 50 x 256 MB CONNECT: RSS base ${base.toFixed(1)} MB, peak ${peak.toFixed(1)} MB (+${(peak - base).toFixed(1)}), after ${after.toFixed(1)} MB; bytes accepted per socket before close: max ${Math.max(...results)}`);
    expect(peak - base).toBeLessThan(50);
    expect(after - base).toBeLessThan(25);
    const h = await getJson(`${cloud.url}/healthz`);
    expect(h.status).toBe('ok');
    expect(h.broker.refusedPreAuth + h.broker.refusedTooLarge).toBe(50);
  }, 60_000);

  it('100 MB of invalid payloads from one edge grow the data dir by < 10 MB; the edge still gets its rejects and valid movements apply', async () => {
    const site = uniqueId('flood');
    const edge = 'e1';
    const before = dirBytes(dataDir);
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`, { clientId: `flood-${site}`, reconnectPeriod: 0 });
    let rejects = 0;
    await c.subscribeAsync(topics.rejects(site, edge), { qos: 0 });
    c.on('message', () => rejects++);
    const topic = topics.movements(site, edge);
    // Four kinds of poison, 500 KB each: not JSON, too deep, invalid UTF-8, schema-invalid with a huge raw.
    const size = 500 * 1024;
    const kinds = [
      Buffer.alloc(size, 0x7b),
      Buffer.from('['.repeat(size)),
      Buffer.concat([Buffer.from('{"v":1,"sku":"'), Buffer.alloc(size - 20, 0xff), Buffer.from('"}')]),
      Buffer.from(JSON.stringify(batch(site, edge, [movement({ site, edge, seq: 1, qty: -1, raw: 'r'.repeat(size - 600) })]))),
    ];
    let sent = 0;
    for (let i = 0; sent < 100 * 1024 * 1024; i++) {
      const p = kinds[i % kinds.length]!;
      await c.publishAsync(topic, p, { qos: 1 });
      sent += p.length;
    }
    await waitFor(() => rejects >= 200, 'rejects for the flood', 60_000, 100);
    // A valid movement from the same edge still applies.
    await c.publishAsync(topic, JSON.stringify(batch(site, edge, [movement({ site, edge, seq: 2, sku: 'AFTER-FLOOD', qty: 2 })])), { qos: 1 });
    await waitFor(async () => (await getJson(`${cloud.url}/api/v1/stock?site=${site}&sku=AFTER-FLOOD`)).items.length === 1, 'valid movement applied after the flood');
    await c.endAsync();
    await new Promise((r) => setTimeout(r, 2000)); // one pruning round
    const grown = dirBytes(dataDir) - before;
    const h = await getJson(`${cloud.url}/healthz`);
    console.log(`[door-bounds] ${(sent / 1048576).toFixed(0)} MB invalid payloads from one edge: data dir +${(grown / 1048576).toFixed(2)} MB; dead letters stored ${h.ingest.deadLetters}, suppressed ${h.ingest.deadLettersSuppressed}, pruned ${h.ingest.deadLettersPruned}`);
    expect(grown).toBeLessThan(10 * 1024 * 1024);
    // Stored: at most the per-edge burst plus the rate over the flood's seconds, each a bounded prefix.
    expect(h.ingest.deadLetters).toBeLessThanOrEqual(200 + 20 * 60);
    const dl = await getJson(`${cloud.url}/api/v1/dead-letters?limit=50`);
    for (const d of dl.items) {
      expect(Buffer.byteLength(d.payload)).toBeLessThanOrEqual(1024);
      expect(d.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(d.bytes).toBeGreaterThan(400 * 1024);
    }
  }, 180_000);
});
