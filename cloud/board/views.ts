import type { BoardAttention, BoardHistory } from '../../protocols/http/board.js';
import type { AlertStore } from '../alerts/alert-store.js';
import { attentionOf } from './attention.js';
import type { BoardRepo } from './repo.js';

const DAY_MS = 86_400_000;

export interface AttentionSettings {
  windowDays: number;
  staleDays: number;
  nearExpiryDays: number;
  coverDays: number;
}

export const DEFAULT_ATTENTION: AttentionSettings = { windowDays: 28, staleDays: 60, nearExpiryDays: 30, coverDays: 7 };

/**
 * The attention view of these sites (undefined = all): every (site, sku, uom) with a reason
 * (cloud/board/attention.ts). Balances give on hand, batches and the last change; the ledger gives
 * the issues of the window; the alert store gives the levels.
 */
export async function attentionView(
  repo: BoardRepo,
  alerts: Pick<AlertStore, 'listLevels'> | undefined,
  view: { sites?: readonly string[]; projects?: readonly string[] },
  s: AttentionSettings = DEFAULT_ATTENTION,
  now = new Date(),
): Promise<BoardAttention> {
  const since = new Date(now.getTime() - s.windowDays * DAY_MS).toISOString();
  const sites = view.sites;
  // A project-scoped caller (project manager) sees its projects' stock and issues only.
  const projects = view.projects ? new Set(view.projects) : undefined;
  const [allStock, issued, levels] = await Promise.all([
    repo.stock(sites),
    repo.issuedSince(sites, since, view.projects),
    alerts ? (sites ? Promise.all(sites.map((site) => alerts.listLevels({ site }))).then((l) => l.flat()) : alerts.listLevels()) : Promise.resolve([]),
  ]);
  const stock = projects ? allStock.filter((r) => projects.has(r.project)) : allStock;
  const lines = new Map<string, { site: string; sku: string; uom: string; milli: number; last: string | null; batches: Array<{ location: string; batch: string; expiry: string | null; onHandMilli: number }> }>();
  for (const r of stock) {
    const k = `${r.site}\u0000${r.sku}\u0000${r.uom}`;
    let l = lines.get(k);
    if (!l) lines.set(k, (l = { site: r.site, sku: r.sku, uom: r.uom, milli: 0, last: null, batches: [] }));
    const m = Math.round(r.onHand * 1000);
    l.milli += m;
    if (l.last === null || r.updatedAt > l.last) l.last = r.updatedAt;
    l.batches.push({ location: r.location, batch: r.batch, expiry: r.expiry, onHandMilli: m });
  }
  const issuedBy = new Map(issued.map((i) => [`${i.site}\u0000${i.sku}\u0000${i.uom}`, i.milli]));
  const levelBy = new Map(levels.map((l) => [`${l.site}\u0000${l.sku}`, l]));
  const today = now.toISOString().slice(0, 10);
  const items = [];
  for (const [k, l] of lines) {
    const lv = levelBy.get(`${l.site}\u0000${l.sku}`);
    const row = attentionOf(
      {
        site: l.site,
        sku: l.sku,
        uom: l.uom,
        onHandMilli: l.milli,
        ...(lv?.safetyStock !== undefined ? { safetyStock: lv.safetyStock } : {}),
        ...(lv?.reorderPoint !== undefined ? { reorderPoint: lv.reorderPoint } : {}),
        issuedMilli: issuedBy.get(k) ?? 0,
        lastMovementAt: l.last,
        batches: l.batches,
      },
      { today, windowDays: s.windowDays, staleDays: s.staleDays, nearExpiryDays: lv?.nearExpiryDays ?? s.nearExpiryDays, coverDays: s.coverDays },
    );
    if (row) items.push(row);
  }
  items.sort((a, b) => (a.daysOfCover ?? Infinity) - (b.daysOfCover ?? Infinity) || a.site.localeCompare(b.site) || a.sku.localeCompare(b.sku));
  return { ...s, items };
}

/**
 * A SKU's stock level over time at a site, per unit: from today's balances walked back through
 * its booked ledger rows (newest first; at most `limit`), so the line ends at today's on hand
 * exactly. Site-level effect of a row: receive/return/adjust +, issue -, count its variance,
 * transfer 0 (it stays at the site). Plus the site's movements per hour over the last 24 hours.
 */
export async function historyView(repo: BoardRepo, site: string, sku: string, projects?: readonly string[], now = new Date(), limit = 5000): Promise<BoardHistory> {
  const mine = projects ? new Set(projects) : undefined;
  const [allStock, rows, hours] = await Promise.all([
    repo.stockOf([{ site, sku }]),
    repo.bookings(site, sku, limit, projects),
    repo.perHour(site, new Date(now.getTime() - 24 * 3_600_000).toISOString(), projects),
  ]);
  const stock = mine ? allStock.filter((r) => mine.has(r.project)) : allStock;
  const level = new Map<string, number>();
  for (const r of stock) level.set(r.uom, (level.get(r.uom) ?? 0) + Math.round(r.onHand * 1000));
  const points = new Map<string, Array<[number, number]>>();
  for (const [uom, milli] of level) points.set(uom, [[Math.floor(now.getTime() / 1000), milli / 1000]]);
  for (const r of rows) {
    const cur = level.get(r.uom) ?? 0;
    if (!points.has(r.uom)) points.set(r.uom, [[Math.floor(now.getTime() / 1000), 0]]);
    points.get(r.uom)!.push([Math.floor(Date.parse(r.ts) / 1000), cur / 1000]);
    const effect = r.kind === 'issue' ? -r.milli : r.kind === 'transfer' ? 0 : r.kind === 'count' ? (r.variance ?? 0) : r.milli;
    level.set(r.uom, cur - effect);
  }
  const series = [...points].map(([uom, p]) => ({ uom, points: p.reverse().sort((a, b) => a[0] - b[0]) }));
  const hourStart = Math.floor(now.getTime() / 3_600_000) * 3600;
  const byHour = new Map(hours.map((h) => [Math.floor(Date.parse(`${h.hour}:00:00Z`) / 1000), h.n]));
  const perHour: Array<[number, number]> = [];
  for (let t = hourStart - 23 * 3600; t <= hourStart; t += 3600) perHour.push([t, byHour.get(t) ?? 0]);
  return { site, sku, series, perHour };
}
