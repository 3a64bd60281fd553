import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { BIN, ROOT, getJson, requireBuild, waitFor } from '../helpers/procs.js';

interface Row {
  kind: string;
  sku?: string;
  epc?: string;
  qty: number;
  uom: string;
  device: { id: string };
}

/**
 * `stockgate demo` as a newcomer runs it (free ports instead of 1883/8080): its scale is a weigh
 * station that books counted pieces, its RFID pallet leaves and comes back and is booked each
 * time, and its item master is seeded (or, on a cloud without the item master API, the demo says
 * so once and runs on). Issue 9, "Demo that shows the truth".
 */
describe('e2e: the demo shows the truth', () => {
  let child: ChildProcess;
  let api = '';
  const out: string[] = [];
  const logs: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    requireBuild();
    child = spawn(process.execPath, [BIN, 'demo', '--mqtt-port', '0', '--http-port', '0', '--interval-ms', '400'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STOCKGATE_LOG_LEVEL: 'warn' } });
    createInterface({ input: child.stdout! }).on('line', (l) => out.push(l));
    createInterface({ input: child.stderr! }).on('line', (l) => {
      try {
        logs.push(JSON.parse(l) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
    });
    const line = await waitFor(() => out.find((l) => l.includes('API:')), 'the demo prints its API URL');
    api = /http:\/\/[\d.]+:\d+/.exec(line!)![0];
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
  });

  const movements = async () => (await getJson<{ items: Row[] }>(`${api}/api/v1/movements?site=demo-site&limit=1000`)).items.reverse();

  it('the scale is a weigh station: it books bolts in counted pieces, not kg', async () => {
    const rows = await waitFor(async () => {
      const r = (await movements()).filter((m) => m.device.id === 'scale1');
      return r.length >= 1 ? r : undefined;
    }, 'a weigh-station movement', 40_000);
    expect(rows![0]).toMatchObject({ kind: 'receive', sku: 'BOLT-M16x80', qty: 100, uom: 'ea' });
  });

  it('the RFID pallet comes in, leaves and comes back: each case is booked every time', async () => {
    const rows = await waitFor(async () => {
      const byEpc = new Map<string, string[]>();
      for (const m of await movements()) if (m.epc) byEpc.set(m.epc, [...(byEpc.get(m.epc) ?? []), m.kind]);
      return byEpc.size === 4 && [...byEpc.values()].every((k) => k.length >= 3) ? byEpc : undefined;
    }, 'each tagged case received, issued and received again', 50_000);
    for (const kinds of rows!.values()) expect(kinds.slice(0, 3)).toEqual(['receive', 'issue', 'receive']);
    const helmets = (await movements()).filter((m) => m.epc);
    expect(new Set(helmets.map((m) => m.sku))).toEqual(new Set(['HELMET-EN397']));
  });

  it('the item master is seeded with names and uoms, or the demo says once that the cloud has no item master API', async () => {
    const missing = logs.filter((l) => typeof l.msg === 'string' && l.msg.startsWith('demo: item master not seeded'));
    if (missing.length > 0) {
      expect(missing).toHaveLength(1);
      expect(out.some((l) => l.startsWith('item master:'))).toBe(false);
      return;
    }
    expect(out).toContain('item master: 6 items with names and units of measure');
    const item = await getJson<Record<string, unknown>>(`${api}/api/v1/items/CEM-42.5-50KG`);
    expect(item).toMatchObject({ name: 'Cement P.O 42.5, 50 kg bag', uom: 'bag' });
  });

  it('answers /ask for its example project, in Chinese and in English, with the rows of its shortages (issue 11, Demo)', async () => {
    const line = await waitFor(() => out.find((l) => l.startsWith('business: project ')), 'the demo names its example project', 40_000);
    const project = /^business: project (\S+)/.exec(line!)![1]!;
    const rows = await getJson<{ items: Array<{ sku: string; shortage: number }> }>(`${api}/api/v1/projects/${project}/shortages`);
    expect(rows.items.length).toBeGreaterThan(0);
    const ask = async (q: string) => {
      const r = await fetch(`${api}/api/v1/ask`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ q }) });
      expect(r.status).toBe(200);
      return (await r.json()) as { intent: string; params: Record<string, string>; answer: string; data: { items: unknown[] } };
    };
    const zh = await ask(`帮我查一下${project}项目现在缺什么材料?`);
    expect(zh).toMatchObject({ intent: 'shortages', params: { project } });
    expect(zh.data.items).toEqual(rows.items);
    expect(zh.answer).toContain(`${project}项目还缺`);
    for (const r of rows.items) expect(zh.answer).toContain(r.sku);
    const en = await ask(`what is project ${project} missing?`);
    expect(en).toMatchObject({ intent: 'shortages', params: { project } });
    expect(en.data.items).toEqual(rows.items);
  });
});
