import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import {
  getJson,
  recordedSeq,
  startCloudProc,
  startEdgeProc,
  stockBySku,
  tempDir,
  uniqueId,
  waitFor,
  type CloudProc,
  type Proc,
} from '../helpers/procs.js';

const SKUS = ['A-1', 'B-2', 'C-3', 'D-4', 'E-5', 'F-6', 'G-7'];

/** `n` item scans cycling through SKUS, and the expected count per SKU. */
function scans(n: number, offset: number): { text: string; expected: Record<string, number> } {
  const expected: Record<string, number> = {};
  let text = '';
  for (let i = 0; i < n; i++) {
    const sku = SKUS[(i + offset) % SKUS.length]!;
    expected[sku] = (expected[sku] ?? 0) + 1;
    text += `]C0${sku}\r\n`;
  }
  return { text, expected };
}

function add(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/**
 * Acceptance of the walking skeleton: SIGKILL the cloud mid-stream and the edge with unacked
 * movements in its outbox, restart both, and every scan is counted exactly once.
 */
describe.each([
  { broker: 'embedded aedes', external: false },
  { broker: 'Mosquitto on 127.0.0.1:1883', external: true },
])('e2e crash recovery ($broker)', ({ external }) => {
  let dir: string;
  let cloud: CloudProc;
  let edge: Proc;
  let pty: PtyPair;
  let scanner: SerialTransport;
  const site = uniqueId('crash');
  let brokerUrl: string;
  const edgeArgs = () => ({
    dataDir: join(dir, 'edge'),
    broker: brokerUrl,
    site,
    edgeId: 'dock-1',
    devices: [`dock1=scanner@serial://${pty.devicePath}`],
    // Small batches so the stream is many messages long and a kill lands mid-stream.
    extra: ['--batch-size', '20', '--window', '4'],
  });
  const cloudArgs = (ports?: { mqttPort: number; httpPort: number }) => ({
    dataDir: join(dir, 'cloud'),
    ...(external ? { broker: 'mqtt://127.0.0.1:1883', sites: [site] } : {}),
    ...(ports ?? {}),
  });

  beforeAll(async () => {
    dir = tempDir();
    cloud = await startCloudProc(cloudArgs());
    brokerUrl = external ? 'mqtt://127.0.0.1:1883' : `mqtt://127.0.0.1:${cloud.mqttPort}`;
    pty = await openPtyPair(join(dir, 'ttyScanner'));
    edge = await startEdgeProc(edgeArgs());
    scanner = new SerialTransport({ path: pty.peerPath });
    await scanner.open();
    await waitFor(() => edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');
  });

  afterAll(async () => {
    await scanner?.close();
    await edge?.kill();
    await pty?.close();
    await cloud?.kill();
  });

  it('loses no scan and counts none twice across SIGKILL of cloud and edge', async () => {
    const ports = { mqttPort: cloud.mqttPort, httpPort: cloud.httpPort };
    // 1. Stream 600 scans; kill the cloud as soon as the first movements are applied.
    const s1 = scans(600, 0);
    await scanner.write(Buffer.from(s1.text, 'latin1'));
    await waitFor(async () => (await getJson(`${cloud.url}/healthz`)).ingest.applied > 0, 'first movements applied', 30_000, 5);
    await cloud.kill('SIGKILL');

    // 2. The edge keeps recording while the cloud is gone.
    const s2 = scans(200, 3);
    await scanner.write(Buffer.from(s2.text, 'latin1'));
    await waitFor(() => recordedSeq(edge) === 800, 'edge recorded 800 scans into its outbox');

    // 3. Kill the edge with unacked movements in the outbox, then bring both back.
    await edge.kill('SIGKILL');
    cloud = await startCloudProc(cloudArgs(ports));
    edge = await startEdgeProc(edgeArgs());
    expect(edge.ready.lastSeq).toBe(800);
    expect(edge.ready.backlog as number).toBeGreaterThan(0);
    await waitFor(() => edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner reconnected');

    // 4. More scans after the restart, then the totals must be exact.
    const s3 = scans(100, 5);
    await scanner.write(Buffer.from(s3.text, 'latin1'));
    const expected = add(add(s1.expected, s2.expected), s3.expected);
    const got = await waitFor(
      async () => {
        const s = await stockBySku(cloud.url, site);
        const total = Object.values(s).reduce((a, b) => a + b, 0);
        return total >= 900 ? s : undefined;
      },
      '900 movements applied',
      60_000,
    );
    // Give any stray duplicate a chance to show up before asserting exactness.
    await new Promise((r) => setTimeout(r, 500));
    expect(await stockBySku(cloud.url, site)).toEqual(expected);
    expect(got).toEqual(expected);
    const ids = new Set<string>();
    let before: string | null = null;
    do {
      const page: { items: Array<{ id: string; seq: number }>; next: string | null } = await getJson(
        `${cloud.url}/api/v1/movements?site=${site}&limit=1000${before ? `&before=${before}` : ''}`,
      );
      for (const m of page.items) ids.add(m.id);
      before = page.next;
    } while (before);
    expect(ids.size).toBe(900);
    await waitFor(async () => {
      const h = await getJson(`${cloud.url}/healthz`);
      return h.ingest.applied + h.ingest.duplicates > 0;
    }, 'ingest counters');
  });
});
