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

const N = 10_000;
const SKUS = ['A-1', 'B-2', 'C-3', 'D-4', 'E-5', 'F-6', 'G-7', 'H-8', 'I-9', 'J-10', 'K-11'];

/** N item scans with a QTY: change every 100 scans, and the expected on-hand per sku. */
function scans(): { text: string; expected: Record<string, number> } {
  const expected: Record<string, number> = {};
  let text = '';
  let qty = 1;
  for (let i = 0; i < N; i++) {
    if (i % 100 === 0) {
      qty = (i / 100) % 5 + 1;
      text += `QTY:${qty}\r\n`;
    }
    const sku = SKUS[i % SKUS.length]!;
    expected[sku] = (expected[sku] ?? 0) + qty;
    text += `]C0${sku}\r\n`;
  }
  return { text, expected };
}

async function ledgerIds(url: string, site: string): Promise<string[]> {
  const ids: string[] = [];
  let before: string | null = null;
  do {
    const page: { items: Array<{ id: string }>; next: string | null } = await getJson(`${url}/api/v1/movements?site=${site}&limit=1000${before ? `&before=${before}` : ''}`);
    ids.push(...page.items.map((m) => m.id));
    before = page.next;
  } while (before);
  return ids;
}

/**
 * Acceptance (issue 4, part 5): the real agent process holds 10k unacked movements, recorded
 * from 10k scans through a real pty while the cloud is down, and is killed with SIGKILL. It is
 * restarted with the cloud up, killed again mid-drain (a drain rate limit keeps the drain slow
 * enough to land the kill), restarted once more: the ledger holds exactly the 10k movements
 * and the balances are exact.
 */
describe('e2e: edge SIGKILL with 10k unacked movements', () => {
  let dir: string;
  let cloud: CloudProc | undefined;
  let edge: Proc | undefined;
  let pty: PtyPair;
  let scanner: SerialTransport;
  const site = uniqueId('sigkill');
  let ports: { mqttPort: number; httpPort: number };
  const edgeArgs = (extra: string[] = []) => ({
    dataDir: join(dir, 'edge'),
    broker: `mqtt://127.0.0.1:${ports.mqttPort}`,
    site,
    edgeId: 'dock-1',
    devices: [`dock1=scanner@serial://${pty.devicePath}`],
    extra: ['--telemetry-ms', '0', ...extra],
  });

  beforeAll(async () => {
    dir = tempDir();
    // Learn free ports from a first cloud, then take it down: the outage.
    const first = await startCloudProc({ dataDir: join(dir, 'cloud') });
    ports = { mqttPort: first.mqttPort, httpPort: first.httpPort };
    await first.kill('SIGKILL');
    pty = await openPtyPair(join(dir, 'ttyScanner'));
    scanner = new SerialTransport({ path: pty.peerPath });
    await scanner.open();
  });

  afterAll(async () => {
    await scanner?.close();
    await edge?.kill();
    await pty?.close();
    await cloud?.kill();
  });

  it('loses nothing and duplicates nothing', async () => {
    const { text, expected } = scans();
    edge = await startEdgeProc(edgeArgs());
    await waitFor(() => edge!.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');
    await scanner.write(Buffer.from(text, 'latin1'));
    await waitFor(() => recordedSeq(edge!) === N, `edge recorded ${N} scans`, 60_000, 200);
    expect(edge.logs.filter((l) => l.msg === 'movement recorded')).toHaveLength(N);

    // 1. SIGKILL with all 10k unacked (the cloud is down).
    await edge.kill('SIGKILL');
    cloud = await startCloudProc({ dataDir: join(dir, 'cloud'), ...ports });
    edge = await startEdgeProc(edgeArgs(['--drain-rate-per-sec', '2000']));
    expect(edge.ready).toMatchObject({ lastSeq: N, backlog: N });

    // 2. SIGKILL again mid-drain, with part of the backlog applied and acked.
    await waitFor(async () => (await getJson(`${cloud!.url}/healthz`)).ingest.applied >= 2000, 'part of the backlog applied', 30_000, 20);
    await edge.kill('SIGKILL');
    const applied = (await getJson(`${cloud.url}/healthz`)).ingest.applied as number;
    expect(applied).toBeLessThan(N);

    // 3. Restart: the rest drains at full speed; every seq counted once.
    edge = await startEdgeProc(edgeArgs());
    expect(edge.ready.lastSeq).toBe(N);
    expect(edge.ready.backlog as number).toBeGreaterThan(0);
    await waitFor(async () => {
      const s = await stockBySku(cloud!.url, site);
      return Object.values(s).reduce((a, b) => a + b, 0) >= Object.values(expected).reduce((a, b) => a + b, 0);
    }, 'all movements applied', 60_000, 200);
    await waitFor(async () => (await getJson(`${cloud!.url}/healthz`)).ingest.applied >= N, 'ingest counters', 10_000);
    await new Promise((r) => setTimeout(r, 500)); // a stray duplicate would show up now
    expect(await stockBySku(cloud.url, site)).toEqual(expected);
    const ids = await ledgerIds(cloud.url, site);
    expect(ids).toHaveLength(N);
    expect(new Set(ids).size).toBe(N);
    await waitFor(() => edge!.logs.some((l) => l.msg === 'connected to broker'), 'edge connected');
  });
});
