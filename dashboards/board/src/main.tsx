import { computed, effect, signal } from '@preact/signals';
import { Component, render } from 'preact';
import { stockKey } from '../../../protocols/http/board-keys.js';
import { useEffect, useState } from 'preact/hooks';
import type { BoardAlert, BoardAttention, BoardCaller, BoardException, BoardHistory, BoardSnapshot, BoardFrame, BoardFrameTrace, BoardStockRow } from '../../../protocols/http/board.js';
import { eventsUrl, getJson, post, siteParam } from './api.js';
import { Chart } from './chart.js';
import { defaultLang, type Key, type Lang, t, tOr } from './i18n.js';
import { type BoardEvent, type BoardState, initialState, isOffline, projectSummaries, reduce, siteSummaries, stockLines, totalsByUom } from './state.js';
import './board.css';

// ---- state (signals around the pure state module) ----
const board = signal<BoardState>(initialState());
const dispatch = (e: BoardEvent) => (board.value = reduce(board.value, e));
const stored = localStorage.getItem('sg-board-lang');
const lang = signal<Lang>(stored === 'en' || stored === 'zh-CN' ? stored : defaultLang(navigator.languages ?? [navigator.language]));
effect(() => {
  localStorage.setItem('sg-board-lang', lang.value);
  document.documentElement.lang = lang.value;
  document.title = t(lang.value, 'title');
});
const site = signal(siteParam ?? '');
const query = signal('');
const selected = signal<{ site: string; sku: string } | undefined>(undefined);
const now = signal(Date.now());
setInterval(() => (now.value = Date.now()), 5000);
const needLogin = signal(false);
/**
 * Stream statistics for tests and the bench: frames, last frame arrival, and the last frames' way
 * through the page (`BoardFrameTrace`; `rendered` is a microtask queued after Preact's own render
 * microtask).
 */
type FrameTrace = BoardFrameTrace;
const w = window as unknown as { __board: { frames: number; lastFrameAt: number; pos: number; snapshots: number; trace: FrameTrace[] } };
w.__board = { frames: 0, lastFrameAt: 0, pos: 0, snapshots: 0, trace: [] };
/** Frames traced (a minute of frames at 4 per second). */
const TRACE_MAX = 240;
const wallMs = () => performance.timeOrigin + performance.now();

const tr = (key: Key, vars?: Record<string, string | number>) => t(lang.value, key, vars);
/** A count's noun: `1 alert`, `2 alerts` (the `.one` entries). */
const trN = (n: number, key: Key) => (n === 1 ? tOr(lang.value, `${key}.one`, tr(key)) : tr(key));
const num = computed(() => new Intl.NumberFormat(lang.value, { maximumFractionDigits: 3 }));
// One formatter per language: `toLocaleTimeString` builds a new Intl formatter per call, which was
// the page's biggest cost per frame (tens of ms for a 300-row table; bench `board` page profile).
const timeFmt = computed(() => new Intl.DateTimeFormat(lang.value, { hour: '2-digit', minute: '2-digit', second: '2-digit' }));
const dateFmt = computed(() => new Intl.DateTimeFormat(lang.value));
const relFmt = computed(() => new Intl.RelativeTimeFormat(lang.value, { numeric: 'auto' }));
const fmtQty = (q: number) => num.value.format(q);
const fmtTime = (iso: string) => timeFmt.value.format(new Date(iso));
const fmtDate = (iso: string) => dateFmt.value.format(new Date(iso));
function ago(iso: string | undefined): string {
  if (!iso) return '—';
  // Never in the future: `now` ticks every 5 s, a fresh event may carry a later time.
  const s = Math.min(0, Math.round((Date.parse(iso) - now.value) / 1000));
  const rtf = relFmt.value;
  const a = Math.abs(s);
  return a < 60 ? rtf.format(s, 'second') : a < 3600 ? rtf.format(Math.round(s / 60), 'minute') : a < 86400 ? rtf.format(Math.round(s / 3600), 'hour') : rtf.format(Math.round(s / 86400), 'day');
}
const perUom = (xs: Array<{ uom: string; qty: number }>) => (xs.length ? xs.map((x) => `${fmtQty(x.qty)} ${x.uom}`).join(' · ') : '0');

