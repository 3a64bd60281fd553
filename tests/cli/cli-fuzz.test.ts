import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import type { Command, Option } from 'commander';
import { buildProgram } from '../../cli/main.js';
import { runCliInProcess } from '../helpers/cli-in-process.js';
import { runStockgate, tempDir } from '../helpers/procs.js';

/**
 * Issue 8, deliverable 12 (command line): random flags and values on every command. Whatever the
 * arguments, the CLI never prints a stack trace or zod/camelCase text, and a usage error exits 2
 * naming a flag the user typed. Each generated argument list carries at least one certain usage
 * error (an unknown flag, a value its flag's parser refuses, a flag without its value, or a value
 * only the configuration schema refuses), so no run starts a service.
 */
interface Leaf {
  path: string[];
  options: Option[];
}

function leaves(): Leaf[] {
  const out: Leaf[] = [];
  const walk = (c: Command, path: string[]) => {
    if (c.commands.length === 0) out.push({ path, options: c.options.filter((o) => o.long && o.long !== '--help') });
    for (const s of c.commands) walk(s, [...path, s.name()]);
  };
  for (const c of buildProgram().commands) walk(c, [c.name()]);
  return out;
}

const LEAVES = leaves();
const ALL_FLAGS = new Set(LEAVES.flatMap((l) => l.options.map((o) => o.long!)));
const takesValue = (o: Option) => o.required || o.optional;
/** The flag's own parser refuses `v` (our intFlag/numberFlag/portFlag/... throw). */
const refuses = (o: Option, v: string) => {
  if (!o.parseArg) return false;
  try {
    o.parseArg(v, undefined as never);
    return false;
  } catch {
    return true;
  }
};

/** Nasty values: empty, signs, exponents, NUL, unicode, flag-like, huge, long. */
const nasty = fc.oneof(
  fc.constantFrom('', ' ', '-1', '0', '1e309', 'NaN', 'Infinity', '0x10', '1.5', '99999999999999999999', '\u0000', 'ä', '🙂', '../../etc/passwd', '%00', 'a/b', '#', '+'),
  fc.string({ maxLength: 12 }),
  fc.integer({ min: -1e6, max: 1e6 }).map(String),
  fc.double({ noNaN: false }).map(String),
  fc.string({ minLength: 65, maxLength: 300 }),
);

/** A typo of a real flag that is not itself a flag of any command. */
const typo = (flag: string) =>
  fc
    .tuple(fc.nat(flag.length - 3), fc.constantFrom('drop', 'double', 'swap', 'x'))
    .map(([i, how]) => {
      const k = 2 + i;
      const body = flag;
      if (how === 'drop') return body.slice(0, k) + body.slice(k + 1);
      if (how === 'double') return body.slice(0, k) + body[k] + body.slice(k);
      if (how === 'swap' && k + 1 < body.length) return body.slice(0, k) + body[k + 1] + body[k] + body.slice(k + 2);
      return `${body}x`;
    })
    .filter((t) => !ALL_FLAGS.has(t) && t.startsWith('--') && t.length > 3 && !t.startsWith('--no-'));

/** Up to 4 random flags of the leaf with random values (may be valid or not). */
const noise = (leaf: Leaf) =>
  fc.array(
    fc.constantFrom(...(leaf.options.length ? leaf.options : [undefined])).chain((o) =>
      o === undefined ? fc.constant<string[]>([]) : takesValue(o) ? nasty.map((v): string[] => [o.long!, v]) : fc.constant<string[]>([o.long!]),
    ),
    { maxLength: 4 },
  ).map((xs) => xs.flat());

/** One certain usage error for the leaf, and the flag it is about. */
const certainError = (leaf: Leaf): fc.Arbitrary<{ args: string[]; flag: string; last?: boolean }> => {
  const withValue = leaf.options.filter(takesValue);
  const validated = withValue.filter((o) => refuses(o, 'zz'));
  const kinds: Array<fc.Arbitrary<{ args: string[]; flag: string; last?: boolean }>> = [];
  const flags = leaf.options.map((o) => o.long!).filter((f) => f.length > 4);
  if (flags.length) kinds.push(fc.constantFrom(...flags).chain((f) => typo(f).map((t) => ({ args: [t], flag: t }))));
  else kinds.push(fc.constant({ args: ['--definitely-not-a-flag'], flag: '--definitely-not-a-flag' }));
  if (validated.length) {
    kinds.push(
      fc
        .tuple(fc.constantFrom(...validated), nasty)
        .filter(([o, v]) => refuses(o, v))
        .map(([o, v]) => ({ args: [o.long!, v], flag: o.long! })),
    );
  }
  // A flag without its value: followed by nothing, or by another flag of the command.
  if (withValue.length) {
    kinds.push(
      fc.tuple(fc.constantFrom(...withValue), fc.option(fc.constantFrom(...leaf.options), { nil: undefined })).map(([o, next]) => ({ args: next ? [o.long!, next.long!] : [o.long!], flag: o.long!, last: true })),
    );
  }
  return fc.oneof(...kinds);
};

