import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnStockgate, startEdgeProc, tempDir, uniqueId, waitFor, type Proc } from '../helpers/procs.js';
import { promtoolFindings } from '../helpers/promtool.js';

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/** Issue 13 part 4: `stockgate edge --metrics-port` serves Prometheus metrics that pass promtool. */
describe('edge /metrics (--metrics-port)', () => {
  const dir = tempDir('sg-edge-metrics-');
  let cloud: Proc;
  let edge: Proc;
  const site = uniqueId('em');

  beforeAll(async () => {
    cloud = await spawnStockgate(['cloud', '--data-dir', join(dir, 'cloud'), '--mqtt-port', '0', '--http-port', '0', '--insecure']);
    edge = await startEdgeProc({
      dataDir: join(dir, 'edge'),
      broker: `mqtt://127.0.0.1:${cloud.ready.mqttPort as number}`,
      site,
      edgeId: 'e1',
      devices: ['dock1=scanner@memory://dock1'],
      extra: ['--metrics-port', '0'],
    });
  });
  afterAll(async () => {
    await edge?.kill();
    await cloud?.kill();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the outbox, publisher and device figures with Prometheus names; promtool passes', async () => {
    const port = edge.ready.metricsPort as number;
    expect(port).toBeGreaterThan(0);
    const text: string = (await waitFor(async () => {
      const t = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      return (sample(t, 'stockgate_edge_broker_connects_total') ?? 0) >= 1 ? t : undefined;
    }, 'edge connected to the broker', 20_000))!;
    expect(promtoolFindings(text)).toEqual([]);
    expect(sample(text, 'stockgate_edge_outbox_backlog')).toBe(0);
    expect(sample(text, 'stockgate_edge_outbox_oldest_age_seconds')).toBe(0);
    expect(sample(text, 'stockgate_edge_outbox_max_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'stockgate_edge_devices{state="connected"}')! + sample(text, 'stockgate_edge_devices{state="disconnected"}')! + sample(text, 'stockgate_edge_devices{state="error"}')!).toBe(1);
    expect(text).toMatch(/^stockgate_build_info\{version="[^"]+",node="v[^"]+"\} 1$/m);
    expect(text).toMatch(/^process_cpu_seconds_total /m);
    // Counters do not double on a second scrape.
    const again = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(sample(again, 'stockgate_edge_broker_connects_total')).toBe(sample(text, 'stockgate_edge_broker_connects_total'));
    const nf = await fetch(`http://127.0.0.1:${port}/other`);
    expect(nf.status).toBe(404);
    expect(await nf.json()).toMatchObject({ statusCode: 404, code: 'SG_ERR_NOT_FOUND' });
  }, 40_000);
});