// ---- the stream ----
let es: EventSource | undefined;
function connect(): void {
  es?.close();
  const s = new EventSource(eventsUrl(site.value || undefined));
  es = s;
  s.addEventListener('open', () => dispatch({ type: 'live', live: true }));
  s.addEventListener('error', () => dispatch({ type: 'live', live: false }));
  s.addEventListener('snapshot', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as BoardSnapshot;
    w.__board.snapshots++;
    w.__board.pos = data.pos;
    dispatch({ type: 'snapshot', data });
  });
  s.addEventListener('frame', (e) => {
    const recv = wallMs();
    const raw = (e as MessageEvent<string>).data;
    const data = JSON.parse(raw) as BoardFrame;
    dispatch({ type: 'frame', data });
    const t: FrameTrace = { pos: data.pos, bytes: raw.length, ...(data.timing ? { timing: data.timing } : {}), recv, reduced: wallMs() };
    const trace = w.__board.trace;
    trace.push(t);
    if (trace.length > TRACE_MAX) trace.splice(0, trace.length - TRACE_MAX);
    // Preact renders in a microtask queued by the signal write above; this one runs after it.
    queueMicrotask(() => {
      t.rendered = wallMs();
      requestAnimationFrame(() => (t.painted = wallMs()));
    });
    w.__board.frames++;
    w.__board.lastFrameAt = performance.now();
    w.__board.pos = data.pos;
  });
  // The server dropped this stream's queue: a new stream (no Last-Event-ID) brings a snapshot.
  s.addEventListener('resync', () => connect());
}

async function start(): Promise<void> {
  try {
    await getJson<BoardCaller>('/board/api/me');
  } catch (err) {
    if ((err as { status?: number }).status === 401) {
      needLogin.value = true;
      return;
    }
  }
  connect();
}

// ---- views ----
function Header() {
  const s = board.value;
  const sites = [...new Set([...s.stock.values()].map((r) => r.site).concat([...s.edges.values()].map((e) => e.site)))].sort();
  return (
    <header>
      <h1>{tr('title')}</h1>
      <div class="controls">
        <span id="conn" class={s.live ? 'conn on' : 'conn off'}>{s.live ? tr('live') : tr('reconnecting')}</span>
        <label class="site-pick">
          <span class="sr">{tr('site')}</span>
          <select
            id="site"
            value={site.value}
            onChange={(e) => {
              site.value = (e.target as HTMLSelectElement).value;
              connect();
            }}
          >
            <option value="">{tr('allSites')}</option>
            {[...new Set([...sites, site.value].filter(Boolean))].map((x) => (
              <option value={x}>{x}</option>
            ))}
          </select>
        </label>
        <div class="lang" role="group" aria-label="language">
          <button id="lang-zh" aria-pressed={lang.value === 'zh-CN'} onClick={() => (lang.value = 'zh-CN')}>
            中文
          </button>
          <button id="lang-en" aria-pressed={lang.value === 'en'} onClick={() => (lang.value = 'en')}>
            English
          </button>
        </div>
      </div>
    </header>
  );
}

function Sites() {
  const list = siteSummaries(board.value, now.value).filter((x) => !site.value || x.site === site.value);
  return (
    <section id="sites" class="panel wide">
      <h2>{tr('sitesOverview')}</h2>
      <div class="cards">
        {list.map((x) => (
          <div class="card" data-site={x.site}>
            <div class="card-title">{x.site}</div>
            <div class="big">{perUom(x.onHand)}</div>
            <div class="muted">
              {x.skus} {trN(x.skus, 'skus')} · {x.locations} {trN(x.locations, 'locations')}
            </div>
            <div class="muted">
              <span class={x.alerts ? 'bad' : ''}>{x.alerts} {trN(x.alerts, 'openAlerts')}</span> · <span class={x.exceptions ? 'bad' : ''}>{x.exceptions} {trN(x.exceptions, 'openExceptions')}</span> ·{' '}
              {x.edgesOnline} {trN(x.edgesOnline, 'edgesOnline')}
              {x.edgesOffline ? <span class="bad"> · {x.edgesOffline} {tr('edgesOffline')}</span> : null}
            </div>
          </div>
        ))}
      </div>
    </section>
  );
}

