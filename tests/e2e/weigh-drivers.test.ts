import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoadModel } from '../../devices/simulators/load.js';
import { ContinuousScaleSimulator, MtSicsScaleSimulator } from '../../devices/simulators/scale.js';
import { openPtys, type PtyBank } from '../helpers/rig.js';
import { getJson, startCloudProc, startEdgeProc, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';

interface Row {
  sku: string;
  qty: number;
  uom: string;
  raw: string;
  device: { id: string; type: string };
}

/**
 * The two scale drivers not covered by weigh-station.test.ts, end to end: an MT-SICS balance
 * (polled with `S`, answered by the simulator over a real pty) and a Yaohua XK3190 indicator
 * (continuous STX frames, no stability flag: the stability window decides) paired with scanners
 * in weigh stations -> `stockgate edge` -> `stockgate cloud`.
 */
describe('e2e: MT-SICS and XK3190 weigh stations', () => {
  const dir = tempDir();
  const site = uniqueId('weigh-drv');
  let cloud: CloudProc;
  let edge: Proc;
  let bank: PtyBank;
  let mtsics: MtSicsScaleSimulator;
  let xk: ContinuousScaleSimulator;
  const rows = async () => (await getJson<{ items: Row[] }>(`${cloud.url}/api/v1/movements?site=${site}&limit=100`)).items;
  const scan = (i: number, line: string) => bank.ends[i]!.write(Buffer.from(`${line}\r\n`, 'latin1'));

  beforeAll(async () => {
    cloud = await startCloudProc({ dataDir: join(dir, 'cloud') });
    const items = join(dir, 'items.json');
    writeFileSync(items, JSON.stringify([{ sku: 'NUT-M10', unitWeightKg: 0.02, uom: 'pcs' }, { sku: 'GRAVEL-20', uom: 'kg' }]));
    bank = await openPtys(dir, ['scanA', 'mtsics', 'scanB', 'xk3190']);
    const { paths, ends } = bank;
    // Quick settling so the test does not wait long for stable readings.
    mtsics = new MtSicsScaleSimulator(ends[1]!, { load: new LoadModel({ settleMs: 300, noiseKg: 0.01 }) });
    xk = new ContinuousScaleSimulator(ends[3]!, { protocol: 'xk3190', load: new LoadModel({ settleMs: 300, noiseKg: 0.5, divisionKg: 0.5, capacityKg: 30_000 }) });
    xk.start();
    edge = await startEdgeProc({
      dataDir: join(dir, 'edge'),
      broker: `mqtt://127.0.0.1:${cloud.mqttPort}`,
      site,
      edgeId: 'weigh-2',
      location: 'YARD',
      devices: [
        `scanA=scanner@serial://${paths[0]}`,
        `mt=scale-mt-sics@serial://${paths[1]}?intervalMs=100`,
        `scanB=scanner@serial://${paths[2]}`,
        `xk=scale-xk3190@serial://${paths[3]}`,
      ],
      extra: ['--items', items, '--station', 'scanA+mt', '--station', 'scanB+xk'],
    });
    await waitFor(() => edge.logs.filter((l) => l.msg === 'scale at zero').length >= 2, 'both scales at zero', 30_000);
  });

  afterAll(async () => {
    mtsics?.stop();
    xk?.stop();
    await edge?.kill();
    await bank?.close();
    await cloud?.kill();
  });

  it('MT-SICS: the polled stable weight counts pieces by the item unit weight', async () => {
    await scan(0, 'NUT-M10');
    await waitFor(() => edge.logs.some((l) => l.msg === 'weigh station armed: place the load' && l.device === 'scanA'), 'armed');
    mtsics.load.place(3.0);
    const row = await waitFor(async () => (await rows()).find((r) => r.sku === 'NUT-M10'), 'NUT-M10 movement', 20_000);
    expect(row).toMatchObject({ sku: 'NUT-M10', qty: 150, uom: 'pcs' });
    // The raw frame is the balance's stable weight reply ([MT-SICS] "S S <weight> kg"), and the
    // driver got there by polling (`SI`: weight immediately, stable or not).
    expect(row!.raw).toMatch(/^NUT-M10 \| S S +3\.000 kg$/);
    expect(mtsics.received.filter((c) => c === 'SI').length).toBeGreaterThan(3);
  });

  it('XK3190: a steady reading (no device flag) books bulk material in kg', async () => {
    await scan(2, 'GRAVEL-20');
    await waitFor(() => edge.logs.some((l) => l.msg === 'weigh station armed: place the load' && l.device === 'scanB'), 'armed');
    xk.load.place(1560);
    const row = await waitFor(async () => (await rows()).find((r) => r.sku === 'GRAVEL-20'), 'GRAVEL-20 movement', 20_000);
    expect(row).toMatchObject({ sku: 'GRAVEL-20', qty: 1560, uom: 'kg', device: { id: 'xk', type: 'scale-xk3190' } });
    expect(row!.raw).toMatch(/^GRAVEL-20 \| 02[0-9A-F]+03$/); // the STX ... ETX frame as hex
    expect((await rows()).filter((r) => r.sku === 'GRAVEL-20')).toHaveLength(1);
  });
});
