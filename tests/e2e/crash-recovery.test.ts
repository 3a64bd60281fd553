import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, recordedSeq, stockBySku, waitFor } from '../helpers/procs.js';
import { Rig } from '../helpers/rig.js';

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
  const rig = new Rig({ external, sitePrefix: 'crash', edgeExtra: ['--batch-size', '20', '--window', '4'] });
  // Small batches (above) so the stream is many messages long and a kill lands mid-stream.
  const site = rig.site;

  beforeAll(() => rig.start());
  afterAll(() => rig.stop());

  it('loses no scan and counts none twice across SIGKILL of cloud and edge', async () => {
    // 1. Stream 600 scans; kill the cloud as soon as the first movements are applied.
    const s1 = scans(600, 0);
    await rig.scan(s1.text);
    await waitFor(async () => (await getJson(`${rig.cloud.url}/healthz`)).ingest.applied > 0, 'first movements applied', 30_000, 5);
    await rig.cloud.kill('SIGKILL');

    // 2. The edge keeps recording while the cloud is gone.
    const s2 = scans(200, 3);
    await rig.scan(s2.text);
    await waitFor(() => recordedSeq(rig.edge) === 800, 'edge recorded 800 scans into its outbox');

    // 3. Kill the edge with unacked movements in the outbox, then bring both back.
    await rig.edge.kill('SIGKILL');
    const cloud = await rig.startCloud();
    const edge = await rig.startEdge();
    expect(edge.ready.lastSeq).toBe(800);
    expect(edge.ready.backlog as number).toBeGreaterThan(0);

    // 4. More scans after the restart, then the totals must be exact.
    const s3 = scans(100, 5);
    await rig.scan(s3.text);
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
