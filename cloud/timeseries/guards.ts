/**
 * Guards against lines the server accepts with 204 and then silently drops (issue 13; measured on
 * VictoriaMetrics 1.79: malformed lines, timestamps older than the retention and more than about
 * two days ahead all get 204 and store nothing; a string field is stored as 0).
 *
 * Every value and timestamp goes through here before it becomes a line. A guard either repairs
 * (a numeric string becomes its number, a timestamp in seconds becomes milliseconds, an event time
 * outside the window falls back to the row's commit time) or refuses (the value or point is not
 * sent). Each occurrence is counted (`stockgate_tsdb_export_guard_total{guard,action}`), and each
 * (guard, action) pair is logged once per process, so a flood of bad rows cannot flood the log.
 */
export type GuardName = 'string_field' | 'retention' | 'future' | 'precision';
export type GuardAction = 'repaired' | 'refused';

export interface GuardSink {
  count(guard: GuardName, action: GuardAction): void;
  logOnce(guard: GuardName, action: GuardAction, detail: Record<string, unknown>): void;
}

export interface GuardOptions {
  /** Oldest accepted event time, ms before now (the server's retention minus a margin). */
  retentionMs: number;
  /** Newest accepted event time, ms after now (VictoriaMetrics drops beyond ~2 days). */
  futureMs: number;
  now: () => number;
}

/** Below this a number is not a millisecond Unix time after 1973: it is seconds. */
const MS_MIN = 1e11;
/** Above this it is microseconds (until 1e17) or nanoseconds: a ms Unix time reaches 1e14 in 5138. */
const MS_MAX = 1e14;

/** Where a value came from, for the one log line: an object, or a function that builds it. */
export type Where = Record<string, unknown> | (() => Record<string, unknown>);

export class Guards {
  private readonly logged = new Set<string>();

  constructor(
    private readonly o: GuardOptions,
    private readonly sink: Omit<GuardSink, 'logOnce'> & { log(guard: GuardName, action: GuardAction, detail: Record<string, unknown>): void },
  ) {}

  private hit(guard: GuardName, action: GuardAction, detail: Record<string, unknown>): void {
    this.sink.count(guard, action);
    const k = `${guard}/${action}`;
    if (this.logged.has(k)) return;
    this.logged.add(k);
    this.sink.log(guard, action, detail);
  }

  /** `where` is built only when a guard hits (the hot path allocates nothing). */
  private w(where: Where): Record<string, unknown> {
    return typeof where === 'function' ? where() : where;
  }

  /**
   * A field value as a finite number, or undefined (refused). Strings are the usual way in: a
   * PostgreSQL NUMERIC comes back as a string, and a string field is stored by VictoriaMetrics as 0.
   */
  field(value: unknown, where: Where): number | undefined {
    if (typeof value === 'number') {
      if (Number.isFinite(value)) return value;
      this.hit('string_field', 'refused', { ...this.w(where), value: String(value), why: 'not a finite number' });
      return undefined;
    }
    if (typeof value === 'string' && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value)) {
      const n = Number(value);
      if (Number.isFinite(n)) {
        this.hit('string_field', 'repaired', { ...this.w(where), value });
        return n;
      }
    }
    if (typeof value === 'bigint') {
      this.hit('string_field', 'repaired', { ...this.w(where), value: value.toString() });
      return Number(value);
    }
    this.hit('string_field', 'refused', { ...this.w(where), value: typeof value === 'string' ? value.slice(0, 64) : typeof value });
    return undefined;
  }

  /**
   * The timestamp to write, ms, or undefined (refused). `t` is the event time (a number in some
   * precision, an ISO string or a Date); `fallback` the commit time of the row, used when the event
   * time is outside the server's window (a deterministic property of the row, so a re-send of the
   * point is identical).
   */
  timestamp(t: unknown, fallbackOf: number | undefined | (() => number | undefined), where: Where): number | undefined {
    const fallbackFn = () => (typeof fallbackOf === 'function' ? fallbackOf() : fallbackOf);
    let ms = toMs(t);
    if (ms === undefined || ms <= 0) {
      this.hit('precision', 'refused', { ...this.w(where), ts: String(t) });
      const fallback = fallbackFn();
      return this.inWindow(fallback) ? fallback : undefined;
    }
    if (ms < MS_MIN) {
      this.hit('precision', 'repaired', { ...this.w(where), ts: ms, as: 'seconds' });
      ms = Math.round(ms * 1000);
    } else if (ms >= MS_MAX) {
      const as = ms >= 1e17 ? 'nanoseconds' : 'microseconds';
      this.hit('precision', 'repaired', { ...this.w(where), ts: ms, as });
      ms = Math.floor(ms / (as === 'nanoseconds' ? 1e6 : 1e3));
    } else if (!Number.isInteger(ms)) {
      ms = Math.floor(ms);
    }
    const now = this.o.now();
    if (ms < now - this.o.retentionMs || ms > now + this.o.futureMs) {
      const guard: GuardName = ms < now ? 'retention' : 'future';
      const fallback = fallbackFn();
      if (this.inWindow(fallback)) {
        this.hit(guard, 'repaired', { ...this.w(where), ts: new Date(ms).toISOString(), to: new Date(fallback!).toISOString() });
        return fallback;
      }
      this.hit(guard, 'refused', { ...this.w(where), ts: new Date(ms).toISOString() });
      return undefined;
    }
    return ms;
  }

  /** Event times in [lo, hi] pass unrepaired (ms): the builders' fast path skips the guard for them. */
  window(): { lo: number; hi: number } {
    const now = this.o.now();
    return { lo: Math.max(MS_MIN, now - this.o.retentionMs), hi: Math.min(MS_MAX - 1, now + this.o.futureMs) };
  }

  private inWindow(ms: number | undefined): ms is number {
    if (ms === undefined || !Number.isFinite(ms)) return false;
    const now = this.o.now();
    return ms >= now - this.o.retentionMs && ms <= now + this.o.futureMs;
  }
}

function toMs(t: unknown): number | undefined {
  if (typeof t === 'number') return Number.isFinite(t) ? t : undefined;
  if (t instanceof Date) return Number.isFinite(t.getTime()) ? t.getTime() : undefined;
  if (typeof t === 'string') {
    if (/^\d+(\.\d+)?$/.test(t)) return Number(t);
    const ms = Date.parse(t);
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

/**
 * Last check on a serialised line: its timestamp has millisecond magnitude (13 digits until 2286).
 * A precision mistake anywhere upstream (a Date serialised as ns, seconds passed through) lands in
 * 1970 or far in the future, where the server drops it silently.
 */
export function lineTimestampIsMs(line: string): boolean {
  const sp = line.lastIndexOf(' ');
  const ts = line.slice(sp + 1);
  return /^\d{12,13}$/.test(ts) && Number(ts) >= MS_MIN && Number(ts) < MS_MAX;
}