function StockTable() {
  const s = board.value;
  const rows = stockLines(s, { site: site.value, q: query.value });
  const shown = rows.slice(0, 300);
  return (
    <section id="stock-panel" class="panel wide">
      <h2>
        {tr('stock')} <span class="muted small">{rows.length} {trN(rows.length, 'rows')} · {perUom(totalsByUom(rows))}</span>
      </h2>
      <input id="search" type="search" placeholder={tr('search')} aria-label={tr('search')} value={query.value} onInput={(e) => (query.value = (e.target as HTMLInputElement).value)} />
      <table id="stock" class="cards-on-phone">
        <thead>
          <tr>
            <th>{tr('site')}</th>
            <th>{tr('sku')}</th>
            <th>{tr('item')}</th>
            <th>{tr('location')}</th>
            <th>{tr('batch')}</th>
            <th>{tr('project')}</th>
            <th class="num">{tr('onHand')}</th>
            <th>{tr('uom')}</th>
            <th>{tr('expiry')}</th>
            <th>{tr('updated')}</th>
          </tr>
        </thead>
        <tbody>
          {shown.map((r: BoardStockRow) => (
            <StockRow key={stockKey(r)} r={r} name={s.items.get(r.sku)?.name ?? ''} sel={selected.value?.sku === r.sku && selected.value.site === r.site} lang={lang.value} />
          ))}
        </tbody>
      </table>
      {rows.length === 0 ? <p class="empty">{tr('noStock')}</p> : null}
    </section>
  );
}

interface StockRowProps {
  r: BoardStockRow;
  name: string;
  sel: boolean;
  lang: Lang;
}

/**
 * One stock line. Keyed by its stock key and re-rendered only when its row, name, selection or
 * language changed: a frame every 250 ms touches a few rows of a 300-row table, and re-rendering
 * all of them was most of the page's time per frame (bench `board`, issue 12).
 */
class StockRow extends Component<StockRowProps> {
  override shouldComponentUpdate(n: StockRowProps): boolean {
    const p = this.props;
    return n.r !== p.r || n.name !== p.name || n.sel !== p.sel || n.lang !== p.lang;
  }

  override render({ r, name, sel }: StockRowProps) {
    return (
      <tr data-sku={r.sku} data-site={r.site} data-location={r.location} class={sel ? 'sel' : ''} onClick={() => (selected.value = { site: r.site, sku: r.sku })}>
        <td data-label={tr('site')}>{r.site}</td>
        <td data-label={tr('sku')} class="mono">{r.sku}</td>
        <td data-label={tr('item')} class="name">{name}</td>
        <td data-label={tr('location')}>{r.location}</td>
        <td data-label={tr('batch')}>{r.batch || '—'}</td>
        <td data-label={tr('project')}>{r.project || '—'}</td>
        <td data-label={tr('onHand')} class={`num onhand${r.onHand < 0 ? ' bad' : ''}`}>{fmtQty(r.onHand)}</td>
        <td data-label={tr('uom')}>{r.uom}</td>
        <td data-label={tr('expiry')} class={r.state === 'expired' ? 'bad' : ''}>
          {r.expiry ? `${r.expiry}${r.state === 'expired' ? ` (${tr('expired')})` : ''}` : '—'}
        </td>
        <td data-label={tr('updated')}>{fmtTime(r.updatedAt)}</td>
      </tr>
    );
  }
}

