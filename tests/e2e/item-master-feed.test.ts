import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { EdgeStatusDetails, topics } from '../../protocols/mqtt/index.js';
import { getJson, waitFor } from '../helpers/procs.js';
import { Rig } from '../helpers/rig.js';

interface Row {
  kind: string;
  sku?: string;
  gtin?: string;
  qty: number;
  uom: string;
}

/**
 * The cloud's item master reaching the edge's cache (issue 9): a retained `ItemMasterSnapshot`
 * on `stockgate/v1/{site}/{edge}/items` (the test plays the cloud's publisher on the cloud's
 * broker), a real agent applying it, and a GS1 weight label converted into the item's bags with
 * the unit weight the snapshot brought, booked by a real cloud. The operator's config topic is
 * not touched, and the snapshot survives an edge restart.
 */
describe('e2e: the cloud item master feeds the edge item cache', () => {
  const rig = new Rig({ sitePrefix: 'itemfeed' });
  let client: MqttClient;
  const statuses: EdgeStatusDetails[] = [];

  beforeAll(async () => {
    await rig.start();
    client = await mqtt.connectAsync(rig.brokerUrl);
    client.on('message', (_t, p) => statuses.push(EdgeStatusDetails.parse(JSON.parse(p.toString()))));
    await client.subscribeAsync(topics.status(rig.site, 'dock-1'), { qos: 1 });
  });

  afterAll(async () => {
    await client?.endAsync();
    await rig.stop();
  });

  const ledger = async () => (await getJson<{ items: Row[] }>(`${rig.cloud.url}/api/v1/movements?site=${rig.site}&limit=100`)).items.reverse();

  it('applies the retained snapshot and converts a (3103) weight label into bags through its unit weight', async () => {
    const snapshot = { v: 1, version: 7, items: [{ sku: 'CEM-50', gtin: '09506000134352', uom: 'bag', unitWeightKg: 25 }] };
    await client.publishAsync(topics.items(rig.site, 'dock-1'), JSON.stringify(snapshot), { qos: 1, retain: true });
    await waitFor(() => rig.edge.logs.some((l) => l.msg === 'item master snapshot applied' && l.itemMasterVersion === 7), 'snapshot applied');
    await waitFor(() => statuses.some((s) => s.itemMaster?.version === 7 && s.itemMaster.items === 1), 'status reports the item master');
    expect(statuses.at(-1)?.configVersion ?? 0).toBe(0); // the operator's remote config is untouched
    await rig.scan(']C101095060001343523103050000\r\n'); // (01)09506000134352 (3103)050000 = 50 kg
    await waitFor(async () => (await ledger()).length === 1, 'receive applied');
    expect((await ledger())[0]).toMatchObject({ kind: 'receive', sku: 'CEM-50', qty: 2, uom: 'bag' });
  });

  it('keeps the snapshot across a restart and ignores the retained copy delivered again', async () => {
    await rig.edge.kill();
    await rig.startEdge();
    expect(rig.edge.ready.itemMasterVersion).toBe(7);
    await waitFor(() => rig.edge.logs.some((l) => l.msg === 'connected to broker'), 'connected');
    await rig.scan(']C101095060001343523103025000\r\n'); // 25 kg = 1 bag
    await waitFor(async () => (await ledger()).length === 2, 'second receive applied');
    expect((await ledger())[1]).toMatchObject({ sku: 'CEM-50', qty: 1, uom: 'bag' });
    expect(rig.edge.logs.some((l) => l.msg === 'item master snapshot applied')).toBe(false);
  });
});
