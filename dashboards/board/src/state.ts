/**
 * The board's pure state module: stream events -> view state, and the selectors the views use.
 * No DOM, no I/O: unit-tested in tests/dashboards/board-state.test.ts. Payload types come from the
 * shared zod contract (protocols/http/board.ts) as types only, so zod stays out of the bundle.
 */
import type { BoardAlert, BoardCaller, BoardEdge, BoardException, BoardFrame, BoardItem, BoardMovement, BoardSnapshot, BoardStockRow } from '../../../protocols/http/board.js';
import { edgeKey, stockKey } from '../../../protocols/http/board-keys.js';

/** Feed rows kept (newest first). */
export const FEED_MAX = 200;
/** An edge not heard from for this long is shown offline even without its last will, ms. */
export const EDGE_SILENT_MS = 120_000;

export interface BoardState {
  /** Ledger position the state includes. */
  pos: number;
  live: boolean;
  caller?: BoardCaller;
  stock: ReadonlyMap<string, BoardStockRow>;
  /** Newest first. */
  feed: readonly BoardMovement[];
  edges: ReadonlyMap<string, BoardEdge>;
  alerts: readonly BoardAlert[];
  exceptions: readonly BoardException[];
  /** Open exceptions in view (the list holds the newest ones). */
  exceptionsOpen: number;
  items: ReadonlyMap<string, BoardItem>;
  /** Feed rows the server left out of frames (bursts). */
  feedDropped: number;
  frames: number;
  /**
   * Snapshots and frames that carried a movement or stock row of a project: the project panel
   * reads its plan and issued figures again on each (main.tsx), not only every 16 frames or 30 s.
   */
  projectFrames: number;
}

export type BoardEvent =
  | { type: 'snapshot'; data: BoardSnapshot }
  | { type: 'frame'; data: BoardFrame }
  | { type: 'live'; live: boolean }
  | { type: 'alert-acked'; id: string; by: string; at: string }
  | { type: 'exception-resolved'; id: number };

export function initialState(): BoardState {
  return { pos: 0, live: false, stock: new Map(), feed: [], edges: new Map(), alerts: [], exceptions: [], exceptionsOpen: 0, items: new Map(), feedDropped: 0, frames: 0, projectFrames: 0 };
}

/** Apply one event. Frames carry latest values, so applying one twice changes nothing. */
export function reduce(s: BoardState, e: BoardEvent): BoardState {
  switch (e.type) {
    case 'live':
      return { ...s, live: e.live };
    case 'snapshot': {
      const d = e.data;
      return {
        pos: d.pos,
        live: true,
        caller: d.caller,
        stock: new Map(d.stock.map((r) => [stockKey(r), r])),
        feed: dedupeFeed(d.feed).slice(0, FEED_MAX),
        edges: new Map(d.edges.map((x) => [edgeKey(x), x])),
        alerts: d.alerts,
        exceptions: d.exceptions,
        exceptionsOpen: d.exceptionsOpen ?? d.exceptions.length,
        items: new Map(d.items.map((i) => [i.sku, i])),
        feedDropped: 0,
        frames: 0,
        projectFrames: s.projectFrames + 1,
      };
    }
    case 'frame': {
      const f = e.data;
      let stock = s.stock;
      if (f.stock.length) {
        const m = new Map(s.stock);
        for (const r of f.stock) {
          const k = stockKey(r);
          // An unchanged row keeps its object, so the view skips re-rendering it.
          if (!sameRow(m.get(k), r)) m.set(k, r);
        }
        stock = m;
      }
      let edges = s.edges;
      if (f.edges?.length) {
        const m = new Map(s.edges);
        for (const x of f.edges) m.set(edgeKey(x), x);
        edges = m;
      }
      let items = s.items;
      if (f.items?.length) {
        const m = new Map(s.items);
        for (const i of f.items) m.set(i.sku, i);
        items = m;
      }
      // Frame rows are oldest first; the feed is newest first.
      const feed = f.feed.length ? dedupeFeed([...f.feed].reverse().concat(s.feed)).slice(0, FEED_MAX) : s.feed;
      return {
        ...s,
        pos: Math.max(s.pos, f.pos),
        stock,
        edges,
        items,
        feed,
        alerts: f.alerts ?? s.alerts,
        exceptions: f.exceptions ?? s.exceptions,
        exceptionsOpen: f.exceptions ? (f.exceptionsOpen ?? f.exceptions.length) : s.exceptionsOpen,
        feedDropped: s.feedDropped + (f.feedDropped ?? 0),
        frames: s.frames + 1,
        projectFrames: s.projectFrames + (f.feed.some((m) => m.project) || f.stock.some((r) => r.project) ? 1 : 0),
      };
    }
    case 'alert-acked':
      return { ...s, alerts: s.alerts.map((a) => (a.id === e.id ? { ...a, ackedAt: e.at, ackedBy: e.by } : a)) };
    case 'exception-resolved':
      return { ...s, exceptions: s.exceptions.filter((x) => x.id !== e.id), exceptionsOpen: Math.max(0, s.exceptionsOpen - (s.exceptions.some((x) => x.id === e.id) ? 1 : 0)) };
  }
}

