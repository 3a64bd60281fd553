import type { Logger } from 'pino';

/**
 * The demo's business layer (issue 10, "Demo"): one example project with stages and a stage
 * plan, approval bands, a requisition waiting for its approval and an open purchase order, so a
 * newcomer sees the flow on first start. Seeded over the HTTP API (the demo runs --insecure), the
 * way a user would; a cloud without these routes is said once and the demo runs on.
 */
export const DEMO_PROJECT = {
  code: 'P-2026-017',
  name: 'Warehouse extension, Building 3',
  manager: 'pm-li',
  contractRevenue: '1280000.00',
  budget: '1000000.00',
  stages: [
    { code: 'FOUNDATION', name: 'Foundation', needBy: '2027-01-15' },
    { code: 'STRUCTURE', name: 'Structure', needBy: '2027-03-31' },
    { code: 'FITOUT', name: 'Fit-out', needBy: '2027-05-31' },
  ],
} as const;

export interface BusinessSeed {
  project: string;
  requisition?: string;
  purchaseOrder?: string;
}

export async function seedBusiness(apiBase: string, site: string, log: Logger): Promise<BusinessSeed | undefined> {
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const res = await fetch(`${apiBase}${path}`, { method, headers: body === undefined ? {} : { 'content-type': 'application/json' }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, body: parsed };
  };
  const step = async (what: string, method: string, path: string, body?: unknown) => {
    const r = await call(method, path, body);
    if (r.status >= 300) throw new Error(`${what}: ${method} ${path} -> ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
    return r.body;
  };
  try {
    // Standard costs (CNY, decimal strings as on the wire) for the planned value of the stages before anything is received.
    for (const [sku, cost] of [['CEM-42.5-50KG', '33.00'], ['REBAR-HRB400-12', '45.00'], ['PIPE-PPR-DN25', '18.00'], ['CABLE-YJV-3x95', '210.00']] as const) {
      const item = await call('GET', `/api/v1/items/${sku}`);
      if (item.status === 200) await step('standard cost', 'PUT', `/api/v1/items/${sku}`, { ...stripItem(item.body), standardCost: cost });
    }
    await step('supplier', 'PUT', '/api/v1/suppliers/SUP-HUAXIN', { name: 'Huaxin Cement Co.', leadTimeDays: 3 });
    await step('project manager', 'POST', '/api/v1/users', { id: DEMO_PROJECT.manager, name: 'Li Wei (project manager)', roles: ['project-manager'] }).catch(async (err: Error) => {
      // Already there after a restart on the same data dir.
      if (!/-> 409/.test(err.message)) throw err;
    });
    const existing = await call('GET', `/api/v1/projects/${DEMO_PROJECT.code}`);
    if (existing.status === 200) return { project: DEMO_PROJECT.code };
    await step('project', 'POST', '/api/v1/projects', { ...DEMO_PROJECT, site, stages: [...DEMO_PROJECT.stages] });
    await step('BOM', 'PUT', '/api/v1/boms/FOOTING-F1', { name: 'Pad footing F1', lines: [{ sku: 'CEM-42.5-50KG', qtyPer: 12, scrapPct: 2 }, { sku: 'REBAR-HRB400-12', qtyPer: 8 }] });
    await step('plan', 'PUT', `/api/v1/projects/${DEMO_PROJECT.code}/stages/FOUNDATION/plan`, { lines: [{ bom: 'FOOTING-F1', multiplier: 10 }] });
    await step('plan', 'PUT', `/api/v1/projects/${DEMO_PROJECT.code}/stages/STRUCTURE/plan`, { lines: [{ sku: 'PIPE-PPR-DN25', qty: 40 }, { sku: 'CABLE-YJV-3x95', qty: 120 }] });
    await step('approval rules', 'PUT', `/api/v1/sites/${site}/approval-rules`, {
      rules: [
        { docType: 'requisition', minAmount: '0', maxAmount: '5000', steps: ['project-manager'] },
        { docType: 'requisition', minAmount: '5000', maxAmount: '50000', steps: ['project-manager', 'procurement'] },
        { docType: 'requisition', minAmount: '50000', maxAmount: '1000000', steps: ['project-manager', 'procurement', 'finance'] },
      ],
    });
    const req = await step('requisition', 'POST', '/api/v1/requisitions', { kind: 'purchase', project: DEMO_PROJECT.code, stage: 'FOUNDATION', lines: [{ sku: 'CEM-42.5-50KG', qty: 120, unitPrice: '32.00' }], note: 'first pour' });
    await step('submit', 'POST', `/api/v1/requisitions/${req.id as string}/submit`);
    const po = await step('purchase order', 'POST', '/api/v1/purchase-orders', {
      supplier: 'SUP-HUAXIN',
      site,
      expectedAt: '2027-01-08',
      lines: [{ sku: 'REBAR-HRB400-12', qty: 80, unitPrice: '45.00', project: DEMO_PROJECT.code, stage: 'FOUNDATION' }],
    });
    await step('submit purchase order', 'POST', `/api/v1/purchase-orders/${po.id as string}/submit`);
    return { project: DEMO_PROJECT.code, requisition: req.id as string, purchaseOrder: po.id as string };
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'demo: business example not seeded (project, plan, requisition, purchase order)');
    return undefined;
  }
}

/** The writable fields of an item as GET returns it (PUT replaces the record). */
function stripItem(it: Record<string, unknown>): Record<string, unknown> {
  const { sku: _sku, updatedAt: _u, ...rest } = it;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null));
}
