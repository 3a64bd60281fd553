import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SerialTransport } from '../../devices/serial.js';
import mqtt from 'mqtt';
import { Telemetry, topics } from '../../protocols/mqtt/index.js';
import { encodeAscii, encodeToledo } from '../../protocols/scale/encode.js';
import { openPtys, type PtyBank } from '../helpers/rig.js';
import { getJson, startCloudProc, startEdgeProc, stockBySku, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';

interface LedgerRow {
  kind: string;
  sku: string;
  qty: number;
  uom: string;
  operator?: string;
  crew?: string;
  raw: string;
  device: unknown;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ledger = async (url: string, site: string) => (await getJson<{ items: LedgerRow[] }>(`${url}/api/v1/movements?site=${site}&limit=1000`)).items.reverse();

/** A scale on a pty streaming its current weight every 100 ms, as indicators do. */
class StreamingScale {
  kg = 0;
  stable = true;
  private timer: NodeJS.Timeout | undefined;
  constructor(
    readonly link: SerialTransport,
    readonly encode: (kg: number, stable: boolean) => Uint8Array,
  ) {}
  start() {
    this.timer = setInterval(() => void this.link.write(this.encode(this.kg, this.stable)).catch(() => undefined), 100);
  }
  stop() {
    clearInterval(this.timer);
  }
}

/**
 * Weigh stations end to end: scanner lines and scale frames (protocols/scale encoders: A&D ASCII
 * and Toledo continuous) written into real ptys -> `stockgate edge` with `--station` pairs and an
 * item master -> embedded broker -> `stockgate cloud`.
 */
describe('e2e: weigh station', () => {
  let dir: string;
  let cloud: CloudProc;
  let edge: Proc;
  let bank: PtyBank;
  let scan1: SerialTransport;
  let scan2: SerialTransport;
  let ascii: StreamingScale;
  let toledo: StreamingScale;
  let drifting: StreamingScale;
  const site = uniqueId('weigh');
  const scan = (t: SerialTransport, ...lines: string[]) => t.write(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1'));

  beforeAll(async () => {
    dir = tempDir();
    cloud = await startCloudProc({ dataDir: join(dir, 'cloud') });
    const items = join(dir, 'items.json');
    writeFileSync(items, JSON.stringify([{ sku: 'BOLT-M8', gtin: '04012345678901', unitWeightKg: 0.05, uom: 'pcs' }, { sku: 'SAND-0/4', uom: 'kg' }]));
    bank = await openPtys(dir, ['scan1', 'scale1', 'scan2', 'scale2', 'scale3']);
    const { paths, ends: links } = bank;
    [scan1, , scan2] = links as [SerialTransport, SerialTransport, SerialTransport, SerialTransport];
    ascii = new StreamingScale(links[1]!, (kg, stable) => encodeAscii({ kind: 'weight', weight: kg, unit: 'kg', stable, net: true }, 'and', { decimals: 3 }));
    toledo = new StreamingScale(links[3]!, (kg, stable) => encodeToledo({ kind: 'weight', weight: kg, unit: 'kg', stable, net: true, division: 0.02 }));
    // scale3 belongs to no station: monitored only. Its zero sits at +70 g (drift).
    drifting = new StreamingScale(links[4]!, (kg, stable) => encodeAscii({ kind: 'weight', weight: kg, unit: 'kg', stable, net: false }, 'and', { decimals: 3 }));
    drifting.kg = 0.07;
    ascii.start();
    toledo.start();
    drifting.start();
    edge = await startEdgeProc({
      dataDir: join(dir, 'edge'),
      broker: `mqtt://127.0.0.1:${cloud.mqttPort}`,
      site,
      edgeId: 'weigh-1',
      location: 'WEIGH-1',
      devices: [
        `scan1=scanner@serial://${paths[0]}?beep=honeywell`,
        `scale1=scale-ascii@serial://${paths[1]}`,
        `scan2=scanner@serial://${paths[2]}`,
        `scale2=scale-toledo@serial://${paths[3]}`,
        `scale3=scale-ascii@serial://${paths[4]}`,
      ],
      extra: ['--items', items, '--station', 'scan1+scale1', '--station', 'scan2+scale2', '--telemetry-ms', '500'],
    });
    await waitFor(() => edge.logs.filter((l) => l.msg === 'device state' && l.state === 'connected').length >= 5, 'devices connected');
    await waitFor(() => edge.logs.filter((l) => l.msg === 'scale at zero').length >= 2, 'both scales at zero');
  });

  afterAll(async () => {
    ascii?.stop();
    toledo?.stop();
    drifting?.stop();
    await edge?.kill();
    await bank?.close();
    await cloud?.kill();
  });

  it('scan, place: one movement in pieces by the item master unit weight, however long the load stays', async () => {
    await scan(scan1, 'OP:W-5', 'CREW:C-9', ']E04012345678901');
    await waitFor(() => edge.logs.some((l) => l.msg === 'weigh station armed: place the load'), 'armed');
    ascii.kg = 2.5;
    await waitFor(async () => (await ledger(cloud.url, site)).length === 1, 'movement at the cloud');
    await sleep(2500); // the load stays on, streaming stable frames
    const rows = await ledger(cloud.url, site);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'receive', sku: 'BOLT-M8', qty: 50, uom: 'pcs', operator: 'W-5', crew: 'C-9', raw: ']E04012345678901 | ST,NT,+0002.500 kg' });
  });

  it('the next placement counts only after the scale returned to zero; bulk material goes in kg', async () => {
    await scan(scan1, 'SAND-0/4');
    await sleep(1500);
    expect(await ledger(cloud.url, site)).toHaveLength(1); // the bolts are still on the scale
    ascii.kg = 0;
    await waitFor(() => edge.logs.filter((l) => l.msg === 'scale at zero' && l.device === 'scale1').length >= 2, 'back at zero');
    ascii.kg = 412.35;
    await waitFor(async () => (await ledger(cloud.url, site)).length === 2, 'bulk movement');
    expect((await ledger(cloud.url, site))[1]).toMatchObject({ sku: 'SAND-0/4', qty: 412.35, uom: 'kg' });
  });

  it('a load with no item scanned is refused: error beep on the station scanner, nothing booked', async () => {
    ascii.kg = 0;
    await waitFor(() => edge.logs.filter((l) => l.msg === 'scale at zero' && l.device === 'scale1').length >= 3, 'back at zero');
    let beeps = '';
    bank.ends[0]!.onData((b) => (beeps += Buffer.from(b).toString('latin1')));
    ascii.kg = 7.7;
    await waitFor(() => edge.logs.some((l) => l.code === 'SG_ERR_WEIGH_NO_ITEM'), 'refusal logged');
    await waitFor(() => beeps.includes('\x1b8,'), 'error beep');
    expect(await ledger(cloud.url, site)).toHaveLength(2);
    ascii.kg = 0;
  });

  it('SAMPLE:n on a Toledo scale: the sample sets the piece weight, the load is counted with it', async () => {
    await scan(scan2, 'WASHER-M8', 'SAMPLE:20');
    await waitFor(() => edge.logs.some((l) => l.msg === 'weigh station sampling'), 'sampling');
    toledo.kg = 0.2;
    await waitFor(() => edge.logs.some((l) => l.msg === 'weigh station sampled piece weight'), 'sampled');
    expect(edge.logs.find((l) => l.msg === 'weigh station sampled piece weight')).toMatchObject({ apwKg: 0.01, pieces: 20 });
    toledo.kg = 0;
    await waitFor(() => edge.logs.filter((l) => l.msg === 'scale at zero' && l.device === 'scale2').length >= 2, 'back at zero');
    toledo.kg = 3.0;
    await waitFor(async () => (await stockBySku(cloud.url, site))['WASHER-M8'] === 300, '300 washers');
    const row = (await ledger(cloud.url, site)).find((r) => r.sku === 'WASHER-M8')!;
    expect(row.raw).toMatch(/^WASHER-M8 \| 02[0-9A-F]+$/); // the Toledo frame as hex
  });

  it('publishes zero drift as scale.<device>.zeroDriftKg, which the cloud turns into a scale-drift alert', async () => {
    const tele = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`);
    try {
      const samples: Telemetry[] = [];
      tele.on('message', (_t, p) => samples.push(Telemetry.parse(JSON.parse(p.toString()))));
      await tele.subscribeAsync(topics.telemetry(site, 'weigh-1'), { qos: 0 });
      await waitFor(() => samples.some((t) => t.metrics['scale.scale3.zeroDriftKg'] === 0.07), 'drift in telemetry');
      const t = samples.at(-1)!;
      expect(t.metrics['scale.scale1.zeroDriftKg']).toBe(0);
      expect(t.metrics['scanner.scan1.sinceLastFrameMs']).toBeGreaterThanOrEqual(0);
      expect(t.metrics['device.scale3.connected']).toBe(1);
    } finally {
      await tele.endAsync();
    }
    // The cloud's alert engine keys on that metric name (default threshold 0.05 kg).
    const alerts = await waitFor(async () => {
      const a = await getJson<{ items: Array<{ type: string; device?: string; value?: number }> }>(`${cloud.url}/api/v1/alerts?site=${site}&type=scale-drift`);
      return a.items.length ? a.items : undefined;
    }, 'scale-drift alert');
    expect(alerts![0]).toMatchObject({ type: 'scale-drift', device: 'scale3', value: 0.07 });
    expect(edge.logs.some((l) => l.code === 'SG_ERR_WEIGH_NOT_ZERO' && l.device === 'scale3')).toBe(true);
  });
});
