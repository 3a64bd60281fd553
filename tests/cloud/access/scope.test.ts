import { describe, expect, it } from 'vitest';
import { COST_FIELDS, LANDED_COST_FIELDS, redactCost, Scope } from '../../../cloud/access/index.js';
import { ROLES, type Role } from '../../../cloud/auth/auth.js';

const as = (roles: Role[], o: { sites?: string[]; user?: string } = {}, managed: string[] = []) => Scope.of({ subject: 't', roles, ...o }, managed);

describe('Scope: projects and cost visibility (issue 10 §5)', () => {
  it('a caller whose only role is project-manager sees its projects only; others see every project of their sites', () => {
    const pm = as(['project-manager'], { user: 'pm-a' }, ['A', 'A2']);
    expect(pm.allowsProject('A')).toBe(true);
    expect(pm.allowsProject('B')).toBe(false);
    expect(pm.allowsProject(undefined)).toBe(false);
    expect(pm.projectFilter()).toEqual(['A', 'A2']);
    expect(pm.manages('A')).toBe(true);
    const sm = as(['site-manager'], { sites: ['s1'] });
    expect(sm.allowsProject('B', 's1')).toBe(true);
    expect(sm.allowsProject('B', 's2')).toBe(false);
    expect(sm.projectFilter()).toBeUndefined();
    // A PM with another role is not narrowed to its projects, but still manages them.
    const both = as(['project-manager', 'site-manager'], {}, ['A']);
    expect(both.projectFilter()).toBeUndefined();
    expect(both.manages('A')).toBe(true);
    expect(Scope.none().allowsProject('A')).toBe(false);
  });

  it('every role x cost context: admin and finance all, procurement purchasing, the manager its project, others nothing', () => {
    const ctxs = [{ kind: 'purchasing' as const }, { kind: 'purchasing' as const, project: 'A' }, { kind: 'project' as const, project: 'A' }, { kind: 'project' as const, project: 'B' }, { kind: 'inventory' as const }];
    const got: Record<string, boolean[]> = {};
    for (const r of ROLES) got[r] = ctxs.map((c) => as([r], {}, r === 'project-manager' ? ['A'] : []).seesCost(c));
    expect(got).toEqual({
      admin: [true, true, true, true, true],
      finance: [true, true, true, true, true],
      procurement: [true, true, false, false, false],
      'project-manager': [false, true, true, false, false],
      'site-manager': [false, false, false, false, false],
      operator: [false, false, false, false, false],
      maintenance: [false, false, false, false, false],
    });
  });

  it('redactCost omits every cost field at any depth (never zeroes), keeps the rest, and takes a per-element context', () => {
    const doc = { id: 'R1', amount: '4140.00', note: 'n', lines: [{ sku: 'C', qty: 1, unitPrice: '32.00', value: '0.00' }], nested: { margin: '1', marginPct: '50.50', keep: 0 } };
    const op = as(['operator']);
    const out = redactCost(doc, op, { kind: 'purchasing' });
    expect(out).toEqual({ id: 'R1', note: 'n', lines: [{ sku: 'C', qty: 1 }], nested: { keep: 0 } });
    expect(JSON.stringify(out)).not.toMatch(/amount|unitPrice|value|margin/);
    expect(doc.amount).toBe('4140.00'); // not mutated
    expect(redactCost(doc, as(['finance']), { kind: 'inventory' })).toBe(doc);
    const pm = as(['project-manager'], {}, ['A']);
    const list = [{ code: 'A', contractRevenue: '1.00', budget: '2.00' }, { code: 'B', contractRevenue: '3.00' }];
    expect(redactCost(list, pm, (p: { code: string }) => ({ kind: 'project', project: p.code }))).toEqual([{ code: 'A', contractRevenue: '1.00', budget: '2.00' }, { code: 'B' }]);
    // The list, plus the other money fields of business answers (a cost report's stages, a landed cost's split).
    expect([...COST_FIELDS].sort()).toEqual(['actualMaterial', 'amount', 'averageCost', 'budget', 'contractRevenue', 'cost', 'margin', 'marginPct', 'plannedValue', 'standardCost', 'toStock', 'unitCost', 'unitPrice', 'value']);
  });

  it('a cost report redacted for a caller who may not see it keeps the stage names only; a landed cost loses its split with LANDED_COST_FIELDS', () => {
    const report = { contractRevenue: '20000.00', cost: { material: '4140.00', total: '9900.00' }, margin: '10100.00', marginPct: '50.50', stages: [{ stage: 'S1', plannedValue: '5040.00', actualMaterial: '4140.00' }] };
    expect(redactCost(report, as(['site-manager']), { kind: 'project', project: 'A' })).toEqual({ stages: [{ stage: 'S1' }] });
    expect(redactCost(report, as(['project-manager'], {}, ['A']), { kind: 'project', project: 'A' })).toBe(report);
    const landed = { id: 1, po: 'PO-1', amount: '200.00', pending: '200.00', toStock: '0.00', variance: '0.00', lines: [{ line: 1, sku: 'C', amount: '200.00', pending: '200.00', toStock: '0.00', variance: [{ project: 'A', amount: '1.00' }] }] };
    expect(redactCost(landed, as(['site-manager']), { kind: 'purchasing' }, LANDED_COST_FIELDS)).toEqual({ id: 1, po: 'PO-1', lines: [{ line: 1, sku: 'C' }] });
    // Without the extra set, a count's `variance` (a quantity) stays.
    expect(redactCost({ variance: -2, value: '65.00' }, as(['site-manager']), { kind: 'inventory' })).toEqual({ variance: -2 });
  });
});
