/**
 * `POST /api/v1/ask` (issue 11, section 2): plain questions in Chinese and English answered by
 * deterministic patterns - no language model, so the same question always means the same query
 * and an answer can be audited. This file only recognises the intent and its parameters; the
 * service runs the query in the caller's scope and words the answer.
 *
 * Patterns are tried in order; the first match wins. Project codes and SKUs are taken as written
 * (trimmed of quotes and trailing punctuation) and looked up case-sensitively by the service.
 */

export type Intent = 'shortages' | 'stock' | 'alerts' | 'project-cost' | 'unknown';
export type Lang = 'zh-CN' | 'en';

export interface ParsedQuestion {
  intent: Intent;
  params: Record<string, string>;
  lang: Lang;
}

/** A code as people type it: letters, digits, dashes, dots, underscores, slashes (no spaces). */
const CODE = String.raw`([A-Za-z0-9][A-Za-z0-9._/\-]*)`;

interface Pattern {
  intent: Exclude<Intent, 'unknown'>;
  lang: Lang;
  re: RegExp;
  /** Names of the capture groups, in order. */
  params: string[];
}

const PATTERNS: readonly Pattern[] = [
  // 帮我查一下A项目现在缺什么材料? / A项目还缺什么材料 / 项目A缺哪些料
  { intent: 'shortages', lang: 'zh-CN', re: new RegExp(String.raw`${CODE}\s*项目.*?缺(?:什么|哪些|啥|少)`), params: ['project'] },
  { intent: 'shortages', lang: 'zh-CN', re: new RegExp(String.raw`项目\s*${CODE}.*?缺(?:什么|哪些|啥|少)`), params: ['project'] },
  // what is project A (still) missing? / shortages of project A / what does project A need
  { intent: 'shortages', lang: 'en', re: new RegExp(String.raw`\bproject\s+${CODE}\s+(?:still\s+)?(?:missing|short|lacking)`, 'i'), params: ['project'] },
  { intent: 'shortages', lang: 'en', re: new RegExp(String.raw`\bshortages?\s+(?:of|for|in)\s+(?:project\s+)?${CODE}`, 'i'), params: ['project'] },
  { intent: 'shortages', lang: 'en', re: new RegExp(String.raw`\bwhat\s+does\s+project\s+${CODE}\s+(?:still\s+)?need`, 'i'), params: ['project'] },
  // A项目的成本 / 项目A利润多少 / A项目毛利
  { intent: 'project-cost', lang: 'zh-CN', re: new RegExp(String.raw`${CODE}\s*项目.*?(?:成本|利润|毛利|花了多少)`), params: ['project'] },
  { intent: 'project-cost', lang: 'zh-CN', re: new RegExp(String.raw`项目\s*${CODE}.*?(?:成本|利润|毛利|花了多少)`), params: ['project'] },
  // cost / margin of project A; how much has project A cost
  { intent: 'project-cost', lang: 'en', re: new RegExp(String.raw`\b(?:cost|costs|margin|profit)\s+(?:of|for|on)\s+project\s+${CODE}`, 'i'), params: ['project'] },
  { intent: 'project-cost', lang: 'en', re: new RegExp(String.raw`\bproject\s+${CODE}(?:'s)?\s+(?:cost|costs|margin|profit)`, 'i'), params: ['project'] },
  // 有哪些告警 / 现在有什么报警 / 未处理的告警
  { intent: 'alerts', lang: 'zh-CN', re: /告警|报警|预警/, params: [] },
  { intent: 'alerts', lang: 'en', re: /\b(?:open\s+)?alerts?\b|\balarms?\b/i, params: [] },
  // CEMENT-50KG还有多少 / CEMENT-50KG库存 / 库存 CEMENT-50KG
  { intent: 'stock', lang: 'zh-CN', re: new RegExp(String.raw`${CODE}\s*(?:还有多少|有多少|的?库存|剩多少|还剩)`), params: ['sku'] },
  { intent: 'stock', lang: 'zh-CN', re: new RegExp(String.raw`库存\s*${CODE}`), params: ['sku'] },
  // how much CEMENT-50KG do we have / stock of CEMENT-50KG / how many X are there
  { intent: 'stock', lang: 'en', re: new RegExp(String.raw`\b(?:stock|inventory|on\s+hand)\s+(?:of|for)\s+${CODE}`, 'i'), params: ['sku'] },
  { intent: 'stock', lang: 'en', re: new RegExp(String.raw`\bhow\s+(?:much|many)\s+${CODE}\s+(?:do|are|is|have)`, 'i'), params: ['sku'] },
];

/** Lower-case words that look like codes but are parts of the question. */
const NOT_A_CODE = new Set(['the', 'a', 'an', 'of', 'for', 'is', 'what', 'project', 'stock']);

const CJK = /[\u3400-\u9fff]/;

/** Recognise a question. Unknown questions keep their language so the reply can be in it. */
export function parseQuestion(q: string): ParsedQuestion {
  const text = q.normalize('NFKC').trim();
  for (const p of PATTERNS) {
    const m = p.re.exec(text);
    if (!m) continue;
    const params: Record<string, string> = {};
    let ok = true;
    p.params.forEach((name, i) => {
      const v = (m[i + 1] ?? '').replace(/[.?!,;:'"]+$/, '');
      if (!v || NOT_A_CODE.has(v)) ok = false; // case-sensitive: project "A" is a code, "a" a word
      params[name] = v;
    });
    if (ok) return { intent: p.intent, params, lang: p.lang };
  }
  return { intent: 'unknown', params: {}, lang: CJK.test(text) ? 'zh-CN' : 'en' };
}

/** Example questions, offered when a question is not understood ("try: ..."). */
export const EXAMPLES: Readonly<Record<Lang, readonly string[]>> = {
  'zh-CN': ['A项目还缺什么材料?', 'CEMENT-50KG还有多少?', '现在有哪些告警?', 'A项目的成本和利润?'],
  en: ['what is project A missing?', 'stock of CEMENT-50KG', 'open alerts', 'margin of project A'],
};
