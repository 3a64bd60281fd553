/**
 * "What is project A still missing?" (issue 11, section 2; 帮我查一下A项目现在缺什么材料?): a
 * dated shortage per (project, stage, SKU) that uses stock and open purchase orders. Pure: the
 * service reads the plans, issues, reservations, free stock and open PO lines of a site and calls
 * `shortages` once for every open project of the site, so every project's answer is consistent
 * with the others' (shared stock is handed out once, in need-by order).
 *
 * Rules (the issue's, in order):
 * - need = max(0, planned − net issued), net issued = issues − returns to that stage;
 * - cover comes first from stock reserved for that stage, then from free stock, then from open PO
 *   lines arriving on or before needBy; shortage = need − cover;
 * - free stock and PO lines not tagged with a project are shared: they cover the rows of all open
 *   projects in needBy order (earliest first; ties by project code, then stage code);
 * - a PO line tagged with a project covers only that project;
 * - a PO arriving after needBy is listed with `late: true` and does not cover;
 * - suggestOrder is the uncovered quantity, with the latest order date = needBy − lead time.
 *
 * Quantities are summed in integer thousandths (the ledger's scale), so covers never drift.
 */

export interface PlanRow {
  project: string;
  stage: string;
  sku: string;
  planned: number;
  /** Issues minus returns to this stage. */
  netIssued: number;
  /** Stock reserved for this project stage (approved issue requisitions). */
  reserved: number;
  /** ISO date. */
  needBy: string;
}

export interface OpenPoLine {
  po: string;
  sku: string;
  /** Ordered minus received. */
  qty: number;
  /** ISO date. */
  expectedAt: string;
  /** Set when the line was raised for one project: it covers only that project. */
  project?: string;
}

export interface Incoming {
  po: string;
  qty: number;
  expectedAt: string;
  late: boolean;
}

export interface ShortageRow {
  project: string;
  stage: string;
  sku: string;
  planned: number;
  issued: number;
  reserved: number;
  need: number;
  needBy: string;
  coveredFromStock: number;
  incoming: Incoming[];
  shortage: number;
  suggestOrder: { qty: number; orderBy: string | null } | null;
}

export interface ShortageInput {
  plans: readonly PlanRow[];
  /** Free stock per SKU: on hand minus every active reservation (project and order alike). */
  freeStock: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
  poLines: readonly OpenPoLine[];
  /** Supplier lead time per SKU in days, for the latest order date. */
  leadTimeDays?: ReadonlyMap<string, number> | Readonly<Record<string, number>>;
}

const milli = (q: number): number => Math.round(q * 1000);
const unmilli = (m: number): number => m / 1000;

function lookup(m: ShortageInput['freeStock'] | undefined, key: string): number | undefined {
  if (!m) return undefined;
  return m instanceof Map ? m.get(key) : (m as Record<string, number>)[key];
}

function minusDays(isoDate: string, days: number): string {
  return new Date(Date.parse(`${isoDate}T00:00:00Z`) - days * 86_400_000).toISOString().slice(0, 10);
}

/** Rows in the order shared cover is handed out: needBy, then project code, then stage code. */
export function coverOrder(a: PlanRow, b: PlanRow): number {
  return a.needBy.localeCompare(b.needBy) || a.project.localeCompare(b.project) || a.stage.localeCompare(b.stage) || a.sku.localeCompare(b.sku);
}

/** Shortage of every plan row of the site (callers filter to a project and to shortage > 0). */
export function shortages(input: ShortageInput): ShortageRow[] {
  const rows = [...input.plans].sort(coverOrder);
  const free = new Map<string, number>();
  for (const r of rows) if (!free.has(r.sku)) free.set(r.sku, Math.max(0, milli(lookup(input.freeStock, r.sku) ?? 0)));
  // PO lines earliest first, so the soonest delivery covers the earliest need.
  const pos = [...input.poLines].sort((a, b) => a.expectedAt.localeCompare(b.expectedAt) || a.po.localeCompare(b.po)).map((l) => ({ ...l, left: milli(l.qty) }));

  const out: ShortageRow[] = [];
  for (const r of rows) {
    const need = Math.max(0, milli(r.planned) - milli(r.netIssued));
    const fromReserved = Math.min(need, Math.max(0, milli(r.reserved)));
    let open = need - fromReserved;
    const fromFree = Math.min(open, free.get(r.sku)!);
    free.set(r.sku, free.get(r.sku)! - fromFree);
    open -= fromFree;

    const incoming: Incoming[] = [];
    const usable = pos.filter((l) => l.sku === r.sku && l.left > 0 && (l.project === undefined || l.project === r.project));
    // On-time lines cover; late ones are listed against what is still open, and cover nothing.
    for (const l of usable.filter((x) => x.expectedAt <= r.needBy)) {
      if (open <= 0) break;
      const take = Math.min(open, l.left);
      l.left -= take;
      open -= take;
      incoming.push({ po: l.po, qty: unmilli(take), expectedAt: l.expectedAt, late: false });
    }
    const shortage = open;
    let listedLate = 0;
    for (const l of usable.filter((x) => x.expectedAt > r.needBy)) {
      if (listedLate >= shortage) break;
      const take = Math.min(shortage - listedLate, l.left);
      l.left -= take;
      listedLate += take;
      incoming.push({ po: l.po, qty: unmilli(take), expectedAt: l.expectedAt, late: true });
    }
    const lead = lookup(input.leadTimeDays, r.sku);
    out.push({
      project: r.project,
      stage: r.stage,
      sku: r.sku,
      planned: r.planned,
      issued: r.netIssued,
      reserved: r.reserved,
      need: unmilli(need),
      needBy: r.needBy,
      coveredFromStock: unmilli(fromReserved + fromFree),
      incoming,
      shortage: unmilli(shortage),
      suggestOrder: shortage > 0 ? { qty: unmilli(shortage), orderBy: lead === undefined ? null : minusDays(r.needBy, lead) } : null,
    });
  }
  return out;
}
