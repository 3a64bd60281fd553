/**
 * `POST /api/v1/ask` (issue 11 §2): the parsed intent (rules.ts) runs the same query as its
 * route would, in the caller's scope (a project outside it is "not found", as the routes' 404),
 * and the answer is worded in the question's language. `data` is what the answer was made from:
 * for shortages, the very rows of `GET /api/v1/projects/:code/shortages`.
 */
import { sql } from 'kysely';
import type { AlertStore } from '../alerts/alert-store.js';
import { redactCost, type Scope } from '../api/scope.js';
import { costingService } from '../costing/index.js';
import type { Db } from '../db/index.js';
import { getProject } from '../projects/index.js';
import { fromMilli } from '../../protocols/ledger/quantity.js';
import { projectShortages } from '../shortages/index.js';
import { EXAMPLES, type Lang, parseQuestion } from './rules.js';

export interface AskAnswer {
  intent: string;
  params: Record<string, string>;
  answer: string;
  data: unknown;
}

const t = (lang: Lang, zh: string, en: string) => (lang === 'zh-CN' ? zh : en);

export async function ask(db: Db, alerts: Pick<AlertStore, 'listAlerts'>, scope: Scope, q: string): Promise<AskAnswer> {
  const { intent, params, lang } = parseQuestion(q);
  const base = { intent, params };
  const notFound = (code: string): AskAnswer => ({ ...base, answer: t(lang, `没有找到项目 ${code}。`, `I found no project ${code}.`), data: null });
  switch (intent) {
    case 'shortages': {
      const p = await getProject(db.kysely, params.project!);
      if (!p || !scope.allowsProject(p.code, p.site)) return notFound(params.project!);
      const s = (await projectShortages(db, p.code))!;
      const list = s.items.map((i) => t(lang, `${i.sku} 缺 ${i.shortage}（阶段 ${i.stage}，需用日期 ${i.needBy}${i.incoming.some((x) => x.late) ? '，在途采购晚到' : ''}）`, `${i.sku} short ${i.shortage} (stage ${i.stage}, needed by ${i.needBy}${i.incoming.some((x) => x.late) ? ', incoming PO late' : ''})`));
      const answer = s.items.length
        ? t(lang, `${p.code}项目还缺 ${s.items.length} 种材料：${list.join('；')}。`, `Project ${p.code} is short of ${s.items.length} material(s): ${list.join('; ')}.`)
        : t(lang, `${p.code}项目目前不缺材料。`, `Project ${p.code} is not short of anything.`);
      return { ...base, answer, data: { items: s.items } };
    }
    case 'stock': {
      const sku = params.sku!;
      const sites = scope.sitesFor(undefined);
      const r = await sql<{ site: string; on_hand: number; uom: string }>`SELECT site, SUM(on_hand) AS on_hand, MAX(uom) AS uom FROM balances WHERE sku = ${sku} GROUP BY site ORDER BY site`.execute(db.kysely);
      const rows = r.rows.filter((x) => !sites || sites.includes(x.site)).map((x) => ({ site: x.site, onHand: fromMilli(Number(x.on_hand)), uom: x.uom }));
      const answer = rows.length
        ? t(lang, `${sku} 库存：${rows.map((x) => `${x.site} ${x.onHand} ${x.uom}`).join('，')}。`, `${sku} on hand: ${rows.map((x) => `${x.site} ${x.onHand} ${x.uom}`).join(', ')}.`)
        : t(lang, `没有 ${sku} 的库存记录。`, `There is no stock of ${sku}.`);
      return { ...base, answer, data: { sku, sites: rows } };
    }
    case 'alerts': {
      const sites = scope.sitesFor(undefined);
      const all = sites ? (await Promise.all(sites.map((site) => alerts.listAlerts({ site, state: 'open', limit: 100 })))).flat() : await alerts.listAlerts({ state: 'open', limit: 100 });
      const answer = all.length
        ? t(lang, `有 ${all.length} 条未处理的告警：${all.slice(0, 10).map((a) => `${a.site} ${a.type} ${a.sku ?? ''}`.trim()).join('；')}。`, `${all.length} open alert(s): ${all.slice(0, 10).map((a) => `${a.site} ${a.type} ${a.sku ?? ''}`.trim()).join('; ')}.`)
        : t(lang, '现在没有未处理的告警。', 'There are no open alerts.');
      return { ...base, answer, data: { items: all } };
    }
    case 'project-cost': {
      const p = await getProject(db.kysely, params.project!);
      if (!p || !scope.allowsProject(p.code, p.site)) return notFound(params.project!);
      const rep = redactCost(await costingService(db).report(p.code), scope, { kind: 'project', project: p.code }) as Record<string, any> | undefined;
      if (!rep || rep.cost === undefined) return { ...base, answer: t(lang, `${p.code}项目的成本数据您无权查看。`, `You may not see the cost figures of project ${p.code}.`), data: null };
      const answer = t(lang, `${p.code}项目：合同收入 ${rep.contractRevenue}，成本合计 ${rep.cost.total}，毛利 ${rep.margin}（${rep.marginPct}%）。`, `Project ${p.code}: revenue ${rep.contractRevenue}, total cost ${rep.cost.total}, margin ${rep.margin} (${rep.marginPct}%).`);
      return { ...base, answer, data: rep };
    }
    default:
      return { ...base, answer: t(lang, `没听懂这个问题。可以试试：${EXAMPLES['zh-CN'].join(' / ')}`, `I did not understand that. Try: ${EXAMPLES.en.join(' / ')}`), data: { examples: EXAMPLES[lang] } };
  }
}
