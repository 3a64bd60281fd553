/**
 * stockgate's Grafana dashboards (issue 13), built with @grafana/grafana-foundation-sdk and
 * committed as JSON by `npm run dashboards` (generate.ts). They read the time series the cloud
 * exports with `--tsdb` (cloud/timeseries/README.md) through a Prometheus-type datasource pointing
 * at VictoriaMetrics (provisioning/datasources/stockgate.yaml): there is no InfluxQL or Flux there.
 *
 * Series names are VictoriaMetrics' `measurement_field`: stockgate_stock_on_hand,
 * stockgate_movements_count/_qty, stockgate_device_<field>, stockgate_alerts_open.
 * `stockgate_movements_*` samples are per-millisecond sums (not counters): totals are
 * `sum_over_time`, never `rate`/`increase`. Stock is a step function: its value now is the last
 * sample, `last_over_time(...[30d])` (the export's retention guard is 30 days).
 */
import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
import { DashboardBuilder, QueryVariableBuilder, VariableRefresh } from '@grafana/grafana-foundation-sdk/dashboard';
import { PanelBuilder as BarGauge } from '@grafana/grafana-foundation-sdk/bargauge';
import { DataqueryBuilder } from '@grafana/grafana-foundation-sdk/prometheus';
import { PanelBuilder as Stat } from '@grafana/grafana-foundation-sdk/stat';
import { PanelBuilder as StateTimeline } from '@grafana/grafana-foundation-sdk/statetimeline';
import { PanelBuilder as Table } from '@grafana/grafana-foundation-sdk/table';
import { PanelBuilder as TimeSeries } from '@grafana/grafana-foundation-sdk/timeseries';

/** The provisioned datasource (provisioning/datasources/stockgate.yaml). */
export const DATASOURCE = { type: 'prometheus', uid: 'stockgate-vm' } as const;

const SITE = 'site=~"$site"';

function query(expr: string, legend: string, refId = 'A', instant = false): DataqueryBuilder {
  const q = new DataqueryBuilder().expr(expr).legendFormat(legend).refId(refId).datasource(DATASOURCE);
  return instant ? q.instant().format('table' as never) : q.range();
}

type AnyPanel = TimeSeries | Stat | Table | BarGauge | StateTimeline;

function place<P extends AnyPanel>(p: P, x: number, y: number, w: number, h: number): P {
  p.datasource(DATASOURCE).gridPos({ x, y, w, h });
  return p;
}

function base(uid: string, title: string, description: string): DashboardBuilder {
  return new DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags(['stockgate'])
    .refresh('30s')
    .time({ from: 'now-24h', to: 'now' })
    .timezone('browser')
    .withVariable(
      new QueryVariableBuilder('site')
        .label('Site')
        .datasource(DATASOURCE)
        .query('label_values(stockgate_movements_count, site)')
        .refresh(VariableRefresh.OnTimeRangeChanged)
        .multi(true)
        .includeAll(true)
        .allValue('.*'),
    );
}

const onHand = `last_over_time(stockgate_stock_on_hand{${SITE}}[30d])`;

export function stockDashboard(): Dashboard {
  return base('stockgate-stock', 'stockgate / Stock', 'On-hand stock per site, SKU and location, from the ledger (stockgate_stock_on_hand)')
    .withPanel(place(new Stat().title('SKUs in stock').unit('none').withTarget(query(`count(sum by (site, sku, uom) (${onHand}) > 0) or vector(0)`, 'SKUs')), 0, 0, 6, 4))
    .withPanel(place(new Stat().title('SKUs at or below zero').unit('none').withTarget(query(`count(sum by (site, sku, uom) (${onHand}) <= 0) or vector(0)`, 'SKUs')), 6, 0, 6, 4))
    .withPanel(place(new Stat().title('Stock series').description('Site x location x SKU x uom series with a balance').withTarget(query(`count(${onHand})`, 'series')), 12, 0, 6, 4))
    .withPanel(place(new Stat().title('Locations').withTarget(query(`count(count by (site, location) (${onHand}))`, 'locations')), 18, 0, 6, 4))
    .withPanel(place(new TimeSeries().title('On hand by SKU').description('Summed over locations; one line per SKU and unit (units are never added across)').withTarget(query(`topk(20, sum by (site, sku, uom) (${onHand}))`, '{{site}} {{sku}} ({{uom}})')), 0, 4, 24, 9))
    .withPanel(place(new Table().title('On hand by location').withTarget(query(`sum by (site, location, sku, uom) (${onHand})`, '', 'A', true)), 0, 13, 24, 10))
    .build();
}

const flow = (field: 'count' | 'qty', extra = '', win = '$__interval') => `stockgate_movements_${field}{${SITE}${extra}}[${win}]`;

export function flowDashboard(): Dashboard {
  return base('stockgate-flow', 'stockgate / Flow', 'Movements through the ledger by kind, project and unit (stockgate_movements_count, _qty)')
    .withPanel(place(new Stat().title('Movements').description('In the time range').withTarget(query(`sum(sum_over_time(${flow('count', '', '$__range')})) or vector(0)`, 'movements')), 0, 0, 8, 4))
    .withPanel(place(new Stat().title('Received (by unit)').withTarget(query(`sum by (uom) (sum_over_time(${flow('qty', ', kind="receive"', '$__range')}))`, '{{uom}}')), 8, 0, 8, 4))
    .withPanel(place(new Stat().title('Issued (by unit)').withTarget(query(`sum by (uom) (sum_over_time(${flow('qty', ', kind="issue"', '$__range')}))`, '{{uom}}')), 16, 0, 8, 4))
    .withPanel(place(new TimeSeries().title('Movements by kind').unit('none').withTarget(query(`sum by (kind) (sum_over_time(${flow('count')}))`, '{{kind}}')), 0, 4, 12, 9))
    .withPanel(place(new TimeSeries().title('Quantity by kind and unit').withTarget(query(`sum by (kind, uom) (sum_over_time(${flow('qty')}))`, '{{kind}} ({{uom}})')), 12, 4, 12, 9))
    .withPanel(place(new BarGauge().title('Movements by site').withTarget(query(`sum by (site) (sum_over_time(${flow('count', '', '$__range')}))`, '{{site}}', 'A', true)), 0, 13, 24, 6))
    .build();
}

