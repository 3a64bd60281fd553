import { rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compareTruth, ledgerTruth, seed, serverTruthWhen } from '../../../bench/tsdb-data.js';
import { CloudMetrics } from '../../../cloud/metrics/registry.js';
import { SqliteStore } from '../../../cloud/store/sqlite.js';
import { TsdbExporter } from '../../../cloud/timeseries/exporter.js';
import { SqlExportStore } from '../../../cloud/timeseries/sql-export-store.js';
import { tempDir } from '../../helpers/procs.js';
import { Victoria } from '../../helpers/victoria.js';

const log = pino({ level: 'silent' });

/** Issue 13 acceptance, CI size: export survives a SIGKILL of VictoriaMetrics mid-export. */
describe('tsdb exporter against a real VictoriaMetrics', () => {
  const vm = new Victoria();
  const dir = tempDir('sg-tsdb-');
  beforeAll(async () => {
    await vm.start();
  });
  afterAll(async () => {
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(vm.dataDir, { recursive: true, force: true });
  });

  it('after a SIGKILL and restart of the server, read-back matches the ledger exactly', async () => {
    const ledger = new SqliteStore(join(dir, 'ledger.db'));
    const exportStore = SqlExportStore.sqlite(join(dir, 'timeseries.db'));
    const metrics = new CloudMetrics('test');
    const exporter = new TsdbExporter(ledger, exportStore, log, metrics, { url: vm.url, batchRows: 1000, backoffMs: 100, backoffCapMs: 400, idleMs: 50 });
    const o = { site: 'depot-1', edge: 'e1', baseMs: Date.now() - 60_000 };
    await seed(ledger, 0, 10_000, o);
    await exporter.start();
    // Keep committing while the server dies and comes back.
    const writer = (async () => {
      for (let i = 10_000; i < 40_000; i += 2000) {
        await seed(ledger, i, i + 2000, { ...o, batch: 500 });
        exporter.kick();
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
    await new Promise((r) => setTimeout(r, 700));
    await vm.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await vm.start();
    await writer;
    await exporter.idle(60_000);
    expect(exporter.backlog).toBe(0);
    expect(exporter.stats.failures).toBeGreaterThan(0);
    expect(exporter.stats.resends).toBeGreaterThan(0);

    const truth = await ledgerTruth(ledger);
    expect(truth.count).toBe(40_000);
    const server = await serverTruthWhen(vm.url, (t) => compareTruth(truth, t).length === 0);
    expect(compareTruth(truth, server)).toEqual([]);
    const text = await metrics.text();
    expect(text).toMatch(/stockgate_tsdb_export_backlog 0/);
    expect(text).toMatch(/stockgate_tsdb_export_lines_total\{result="resent"\} [1-9]/);
    await exporter.stop();

    // A restarted exporter resumes at the durable point: it re-sends the resend window (the same
    // lines, merged by the server's deduplication) and nothing new; read-back is still exact.
    const again = new TsdbExporter(ledger, exportStore, log, undefined, { url: vm.url, idleMs: 50 });
    await again.start();
    await again.idle();
    expect(again.stats.linesWritten).toBe(0);
    expect(again.stats.linesResent).toBeGreaterThan(0);
    await again.stop();
    expect(compareTruth(truth, await serverTruthWhen(vm.url, (t) => compareTruth(truth, t).length === 0))).toEqual([]);
    await exportStore.close();
    await ledger.close();
  }, 120_000);
});

describe('tsdb exporter guards against silently dropped lines (real VictoriaMetrics)', () => {
  const vm = new Victoria();
  const dir = tempDir('sg-tsdb-g-');
  beforeAll(async () => {
    await vm.start();
  });
  afterAll(async () => {
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(vm.dataDir, { recursive: true, force: true });
  });

  it('the server would drop these lines with a 204 (the control)', async () => {
    const old = Date.now() - 40 * 86_400_000;
    const r = await fetch(`${vm.url}/api/v2/write?precision=ms`, { method: 'POST', body: `control_old v=1 ${old}\ncontrol_s v=1 ${Math.floor(Date.now() / 1000)}\ncontrol_str v="ok" ${Date.now()}` });
    expect(r.status).toBe(204);
    expect(await vm.export('control_old_v')).toEqual([]);
    // Seconds read as ms: the point lands in 1970.
    const s = await vm.export('control_s_v');
    expect(s.every((x) => x.timestamps.every((t) => t < 86_400_000 * 30))).toBe(true);
    const str = await vm.export('control_str_v');
    expect(str.flatMap((x) => x.values)).toEqual(str.length ? [0] : []);
  });

  it('a string field, a 40-day-old event and a precision mistake are repaired or refused, counted, and nothing lands in 1970', async () => {
    const ledger = new SqliteStore(join(dir, 'ledger.db'));
    const exportStore = SqlExportStore.sqlite(join(dir, 'timeseries.db'));
    const metrics = new CloudMetrics('test');
    const now = Date.now();
    const m = (i: number, ts: number) => ({
      v: 1 as const, id: `guard-movement-${i}`, edge: 'e1', seq: i, ts: new Date(ts).toISOString(), site: 'depot-g', location: 'A', kind: 'receive' as const,
      sku: 'SKU-G', qty: 5, uom: 'ea', device: { id: 'd', type: 'scanner' }, raw: 'x',
    });
    await ledger.commit([{ movements: [m(1, now - 40 * 86_400_000), m(2, now - 1000)], deadLetters: [] }]);
    await exportStore.appendTelemetry([
      // A precision mistake upstream: seconds where ms are expected.
      { ts: Math.floor(now / 1000), receivedAt: now, site: 'depot-g', edge: 'e1', device: 'scale1', fields: { weightKg: 12.5 } },
      // String fields: one numeric (repaired), one not (refused); the sample's number still goes.
      { ts: now, receivedAt: now, site: 'depot-g', edge: 'e1', device: 'scale2', fields: { weightKg: '7.25', status: 'ok' } },
    ]);
    const exporter = new TsdbExporter(ledger, exportStore, log, metrics, { url: vm.url, idleMs: 50 });
    await exporter.start();
    await exporter.idle();
    await exporter.stop();

    const truth = await ledgerTruth(ledger);
    const server = await serverTruthWhen(vm.url, (t) => compareTruth(truth, t).length === 0);
    expect(compareTruth(truth, server)).toEqual([]);
    expect(server.count).toBe(2);
    const dev = await vm.export('{__name__=~"stockgate_device_.*"}');
    const byName = Object.fromEntries(dev.map((d) => [`${d.metric.__name__}/${d.metric.device}`, d]));
    expect(byName['stockgate_device_weightKg/scale1']!.values).toEqual([12.5]);
    expect(byName['stockgate_device_weightKg/scale2']!.values).toEqual([7.25]);
    expect(byName['stockgate_device_status/scale2']).toBeUndefined();
    const all = await vm.export('{__name__=~"stockgate_.*"}');
    const minTs = Math.min(...all.flatMap((d) => d.timestamps));
    expect(minTs).toBeGreaterThan(now - 31 * 86_400_000);
    const text = await metrics.text();
    for (const g of ['guard="retention",action="repaired"', 'guard="precision",action="repaired"', 'guard="string_field",action="repaired"', 'guard="string_field",action="refused"']) {
      expect(text).toMatch(new RegExp(`stockgate_tsdb_export_guard_total\\{${g}\\} [1-9]`));
    }
    await exportStore.close();
    await ledger.close();
  }, 60_000);
});

/**
 * Issue 13: "the batch size is set so that a failure can never be swallowed". The client's own
 * buffer reports success for a failed write when the batch size equals the chunk flushed
 * (influxdb-client-js #300); the exporter sends each request as one body through the client's
 * transport and advances only on a 2xx. A proxy of ours in front of the real server fails some
 * requests with 503; every body it failed must later be acknowledged byte for byte (the same
 * request, retried or rebuilt), and read-back must equal the ledger, for request sizes that
 * divide the data evenly and for ones that do not.
 */
describe('tsdb exporter never swallows a failed write (real VictoriaMetrics behind a failing proxy)', () => {
  const dir = tempDir('sg-tsdb-f-');
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([1, 7, 500])('batchRows %i: every failed body is acknowledged later, read-back is exact', async (batchRows) => {
    // A server of its own per case: read-back sums every series it holds.
    const vm = new Victoria();
    await vm.start();
    const failed = new Set<string>();
    const acked = new Set<string>();
    let n = 0;
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        // A short outage (requests 2-4) and a blip (request 12) that never reach the server. Not
        // a failure every few requests: after each failure the whole unconfirmed window is
        // re-sent (cloud/timeseries/README.md), which cannot finish if failures come faster.
        n++;
        if ((n >= 2 && n <= 4) || n === 12) {
          failed.add(body);
          res.writeHead(503).end('{"code":"unavailable","message":"test proxy"}');
          return;
        }
        fetch(`${vm.url}${req.url}`, { method: 'POST', body, headers: { 'content-type': String(req.headers['content-type']) } }).then(
          async (r) => {
            if (r.status >= 200 && r.status < 300) acked.add(body);
            res.writeHead(r.status).end(await r.text());
          },
          () => res.writeHead(502).end(),
        );
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as AddressInfo).port;
    const site = `depot-f${batchRows}`;
    const ledger = new SqliteStore(join(dir, `ledger-${batchRows}.db`));
    const exportStore = SqlExportStore.sqlite(join(dir, `timeseries-${batchRows}.db`));
    await seed(ledger, 0, 1500, { site, edge: 'e1', baseMs: Date.now() - 60_000, batch: 300 });
    const exporter = new TsdbExporter(ledger, exportStore, log, undefined, { url: `http://127.0.0.1:${port}`, batchRows, backoffMs: 5, backoffCapMs: 20, idleMs: 20 });
    await exporter.start();
    await exporter.idle(120_000);
    await exporter.stop();
    await new Promise((r) => proxy.close(r));

    expect(failed.size).toBeGreaterThan(0);
    expect(exporter.stats.failures).toBeGreaterThanOrEqual(failed.size);
    for (const body of failed) expect(acked.has(body)).toBe(true);
    const truth = await ledgerTruth(ledger);
    const server = await serverTruthWhen(vm.url, (t) => compareTruth(truth, t).length === 0);
    expect(compareTruth(truth, server)).toEqual([]);
    await exportStore.close();
    await ledger.close();
    await vm.stop();
    rmSync(vm.dataDir, { recursive: true, force: true });
  }, 180_000);
});
