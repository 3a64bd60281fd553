import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, recordedSeq, stockBySku, waitFor, type CloudProc, type Proc } from '../helpers/procs.js';
import { Rig } from '../helpers/rig.js';

/**
 * The walking skeleton end to end with real processes: scanner lines written into a real pty
 * (socat) -> `stockgate edge` (serialport, outbox) -> embedded aedes -> `stockgate cloud`
 * (ingester, SQLite ledger) -> REST API.
 */
describe('e2e: scan at the dock reaches the ledger', () => {
  const rig = new Rig({ sitePrefix: 'site' });
  const site = rig.site;
  let cloud: CloudProc;
  let edge: Proc;

  beforeAll(async () => {
    await rig.start();
    ({ cloud, edge } = rig);
  });
  afterAll(() => rig.stop());

  it('applies scans with control codes, CR/LF/CRLF endings and AIM ids', async () => {
    const lines = [
      'OP:W-7',
      ']C0CEM-50KG', // receive 1
      'QTY:10',
      ']E0REBAR-12', // receive 10
      'PRJ:P-1',
      'REBAR-12', // receive 10 for project P-1
      'MODE:ISSUE',
      'QTY:3',
      'REBAR-12', // issue 3 from project P-1
      'PRJ:',
      'MODE:RECEIVE',
      'QTY:1',
      'LOC:SHELF-9',
      'BOLT-M16', // receive 1 at SHELF-9
      'MODE:BOGUS', // refused control code: no movement
    ];
    const endings = ['\r\n', '\r', '\n'];
    const text = lines.map((l, i) => l + endings[i % 3]).join('');
    await rig.scan(text);

    await waitFor(async () => {
      const s = await stockBySku(cloud.url, site);
      return s['CEM-50KG'] === 1 && s['REBAR-12'] === 17 && s['BOLT-M16'] === 1;
    }, 'balances');

    const { items } = await getJson<{ items: any[] }>(`${cloud.url}/api/v1/stock?site=${site}&sku=REBAR-12`);
    const byProject = Object.fromEntries(items.map((i) => [i.project, i.onHand]));
    expect(byProject).toEqual({ '': 10, 'P-1': 7 });
    const bolt = (await getJson<{ items: any[] }>(`${cloud.url}/api/v1/stock?site=${site}&sku=BOLT-M16`)).items;
    expect(bolt).toMatchObject([{ site, location: 'SHELF-9', sku: 'BOLT-M16', batch: '', project: '', onHand: 1 }]);

    const mv = await getJson<{ items: any[] }>(`${cloud.url}/api/v1/movements?site=${site}&limit=10`);
    expect(mv.items).toHaveLength(5);
    const issue = mv.items.find((m) => m.kind === 'issue');
    expect(issue).toMatchObject({ sku: 'REBAR-12', qty: 3, project: 'P-1', operator: 'W-7', raw: 'REBAR-12', device: { id: 'dock1', type: 'scanner' } });
    const first = mv.items.find((m) => m.sku === 'CEM-50KG');
    expect(first.raw).toBe(']C0CEM-50KG');
    expect(recordedSeq(edge)).toBe(5);
    expect(edge.logs.some((l) => l.msg === 'scan refused: MODE: \'BOGUS\' is not RECEIVE, ISSUE, RETURN or COUNT')).toBe(true);
  });

  it('dead-letters a malformed payload and rejects it back to the edge', async () => {
    const mqtt = (await import('mqtt')).default;
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.mqttPort}`);
    const rejects: any[] = [];
    await c.subscribeAsync(`stockgate/v1/${site}/rogue/rejects`);
    c.on('message', (_t, p) => rejects.push(JSON.parse(p.toString())));
    await c.publishAsync(`stockgate/v1/${site}/rogue/movements`, '{"v":1,"site":"x"');
    await c.publishAsync(
      `stockgate/v1/${site}/rogue/movements`,
      JSON.stringify({ v: 1, site, edge: 'rogue', sentAt: new Date().toISOString(), movements: [{ v: 1, id: 'AAAAAAAAAAAA', edge: 'rogue', seq: 7, site, qty: -1 }] }),
    );
    await waitFor(() => rejects.length >= 2, 'two rejects');
    await c.endAsync();
    expect(rejects[0]).toMatchObject({ v: 1, edge: 'rogue', reason: 'INVALID_JSON' });
    expect(rejects[1]).toMatchObject({ v: 1, edge: 'rogue', reason: 'INVALID_SCHEMA', ranges: [[7, 7]], ids: ['AAAAAAAAAAAA'] });
    expect(typeof rejects[1].deadLetterId).toBe('number');
    const dl = await getJson<{ items: any[] }>(`${cloud.url}/api/v1/dead-letters?limit=10`);
    const mine = dl.items.filter((d) => d.site === site && d.edge === 'rogue');
    expect(mine.map((d) => d.reason).sort()).toEqual(['INVALID_JSON', 'INVALID_SCHEMA']);
    expect(mine.find((d) => d.reason === 'INVALID_JSON').payload).toBe('{"v":1,"site":"x"');
    // The stock of the real edge is untouched.
    expect((await stockBySku(cloud.url, site))['REBAR-12']).toBe(17);
  });
});