export function devicesDashboard(): Dashboard {
  const dev = (field: string) => `stockgate_device_${field}{${SITE}}`;
  return base('stockgate-devices', 'stockgate / Devices', 'Edge telemetry: outbox backlog, device connection, scale weights, reconnects (stockgate_device_*)')
    .withPanel(place(new Stat().title('Edges reporting').withTarget(query(`count(count by (site, edge) (last_over_time(${dev('outbox_backlog')}[15m]))) or vector(0)`, 'edges')), 0, 0, 8, 4))
    .withPanel(place(new Stat().title('Unacked movements at the edges').withTarget(query(`sum(last_over_time(${dev('outbox_backlog')}[15m])) or vector(0)`, 'backlog')), 8, 0, 8, 4))
    .withPanel(place(new Stat().title('Devices disconnected').withTarget(query(`count(last_over_time(${dev('connected')}[15m]) == 0) or vector(0)`, 'devices')), 16, 0, 8, 4))
    .withPanel(place(new TimeSeries().title('Outbox backlog per edge').withTarget(query(`max by (site, edge) (${dev('outbox_backlog')})`, '{{site}}/{{edge}}')), 0, 4, 12, 8))
    .withPanel(place(new TimeSeries().title('Oldest unacked movement age').unit('ms').withTarget(query(`max by (site, edge) (${dev('outbox_oldestAgeMs')})`, '{{site}}/{{edge}}')), 12, 4, 12, 8))
    .withPanel(place(new StateTimeline().title('Device connected').withTarget(query(`min by (site, edge, device) (${dev('connected')})`, '{{edge}}/{{device}}')), 0, 12, 12, 8))
    .withPanel(place(new TimeSeries().title('Scale weight').unit('masskg').withTarget(query(dev('scale_weightKg'), '{{edge}}/{{device}}')), 12, 12, 12, 8))
    .withPanel(place(new TimeSeries().title('Reconnects').withTarget(query(`max by (site, edge, device) (${dev('reconnects')})`, '{{edge}}/{{device}}')), 0, 20, 24, 7))
    .build();
}

export function alertsDashboard(): Dashboard {
  const open = `last_over_time(stockgate_alerts_open{${SITE}}[30d])`;
  return base('stockgate-alerts', 'stockgate / Alerts', 'Which alert types are open where (stockgate_alerts_open: 1 while any alert of the type is open at the site)')
    .withPanel(place(new Stat().title('Alert types open').withTarget(query(`sum(${open}) or vector(0)`, 'open')), 0, 0, 8, 4))
    .withPanel(place(new Stat().title('Sites with an open alert').withTarget(query(`count(max by (site) (${open}) > 0) or vector(0)`, 'sites')), 8, 0, 8, 4))
    .withPanel(place(new Table().title('Open now').withTarget(query(`${open} > 0`, '', 'A', true)), 16, 0, 8, 4))
    .withPanel(place(new StateTimeline().title('Open alerts by site and type').withTarget(query(`max by (site, type) (stockgate_alerts_open{${SITE}})`, '{{site}} {{type}}')), 0, 4, 24, 10))
    .build();
}

export function projectsDashboard(): Dashboard {
  const p = `, project!=""`;
  return base('stockgate-projects', 'stockgate / Projects', 'Material issued and returned per project (stockgate_movements with a project tag)')
    .withPanel(place(new Stat().title('Projects active').withTarget(query(`count(sum by (project) (sum_over_time(${flow('count', p, '$__range')}))) or vector(0)`, 'projects')), 0, 0, 8, 4))
    .withPanel(place(new BarGauge().title('Movements per project').withTarget(query(`sum by (project) (sum_over_time(${flow('count', p, '$__range')}))`, '{{project}}', 'A', true)), 8, 0, 16, 8))
    .withPanel(place(new TimeSeries().title('Issued to projects').withTarget(query(`sum by (project, uom) (sum_over_time(${flow('qty', `${p}, kind="issue"`)}))`, '{{project}} ({{uom}})')), 0, 8, 12, 9))
    .withPanel(place(new TimeSeries().title('Returned from projects').withTarget(query(`sum by (project, uom) (sum_over_time(${flow('qty', `${p}, kind="return"`)}))`, '{{project}} ({{uom}})')), 12, 8, 12, 9))
    .withPanel(place(new Table().title('Net issued per project and unit').description('Issued minus returned in the time range').withTarget(
      query(`sum by (project, uom) (sum_over_time(${flow('qty', `${p}, kind="issue"`, '$__range')})) - (sum by (project, uom) (sum_over_time(${flow('qty', `${p}, kind="return"`, '$__range')})) or sum by (project, uom) (sum_over_time(${flow('qty', `${p}, kind="issue"`, '$__range')})) * 0)`, '', 'A', true),
    ), 0, 17, 24, 8))
    .build();
}

/** file name (without .json) -> dashboard. */
export function allDashboards(): Record<string, Dashboard> {
  return {
    stock: stockDashboard(),
    flow: flowDashboard(),
    devices: devicesDashboard(),
    alerts: alertsDashboard(),
    projects: projectsDashboard(),
  };
}