function Attention() {
  const [data, setData] = useState<BoardAttention | undefined>(undefined);
  const s = board.value;
  useEffect(() => {
    const id = setTimeout(() => {
      getJson<BoardAttention>(`/board/api/attention${site.value ? `?site=${encodeURIComponent(site.value)}` : ''}`).then(setData, () => undefined);
    }, 300);
    return () => clearTimeout(id);
  }, [s.alerts.length, s.exceptions.length, site.value, Math.floor(now.value / 15_000)]);
  return (
    <section id="attention" class="panel">
      <h2>{tr('attention')}</h2>
      {data ? <p class="muted small">{tr('attentionWindow', { days: data.windowDays, stale: data.staleDays })}</p> : <p class="muted">{tr('loading')}</p>}
      {data && data.items.length === 0 ? <p class="empty">{tr('nothingNeedsAttention')}</p> : null}
      <ul class="list">
        {data?.items.slice(0, 50).map((a) => (
          <li data-sku={a.sku} data-site={a.site}>
            <div class="row-title">
              <span class="mono">{a.sku}</span> <span class="name">{board.value.items.get(a.sku)?.name ?? ''}</span> <span class="muted">{a.site}</span>
            </div>
            <div class="tags">
              {a.reasons.map((r) => (
                <span class={`tag ${r}`}>{tr(`reason.${r}` as Key)}</span>
              ))}
            </div>
            <div class="muted small">
              {tr('onHand')} {fmtQty(a.onHand)} {a.uom} · {tr('avgDailyIssue')} {fmtQty(a.avgDailyIssue)} · {tr('daysOfCover')} <b class="cover">{a.daysOfCover === null ? '—' : fmtQty(a.daysOfCover)}</b> · {tr('stockoutDate')}{' '}
              <b>{a.stockoutDate ? fmtDate(a.stockoutDate) : '—'}</b>
              {a.expiring.map((b) => (
                <div>
                  {tr('batch')} {b.batch || '—'} @ {b.location}: {fmtQty(b.onHand)} {a.uom}, {tr('expiry')} {b.expiry}
                </div>
              ))}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

function AlertsPanel() {
  const s = board.value;
  const caller = s.caller;
  const alerts = s.alerts.filter((a) => !site.value || a.site === site.value);
  const exceptions = s.exceptions.filter((x) => !site.value || x.site === site.value);
  const ack = async (a: BoardAlert) => {
    const r = await post(`/api/v1/alerts/${encodeURIComponent(a.id)}/ack`, {});
    if (r.ok) {
      const j = (await r.json()) as { ackedAt: string; ackedBy: string };
      dispatch({ type: 'alert-acked', id: a.id, at: j.ackedAt, by: j.ackedBy });
    }
  };
  const resolve = async (x: BoardException) => {
    const r = await post(`/api/v1/exceptions/${x.id}/resolve`, { resolution: t(lang.value, 'resolution') });
    if (r.ok) dispatch({ type: 'exception-resolved', id: x.id });
  };
  return (
    <section id="alerts" class="panel">
      <h2>{tr('alertsAndExceptions')}</h2>
      {alerts.length + exceptions.length === 0 ? <p class="empty">{tr('noAlerts')}</p> : null}
      {s.exceptionsOpen > s.exceptions.length ? <p class="muted small">{tr('moreExceptions', { shown: s.exceptions.length, open: s.exceptionsOpen })}</p> : null}
      <ul class="list">
        {alerts.map((a) => (
          <li key={a.id} class="alert" data-alert={a.id} data-type={a.type}>
            <div class="row-title">
              <span class="tag bad" title={a.type}>
                {tOr(lang.value, `alert.${a.type}`, a.type)}
              </span>{' '}
              {a.sku ?? a.edge ?? ''} {a.device ? `/ ${a.device}` : ''} {a.batch ? <span class="muted">{tr('batch')} {a.batch}</span> : null}{' '}
              {a.project ? <span class="project-tag">{tr('project')} {a.project}</span> : null} <span class="muted">{a.site}</span>
            </div>
            <div class="muted small">
              {a.value !== undefined ? `${tr('value', { value: fmtQty(a.value), threshold: a.threshold === undefined ? '—' : fmtQty(a.threshold) })} · ` : null}
              {tr('raised')} {ago(a.raisedAt)}
              {a.ackedBy ? <span class="acked"> · {tr('acknowledged', { by: a.ackedBy })}</span> : null}
            </div>
            {caller?.canAck && !a.ackedAt ? (
              <button class="ack" onClick={() => void ack(a)}>
                {tr('acknowledge')}
              </button>
            ) : null}
          </li>
        ))}
        {exceptions.map((x) => (
          <li key={x.id} class="exception" data-exception={x.id}>
            <div class="row-title">
              <span class="tag warn" data-code={x.type} title={x.type}>
                {tOr(lang.value, `exc.${x.type}`, x.type)}
              </span>{' '}
              <span class="mono">{x.sku}</span> <span class="muted">{x.site} · {x.location}</span>
            </div>
            {/* The cloud's message is English: shown in English, kept as a tooltip otherwise. */}
            <div class="muted small" title={x.message}>
              {lang.value === 'en' ? x.message : `${tr('raised')} ${ago(x.raisedAt)}`}
            </div>
            {caller?.canResolve ? (
              <button class="resolve" onClick={() => void resolve(x)}>
                {tr('resolve')}
              </button>
            ) : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

function Devices() {
  const edges = [...board.value.edges.values()].filter((e) => !site.value || e.site === site.value).sort((a, b) => a.site.localeCompare(b.site) || a.edge.localeCompare(b.edge));
  return (
    <section id="devices" class="panel">
      <h2>{tr('devices')}</h2>
      {edges.length === 0 ? <p class="empty">{tr('noEdges')}</p> : null}
      <ul class="list">
        {edges.map((e) => {
          const off = isOffline(e, now.value);
          return (
            <li class={off ? 'edge offline' : 'edge'} data-edge={e.edge} data-site={e.site}>
              <div class="row-title">
                <span class={off ? 'dot off' : 'dot on'} /> <b>{e.edge}</b> <span class="muted">{e.site}</span> <span class="state">{off ? tr('offline') : tr('online')}</span>
              </div>
              <div class="muted small">
                {tr('lastSeen', { ago: ago(e.lastSeenAt) })}
                {e.backlog !== undefined ? ` · ${tr('backlog')} ${e.backlog}` : ''}
              </div>
              {e.devices.map((d) => (
                <div class="small device">
                  {d.id} <span class="muted">({d.type})</span> · {tOr(lang.value, `dev.${d.state}`, d.state)} · {tr('lastFrame', { ago: ago(d.lastFrameAt) })}
                  {d.reconnects !== undefined ? ` · ${tr('reconnects')} ${d.reconnects}` : ''}
                  {d.driftKg !== undefined ? ` · ${tr('drift')} ${fmtQty(d.driftKg)} kg` : ''}
                </div>
              ))}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function Feed() {
  const s = board.value;
  const rows = s.feed.filter((m) => !site.value || m.site === site.value).slice(0, 60);
  return (
    <section id="feed" class="panel">
      <h2>{tr('feed')}</h2>
      {rows.length === 0 ? <p class="empty">{tr('noMovements')}</p> : null}
      {s.feedDropped ? <p class="muted small">{tr('dropped', { n: s.feedDropped })}</p> : null}
      <ul class="list feed">
        {rows.map((m) => (
          <li key={m.pos} data-pos={m.pos} class={m.status === 'exception' ? 'exc' : ''}>
            <div class="row-title">
              <span class={`tag kind-${m.kind}`}>{tr(`kind.${m.kind}` as Key)}</span> <b>{fmtQty(m.qty)} {m.uom}</b> <span class="mono">{m.sku}</span> <span class="name">{s.items.get(m.sku)?.name ?? ''}</span>
            </div>
            <div class="muted small">
              {fmtTime(m.ts)} · {m.site}/{m.location}
              {m.toLocation ? ` → ${m.toLocation}` : ''} · {tr('operator')} {m.operator ?? '—'} · {tr('crew')} {m.crew ?? '—'} · {tr('project')} {m.project ?? '—'} · {tr('device')} {m.edge}/{m.device.id}
            </div>
          </li>
        ))}
      </ul>
    </section>
  );
}

/** Plan vs issued vs cost per stage from the project APIs (cloud/projects, cloud/costing), with shortages against the site's stock. */
interface ApiProject {
  code: string;
  name: string;
  site: string;
  stages: Array<{ code: string }>;
}
interface PlanLine {
  sku: string;
  /** The item master's unit (absent for an item the master does not know). */
  uom?: string;
  planned: number;
  issued: number;
  remaining: number;
}
interface StageRow {
  stage: string;
  /** Per unit of measure: a stage plans bags, tonnes and pieces, never added together (issue 9). */
  planned: Array<{ uom: string; qty: number }>;
  issued: Array<{ uom: string; qty: number }>;
  lines: PlanLine[];
  cost?: string;
}

/** A stage's plan lines totalled per unit (thousandths, exact); a line of an unknown item counts under its SKU. */
function byUom(lines: PlanLine[], qty: (l: PlanLine) => number): Array<{ uom: string; qty: number }> {
  const m = new Map<string, number>();
  for (const l of lines) {
    const u = l.uom ?? l.sku;
    m.set(u, (m.get(u) ?? 0) + Math.round(qty(l) * 1000));
  }
  return [...m].map(([uom, milli]) => ({ uom, qty: milli / 1000 }));
}

function ProjectStages() {
  const s = board.value;
  const [rows, setRows] = useState<Array<{ p: ApiProject; stages: StageRow[]; total?: string }> | undefined>(undefined);
  useEffect(() => {
    let gone = false;
    const id = setTimeout(async () => {
      try {
        const list = await getJson<{ items: ApiProject[] }>(`/api/v1/projects${site.value ? `?site=${encodeURIComponent(site.value)}` : ''}`);
        const out = [];
        for (const p of list.items.slice(0, 8)) {
          // Cost figures only for callers who may see them (finance, the project's manager): else absent.
          const report = await getJson<{ cost?: { total: string }; stages: Array<{ stage: string; actualMaterial?: string }> }>(`/api/v1/projects/${encodeURIComponent(p.code)}/cost-report`).catch(() => undefined);
          const stages: StageRow[] = [];
          for (const st of p.stages) {
            const plan = await getJson<{ lines: PlanLine[] }>(`/api/v1/projects/${encodeURIComponent(p.code)}/stages/${encodeURIComponent(st.code)}/plan`).catch(() => ({ lines: [] as PlanLine[] }));
            const cost = report?.stages.find((x) => x.stage === st.code)?.actualMaterial;
            stages.push({
              stage: st.code,
              planned: byUom(plan.lines, (l) => l.planned),
              issued: byUom(plan.lines, (l) => l.issued),
              lines: plan.lines,
              ...(cost !== undefined ? { cost } : {}),
            });
          }
          out.push({ p, stages, ...(report?.cost ? { total: report.cost.total } : {}) });
        }
        if (!gone) setRows(out);
      } catch {
        if (!gone) setRows([]);
      }
    }, 400);
    return () => {
      gone = true;
      clearTimeout(id);
    };
  // Again when a project's movement arrives (its stage figures change once the ledger follower
  // has applied it, well within the 400 ms), and every 16 frames or 30 s for anything else.
  }, [site.value, s.projectFrames, Math.floor(s.frames / 16), Math.floor(now.value / 30_000)]);
  if (!rows || rows.length === 0) return null;
  // What the site holds of a SKU (all units of its base unit rows; plans are in the base unit).
  const held = (st: string, sku: string) => [...s.stock.values()].filter((r) => r.site === st && r.sku === sku).reduce((n, r) => n + Math.round(r.onHand * 1000), 0) / 1000;
  return (
    <div class="project-stages">
      {rows.map(({ p, stages, total }) => (
        <div class="project" data-project-code={p.code}>
          <h3>
            {p.code} · {p.name} <span class="muted">{p.site}</span>
            {total !== undefined ? <span class="muted"> · {tr('cost')} {total}</span> : null}
          </h3>
          <table class="cards-on-phone">
            <thead>
              <tr>
                <th>{tr('stage')}</th>
                <th class="num">{tr('planned')}</th>
                <th class="num">{tr('issued')}</th>
                <th class="num">{tr('cost')}</th>
                <th>{tr('shortages')}</th>
              </tr>
            </thead>
            <tbody>
              {stages.map((st) => {
                const short = st.lines.map((l) => ({ sku: l.sku, qty: Math.round((l.remaining - Math.max(0, held(p.site, l.sku))) * 1000) / 1000 })).filter((x) => x.qty > 0);
                return (
                  <tr data-stage={st.stage}>
                    <td data-label={tr('stage')}>{st.stage}</td>
                    <td data-label={tr('planned')} class="num">{perUom(st.planned)}</td>
                    <td data-label={tr('issued')} class="num">{perUom(st.issued)}</td>
                    <td data-label={tr('cost')} class="num">{st.cost ?? '—'}</td>
                    <td data-label={tr('shortages')} class={short.length ? 'bad' : ''}>{short.length ? short.map((x) => `${x.sku} ${fmtQty(x.qty)}`).join(', ') : '—'}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      ))}
    </div>
  );
}

function Projects() {
  const list = projectSummaries(board.value, site.value || undefined);
  return (
    <section id="projects" class="panel">
      <h2>{tr('projects')}</h2>
      <ProjectStages />
      <p class="muted small">{tr('projectsNote')}</p>
      {list.length === 0 ? <p class="empty">{tr('noProjects')}</p> : null}
      <table class="cards-on-phone">
        <thead>
          <tr>
            <th>{tr('project')}</th>
            <th>{tr('site')}</th>
            <th>{tr('onHand')}</th>
            <th>{tr('issued')}</th>
          </tr>
        </thead>
        <tbody>
          {list.map((p) => (
            <tr data-project={p.project}>
              <td data-label={tr('project')}>{p.project}</td>
              <td data-label={tr('site')}>{p.site}</td>
              <td data-label={tr('onHand')}>{perUom(p.onHand)}</td>
              <td data-label={tr('issued')}>{perUom(p.issued)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

function Charts() {
  const sel = selected.value;
  const [h, setH] = useState<BoardHistory | undefined>(undefined);
  const pos = board.value.pos;
  useEffect(() => {
    if (!sel) return;
    const id = setTimeout(() => {
      getJson<BoardHistory>(`/board/api/history?site=${encodeURIComponent(sel.site)}&sku=${encodeURIComponent(sel.sku)}`).then(setH, () => undefined);
    }, 250);
    return () => clearTimeout(id);
  }, [sel?.site, sel?.sku, Math.floor(pos / 20)]);
  return (
    <section id="charts" class="panel wide">
      <h2>{tr('charts')}</h2>
      {!sel || !h ? <p class="muted">{tr('chooseSku')}</p> : null}
      {sel && h ? (
        <div class="chart-grid">
          {h.series.map((s) => (
            <div>
              <h3>
                {tr('stockLevel', { sku: sel.sku })} ({s.uom})
              </h3>
              <Chart lang={lang.value} timeLabel={tr('time')} label={tr('stockLevel', { sku: sel.sku })} data={[s.points.map((p) => p[0]), s.points.map((p) => p[1])]} series={[{}, { label: s.uom, stroke: '#2f7ed8', fill: 'rgba(47,126,216,0.12)' }]} />
            </div>
          ))}
          <div>
            <h3>{tr('movementsPerHour')}</h3>
            <Chart bars lang={lang.value} timeLabel={tr('time')} label={tr('movementsPerHour')} data={[h.perHour.map((p) => p[0]), h.perHour.map((p) => p[1])]} series={[{}, { label: '#', stroke: '#e67e22', fill: 'rgba(230,126,34,0.5)' }]} />
          </div>
        </div>
      ) : null}
    </section>
  );
}

function Login() {
  const [tok, setTok] = useState('');
  const [failed, setFailed] = useState(false);
  return (
    <main class="login">
      <form
        id="login"
        class="panel"
        onSubmit={async (e) => {
          e.preventDefault();
          const r = await post('/board/login', { token: tok });
          if (r.ok) location.reload();
          else setFailed(true);
        }}
      >
        <h2>{tr('login')}</h2>
        <p class="muted">{tr('loginHelp')}</p>
        <input name="token" type="password" aria-label={tr('token')} placeholder={tr('token')} value={tok} onInput={(e) => setTok((e.target as HTMLInputElement).value)} />
        <button type="submit">{tr('login')}</button>
        {failed ? <p class="bad">{tr('loginFailed')}</p> : null}
      </form>
    </main>
  );
}

function App() {
  if (needLogin.value) {
    return (
      <>
        <Header />
        <Login />
      </>
    );
  }
  return (
    <>
      <Header />
      <main class="grid">
        <Sites />
        <Attention />
        <AlertsPanel />
        <Devices />
        <StockTable />
        <Feed />
        <Projects />
        <Charts />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
void start();