const STACK = /^\s+at .+\(?.*:\d+:\d+\)?$/m;
const CAMEL_KEY = /(^|\s)[a-z]+[A-Z]\w*:/m;

function checkUsageError(r: { status: number; stderr: string }, args: string[], known: readonly string[] = [...ALL_FLAGS]): void {
  expect(r.stderr).not.toMatch(STACK);
  expect(r.stderr).not.toMatch(/escaped main/);
  // The user's own values come back quoted and may look like anything (a fuzzed ' aA:' once did):
  // the camelCase check is about our words, so the quoted values are taken out first.
  expect(r.stderr.replace(/"(?:[^"\\]|\\.)*"|'[^'\n]*'/g, '""')).not.toMatch(CAMEL_KEY);
  expect(r.stderr).not.toMatch(/Invalid input|Too small|Too big|expected string, received/);
  expect(r.stderr).not.toContain('Options:');
  expect(r.status).toBe(2);
  // A flag is named: one the user typed, or a required one of the command (or, for a
  // positional-only problem, the argument).
  const named = (r.stderr.match(/--[a-z][\w-]*/gi) ?? []).filter((f) => args.includes(f) || known.includes(f));
  expect(named.length > 0 || /<\w+> is required|unexpected argument/.test(r.stderr), r.stderr).toBe(true);
}

describe('command-line fuzz (issue 8, deliverable 12)', () => {
  it('random flags and values on every command: exit 2 naming a typed flag, never a stack trace', async () => {
    const leafArb = fc.constantFrom(...LEAVES);
    const caseArb = leafArb.chain((leaf) =>
      // A value-less flag must stay last to be certain (a following token would be its value).
      fc.tuple(noise(leaf), certainError(leaf), fc.boolean()).map(([n, bad, first]) => ({ leaf, args: first && !bad.last ? [...bad.args, ...n] : [...n, ...bad.args], bad })),
    );
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ leaf, args }) => {
        const r = await runCliInProcess([...leaf.path, ...args]);
        checkUsageError(r, args, leaf.options.map((o) => o.long!));
      }),
      { numRuns: 400 },
    );
  });

  it('values only the configuration schema refuses (edge, cloud): exit 2 naming the flag', async () => {
    const dir = tempDir();
    const badId = fc.oneof(fc.constantFrom('', 'a/b', 'a+b', '#', 'x y', '-lead', 'ä', '\u0000'), fc.string({ minLength: 65, maxLength: 90 }));
    const badBroker = fc.oneof(fc.constantFrom('', 'http://x', 'mqtt://', 'tcp://h:1', 'mqtt:/x', 'localhost:1883'), fc.string({ maxLength: 20 }).filter((s) => !/^(mqtts?|wss?):\/\/[^\s/]+/.test(s)));
    const edge = fc.record({ which: fc.constantFrom('--site', '--edge-id', '--broker'), id: badId, broker: badBroker }).map(({ which, id, broker }) => {
      const flags: Record<string, string> = { '--data-dir': join(dir, 'e'), '--broker': 'mqtt://127.0.0.1:1', '--site': 's1', '--edge-id': 'e1', '--location': 'L' };
      flags[which] = which === '--broker' ? broker : id;
      return { args: ['edge', ...Object.entries(flags).flat()] as string[], flag: which };
    });
    const cloud = badBroker.map((b) => ({ args: ['cloud', '--data-dir', join(dir, 'c'), '--insecure', '--http-port', '0', '--mqtt-port', '0', '--broker', b], flag: '--broker' }));
    await fc.assert(
      fc.asyncProperty(fc.oneof(edge, cloud), async ({ args, flag }) => {
        const r = await runCliInProcess(args);
        checkUsageError(r, args);
        expect(r.stderr).toContain(flag);
      }),
      { numRuns: 150 },
    );
  });

  it('a value comes back quoted and cut: a key-like value does not pass for our words, a huge one is not echoed whole', async () => {
    const keyLike = await runCliInProcess(['devices', 'sniff', '--device', 's=scanner@sim:', '--seconds', ' aA: ']);
    checkUsageError(keyLike, ['--seconds', ' aA: ']);
    expect(keyLike.stderr).toContain('--seconds');
    expect(keyLike.stderr).toContain('" aA: "');
    const huge = 'x'.repeat(100_000);
    const r = await runCliInProcess(['cloud', '--data-dir', tempDir(), '--http-port', huge]);
    checkUsageError(r, ['--http-port', huge]);
    expect(r.stderr).toContain('--http-port');
    expect(r.stderr.length).toBeLessThan(1000);
  });

  it('the real binary agrees on a sample (exit status and output through bin/stockgate.js)', () => {
    const samples = fc.sample(
      fc.constantFrom(...LEAVES).chain((leaf) => certainError(leaf).map((bad) => [...leaf.path, ...bad.args])),
      { numRuns: 12, seed: 8 },
    );
    for (const args of samples) {
      const r = runStockgate(args);
      checkUsageError({ status: r.status ?? -1, stderr: r.stderr }, args.slice(1));
    }
  });
});
