import { rmSync } from 'node:fs';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverTruthWhen } from '../../../bench/tsdb-data.js';
import { movement } from '../../helpers/movements.js';
import { spawnStockgate, tempDir, uniqueId, type Proc } from '../../helpers/procs.js';
import { promtoolFindings } from '../../helpers/promtool.js';
import { Victoria } from '../../helpers/victoria.js';

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Issue 13 part 4 on a real cloud process: /metrics passes promtool, and counts what was applied. */
describe('cloud /metrics (prom-client) with --tsdb', () => {
  const vm = new Victoria();
  const dir = tempDir('sg-metrics-');
  let cloud: Proc;
  let base: string;
  const site = uniqueId('m');

  beforeAll(async () => {
    await vm.start();
    cloud = await spawnStockgate(['cloud', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--insecure', '--tsdb', vm.url]);
    base = `http://127.0.0.1:${cloud.ready.httpPort as number}`;
  });
  afterAll(async () => {
    await cloud?.kill();
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(vm.dataDir, { recursive: true, force: true });
  });

  it('counts movements applied over MQTT and REST, passes promtool, and exports them', async () => {
    // 30 over MQTT (one of them sent twice: a duplicate), 5 over REST, one invalid message.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`, { clientId: uniqueId('t') });
    const ms = Array.from({ length: 30 }, (_, i) => movement({ site, edge: 'e1', seq: i + 1, qty: i + 1 }));
    const send = (list: unknown[]) => client.publishAsync(`stockgate/v1/${site}/e1/movements`, JSON.stringify({ v: 1, site, edge: 'e1', sentAt: new Date().toISOString(), movements: list }), { qos: 1 });
    await send(ms.slice(0, 20));
    await send(ms.slice(19));
    await client.publishAsync(`stockgate/v1/${site}/e1/movements`, 'not json', { qos: 1 });
    await client.publishAsync(`stockgate/v1/${site}/e1/telemetry`, JSON.stringify({ v: 1, site, edge: 'e1', ts: new Date().toISOString(), metrics: { 'outbox.backlog': 3, 'outbox.oldestAgeMs': 1500, 'scale.dock1.weightKg': 12.5 } }), { qos: 1 });
    await client.endAsync();
    const rest = await fetch(`${base}/api/v1/movements`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ movements: Array.from({ length: 5 }, (_, i) => ({ id: `rest-${site}-${i}`, ts: new Date().toISOString(), site, location: 'DOCK-1', kind: 'receive', sku: 'SKU-R', qty: 2, uom: 'ea' })) }),
    });
    expect(rest.status).toBe(201);

    let text = '';
    const until = Date.now() + 20_000;
    for (;;) {
      const r = await fetch(`${base}/metrics`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      text = await r.text();
      if (sample(text, 'stockgate_ingest_movements_total{result="applied"}') === 35 && sample(text, 'stockgate_tsdb_export_backlog') === 0 && sample(text, 'stockgate_edge_outbox_backlog') === 3) break;
      if (Date.now() > until) throw new Error(`metrics did not settle:\n${text.split('\n').filter((l) => l.startsWith('stockgate_')).join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(promtoolFindings(text)).toEqual([]);
    expect(sample(text, 'stockgate_ingest_movements_total{result="duplicate"}')).toBe(1);
    expect(sample(text, 'stockgate_ingest_messages_total{result="invalid_json"}')).toBe(1);
    expect(sample(text, 'stockgate_ingest_messages_total{result="rest"}')).toBe(1);
    expect(sample(text, 'stockgate_ledger_commit_duration_seconds_count')).toBeGreaterThan(0);
    // One per message with an applied movement: the two MQTT messages (the second starts with the
    // duplicate, so its next movement is the one observed) and the REST submission.
    expect(sample(text, 'stockgate_device_to_commit_latency_seconds_count')).toBe(3);
    expect(sample(text, 'stockgate_dead_letters_total')).toBe(1);
    expect(sample(text, 'stockgate_edge_outbox_oldest_age_seconds')).toBe(1.5);
    expect(text).toMatch(/^stockgate_build_info\{version="[^"]+",node="v\d+[^"]*"\} 1$/m);
    expect(text).toMatch(/^process_resident_memory_bytes \d+/m);
    expect(sample(text, 'stockgate_sse_clients')).toBe(0);
    // No unbounded label: the site id appears nowhere in /metrics.
    expect(text).not.toContain(site);

    const server = await serverTruthWhen(vm.url, (t) => t.count === 35);
    expect(server.count).toBe(35);
    // The telemetry point was acknowledged with the movements (backlog 0), but a busy server can
    // make a series searchable later than another one: wait for it as serverTruthWhen does.
    let dev = await vm.export('stockgate_device_scale_weightKg');
    for (const until = Date.now() + 20_000; dev.length === 0 && Date.now() < until; dev = await vm.export('stockgate_device_scale_weightKg')) await new Promise((r) => setTimeout(r, 250));
    expect(dev.map((d) => d.metric)).toEqual([expect.objectContaining({ site, edge: 'e1', device: 'dock1' })]);
  }, 60_000);

  it('promtool flags a badly named metric (the check can fail)', () => {
    expect(promtoolFindings('# HELP bad_seconds_total x\n# TYPE bad_seconds_total gauge\nbad_seconds_total 1\n').length).toBeGreaterThan(0);
  });
});
