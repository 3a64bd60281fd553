import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { seed } from '../../bench/tsdb-data.js';
import { SqliteStore } from '../../cloud/store/sqlite.js';
import { TsdbExporter } from '../../cloud/timeseries/exporter.js';
import { SqlExportStore } from '../../cloud/timeseries/sql-export-store.js';
import { allDashboards } from '../../dashboards/grafana/dashboards.js';
import { renderDashboard } from '../../dashboards/grafana/generate.js';
import { ROOT, tempDir } from '../helpers/procs.js';
import { Victoria } from '../helpers/victoria.js';

const G = join(ROOT, 'dashboards', 'grafana');

interface Panel {
  id?: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Array<{ expr?: string; refId?: string; instant?: boolean; datasource?: { type?: string; uid?: string } }>;
}
interface DashboardJson {
  uid: string;
  title: string;
  panels: Panel[];
  templating: { list?: Array<{ name: string; datasource?: { uid?: string }; query?: unknown }> };
}

const files = readdirSync(join(G, 'dashboards')).filter((f) => f.endsWith('.json')).sort();
const dashboards: Array<[string, DashboardJson]> = files.map((f) => [f, JSON.parse(readFileSync(join(G, 'dashboards', f), 'utf8')) as DashboardJson]);

describe('Grafana dashboards: schema and lint', () => {
  it('has the five dashboards, committed exactly as dashboards.ts generates them', () => {
    expect(files).toEqual(['alerts.json', 'devices.json', 'flow.json', 'projects.json', 'stock.json']);
    for (const [name, d] of Object.entries(allDashboards())) {
      expect(readFileSync(join(G, 'dashboards', `${name}.json`), 'utf8'), `${name}.json is stale: run npm run dashboards`).toBe(renderDashboard(d));
    }
  });

  it('every dashboard validates against the vendored Grafana dashboard JSON schema', () => {
    const schema = JSON.parse(readFileSync(join(G, 'schema', 'dashboard.jsonschema.json'), 'utf8')) as object;
    const validate = new Ajv({ strict: false, allErrors: true }).compile(schema);
    for (const [f, d] of dashboards) {
      const ok = validate(d);
      expect(ok, `${f}: ${JSON.stringify(validate.errors?.slice(0, 5))}`).toBe(true);
    }
    // The schema can fail: a panel without gridPos numbers, a dashboard without templating.
    const broken = structuredClone(dashboards[0]![1]) as unknown as Record<string, unknown>;
    delete broken.templating;
    expect(validate(broken)).toBe(false);
  });

  it('lints: unique uids, provisioned datasource uids, non-empty queries, a 24-column grid without overlap', () => {
    const ds = parseYaml(readFileSync(join(G, 'provisioning', 'datasources', 'stockgate.yaml'), 'utf8')) as { datasources: Array<{ uid: string; type: string; url: string }> };
    const dsUids = new Set(ds.datasources.map((d) => d.uid));
    expect(ds.datasources.every((d) => d.type === 'prometheus')).toBe(true);
    const prov = parseYaml(readFileSync(join(G, 'provisioning', 'dashboards', 'stockgate.yaml'), 'utf8')) as { providers: Array<{ type: string; options: { path: string } }> };
    expect(prov.providers.map((p) => p.type)).toEqual(['file']);

    const uids = dashboards.map(([, d]) => d.uid);
    expect(new Set(uids).size).toBe(uids.length);
    for (const [f, d] of dashboards) {
      expect(d.uid, f).toMatch(/^[A-Za-z0-9_-]{1,40}$/);
      for (const v of d.templating.list ?? []) if (v.datasource) expect(dsUids.has(v.datasource.uid ?? ''), `${f} variable ${v.name}`).toBe(true);
      const cells = new Map<string, string>();
      for (const p of d.panels) {
        const where = `${f} "${p.title}"`;
        expect(p.datasource?.type, where).toBe('prometheus');
        expect(dsUids.has(p.datasource?.uid ?? ''), `${where}: datasource uid ${p.datasource?.uid}`).toBe(true);
        expect(p.targets?.length, where).toBeGreaterThan(0);
        for (const t of p.targets ?? []) {
          expect((t.expr ?? '').trim(), where).not.toBe('');
          if (t.datasource) expect(dsUids.has(t.datasource.uid ?? ''), where).toBe(true);
        }
        const g = p.gridPos;
        expect(g.x >= 0 && g.w > 0 && g.h > 0 && g.x + g.w <= 24, `${where}: gridPos ${JSON.stringify(g)}`).toBe(true);
        for (let x = g.x; x < g.x + g.w; x++) {
          for (let y = g.y; y < g.y + g.h; y++) {
            const k = `${x},${y}`;
            expect(cells.get(k), `${where} overlaps "${cells.get(k)}" at ${k}`).toBeUndefined();
            cells.set(k, p.title);
          }
        }
      }
    }
  });
});

