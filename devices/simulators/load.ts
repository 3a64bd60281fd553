import { decimalsOf, roundTo } from '../../protocols/scale/units.js';
import { seededRandom } from './random.js';

/** A change of the load on the platform: from `atMs` after the start, `kg` (gross) lies on it. */
export interface Placement {
  atMs: number;
  kg: number;
}

export interface LoadOptions {
  /** Load on the platform at the start, kg. Default 0. */
  weightKg?: number;
  /** Later changes of the load, in time order. */
  script?: Placement[];
  /** Repeat the script every this many ms (0 = play it once). Default 0. */
  loopMs?: number;
  /** After a change the reading swings for this long, then is stable. Default 800 ms. */
  settleMs?: number;
  /** Peak swing right after a change, kg; it decays to 0 over `settleMs`. Default 0.05. */
  noiseKg?: number;
  /** Display division d, kg: readings are rounded to it. Default 0.001. */
  divisionKg?: number;
  /** Capacity, kg: above it (plus 9 d) the scale reports overload. Default 60. */
  capacityKg?: number;
  /** Seed of the noise. Default 1. */
  seed?: number;
  /** Clock. Default Date.now. */
  now?: () => number;
}

/** What the scale shows at one moment. */
export type LoadSample =
  | { status: 'overload' | 'underload'; stable: boolean }
  | { status?: undefined; grossKg: number; netKg: number; tareKg: number; stable: boolean };

/**
 * The load on a simulated scale, scriptable: placements over time, a decaying swing after each
 * change (so a driver sees dynamic readings, then stable ones), and the scale's own zero and tare
 * (MT-SICS Z and T). Pure apart from the injected clock.
 */
export class LoadModel {
  readonly divisionKg: number;
  readonly decimals: number;
  readonly capacityKg: number;
  zeroKg = 0;
  tareKg = 0;
  private readonly startAt: number;
  private readonly o: Required<Omit<LoadOptions, 'now'>>;
  private readonly now: () => number;
  private readonly rnd: () => number;
  /** Changes made by `place()` (absolute times), after the script. */
  private manual: { at: number; kg: number } | undefined;

  constructor(opts: LoadOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.o = { weightKg: 0, script: [], loopMs: 0, settleMs: 800, noiseKg: 0.05, divisionKg: 0.001, capacityKg: 60, seed: 1, ...opts };
    this.divisionKg = this.o.divisionKg;
    this.decimals = decimalsOf(this.divisionKg);
    this.capacityKg = this.o.capacityKg;
    this.rnd = seededRandom(this.o.seed);
    this.startAt = this.now();
  }

  /** Put `kg` on the platform now (replaces the script's load from now on). */
  place(kg: number): void {
    this.manual = { at: this.now(), kg };
  }

  /** The load and when it last changed (absolute ms). */
  current(t = this.now()): { kg: number; since: number } {
    const elapsed = t - this.startAt;
    const { script, loopMs } = this.o;
    let kg = this.o.weightKg;
    let since = this.startAt - this.o.settleMs; // the initial load is settled from the start
    if (script.length > 0) {
      const cycle = loopMs > 0 ? Math.floor(elapsed / loopMs) : 0;
      const inCycle = loopMs > 0 ? elapsed - cycle * loopMs : elapsed;
      const passed = script.filter((p) => p.atMs <= inCycle);
      if (passed.length > 0) {
        const last = passed[passed.length - 1]!;
        kg = last.kg;
        since = this.startAt + cycle * loopMs + last.atMs;
      } else if (cycle > 0) {
        const last = script[script.length - 1]!;
        kg = last.kg;
        since = this.startAt + (cycle - 1) * loopMs + last.atMs;
      }
    }
    if (this.manual && this.manual.at >= since && this.manual.at <= t) return { kg: this.manual.kg, since: this.manual.at };
    return { kg, since };
  }

  /** When the current load is (or was) stable. */
  stableAt(t = this.now()): number {
    return this.current(t).since + this.o.settleMs;
  }

  sample(t = this.now()): LoadSample {
    const { kg, since } = this.current(t);
    const age = t - since;
    const stable = age >= this.o.settleMs;
    const swing = stable ? 0 : this.o.noiseKg * (1 - age / this.o.settleMs) * (this.rnd() * 2 - 1);
    const rel = kg - this.zeroKg;
    if (rel > this.capacityKg + 9 * this.divisionKg) return { status: 'overload', stable };
    if (rel < -0.02 * this.capacityKg) return { status: 'underload', stable };
    const grossKg = this.round(rel + swing);
    return { grossKg, netKg: this.round(grossKg - this.tareKg), tareKg: this.tareKg, stable };
  }

  /** MT-SICS Z: zero within ±2 % of capacity of the power-on zero; clears the tare. */
  zero(t = this.now()): 'A' | '+' | '-' {
    const { kg } = this.current(t);
    if (kg > 0.02 * this.capacityKg) return '+';
    if (kg < -0.02 * this.capacityKg) return '-';
    this.zeroKg = kg;
    this.tareKg = 0;
    return 'A';
  }

  /** MT-SICS T: take the current gross as tare. Returns the tare in kg, or the failure. */
  tare(t = this.now()): number | '+' | '-' {
    const s = this.sample(t);
    if (s.status === 'overload') return '+';
    if (s.status === 'underload') return '-';
    const { kg } = this.current(t);
    this.tareKg = this.round(kg - this.zeroKg);
    return this.tareKg;
  }

  private round(kg: number): number {
    return roundTo(Math.round(kg / this.divisionKg) * this.divisionKg, this.decimals);
  }
}

/**
 * Parse a placement script: `2000:12.5,6000:0` (ms:kg pairs) or a JSON array
 * `[{"atMs":2000,"kg":12.5}]`. Throws a coded error naming the bad item.
 */
export function parsePlacementScript(text: string): Placement[] {
  const bad = (msg: string) => Object.assign(new Error(`--script: ${msg}`), { code: 'SG_ERR_CONFIG' });
  const t = text.trim();
  let items: Placement[];
  if (t.startsWith('[')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (err) {
      throw bad(`not JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(v)) throw bad('expected an array of {atMs, kg}');
    items = v.map((p, i) => {
      const o = p as Partial<Placement>;
      if (typeof o?.atMs !== 'number' || typeof o?.kg !== 'number') throw bad(`item ${i}: expected {atMs: number, kg: number}`);
      return { atMs: o.atMs, kg: o.kg };
    });
  } else {
    items = t.split(',').map((pair, i) => {
      const m = /^\s*(\d+)\s*:\s*(-?\d+(?:\.\d+)?)\s*$/.exec(pair);
      if (!m) throw bad(`item ${i + 1} '${pair}': expected MS:KG, e.g. 2000:12.5`);
      return { atMs: Number(m[1]), kg: Number(m[2]) };
    });
  }
  for (let i = 1; i < items.length; i++) if (items[i]!.atMs < items[i - 1]!.atMs) throw bad(`item ${i + 1}: times must not decrease`);
  return items;
}
