import type { WeightReading } from '../devices/driver.js';
import { StabilityDetector, countByWeight, pieceWeight, type CountWarning, type PieceWeight } from '../protocols/scale/index.js';
import type { MovementDraft } from './outbox/outbox-store.js';
import { isWeightUom, roundQty, weightInItemUom } from './item-uom.js';

/** Options of a {@link WeighStation} (the `stations[]` entry of the config, resolved). */
export interface WeighStationOptions {
  /** Station name for logs. */
  name: string;
  /** Scale division d, kg. Default: from the frames when they carry it, else 0.001. */
  divisionKg?: number;
  /** |weight| at or below this is "empty". Default 1 d. */
  zeroBandKg?: number;
  /** Every sample must stay within ±1 d for this long, ms (plus the device flag). 0 = device flag only. Default 1000. */
  stableMs?: number;
  /** Scale capacity (Max), kg, for the count-by-weight sample warning. */
  capacityKg?: number;
  /** A stable weight within this of zero, with no load on, is zero drift. Default max(20 d, 0.1 kg). */
  driftBandKg?: number;
  /** A scale outside any station: track stability and drift, make no placements or refusals. */
  monitorOnly?: boolean;
}

/** The item a scan armed the station with: the session's movement draft for it, plus master data. */
export interface ArmedItem {
  /** Key for remembered sample APWs: the sku, else the GTIN. */
  key: string;
  /** From the item cache. */
  unitWeightKg?: number;
  /** The item master's uom (undefined: an unknown item, or one without a uom). */
  uom?: string;
  /** The draft the scan made (kind, location, context, item fields, raw scan). */
  draft: MovementDraft;
}

export type StationEvent =
  | {
      type: 'placement';
      /** The movement: the armed draft with qty, uom, device, raw and ts of the weighing. */
      draft: MovementDraft;
      weightKg: number;
      basis: 'count' | 'weight';
      apwKg?: number;
      uncertaintyPieces?: number;
      warnings: CountWarning[];
    }
  | { type: 'sampled'; item: string; pieces: number; weightKg: number; apwKg: number; warnings: CountWarning[] }
  | { type: 'refused'; code: string; message: string }
  | { type: 'warning'; code: string; message: string }
  | { type: 'zeroed'; weightKg: number };

export type StationState = 'wait-zero' | 'ready' | 'loaded';

/** Count-by-weight warnings that describe a physical sample: meaningless for an item master weight. */
const SAMPLE_ONLY = new Set(['sample-too-small', 'sample-below-capacity-fraction']);

/**
 * A weigh station: one scanner and one scale (config `stations: [{scanner, scale}]`). Also used
 * without a scanner for every other scale, to track stability and zero drift.
 *
 * Operator flow: scan the item (arms the station), place the load. The first stable weight beyond
 * the zero band makes one placement; the scale must then come back within the zero band before
 * another placement counts, so a load sitting on the scale is counted once however many frames
 * it sends. One scan arms one placement. Quantity, always in the item's uom (issue 9, C3):
 * - an item mastered in a weight unit (kg, g, t): the weight, in that unit;
 * - else pieces by count by weight when the item has an APW: a sample taken here (`SAMPLE:n`,
 *   then place n pieces: that stable weight is n pieces) wins over the item master's
 *   `unitWeightKg`; the count is in the item's uom (`ea` when it has none);
 * - else, for an unknown item (or one without a uom): kilograms, uom `kg` (bulk material);
 * - else (an item counted in bag, ea... with no unit weight and no sample) the placement is
 *   refused with `SG_ERR_WEIGH_NEEDS_SAMPLE` and the item stays armed: take the load off, scan
 *   `SAMPLE:n`, place n pieces, then the load. (Booking kg into a bag balance was C3.)
 *
 * Stable = the scale's own flag plus every sample of the last `stableMs` within ±1 d
 * (`protocols/scale` StabilityDetector). Zero drift = the latest stable weight while the scale is
 * empty: within the zero band, or within the drift band after a load was taken off.
 *
 * Pure apart from the clock (the readings' `at`): unit-tested with synthetic readings.
 */
export class WeighStation {
  readonly name: string;
  private state: StationState = 'wait-zero';
  private armed: ArmedItem | undefined;
  private samplePieces: number | undefined;
  private readonly apw = new Map<string, PieceWeight>();
  private detector: StabilityDetector;
  private division: number;
  private readonly divisionFixed: boolean;
  private loadKg = 0;
  private warned = false;
  /** The weight moved (an unstable reading) since the last stable one: a placement, not creep. */
  private moved = false;
  private readonly stableMs: number;
  /** Latest zero drift, kg (undefined until the scale was seen empty and stable). */
  zeroDriftKg: number | undefined;
  /** Latest weight and stability, for telemetry. */
  lastWeightKg: number | undefined;
  lastStable = false;
  readonly stats = { frames: 0, placements: 0, refused: 0 };

