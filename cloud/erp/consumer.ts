/**
 * The ERP consumer of the ledger follower: receipts and issues to a project become queued ERP
 * events (one per movement, the movement id as the document number), in the follower's
 * transaction, so a row is queued exactly once.
 */
import type { LedgerConsumer, LedgerEntry, Tx } from '../ledger-follower/index.js';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import { enqueue } from './queue.js';

export function erpConsumer(): LedgerConsumer {
  return {
    name: 'erp',
    async apply(tx: Tx, rows: readonly LedgerEntry[]) {
      for (const r of rows) {
        if (r.status !== 'applied') continue;
        const line = { sku: r.sku, qty: fromMilli(r.baseQty ?? r.qty), location: r.location, ...(r.project ? { project: r.project } : {}), ...(r.stage ? { stage: r.stage } : {}) };
        const date = r.ts.slice(0, 10);
        if (r.kind === 'receive') await enqueue(tx, { kind: 'receipt', docId: r.id, site: r.site, body: { site: r.site, date, ...(r.po ? { po: r.po } : {}), lines: [line] } });
        else if (r.kind === 'issue' && r.project) await enqueue(tx, { kind: 'project-issue', docId: r.id, site: r.site, body: { site: r.site, date, project: r.project, lines: [line] } });
      }
    },
  };
}
