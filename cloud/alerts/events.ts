/**
 * The outgoing event bodies: alert `opened`/`resolved` (webhooks and MQTT) and
 * `movements.applied` (webhooks of role `movements`). One JSON body per event, the same on every
 * channel, carrying its `eventId` for deduplication.
 */
import { topics } from '../../protocols/mqtt/index.js';
import type { LedgerRow } from '../store/store.js';
import { type Alert, type OutgoingEvent, roleOf } from './alert-store.js';

/** Most movements in one `movements.applied` event. */
export const MAX_MOVEMENTS_PER_EVENT = 1000;

export type AlertJson = Omit<Alert, 'key'>;

/** An alert as the API and the events show it (`key` is internal). */
export function alertJson(a: Alert): AlertJson {
  const { key: _key, ...rest } = a;
  return rest;
}

/** `{...alert, event, eventId}` for the alert's role and on `stockgate/v1/{site}/alerts/{type}`. */
export function alertEvent(a: Alert, event: 'opened' | 'resolved', eventId: string): OutgoingEvent {
  return {
    eventId,
    role: roleOf(a.type),
    site: a.site,
    topic: topics.alerts(a.site, a.type),
    body: JSON.stringify({ ...alertJson(a), event, eventId }),
    // Alert channels route on type, site and (when the alert has one) project.
    route: { type: a.type, site: a.site, ...(a.project === undefined ? {} : { project: a.project }) },
  };
}

/** What a `movements.applied` event says about each movement. */
export interface AppliedMovement {
  pos: number;
  id: string;
  edge: string;
  seq: number;
  site: string;
  location: string;
  toLocation?: string;
  kind: LedgerRow['kind'];
  sku: string;
  batch?: string;
  project?: string;
  qty: number;
  uom: string;
  /** What was booked in the item's base unit, when it differs from qty/uom (issue 9). */
  baseQty?: number;
  baseUom?: string;
}

/**
 * `movements.applied` events for ledger rows in ledger order: one per commit (rows sharing
 * `appliedAt`) and site, at most {@link MAX_MOVEMENTS_PER_EVENT} movements each. Rows that did not
 * move stock (`status: exception`) are left out.
 */
export function movementEvents(rows: readonly LedgerRow[], newId: () => string, max = MAX_MOVEMENTS_PER_EVENT): OutgoingEvent[] {
  type Group = { site: string; appliedAt: string; movements: AppliedMovement[]; chain?: { pos: number; hash: string } };
  const groups: Group[] = [];
  const open = new Map<string, Group>();
  for (const r of rows) {
    const k = `${r.appliedAt}\u0000${r.site}`;
    let g = open.get(k);
    // The site's chain head after this row: an outside party can anchor it (issue 9). Exception
    // rows are in the chain too, so they move the head of the event they belong to.
    const chain = r.hash !== undefined ? { pos: r.pos, hash: r.hash } : undefined;
    if (r.status === 'exception') {
      if (g && chain) g.chain = chain;
      continue;
    }
    if (!g || g.movements.length >= max) {
      g = { site: r.site, appliedAt: r.appliedAt, movements: [] };
      groups.push(g);
      open.set(k, g);
    }
    if (chain) g.chain = chain;
    const m: AppliedMovement = { pos: r.pos, id: r.id, edge: r.edge, seq: r.seq, site: r.site, location: r.location, kind: r.kind, sku: r.sku!, qty: r.qty, uom: r.uom };
    if (r.toLocation !== undefined) m.toLocation = r.toLocation;
    if (r.batch !== undefined) m.batch = r.batch;
    if (r.project !== undefined) m.project = r.project;
    if (r.baseQty !== undefined && (r.baseQty !== r.qty || r.baseUom !== r.uom)) (m.baseQty = r.baseQty), (m.baseUom = r.baseUom!);
    g.movements.push(m);
  }
  return groups.map((g) => {
    const eventId = newId();
    return {
      eventId,
      role: 'movements',
      site: g.site,
      body: JSON.stringify({ event: 'movements.applied', eventId, site: g.site, appliedAt: g.appliedAt, movements: g.movements, ...(g.chain ? { chain: g.chain } : {}) }),
    };
  });
}