  constructor(private readonly o: WeighStationOptions) {
    this.name = o.name;
    this.divisionFixed = o.divisionKg !== undefined;
    this.division = o.divisionKg ?? 0.001;
    this.stableMs = o.stableMs ?? 1000;
    this.detector = this.newDetector();
  }

  get currentState(): StationState {
    return this.state;
  }

  get armedItem(): ArmedItem | undefined {
    return this.armed;
  }

  /** Sample APWs remembered at this station, by item key. */
  sampledApw(key: string): PieceWeight | undefined {
    return this.apw.get(key);
  }

  get zeroBandKg(): number {
    return this.o.zeroBandKg ?? this.division;
  }

  get driftBandKg(): number {
    return this.o.driftBandKg ?? Math.max(20 * this.division, 0.1);
  }

  /** An item scan at the paired scanner: the next placement is this item. */
  arm(item: ArmedItem): StationEvent[] {
    if (item.draft.serial || item.draft.epc) {
      return [{ type: 'refused', code: 'SG_ERR_WEIGH_SERIALISED', message: `${item.key} is serialised: scan each unit, do not weigh it` }];
    }
    this.armed = item;
    this.samplePieces = undefined;
    return [];
  }

  /** `SAMPLE:n`: the next stable placement is n pieces of the armed item (its APW, no movement). */
  sample(pieces: number): StationEvent[] {
    if (!this.armed) return [{ type: 'refused', code: 'SG_ERR_WEIGH_NO_ITEM', message: 'SAMPLE: scan the item first' }];
    this.samplePieces = pieces;
    return [];
  }

  /** How a placement of this item would be booked (for the operator's log when it is armed). */
  basisFor(item: ArmedItem): string {
    if (isWeightUom(item.uom)) return `weight (${item.uom})`;
    const apw = this.apw.get(item.key)?.apwKg ?? item.unitWeightKg;
    if (apw) return `pieces in ${item.uom ?? 'ea'} (APW ${apw} kg)`;
    if (item.uom === undefined) return 'weight (kg)';
    return `needs SAMPLE:n first (${item.key} is counted in ${item.uom} and has no unit weight)`;
  }

  /** Forget the armed item and any pending sample (a cancel). */
  disarm(): void {
    this.armed = undefined;
    this.samplePieces = undefined;
  }

  weight(r: WeightReading): StationEvent[] {
    this.stats.frames++;
    if (!this.divisionFixed && r.divisionKg && r.divisionKg !== this.division) {
      this.division = r.divisionKg;
      this.detector = this.newDetector();
    }
    this.lastWeightKg = r.weightKg;
    const stable = this.stableMs === 0 ? r.stable !== false : this.detector.push({ weightKg: r.weightKg, stable: r.stable }, r.at);
    this.lastStable = stable;
    if (!stable) {
      this.moved = true;
      return [];
    }
    const moved = this.moved;
    this.moved = false;
    const w = r.weightKg;
    const zero = Math.abs(w) <= this.zeroBandKg + 1e-12;
    if (zero) {
      this.zeroDriftKg = w;
      if (this.state === 'ready') return [];
      this.setState('ready');
      return [{ type: 'zeroed', weightKg: w }];
    }
    switch (this.state) {
      case 'wait-zero':
        if (Math.abs(w) <= this.driftBandKg) this.zeroDriftKg = w;
        return this.warnOnce('SG_ERR_WEIGH_NOT_ZERO', `scale reads ${w} kg with nothing counted on it: clear and zero the scale`);
      case 'loaded':
        // The load came off but the scale did not return to zero: drift (or a part left on it).
        if (Math.abs(w) <= this.driftBandKg && Math.abs(w) < 0.5 * Math.abs(this.loadKg)) {
          this.zeroDriftKg = w;
          this.setState('wait-zero');
          return this.warnOnce('SG_ERR_WEIGH_NOT_ZERO', `scale returned to ${w} kg, outside the zero band ±${this.zeroBandKg} kg: zero the scale`);
        }
        return [];
      case 'ready':
        // Reached without any motion: the zero crept (drift), nothing was placed.
        if (!moved && this.stableMs > 0 && Math.abs(w) <= this.driftBandKg) {
          this.zeroDriftKg = w;
          this.setState('wait-zero');
          return this.warnOnce('SG_ERR_WEIGH_NOT_ZERO', `scale zero drifted to ${w} kg, outside the zero band ±${this.zeroBandKg} kg: zero the scale`);
        }
        if (this.o.monitorOnly) {
          this.loadKg = w;
          this.setState('loaded');
          return [];
        }
        return this.place(w, r);
    }
  }

