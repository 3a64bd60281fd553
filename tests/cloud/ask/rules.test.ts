import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EXAMPLES, parseQuestion } from '../../../cloud/ask/rules.js';

describe('parseQuestion', () => {
  it.each([
    ['帮我查一下A项目现在缺什么材料?', 'shortages', { project: 'A' }, 'zh-CN'],
    ['A项目还缺什么材料?', 'shortages', { project: 'A' }, 'zh-CN'],
    ['项目 P-2026-07 缺哪些料', 'shortages', { project: 'P-2026-07' }, 'zh-CN'],
    ['what is project A missing?', 'shortages', { project: 'A' }, 'en'],
    ['What is project P-7 still missing', 'shortages', { project: 'P-7' }, 'en'],
    ['shortages for project B', 'shortages', { project: 'B' }, 'en'],
    ['CEMENT-50KG还有多少?', 'stock', { sku: 'CEMENT-50KG' }, 'zh-CN'],
    ['库存 REBAR-12', 'stock', { sku: 'REBAR-12' }, 'zh-CN'],
    ['how much CEMENT-50KG do we have?', 'stock', { sku: 'CEMENT-50KG' }, 'en'],
    ['stock of BOLT-M12', 'stock', { sku: 'BOLT-M12' }, 'en'],
    ['现在有哪些告警?', 'alerts', {}, 'zh-CN'],
    ['open alerts', 'alerts', {}, 'en'],
    ['A项目的成本和利润?', 'project-cost', { project: 'A' }, 'zh-CN'],
    ['margin of project A', 'project-cost', { project: 'A' }, 'en'],
    ["project A's cost", 'project-cost', { project: 'A' }, 'en'],
  ])('%s → %s %j', (q, intent, params, lang) => {
    expect(parseQuestion(q)).toEqual({ intent, params, lang });
  });

  it('full-width punctuation and spaces are normalised (NFKC)', () => {
    expect(parseQuestion('Ａ项目还缺什么材料？')).toEqual({ intent: 'shortages', params: { project: 'A' }, lang: 'zh-CN' });
  });

  it('anything else is unknown, in the language it was asked in', () => {
    expect(parseQuestion('今天天气怎么样')).toEqual({ intent: 'unknown', params: {}, lang: 'zh-CN' });
    expect(parseQuestion('tell me a joke')).toEqual({ intent: 'unknown', params: {}, lang: 'en' });
    expect(parseQuestion('what is project the missing')).toMatchObject({ intent: 'unknown' });
  });

  it('every example offered as "try: ..." is understood', () => {
    for (const q of [...EXAMPLES['zh-CN'], ...EXAMPLES.en]) expect(parseQuestion(q).intent).not.toBe('unknown');
  });

  it('never throws and returns a known intent for any string (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (q) => {
        expect(['shortages', 'stock', 'alerts', 'project-cost', 'unknown']).toContain(parseQuestion(q).intent);
      }),
    );
  });
});