/** Grafana's variables and macros as Grafana would expand them for "All sites" over the last hours. */
function expand(expr: string): string {
  return expr.replaceAll('$site', '.*').replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$__range', '6h');
}

describe('Grafana dashboards: every panel query returns data from a real VictoriaMetrics', () => {
  const vm = new Victoria();
  const dir = tempDir('sg-grafana-');
  beforeAll(async () => {
    await vm.start();
    // What the exporter writes: a ledger (all kinds, projects, two units), telemetry, alert changes.
    const ledger = new SqliteStore(join(dir, 'ledger.db'));
    const store = SqlExportStore.sqlite(join(dir, 'timeseries.db'));
    const now = Date.now();
    // Older than VictoriaMetrics' 30 s search latency offset, inside the queried range.
    await seed(ledger, 0, 6000, { site: 'depot-1', edge: 'e1', baseMs: now - 3 * 3600_000 });
    await seed(ledger, 0, 2000, { site: 'depot-2', edge: 'e2', baseMs: now - 3600_000 });
    const tel = [];
    for (let i = 0; i < 20; i++) {
      const ts = now - 30 * 60_000 + i * 60_000;
      tel.push({ ts, receivedAt: ts, site: 'depot-1', edge: 'e1', device: 'edge', fields: { outbox_backlog: i % 5, outbox_oldestAgeMs: i * 100 } });
      tel.push({ ts, receivedAt: ts, site: 'depot-1', edge: 'e1', device: 'scale1', fields: { scale_weightKg: 10 + i / 10, connected: i % 7 === 0 ? 0 : 1, reconnects: Math.floor(i / 7) } });
    }
    await store.appendTelemetry(tel);
    await store.appendAlertChanges([
      { ts: now - 40 * 60_000, site: 'depot-1', type: 'low-stock', open: 1 },
      { ts: now - 20 * 60_000, site: 'depot-1', type: 'device-offline', open: 1 },
      { ts: now - 10 * 60_000, site: 'depot-1', type: 'device-offline', open: 0 },
    ]);
    const exporter = new TsdbExporter(ledger, store, pino({ level: 'silent' }), undefined, { url: vm.url, idleMs: 50 });
    await exporter.start();
    await exporter.idle();
    await exporter.stop();
    await store.close();
    await ledger.close();
    await vm.flush();
  }, 120_000);
  afterAll(async () => {
    await vm.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(vm.dataDir, { recursive: true, force: true });
  });

  const panels = dashboards.flatMap(([f, d]) => d.panels.flatMap((p) => (p.targets ?? []).map((t) => [`${f} / ${p.title} / ${t.refId}`, t] as const)));
  it.each(panels)('%s', async (_name, t) => {
    const end = Math.floor(Date.now() / 1000);
    const q = new URLSearchParams({ query: expand(t.expr!) });
    if (t.instant) q.set('time', String(end));
    else (q.set('start', String(end - 6 * 3600)), q.set('end', String(end)), q.set('step', '60'));
    const r = await fetch(`${vm.url}/api/v1/${t.instant ? 'query' : 'query_range'}?${q}`);
    const body = (await r.json()) as { status: string; error?: string; data?: { result: Array<{ values?: unknown[]; value?: unknown }> } };
    expect(body.status, body.error).toBe('success');
    expect(body.data!.result.length, `no series for ${expand(t.expr!)}`).toBeGreaterThan(0);
    expect(body.data!.result.some((s) => (s.values?.length ?? 0) > 0 || s.value !== undefined)).toBe(true);
    // `or vector(0)` must not hide a misspelt series: every series a query names exists in the
    // range the panels query. Not `start=0`: VictoriaMetrics then answered only the series of the
    // current UTC day, so between 00:00 and 03:00 UTC the ledger's series (seeded 1-3 h back) were
    // "missing" and 17 panels failed.
    for (const name of new Set(t.expr!.match(/stockgate_[A-Za-z_]+/g) ?? [])) {
      const s = await fetch(`${vm.url}/api/v1/series?match[]=${encodeURIComponent(name)}&start=${end - 6 * 3600}&end=${end}`);
      expect(((await s.json()) as { data: unknown[] }).data.length, `${name} has no series`).toBeGreaterThan(0);
    }
  });

  it('the template variable query lists the sites', async () => {
    const end = Math.floor(Date.now() / 1000);
    const r = await fetch(`${vm.url}/api/v1/label/site/values?match[]=stockgate_movements_count&start=${end - 6 * 3600}&end=${end}`);
    expect(((await r.json()) as { data: string[] }).data).toEqual(['depot-1', 'depot-2']);
  });
});
