import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { EdgeStatusDetails, topics } from '../../protocols/mqtt/index.js';
import { getJson, startCloudProc, startEdgeProc, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';

interface LedgerRow {
  kind: string;
  sku: string;
  gtin?: string;
  batch?: string;
  qty: number;
  uom: string;
  project?: string;
  stage?: string;
  operator?: string;
  crew?: string;
  raw: string;
}

const ledger = async (url: string, site: string) => (await getJson<{ items: LedgerRow[] }>(`${url}/api/v1/movements?site=${site}&limit=1000`)).items.reverse();

/**
 * Dock and issue-counter workflows and remote config with real processes: scanner lines into a
 * real pty -> `stockgate edge` (item master, issue rules) -> embedded broker -> `stockgate cloud`;
 * remote config published retained on the cloud's broker.
 */
describe('e2e: dock receiving, issue to project and crew, remote config', () => {
  let dir: string;
  let cloud: CloudProc;
  let edge: Proc;
  let pty: PtyPair;
  let scanner: SerialTransport;
  let client: MqttClient;
  let beeps = '';
  const statuses: EdgeStatusDetails[] = [];
  const site = uniqueId('dock');
  const scan = (...lines: string[]) => scanner.write(Buffer.from(lines.map((l) => `${l}\r\n`).join(''), 'latin1'));
  const edgeArgs = () => ({
    dataDir: join(dir, 'edge'),
    broker: `mqtt://127.0.0.1:${cloud.mqttPort}`,
    site,
    edgeId: 'counter-1',
    location: 'STORE-1',
    devices: [`dock1=scanner@serial://${pty.devicePath}?beep=honeywell`],
    extra: ['--items', join(dir, 'items.json'), '--issue-requires', 'project,crew'],
  });

  beforeAll(async () => {
    dir = tempDir();
    writeFileSync(join(dir, 'items.json'), JSON.stringify({ items: [{ sku: 'CEM-42.5-50KG', gtin: '09506000134352', uom: 'bag' }, { sku: 'REBAR-12' }] }));
    cloud = await startCloudProc({ dataDir: join(dir, 'cloud') });
    pty = await openPtyPair(join(dir, 'ttyScanner'));
    scanner = new SerialTransport({ path: pty.peerPath });
    scanner.onData((b) => (beeps += Buffer.from(b).toString('latin1')));
    await scanner.open();
    edge = await startEdgeProc(edgeArgs());
    expect(edge.ready).toMatchObject({ items: 2, configVersion: 0 });
    await waitFor(() => edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`);
    client.on('message', (_t, p) => statuses.push(EdgeStatusDetails.parse(JSON.parse(p.toString()))));
    await client.subscribeAsync(topics.status(site, 'counter-1'), { qos: 1 });
  });

  afterAll(async () => {
    await client?.endAsync();
    await scanner?.close();
    await edge?.kill();
    await pty?.close();
    await cloud?.kill();
  });

  it('receives a GS1 label at the dock as the cached sku, for a project', async () => {
    await scan('OP:W-7', 'PRJ:P-2026-017', ']C101095060001343521727033110LOT-9\x1d3720');
    await waitFor(async () => (await ledger(cloud.url, site)).length === 1, 'receive applied');
    expect((await ledger(cloud.url, site))[0]).toMatchObject({ kind: 'receive', sku: 'CEM-42.5-50KG', gtin: '09506000134352', batch: 'LOT-9', qty: 20, uom: 'bag', project: 'P-2026-017', operator: 'W-7' });
  });

  it('an issue needs the crew badge and the project: refused with an error beep until both are scanned', async () => {
    beeps = '';
    await scan('MODE:ISSUE', 'PRJ:', ']E09506000134352');
    await waitFor(() => edge.logs.some((l) => l.code === 'SG_ERR_SCAN_CONTEXT'), 'issue refused');
    await waitFor(() => beeps.includes('\x1b8,'), 'error beep on the scanner');
    await waitFor(() => statuses.some((s) => s.lastError?.code === 'SG_ERR_SCAN_CONTEXT'), 'status shows the refusal');
    await scan('CREW:C-12', 'stockgate:project/P-2026-017/FOUNDATION', 'QTY:3', ']E09506000134352');
    await waitFor(async () => (await ledger(cloud.url, site)).length === 2, 'issue applied');
    const issue = (await ledger(cloud.url, site))[1]!;
    expect(issue).toMatchObject({ kind: 'issue', sku: 'CEM-42.5-50KG', qty: 3, project: 'P-2026-017', stage: 'FOUNDATION', crew: 'C-12', operator: 'W-7', raw: ']E09506000134352' });
    const { items } = await getJson<{ items: Array<{ sku: string; project: string; onHand: number }> }>(`${cloud.url}/api/v1/stock?site=${site}`);
    // Balances are kept per batch; the issue scanned an EAN without one, so sum the project's rows.
    const onHand = items.filter((i) => i.sku === 'CEM-42.5-50KG' && i.project === 'P-2026-017').reduce((a, i) => a + i.onHand, 0);
    expect(onHand).toBe(17);
  });

  it('applies a retained remote config live, rolls back a bad version, and restores the good one after a restart', async () => {
    const config = (version: number, over: Record<string, unknown> = {}) =>
      client.publishAsync(topics.config(site, 'counter-1'), JSON.stringify({ v: 1, version, unknownItems: 'reject', ...over }), { qos: 1, retain: true });
    await config(1);
    await waitFor(() => edge.logs.some((l) => l.msg === 'remote config applied' && l.configVersion === 1), 'version 1 applied');
    await scan('NOT-IN-MASTER');
    await waitFor(() => edge.logs.some((l) => l.code === 'SG_ERR_ITEM_UNKNOWN'), 'unknown item refused');
    await config(2, { stations: [{ scanner: 'dock1', scale: 'scale-9' }] });
    await waitFor(() => statuses.some((s) => s.configError?.startsWith('version 2 failed to apply')), 'status reports the failed version');
    expect(statuses.at(-1)).toMatchObject({ configVersion: 1, problems: expect.arrayContaining(['config-error']) });
    // Still version 1: an unknown item is still refused, known items still issue.
    await scan('REBAR-12');
    await waitFor(async () => (await ledger(cloud.url, site)).length === 3, 'issue under version 1');

    await edge.kill();
    edge = await startEdgeProc(edgeArgs());
    expect(edge.ready.configVersion).toBe(1); // restored from the data dir before connecting
    await waitFor(() => edge.logs.some((l) => l.msg === 'remote config not applied: rolled back to the last good version'), 'version 2 refused again');
  });
});
