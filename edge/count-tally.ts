import type { MovementDraft } from './outbox/outbox-store.js';
import { addQty } from './item-uom.js';

/** One open line of a count: what was counted so far for one (location, item, batch, project, uom). */
export interface TallyEntry {
  key: string;
  /** The count movement to send (kind `count`): the first scan's item fields, location, uom, context and device. */
  draft: MovementDraft;
  /** Sum of the scans' quantities (exact to 3 decimals). */
  qty: number;
  scans: number;
  /** Serialised identities counted (GS1 serial or EPC), so a unit scanned twice counts once. */
  identities: string[];
  /** The scans' raw text, joined by ` | ` (capped at 4096 characters; `more` counts the rest). */
  raw: string;
  more: number;
  firstAt: number;
  lastAt: number;
}

export type TallyAdd =
  | { ok: true; key: string; label: string; total: number; uom: string; scans: number }
  | { ok: false; code: string; message: string };

/** Bounds of one open count (a session's), so memory and `state.db` stay bounded. */
export const MAX_TALLY_KEYS = 10_000;
export const MAX_TALLY_IDENTITIES = 100_000;
const RAW_MAX = 4096;

/**
 * Count mode's tally (issue 9, C6: count mode accumulates). In `MODE:COUNT` each accepted scan
 * adds its quantity here instead of making a movement; when the count ends (`COUNT:END`, or
 * leaving count mode) every line becomes one `count` movement stating the total.
 *
 * Key: location, item (sku, else GTIN, else EPC), batch, project and uom. The issue names
 * (location, sku, batch); the cloud keeps balances per project too (`balances` primary key), and
 * units are never added across, so both are part of the key as well.
 *
 * A count movement's `ts` is when the count ended (the COUNT:END scan): the tally states what the
 * operator found when they declared the count done. The cloud applies a count as of its `ts`
 * (issue 9, part 6), so with the start time every movement booked at that location while the
 * count was going on would make it a late count (LATE_COUNT exception); with the end time only a
 * count sent late (edge offline) is one.
 *
 * Pure: the agent persists `entries()` in `state.db` so an edge restart mid-count keeps it.
 */
export class CountTally {
  private readonly lines = new Map<string, TallyEntry>();
  private identityCount = 0;
  /** The lines the last `end`/`cancel` took out (moved, not copied), until `takeEnded`. */
  private ended: TallyEntry[] = [];

  get size(): number {
    return this.lines.size;
  }

  add(draft: MovementDraft, at: number): TallyAdd {
    const item = draft.sku ?? draft.gtin ?? draft.epc ?? '';
    const key = JSON.stringify([draft.location, item, draft.batch ?? '', draft.project ?? '', draft.uom]);
    const label = tallyLabel(draft);
    let e = this.lines.get(key);
    const identity = draft.epc ? `epc:${draft.epc}` : draft.serial ? `${item}+${draft.serial}` : undefined;
    if (identity && e?.identities.includes(identity)) {
      return { ok: false, code: 'SG_ERR_COUNT_DUPLICATE', message: `${identity} is already counted in this count (${label}): scan each unit once` };
    }
    if (!e && this.lines.size >= MAX_TALLY_KEYS) {
      return { ok: false, code: 'SG_ERR_COUNT_FULL', message: `the count has ${MAX_TALLY_KEYS} lines: scan COUNT:END, then count the rest` };
    }
    if (identity && this.identityCount >= MAX_TALLY_IDENTITIES) {
      return { ok: false, code: 'SG_ERR_COUNT_FULL', message: `the count has ${MAX_TALLY_IDENTITIES} serialised units: scan COUNT:END, then count the rest` };
    }
    if (!e) {
      const template: MovementDraft = { ...draft, kind: 'count', qty: 0 };
      // One line counts many units: no single unit's serial (an EPC without an item stays its own line).
      delete template.serial;
      if (template.sku || template.gtin) delete template.epc;
      e = { key, draft: template, qty: 0, scans: 0, identities: [], raw: '', more: 0, firstAt: at, lastAt: at };
      this.lines.set(key, e);
    }
    e.qty = addQty(e.qty, draft.qty);
    e.scans++;
    e.lastAt = at;
    if (identity) {
      e.identities.push(identity);
      this.identityCount++;
    }
    const piece = e.raw ? ` | ${draft.raw}` : draft.raw;
    if (e.more === 0 && e.raw.length + piece.length <= RAW_MAX - 64) e.raw += piece;
    else e.more++;
    return { ok: true, key, label, total: e.qty, uom: e.draft.uom, scans: e.scans };
  }

  /** End the count: one count movement per line, stamped `at`; the tally is empty afterwards. */
  end(at: number, endRaw: string): MovementDraft[] {
    const ts = new Date(at).toISOString();
    const out = [...this.lines.values()].map((e) => {
      const raw = `${e.raw}${e.more ? ` | ... ${e.more} more scans` : ''} | ${endRaw}`.slice(0, RAW_MAX);
      return { ...e.draft, kind: 'count' as const, ts, qty: e.qty, raw };
    });
    this.clear();
    return out;
  }

  /** Drop the open count (`COUNT:CANCEL`); returns how many lines were dropped. */
  cancel(): number {
    const n = this.lines.size;
    this.clear();
    return n;
  }

  /** The lines the last `end` or `cancel` removed (to reopen a count the outbox refused, or log a cancel). */
  takeEnded(): TallyEntry[] {
    const out = this.ended;
    this.ended = [];
    return out;
  }

  /** A copy of one line. */
  entry(key: string): TallyEntry | undefined {
    const e = this.lines.get(key);
    return e && structuredClone(e);
  }

  entries(): TallyEntry[] {
    return [...this.lines.values()].map((e) => structuredClone(e));
  }

  /** Put lines back (state.db after a restart, or a count whose movements the outbox refused). Same keys add up. */
  restore(entries: readonly TallyEntry[]): void {
    for (const r of entries) {
      const e = this.lines.get(r.key);
      if (!e) {
        this.lines.set(r.key, structuredClone(r));
        this.identityCount += r.identities.length;
        continue;
      }
      e.qty = addQty(e.qty, r.qty);
      e.scans += r.scans;
      e.identities.push(...r.identities);
      this.identityCount += r.identities.length;
      e.firstAt = Math.min(e.firstAt, r.firstAt);
      e.more += r.scans; // their raw text is not merged into this line's
    }
  }

  private clear(): void {
    this.ended = [...this.ended, ...this.lines.values()];
    this.lines.clear();
    this.identityCount = 0;
  }
}

/** `LOC/SKU[/batch][ @project]` for logs and operator messages. */
export function tallyLabel(d: Pick<MovementDraft, 'location' | 'sku' | 'gtin' | 'epc' | 'batch' | 'project'>): string {
  return `${d.location}/${d.sku ?? d.gtin ?? d.epc}${d.batch ? `/${d.batch}` : ''}${d.project ? ` @${d.project}` : ''}`;
}

/** Where open counts are kept across restarts (`tally-store.ts`: `count_tally` in `state.db`). */
export interface TallyStore {
  /** Open counts by session name (`''` is the edge's default session). */
  load(): Map<string, TallyEntry[]>;
  /** One line changed (a scan added to it). */
  put(session: string, entry: TallyEntry): void;
  /** A session's whole open count (empty after it ended or was cancelled). */
  replace(session: string, entries: readonly TallyEntry[]): void;
}
