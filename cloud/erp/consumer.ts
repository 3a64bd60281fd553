/**
 * The ERP consumer of the ledger follower: receipts and issues to a project become queued ERP
 * events (one per movement, the movement id as the document number), in the follower's
 * transaction, so a row is queued exactly once.
 */
import type { LedgerConsumer, LedgerEntry, Tx } from '../ledger-follower/index.js';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import { enqueueMany } from './queue.js';

export function erpConsumer(): LedgerConsumer {
  return {
    name: 'erp',
    async apply(tx: Tx, rows: readonly LedgerEntry[]) {
      const events: Parameters<typeof enqueueMany>[1][number][] = [];
      for (const r of rows) {
        if (r.status !== 'applied') continue;
        if (r.kind !== 'receive' && !(r.kind === 'issue' && r.project)) continue;
        const line = { sku: r.sku, qty: fromMilli(r.baseQty ?? r.qty), location: r.location, ...(r.project ? { project: r.project } : {}), ...(r.stage ? { stage: r.stage } : {}) };
        const date = r.ts.slice(0, 10);
        if (r.kind === 'receive') events.push({ kind: 'receipt', docId: r.id, site: r.site, body: { site: r.site, date, ...(r.po ? { po: r.po } : {}), lines: [line] } });
        else events.push({ kind: 'project-issue', docId: r.id, site: r.site, body: { site: r.site, date, project: r.project, lines: [line] } });
      }
      // One multi-row insert per 100 events, in ledger order (the follower holds the connection).
      await enqueueMany(tx, events);
    },
  };
}
