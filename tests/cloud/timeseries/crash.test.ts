import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serverTruth, serverTruthWhen } from '../../../bench/tsdb-data.js';
import { spawnStockgate, tempDir, uniqueId, type Proc } from '../../helpers/procs.js';
import { Victoria } from '../../helpers/victoria.js';

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/**
 * Issue 13: no point is ever lost, even when the cloud and VictoriaMetrics crash together right
 * after the server acknowledged the export (it holds recent samples in memory and loses them on a
 * SIGKILL). The resend window is durable (tsdb_requests): the restarted cloud re-sends it, and
 * the server's deduplication merges what it still had.
 */
describe('time-series export survives a SIGKILL of the cloud and of VictoriaMetrics', () => {
  const vm = new Victoria();
  const dir = tempDir('sg-tsdb-crash-');
  const site = uniqueId('crash');
  let cloud: Proc | undefined;
  beforeAll(async () => {
    await vm.start();
  });
  afterAll(async () => {
    await cloud?.kill('SIGKILL');
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(vm.dataDir, { recursive: true, force: true });
  });

  const start = async () => {
    cloud = await spawnStockgate(['cloud', '--data-dir', dir, '--mqtt-port', '0', '--http-port', '0', '--insecure', '--tsdb', vm.url]);
    return `http://127.0.0.1:${cloud.ready.httpPort as number}`;
  };
  const metrics = async (base: string) => (await fetch(`${base}/metrics`)).text();
  const settled = async (base: string, done: (text: string) => boolean) => {
    const until = Date.now() + 30_000;
    for (;;) {
      const text = await metrics(base);
      if (done(text)) return text;
      if (Date.now() > until) throw new Error(`export did not settle:\n${text.split('\n').filter((l) => l.startsWith('stockgate_tsdb')).join('\n')}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  it('the restarted cloud re-sends its durable window: read-back is exact again', async () => {
    let base = await start();
    const N = 300;
    const now = Date.now();
    for (let k = 0; k < 3; k++) {
      const movements = Array.from({ length: N / 3 }, (_, i) => ({ id: `crash-${site}-${k}-${i}`, ts: new Date(now - 5000 + k * 100 + i).toISOString(), site, location: `L${i % 3}`, kind: 'receive', sku: `SKU-${i % 5}`, qty: 1 + (i % 4), uom: 'ea' }));
      const r = await fetch(`${base}/api/v1/movements`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ movements }) });
      expect(r.status).toBe(201);
    }
    await settled(base, (t) => sample(t, 'stockgate_tsdb_export_backlog') === 0 && (sample(t, 'stockgate_tsdb_export_lines_total{result="written"}') ?? 0) > 0);
    // Both crash right after the acknowledgement.
    await vm.kill();
    await cloud!.kill('SIGKILL');
    await vm.start();
    const lost = await serverTruth(vm.url);
    // The control: the server acknowledged these points and lost them with its memory.
    expect(lost.count).toBeLessThan(N);

    base = await start();
    await settled(base, (t) => sample(t, 'stockgate_tsdb_export_backlog') === 0 && (sample(t, 'stockgate_tsdb_export_lines_total{result="resent"}') ?? 0) > 0);
    const back = await serverTruthWhen(vm.url, (t) => t.count === N);
    expect(back.count).toBe(N);
    // 1..4 cycling over 100 movements, three times: 250 per round.
    expect(back.qty).toEqual({ ea: 750 });
    const stock = Object.entries(back.onHand).filter(([k]) => k.startsWith(`${site}|`));
    expect(stock.length).toBe(15);
    expect(stock.reduce((a, [, v]) => a + v, 0)).toBe(750);
    // Re-sent points were merged, not doubled: one sample per (series, ms).
    const samples = await vm.export(`stockgate_movements_count{site="${site}"}`);
    for (const s of samples) expect(new Set(s.timestamps).size).toBe(s.timestamps.length);
  }, 90_000);
});
