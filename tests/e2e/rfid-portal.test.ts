import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { encodeSgtin96 } from '../../protocols/rfid/epc.js';
import { encodeM100TagNotice } from '../../protocols/rfid/m100.js';
import { encodeUhfReader18InventoryReply } from '../../protocols/rfid/uhfreader18.js';
import { getJson, startCloudProc, startEdgeProc, stockBySku, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';

const GTIN = '09506000134352';
const GTIN_UNMAPPED = '04012345000009';
const EPC = encodeSgtin96({ gtin: GTIN, serial: 1001, filter: 1, companyPrefixLength: 7 });
const EPC2 = encodeSgtin96({ gtin: GTIN_UNMAPPED, serial: 7, filter: 1, companyPrefixLength: 7 });

interface LedgerRow {
  id: string;
  kind: string;
  sku: string;
  epc?: string;
  gtin?: string;
  serial?: string;
  qty: number;
  location: string;
  operator?: string;
  raw: string;
  device: { id: string; type: string } | string;
}

const ledger = async (url: string, site: string) => (await getJson<{ items: LedgerRow[] }>(`${url}/api/v1/movements?site=${site}&limit=1000`)).items;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * RFID end to end: reader frames written into real ptys (socat) -> `stockgate edge` with the
 * `rfid-m100` and `rfid-uhfreader18` drivers -> embedded broker -> `stockgate cloud`.
 */
describe('e2e: RFID dock gate and portal', () => {
  let dir: string;
  let cloud: CloudProc;
  let edge: Proc;
  let gatePty: PtyPair;
  let portalPty: PtyPair;
  let scanPty: PtyPair;
  let gate: SerialTransport;
  let portal: SerialTransport;
  let scanner: SerialTransport;
  const site = uniqueId('rfid');

  beforeAll(async () => {
    dir = tempDir();
    cloud = await startCloudProc({ dataDir: join(dir, 'cloud') });
    gatePty = await openPtyPair(join(dir, 'ttyGate'));
    portalPty = await openPtyPair(join(dir, 'ttyPortal'));
    scanPty = await openPtyPair(join(dir, 'ttyScan'));
    const configFile = join(dir, 'edge.json');
    writeFileSync(
      configFile,
      JSON.stringify({
        items: [{ sku: 'PUMP-X1', gtin: GTIN, serialised: true }],
        rfid: [
          // Dock gate: a zone; a tag gone for 1.5 s has left, so a read after that is a new arrival.
          { reader: 'gate', role: 'zone', readWindowMs: 500, departureMs: 1500, scanner: 'dock1' },
          { reader: 'portal', role: 'portal', outsideAntenna: 1, insideAntenna: 2, readWindowMs: 800, location: 'YARD-GATE' },
        ],
      }),
    );
    edge = await startEdgeProc({
      dataDir: join(dir, 'edge'),
      broker: `mqtt://127.0.0.1:${cloud.mqttPort}`,
      site,
      edgeId: 'gate-1',
      location: 'DOCK-1',
      devices: [`gate=rfid-m100@serial://${gatePty.devicePath}`, `portal=rfid-uhfreader18@serial://${portalPty.devicePath}`, `dock1=scanner@serial://${scanPty.devicePath}`],
      extra: ['--config', configFile],
    });
    gate = new SerialTransport({ path: gatePty.peerPath });
    portal = new SerialTransport({ path: portalPty.peerPath });
    scanner = new SerialTransport({ path: scanPty.peerPath });
    for (const t of [gate, portal, scanner]) {
      t.onData(() => undefined); // drain the drivers' poll commands
      await t.open();
    }
    await waitFor(() => edge.logs.filter((l) => l.msg === 'device state' && l.state === 'connected').length >= 3, 'readers connected');
  });

  afterAll(async () => {
    for (const t of [gate, portal, scanner]) await t?.close();
    await edge?.kill();
    for (const p of [gatePty, portalPty, scanPty]) await p?.close();
    await cloud?.kill();
  });

  it('50 repeated reads of one EPC at the dock gate are exactly one movement at the cloud', async () => {
    await scanner.write(Buffer.from('OP:W-42\r\n', 'latin1'));
    await waitFor(() => edge.logs.some((l) => l.msg === 'scan context changed'), 'operator badge');
    for (let i = 0; i < 50; i++) {
      await gate.write(encodeM100TagNotice({ epc: EPC, rssi: -50 - (i % 10) }));
      await sleep(10);
    }
    await waitFor(async () => (await ledger(cloud.url, site)).length >= 1, 'movement at the cloud');
    await sleep(1000); // room for a wrongly repeated event to arrive
    const rows = await ledger(cloud.url, site);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ kind: 'receive', sku: 'PUMP-X1', epc: EPC, gtin: GTIN, serial: '1001', qty: 1, location: 'DOCK-1', operator: 'W-42' });
    expect(rows[0]!.raw).toMatch(/^BB0222/);
    expect(await stockBySku(cloud.url, site)).toEqual({ 'PUMP-X1': 1 });
  });

  it('the same tag read again after it left, while in stock: the operator is told, the cloud queues a DUPLICATE_IDENTITY, stock stays 1', async () => {
    await waitFor(() => edge.logs.some((l) => l.msg === 'tag departed' && l.epc === EPC), 'tag departed', 10_000);
    for (let i = 0; i < 5; i++) await gate.write(encodeM100TagNotice({ epc: EPC, rssi: -50 }));
    await waitFor(() => edge.logs.some((l) => l.code === 'SG_ERR_DUPLICATE_IDENTITY'), 'duplicate told at the edge');
    // (PUMP-X1 is not in the cloud's item master: UNKNOWN_ITEM is queued too, once.)
    const dups = async () =>
      (await getJson<{ items: Array<{ type: string; identity: string }> }>(`${cloud.url}/api/v1/exceptions?site=${site}`)).items.filter((e) => e.type !== 'UNKNOWN_ITEM');
    await waitFor(async () => (await dups()).length === 1, 'exception at the cloud');
    expect((await dups())[0]).toMatchObject({ type: 'DUPLICATE_IDENTITY', identity: `epc:${EPC}` });
    expect(await stockBySku(cloud.url, site)).toEqual({ 'PUMP-X1': 1 });
  });

  it('portal: antenna order gives the direction; an unmapped SGTIN is booked under its GTIN-14', async () => {
    const reply = (antenna: number) => encodeUhfReader18InventoryReply({ antenna, tags: [{ epc: EPC2, rssiRaw: 60 }] });
    for (let i = 0; i < 10; i++) await portal.write(reply(1));
    for (let i = 0; i < 10; i++) await portal.write(reply(2));
    await waitFor(async () => (await stockBySku(cloud.url, site))[GTIN_UNMAPPED] === 1, 'received through the portal');
    await sleep(1200); // the pass has ended
    for (let i = 0; i < 10; i++) await portal.write(reply(2));
    for (let i = 0; i < 10; i++) await portal.write(reply(1));
    await waitFor(async () => (await stockBySku(cloud.url, site))[GTIN_UNMAPPED] === 0, 'issued through the portal');
    const rows = (await ledger(cloud.url, site)).filter((r) => r.epc === EPC2);
    expect(rows.map((r) => [r.kind, r.location, r.sku, r.qty])).toEqual([
      ['issue', 'YARD-GATE', GTIN_UNMAPPED, 1],
      ['receive', 'YARD-GATE', GTIN_UNMAPPED, 1],
    ]);
  });
});