  private place(w: number, r: WeightReading): StationEvent[] {
    this.loadKg = w;
    this.setState('loaded');
    if (w < 0) {
      this.setState('wait-zero');
      this.warned = true; // the refusal told the operator already
      this.stats.refused++;
      return [{ type: 'refused', code: 'SG_ERR_WEIGH_NEGATIVE', message: `negative weight ${w} kg: zero the scale` }];
    }
    const item = this.armed;
    if (!item) {
      this.stats.refused++;
      return [{ type: 'refused', code: 'SG_ERR_WEIGH_NO_ITEM', message: `load of ${w} kg placed with no item scanned: take it off, scan the item, place it again` }];
    }
    if (this.samplePieces !== undefined) {
      const pieces = this.samplePieces;
      this.samplePieces = undefined;
      const pw = pieceWeight(w, pieces);
      this.apw.set(item.key, pw);
      const check = countByWeight({ sampleKg: w, samplePieces: pieces, netKg: w, resolutionKg: this.division, ...(this.o.capacityKg ? { capacityKg: this.o.capacityKg } : {}) });
      return [{ type: 'sampled', item: item.key, pieces, weightKg: w, apwKg: check.apwKg, warnings: check.warnings }];
    }
    const base: MovementDraft = { ...item.draft, ts: new Date(r.at).toISOString(), raw: `${item.draft.raw} | ${r.raw}`.slice(0, 4096) };
    if (isWeightUom(item.uom)) {
      this.armed = undefined;
      const inUom = weightInItemUom(w, item);
      this.stats.placements++;
      return [{ type: 'placement', draft: { ...base, qty: inUom.ok ? inUom.qty : w, uom: inUom.ok ? inUom.uom : 'kg' }, weightKg: w, basis: 'weight', warnings: [] }];
    }
    const sampled = this.apw.get(item.key);
    if (!sampled && !item.unitWeightKg && item.uom !== undefined) {
      // Stays armed: the operator takes the load off, samples, and places it again.
      this.stats.refused++;
      return [{ type: 'refused', code: 'SG_ERR_WEIGH_NEEDS_SAMPLE', message: `${item.key} is counted in ${item.uom} and has no unit weight: take the load off, scan SAMPLE:n, place n pieces, then the load` }];
    }
    this.armed = undefined;
    const cap = this.o.capacityKg ? { capacityKg: this.o.capacityKg } : {};
    let count: ReturnType<typeof countByWeight> | undefined;
    if (sampled) {
      count = countByWeight({ sampleKg: sampled.sampleKg, samplePieces: sampled.samplePieces, netKg: w, resolutionKg: this.division, ...cap });
    } else if (item.unitWeightKg) {
      count = countByWeight({ sampleKg: item.unitWeightKg, samplePieces: 1, netKg: w, resolutionKg: this.division, ...cap });
      count.warnings = count.warnings.filter((x) => !SAMPLE_ONLY.has(x.code));
    }
    if (count) {
      if (count.pieces < 1) {
        this.stats.refused++;
        return [{ type: 'refused', code: 'SG_ERR_WEIGH_ZERO_COUNT', message: `${w} kg is less than half a piece of ${item.key} (APW ${count.apwKg} kg)` }];
      }
      this.stats.placements++;
      return [
        {
          type: 'placement',
          draft: { ...base, qty: count.pieces, uom: item.uom ?? 'ea' },
          weightKg: w,
          basis: 'count',
          apwKg: count.apwKg,
          uncertaintyPieces: count.uncertaintyPieces,
          warnings: count.warnings,
        },
      ];
    }
    this.stats.placements++;
    // Bulk material in kg, at the ledger's 3 decimals (a 0.1 mg balance reads more).
    return [{ type: 'placement', draft: { ...base, qty: roundQty(w), uom: 'kg' }, weightKg: w, basis: 'weight', warnings: [] }];
  }

  private setState(s: StationState): void {
    if (s !== this.state) this.warned = false;
    this.state = s;
  }

  private warnOnce(code: string, message: string): StationEvent[] {
    if (this.warned) return [];
    this.warned = true;
    return [{ type: 'warning', code, message }];
  }

  private newDetector(): StabilityDetector {
    return new StabilityDetector({ mode: 'both', windowMs: Math.max(1, this.stableMs), divisionKg: this.division, toleranceDivisions: 1 });
  }
}
