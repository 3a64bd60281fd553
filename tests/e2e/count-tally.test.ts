import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { openPtyPair, type PtyPair } from '../../devices/pty-pair.js';
import { SerialTransport } from '../../devices/serial.js';
import { EdgeStatusDetails, topics } from '../../protocols/mqtt/index.js';
import { getJson, startCloudProc, startEdgeProc, stockBySku, tempDir, uniqueId, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';

interface Row {
  kind: string;
  sku: string;
  qty: number;
  uom: string;
  ts: string;
  operator?: string;
  raw: string;
}
const ledger = async (url: string, site: string) => (await getJson<{ items: Row[] }>(`${url}/api/v1/movements?site=${site}&limit=1000`)).items.reverse();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Count mode end to end (issue 9, C6): scanner lines into a real pty -> `stockgate edge` -> the
 * cloud's broker -> `stockgate cloud`. Three scans of a piece are one count of 3 (not three counts
 * of 1); each scan gets an ok beep on the scanner; the open count survives a SIGKILL of the edge.
 * Also the `--session-idle-min` flag: a badge expires with a warning in the retained status.
 */
describe('e2e: count mode tally through a real pty, agent and cloud', () => {
  let dir: string;
  let cloud: CloudProc;
  let edge: Proc;
  let pty: PtyPair;
  let scanner: SerialTransport;
  let client: MqttClient;
  let fromEdge = '';
  const statuses: EdgeStatusDetails[] = [];
  const site = uniqueId('count');
  const scan = async (...lines: string[]) => {
    // One line at a time, past the agent's 250 ms feedback coalescing, so every accepted scan is heard.
    for (const l of lines) {
      await scanner.write(Buffer.from(`${l}\r\n`, 'latin1'));
      await sleep(300);
    }
  };
  const startEdge = async () => {
    edge = await startEdgeProc({
      dataDir: join(dir, 'edge'),
      broker: `mqtt://127.0.0.1:${cloud.mqttPort}`,
      site,
      edgeId: 'counter-1',
      location: 'BIN-7',
      devices: [`dock1=scanner@serial://${pty.devicePath}?beep=honeywell`],
      extra: ['--items', join(dir, 'items.json'), '--session-idle-min', '0.05'],
    });
    await waitFor(() => edge.logs.some((l) => l.msg === 'device state' && l.state === 'connected'), 'scanner connected');
  };

  beforeAll(async () => {
    dir = tempDir();
    writeFileSync(join(dir, 'items.json'), JSON.stringify([{ sku: 'BOLT-M16', uom: 'ea', unitWeightKg: 0.16 }]));
    cloud = await startCloudProc({ dataDir: join(dir, 'cloud') });
    pty = await openPtyPair(join(dir, 'ttyScanner'));
    scanner = new SerialTransport({ path: pty.peerPath });
    scanner.onData((b) => (fromEdge += Buffer.from(b).toString('latin1')));
    await scanner.open();
    await startEdge();
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

  it('three scans of a piece in MODE:COUNT are heard one by one and booked as one count of 3 at COUNT:END', async () => {
    fromEdge = '';
    await scan('MODE:COUNT', ']C0BOLT-M16', ']C0BOLT-M16', ']C0BOLT-M16');
    await waitFor(() => edge.logs.filter((l) => l.msg === 'count tally').length === 3, 'three scans tallied');
    expect(edge.logs.filter((l) => l.msg === 'count tally').map((l) => l.total)).toEqual([1, 2, 3]);
    await waitFor(() => fromEdge.split('\x1b7,').length - 1 >= 3, 'an ok beep per accepted scan');
    // Nothing is booked while counting.
    await sleep(500);
    expect(await ledger(cloud.url, site)).toEqual([]);
    const before = Date.now();
    await scan('COUNT:END');
    await waitFor(async () => (await ledger(cloud.url, site)).length === 1, 'the count applied');
    const [row] = await ledger(cloud.url, site);
    expect(row).toMatchObject({ kind: 'count', sku: 'BOLT-M16', qty: 3, uom: 'ea' });
    expect(Date.parse(row!.ts)).toBeGreaterThanOrEqual(before - 1000); // stamped when the count ended
    expect(row!.raw).toContain('COUNT:END');
    expect((await stockBySku(cloud.url, site))['BOLT-M16']).toBe(3);
  });

  it('an open count survives a SIGKILL of the edge: scans before and after the restart are one count', async () => {
    await scan('MODE:COUNT', ']C0BOLT-M16', ']C0BOLT-M16');
    await waitFor(() => edge.logs.filter((l) => l.msg === 'count tally').length === 5, 'two more scans tallied');
    await edge.kill('SIGKILL');
    await startEdge();
    expect(edge.logs.some((l) => l.msg === 'open count restored')).toBe(true);
    // Back in count mode without a MODE:COUNT scan.
    await scan(']C0BOLT-M16', ']C0BOLT-M16', 'COUNT:END');
    await waitFor(async () => (await ledger(cloud.url, site)).length === 2, 'the second count applied');
    expect((await ledger(cloud.url, site))[1]).toMatchObject({ kind: 'count', qty: 4 });
    expect((await stockBySku(cloud.url, site))['BOLT-M16']).toBe(4);
  });

  it('--session-idle-min: a badge left idle expires with a log line, an error beep and the status warning', async () => {
    fromEdge = '';
    await scan('OP:W-7');
    await waitFor(() => edge.logs.some((l) => l.code === 'SG_WARN_SESSION_EXPIRED'), 'the badge expired', 15_000);
    await waitFor(() => statuses.some((s) => s.lastWarning?.code === 'SG_WARN_SESSION_EXPIRED' && /operator W-7/.test(s.lastWarning.message)), 'status shows the expiry');
    await waitFor(() => fromEdge.includes('\x1b8,'), 'error beep on the scanner');
    await scan('MODE:RECEIVE', ']C0BOLT-M16');
    await waitFor(async () => (await ledger(cloud.url, site)).length === 3, 'receive applied');
    expect((await ledger(cloud.url, site))[2]).not.toHaveProperty('operator');
  });
});
