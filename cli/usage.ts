import { CommanderError, type Command } from 'commander';

/**
 * Command-line usage (issue 8, finding 12): flags are named as typed (`--data-dir is required`,
 * `--http-port must be a port number`), never as zod paths or camelCase keys; a typo gets "did
 * you mean", not the whole help text; usage errors exit 2, runtime failures 1; `--help` marks the
 * required flags. Every command goes through here (`main.ts`).
 */

/** Exit status of a usage error (a bad flag, a bad configuration value). */
export const EXIT_USAGE = 2;
/** Exit status of a runtime failure (a port in use, a database that cannot be opened). */
export const EXIT_RUNTIME = 1;

/** A bad flag or flag value, named as the user typed it. Exits 2. */
export class UsageError extends Error {
  readonly code = 'SG_ERR_USAGE';
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/**
 * An error about one flag's value (a device spec that does not parse, a file that cannot be read):
 * the message is prefixed with the flag, the code kept, and it exits 2 like any usage error.
 */
export function flagError(flag: string, err: unknown): Error {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(err);
  return Object.assign(new Error(message.startsWith(flag) ? message : `${flag}: ${message}`), {
    code: typeof e?.code === 'string' && e.code.startsWith('SG_ERR_') ? e.code : 'SG_ERR_USAGE',
    usage: true,
  });
}

/** `dataDir` -> `--data-dir`. */
export function flagOf(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * A value the user typed, as it goes into an error message: JSON-quoted (so a value that looks
 * like a key or holds a newline cannot pass for part of the message) and cut at 60 characters,
 * so a hostile megabyte-long flag value does not come back in full.
 */
export function shown(v: string): string {
  return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i;

/** A decimal number flag (`12`, `0.5`, `1e3`); anything else is a usage error naming the flag. */
export const numberFlag =
  (flag: string, range: { min?: number; max?: number; gt?: number } = {}) =>
  (v: string): number => {
    const n = Number(v);
    if (!DECIMAL.test(v.trim()) || !Number.isFinite(n)) throw new UsageError(`${flag} must be a number, got ${shown(v)}`);
    if (range.min !== undefined && n < range.min) throw new UsageError(`${flag} must be >= ${range.min}, got ${shown(v)}`);
    if (range.gt !== undefined && n <= range.gt) throw new UsageError(`${flag} must be > ${range.gt}, got ${shown(v)}`);
    if (range.max !== undefined && n > range.max) throw new UsageError(`${flag} must be <= ${range.max}, got ${shown(v)}`);
    return n;
  };

/** A whole number flag, optionally bounded. */
export const intFlag =
  (flag: string, range: { min?: number; max?: number } = {}) =>
  (v: string): number => {
    if (!/^[+-]?\d+$/.test(v.trim()) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} must be a whole number, got ${shown(v)}`);
    const n = Number(v);
    if (range.min !== undefined && n < range.min) throw new UsageError(`${flag} must be >= ${range.min}, got ${shown(v)}`);
    if (range.max !== undefined && n > range.max) throw new UsageError(`${flag} must be <= ${range.max}, got ${shown(v)}`);
    return n;
  };

/** A TCP port (0 = any free port). */
export const portFlag =
  (flag: string) =>
  (v: string): number => {
    if (!/^\d{1,5}$/.test(v.trim()) || Number(v) > 65535) throw new UsageError(`${flag} must be a port number (0-65535), got ${shown(v)}`);
    return Number(v);
  };

/** One of a fixed set of words. */
export const choiceFlag =
  (flag: string, values: readonly string[]) =>
  (v: string): string => {
    if (!values.includes(v)) throw new UsageError(`${flag} must be one of ${values.join(', ')}, got ${shown(v)}${suggest(v, values, ' (did you mean $?)')}`);
    return v;
  };

/** Levenshtein distance (small strings: flag and command names). */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

/** `template` with `$` replaced by the closest candidate, or '' when none is close. */
export function suggest(word: string, candidates: readonly string[], template = 'did you mean $?'): string {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dd = distance(word.toLowerCase(), c.toLowerCase());
    if (dd < bestD) [best, bestD] = [c, dd];
  }
  if (best === undefined || bestD > Math.max(2, Math.floor(best.length / 3))) return '';
  return template.replace('$', best);
}

/** A zod issue as the config parsers pass it on (structurally: no zod import needed here). */
export interface ConfigIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  expected?: string;
  minimum?: number | bigint;
  maximum?: number | bigint;
  origin?: string;
  values?: unknown[];
  keys?: string[];
}

/**
 * Configuration issues in the user's words: a key given as a flag is named by the flag, a key
 * from the `--config` file by its key in that file; a missing required value is `is required`.
 */
export function describeConfigIssues(
  issues: readonly ConfigIssue[],
  o: { flagOf?: Record<string, string>; fromFlags?: ReadonlySet<string>; input?: Record<string, unknown>; file?: string; knownKeys?: readonly string[] } = {},
): string[] {
  const name = (key: string) => o.flagOf?.[key] ?? flagOf(key);
  return issues.map((i) => {
    const key = String(i.path[0] ?? '');
    if (i.code === 'unrecognized_keys') {
      return (i.keys ?? []).map((k) => `${o.file ? `${o.file}: ` : ''}unknown key '${k}'${o.knownKeys ? suggest(k, o.knownKeys, ' (did you mean $?)') : ''}`).join('\n  ');
    }
    if (!key) return i.message;
    const flagged = !o.file || o.fromFlags?.has(key) || !(o.input && key in o.input);
    const who = flagged ? name(key) : `${key} in ${o.file}`;
    const given = o.input?.[key];
    const item = i.path.length > 1 && Array.isArray(given) ? given[Number(i.path[1])] : undefined;
    // A repeatable flag's bad entry is named by its value (`--device 'dock1=toaster@...'`).
    const sub = i.path.length > 1 ? (typeof item === 'string' ? ` '${item}'` : `[${i.path.slice(1).map(String).join('.')}]`) : '';
    if (i.code === 'invalid_type' && given === undefined) {
      return o.file ? `${name(key)} is required (or ${key} in the --config file)` : `${name(key)} is required`;
    }
    // Our own messages start with the key or field ("broker: expected ..."): keep the reason only.
    const custom = /^[A-Za-z][\w.]*: /.test(i.message);
    const reason = i.message.replace(/^[A-Za-z][\w.]*: /, '');
    if (custom || i.code === 'custom' || i.code === 'invalid_format') return `${who}${sub}: ${reason}`;
    let why: string;
    switch (i.code) {
      case 'invalid_type':
        why = i.expected === 'int' ? 'must be a whole number' : `must be ${i.expected === 'array' ? 'a list' : `a ${i.expected}`}`;
        break;
      case 'too_small':
        why = i.origin === 'string' ? (Number(i.minimum) <= 1 ? 'must not be empty' : `must be at least ${i.minimum} characters`) : i.origin === 'array' ? `needs at least ${i.minimum}` : `must be >= ${i.minimum}`;
        break;
      case 'too_big':
        why = i.origin === 'string' ? `must be at most ${i.maximum} characters` : i.origin === 'array' ? `takes at most ${i.maximum}` : `must be <= ${i.maximum}`;
        break;
      case 'invalid_value':
        why = `must be one of ${(i.values ?? []).map(String).join(', ')}`;
        break;
      default:
        return `${who}${sub}: ${reason}`;
    }
    return `${who}${sub} ${why}`;
  });
}

/** A flag given with an empty value (`--broker ''`) is a usage error, not "flag absent". */
export function refuseEmptyValues(cmd: Command): void {
  const values = cmd.opts() as Record<string, unknown>;
  for (const o of cmd.options) {
    if (!(o.required || o.optional)) continue;
    const v = values[o.attributeName()];
    const empty = typeof v === 'string' ? v.trim() === '' : Array.isArray(v) && v.some((x) => typeof x === 'string' && x.trim() === '');
    if (cmd.getOptionValueSource(o.attributeName()) !== 'cli') continue;
    if (empty) throw new UsageError(`${o.long} needs a value, got an empty one`);
    // `--data-dir --rotate`: commander takes the next word as the value; a flag name is a mistake.
    const flagLike = (Array.isArray(v) ? v : [v]).find((x) => typeof x === 'string' && cmd.options.some((k) => k.long === x || k.short === x));
    if (flagLike !== undefined) throw new UsageError(`${o.long} needs a value, got the flag ${String(flagLike)}`);
  }
}

/** Append "(required)" to the help of every mandatory option, on every command. */
export function markRequired(cmd: Command): void {
  for (const o of cmd.options) if (o.mandatory && !/\(required/.test(o.description)) o.description = `${o.description} (required)`;
  for (const c of cmd.commands) markRequired(c);
}

/** The command path the user typed (`stockgate simulate scale`), for the hint line. */
function commandPath(program: Command, argv: readonly string[]): string {
  const names = [program.name()];
  let cmd = program;
  for (const a of argv) {
    if (a.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === a || c.aliases().includes(a));
    if (!sub) break;
    names.push(sub.name());
    cmd = sub;
  }
  return names.join(' ');
}

/**
 * Print a CLI error without a stack trace and exit: 2 for usage and configuration errors, 1 for
 * anything else. Commander's own errors are reworded to name the flag.
 */
export function exitWithError(err: unknown, program: Command, argv: readonly string[]): never {
  const path = commandPath(program, argv);
  const hint = `Run '${path} --help' for its flags.`;
  if (err instanceof CommanderError) {
    if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(err.exitCode);
    // A command group without its subcommand (`stockgate simulate`): commander printed the help.
    if (err.code === 'commander.help') process.exit(EXIT_USAGE);
    const raw = err.message.replace(/^error: /, '');
    const mean = /\(Did you mean (.+)\?\)/.exec(raw)?.[1];
    let msg: string;
    let m: RegExpExecArray | null;
    if ((m = /unknown option '([^']+)'/.exec(raw))) msg = `unknown flag ${m[1]}${mean ? `: did you mean ${mean}?` : ''}`;
    else if ((m = /unknown command '([^']+)'/.exec(raw))) msg = `unknown command '${m[1]}'${mean ? `: did you mean ${mean}?` : ''}`;
    else if ((m = /required option '(--[\w-]+)[^']*' not specified/.exec(raw))) msg = `${m[1]} is required`;
    else if ((m = /option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(raw))) msg = `${m[1]} needs a value`;
    else if ((m = /too many arguments(?: for '([^']+)')?\. Expected (\d+) arguments? but got (\d+)/.exec(raw))) msg = `unexpected argument${Number(m[3]) - Number(m[2]) > 1 ? 's' : ''}: '${path}' takes ${m[2]}`;
    else if ((m = /missing required argument '([^']+)'/.exec(raw))) msg = `<${m[1]}> is required`;
    else msg = raw.split('\n')[0]!;
    process.stderr.write(`stockgate: SG_ERR_USAGE: ${msg}\n${hint}\n`);
    process.exit(EXIT_USAGE);
  }
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' && e.code.startsWith('SG_ERR_') ? e.code : undefined;
  const message = typeof e?.message === 'string' ? e.message : String(err);
  const usage = err instanceof UsageError || code === 'SG_ERR_CONFIG' || code === 'SG_ERR_USAGE' || (err as { usage?: unknown })?.usage === true;
  process.stderr.write(`stockgate: ${code ?? 'SG_ERR_RUNTIME'}: ${message}\n${usage ? `${hint}\n` : ''}`);
  process.exit(usage ? EXIT_USAGE : EXIT_RUNTIME);
}
