import { rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExportStore } from '../../../cloud/timeseries/export-store.js';
import { SqlExportStore } from '../../../cloud/timeseries/sql-export-store.js';
import { tempDir } from '../../helpers/procs.js';

const PG = process.env.STOCKGATE_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';
const admin = new pg.Pool({ connectionString: PG, max: 1 });
afterAll(() => admin.end());

let n = 0;
const backends: Array<[string, () => Promise<{ open(o?: { maxTelemetryRows?: number }): Promise<ExportStore>; destroy(): Promise<void> }>]> = [
  ['SQLite', async () => {
    const dir = tempDir('sg-es-');
    return { open: async (o) => SqlExportStore.sqlite(join(dir, 'timeseries.db'), o), destroy: async () => rmSync(dir, { recursive: true, force: true }) };
  }],
  ['PostgreSQL (own schema)', async () => {
    const schema = `sg_tsdb_${process.pid}_${Date.now().toString(36)}_${n++}`;
    await admin.query(`CREATE SCHEMA "${schema}"`);
    const url = `${PG}?options=${encodeURIComponent(`-csearch_path=${schema}`)}`;
    return { open: (o) => SqlExportStore.postgres(url, o), destroy: async () => void (await admin.query(`DROP SCHEMA "${schema}" CASCADE`)) };
  }],
];

for (const [name, make] of backends) {
  describe(`ExportStore: ${name}`, () => {
    let h: Awaited<ReturnType<typeof make>>;
    let s: ExportStore;
    beforeEach(async () => {
      h = await make();
      s = await h.open({ maxTelemetryRows: 5 });
    });
    afterEach(async () => {
      await s.close();
      await h.destroy();
    });

    it('starts at zero, logs requests, confirms cursors, series and the log in one step, deletes confirmed rows, survives a reopen', async () => {
      expect(await s.cursors()).toEqual({ ledger: 0, telemetry: 0, alerts: 0 });
      expect(await s.appendTelemetry([1, 2, 3].map((i) => ({ ts: 1_800_000_000_000 + i, receivedAt: 1_800_000_000_000, site: 's', edge: 'e', device: 'd', fields: { w: i } })))).toBe(0);
      await s.appendAlertChanges([{ ts: 1_800_000_000_000, site: 's', type: 'low-stock', open: 1 }]);
      const tel = await s.telemetryAfter(0, 10);
      expect(tel.map((t) => t.fields)).toEqual([{ w: 1 }, { w: 2 }, { w: 3 }]);
      expect((await s.heads()).telemetry).toBe(tel[2]!.seq);
      expect(await s.lastAlertStates()).toEqual(new Map([['s\u001flow-stock', 1]]));
      // The request log: bounds of requests sent after the confirmed point, oldest first.
      const r1 = await s.logRequest({ ledger: 40, telemetry: tel[0]!.seq, alerts: 0 });
      const r2 = await s.logRequest({ ledger: 42, telemetry: tel[1]!.seq, alerts: 0 });
      const r3 = await s.logRequest({ ledger: 50, telemetry: tel[2]!.seq, alerts: 0 });
      expect(r1 < r2 && r2 < r3).toBe(true);
      await s.confirm({ ledger: 42, telemetry: tel[1]!.seq, alerts: 0 }, new Map([['stockgate_stock\u001fs', { ts: 1_800_000_000_005, value: 12.5 }]]), r2);
      await s.close();
      s = await h.open({ maxTelemetryRows: 5 });
      expect(await s.cursors()).toEqual({ ledger: 42, telemetry: tel[1]!.seq, alerts: 0 });
      expect(await s.series()).toEqual(new Map([['stockgate_stock\u001fs', { ts: 1_800_000_000_005, value: 12.5 }]]));
      expect((await s.telemetryAfter(0, 10)).map((t) => t.fields)).toEqual([{ w: 3 }]);
      expect(await s.requests()).toEqual([{ id: r3, cursors: { ledger: 50, telemetry: tel[2]!.seq, alerts: 0 } }]);
    });

    it('bounds waiting telemetry: the oldest go first and the unexported ones are counted', async () => {
      const rows = (k: number) => Array.from({ length: k }, (_, i) => ({ ts: 1_800_000_000_000 + i, receivedAt: 1_800_000_000_000, site: 's', edge: 'e', device: 'd', fields: { i } }));
      expect(await s.appendTelemetry(rows(4))).toBe(0);
      expect(await s.appendTelemetry(rows(4))).toBe(3);
      const left = await s.telemetryAfter(0, 100);
      expect(left).toHaveLength(5);
      expect(left.map((t) => t.fields.i)).toEqual([3, 0, 1, 2, 3]);
    });
  });
}