function sameRow(a: BoardStockRow | undefined, b: BoardStockRow): boolean {
  return a !== undefined && a.onHand === b.onHand && a.uom === b.uom && a.updatedAt === b.updatedAt && a.expiry === b.expiry && a.state === b.state;
}

/** Newest first by ledger position, each position once. */
function dedupeFeed(rows: readonly BoardMovement[]): BoardMovement[] {
  const seen = new Set<number>();
  const out: BoardMovement[] = [];
  for (const r of [...rows].sort((a, b) => b.pos - a.pos)) {
    if (seen.has(r.pos)) continue;
    seen.add(r.pos);
    out.push(r);
  }
  return out;
}

/** Quantities per unit of measure, summed in integer thousandths; different units are never added. */
export function totalsByUom(rows: Iterable<{ onHand: number; uom: string }>): Array<{ uom: string; qty: number }> {
  const m = new Map<string, number>();
  for (const r of rows) m.set(r.uom, (m.get(r.uom) ?? 0) + Math.round(r.onHand * 1000));
  return [...m].sort((a, b) => a[0].localeCompare(b[0])).map(([uom, milli]) => ({ uom, qty: milli / 1000 }));
}

export interface SiteSummary {
  site: string;
  skus: number;
  locations: number;
  onHand: Array<{ uom: string; qty: number }>;
  alerts: number;
  exceptions: number;
  edgesOnline: number;
  edgesOffline: number;
}

/** One card per site: SKUs, locations, on hand per unit, open alerts/exceptions, edges online/offline. */
export function siteSummaries(s: BoardState, now: number): SiteSummary[] {
  const sites = new Set<string>();
  for (const r of s.stock.values()) sites.add(r.site);
  for (const x of s.edges.values()) sites.add(x.site);
  for (const a of s.alerts) sites.add(a.site);
  return [...sites].sort().map((site) => {
    const rows = [...s.stock.values()].filter((r) => r.site === site && r.onHand !== 0);
    const edges = [...s.edges.values()].filter((x) => x.site === site);
    const offline = edges.filter((x) => isOffline(x, now)).length;
    return {
      site,
      skus: new Set(rows.map((r) => r.sku)).size,
      locations: new Set(rows.map((r) => r.location)).size,
      onHand: totalsByUom(rows),
      alerts: s.alerts.filter((a) => a.site === site).length,
      exceptions: s.exceptions.filter((x) => x.site === site).length,
      edgesOnline: edges.length - offline,
      edgesOffline: offline,
    };
  });
}

export interface StockFilter {
  site?: string;
  /** Matches SKU, item name, location, batch or project (case-insensitive). */
  q?: string;
}

/** Stock rows (per location, batch and project) matching the filter, zero rows left out, sorted. */
export function stockLines(s: BoardState, f: StockFilter): BoardStockRow[] {
  const q = f.q?.trim().toLowerCase() ?? '';
  return [...s.stock.values()]
    .filter((r) => r.onHand !== 0 && (!f.site || r.site === f.site))
    .filter((r) => !q || [r.sku, s.items.get(r.sku)?.name ?? '', r.location, r.batch, r.project].some((v) => v.toLowerCase().includes(q)))
    .sort((a, b) => a.site.localeCompare(b.site) || a.sku.localeCompare(b.sku) || a.location.localeCompare(b.location) || a.batch.localeCompare(b.batch) || a.project.localeCompare(b.project));
}

/** Offline: its status said so (or its last will did), or it has been silent for EDGE_SILENT_MS. */
export function isOffline(e: BoardEdge, now: number): boolean {
  return e.state === 'offline' || now - Date.parse(e.lastSeenAt) > EDGE_SILENT_MS;
}

export interface ProjectSummary {
  project: string;
  site: string;
  onHand: Array<{ uom: string; qty: number }>;
  /** Issued to the project in the feed window, per unit. */
  issued: Array<{ uom: string; qty: number }>;
}

/** Stock held for each project, and what the live feed shows issued to it. */
export function projectSummaries(s: BoardState, site?: string): ProjectSummary[] {
  const keys = new Map<string, { project: string; site: string }>();
  for (const r of s.stock.values()) if (r.project && (!site || r.site === site)) keys.set(`${r.site}\u0000${r.project}`, { project: r.project, site: r.site });
  for (const m of s.feed) if (m.project && (!site || m.site === site)) keys.set(`${m.site}\u0000${m.project}`, { project: m.project, site: m.site });
  return [...keys.values()]
    .sort((a, b) => a.site.localeCompare(b.site) || a.project.localeCompare(b.project))
    .map(({ project, site: st }) => ({
      project,
      site: st,
      onHand: totalsByUom([...s.stock.values()].filter((r) => r.site === st && r.project === project && r.onHand !== 0)),
      issued: totalsByUom(s.feed.filter((m) => m.site === st && m.project === project && m.kind === 'issue' && m.status === 'applied').map((m) => ({ onHand: m.qty, uom: m.uom }))),
    }));
}
