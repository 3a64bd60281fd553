/**
 * Stability detection for count-by-weight and stock receipts: trust a reading only when the
 * device says it is stable and/or every sample over a recent window lies within ±1 division.
 *
 * Why both: Odoo's IoT drivers trust the device flag alone, but many indicators (XK3190 streams)
 * carry no flag, and a flag with a short motion window can still pass a swinging load. The
 * reference check (device-protocols.md §1) is the flag plus every sample of the last ~1 s within
 * ±1 d; the Unipulse F159 compares against 5 earlier samples over 1 s.
 */
import { ProtocolError } from '../errors.js';

/** What the detector needs from a reading; a `WeightFrame` fits as is. */
export interface StabilitySample {
  /** Weight in kg; a sample without it (unknown unit) can never be judged stable. */
  weightKg?: number;
  /** The device's stability flag, when the format carries one. */
  stable?: boolean;
}

/** Options of {@link StabilityDetector}. */
export interface StabilityOptions {
  /**
   * Which evidence counts: `'device'` = the flag only (readings without a flag are never stable),
   * `'window'` = the sample window only, `'both'` = flag (when the reading carries one) and window.
   * Default `'both'`.
   */
  mode?: 'device' | 'window' | 'both';
  /**
   * Window length in milliseconds: the samples must cover at least this span. Default 1000 ms
   * (the ~1 s of the reference check) when `windowSamples` is not given either.
   */
  windowMs?: number;
  /** Window length in samples (the newest N, N >= 2). When both are given, both must be covered. */
  windowSamples?: number;
  /** Scale division d in kg. Default 0.001 kg (1 g, a bench scale); set it for coarser or finer scales. */
  divisionKg?: number;
  /** Allowed deviation from the newest sample, in divisions. Default 1 (±1 d). */
  toleranceDivisions?: number;
}

interface Entry {
  at: number;
  kg: number;
}

/**
 * Feed readings in time order; `push` answers whether the reading just pushed is stable.
 * Pure apart from the clock: pass `atMs` explicitly in tests and replays.
 */
export class StabilityDetector {
  private readonly mode: 'device' | 'window' | 'both';
  private readonly windowMs: number | undefined;
  private readonly windowSamples: number | undefined;
  private readonly toleranceKg: number;
  private entries: Entry[] = [];
  private last = false;

  constructor(opts: StabilityOptions = {}) {
    this.mode = opts.mode ?? 'both';
    this.windowSamples = opts.windowSamples;
    this.windowMs = opts.windowMs ?? (opts.windowSamples === undefined ? 1000 : undefined);
    const d = opts.divisionKg ?? 0.001;
    const tol = opts.toleranceDivisions ?? 1;
    const bad = (msg: string): never => {
      throw new ProtocolError('SG_ERR_PROTO_ARGUMENT', msg);
    };
    if (!(d > 0)) bad(`divisionKg must be > 0, got ${d}`);
    if (!(tol >= 0)) bad(`toleranceDivisions must be >= 0, got ${tol}`);
    if (this.windowSamples !== undefined && !(Number.isInteger(this.windowSamples) && this.windowSamples >= 2)) {
      bad(`windowSamples must be an integer >= 2, got ${this.windowSamples}`);
    }
    if (this.windowMs !== undefined && !(this.windowMs > 0)) bad(`windowMs must be > 0, got ${this.windowMs}`);
    // A hair of slack so that 0.1 + 1 d compares as equal despite binary floating point.
    this.toleranceKg = d * tol + 1e-12;
  }

  /** The answer of the last `push`. */
  get stable(): boolean {
    return this.last;
  }

  /**
   * Add a reading taken at `atMs` (default `Date.now()`) and return whether it is stable.
   * A reading without `weightKg` clears the window (we cannot compare across it).
   */
  push(sample: StabilitySample, atMs: number = Date.now()): boolean {
    if (sample.weightKg === undefined) {
      this.entries = [];
      return (this.last = false);
    }
    this.entries.push({ at: atMs, kg: sample.weightKg });
    this.prune(atMs);
    const device = sample.stable === true;
    if (this.mode === 'device') return (this.last = device);
    const window = this.windowStable();
    if (this.mode === 'window' || sample.stable === undefined) return (this.last = window);
    return (this.last = window && device);
  }

  /** Forget all samples (e.g. after zero/tare or a reconnect). */
  reset(): void {
    this.entries = [];
    this.last = false;
  }

  /** Keep only what the window needs: the newest N samples and/or the span back to now - windowMs. */
  private prune(now: number): void {
    const e = this.entries;
    let keepFrom = e.length - 1;
    if (this.windowSamples !== undefined) keepFrom = Math.min(keepFrom, e.length - this.windowSamples);
    if (this.windowMs !== undefined) {
      // The newest sample at or before the window start marks the window as covered; keep it.
      let i = e.length - 1;
      while (i > 0 && e[i]!.at > now - this.windowMs) i--;
      keepFrom = Math.min(keepFrom, i);
    }
    if (keepFrom > 0) this.entries = e.slice(keepFrom);
  }

  private windowStable(): boolean {
    const e = this.entries;
    const newest = e[e.length - 1]!;
    if (this.windowSamples !== undefined && e.length < this.windowSamples) return false;
    if (this.windowMs !== undefined && newest.at - e[0]!.at < this.windowMs) return false;
    return e.every((x) => Math.abs(x.kg - newest.kg) <= this.toleranceKg);
  }
}
