/**
 * Count by weight: average piece weight (APW) from a counted sample, pieces = round(net / APW),
 * with an uncertainty estimate in pieces and warnings when the count should not be trusted.
 *
 * Uncertainty (delta method, device-protocols.md §1 "Count by weight"; the effect is studied in
 * Steiner & MacKay, "Scale Counting"). With n sample pieces weighing S, a load W and
 * N = W / APW = n·W / S:
 *
 *     σ_N² = CV²·(N²/n + N)                       piece-to-piece variation, in the sample (N²/n)
 *                                                 and in the load itself (N)
 *          + r·(d²/12)·(1/APW² + N²/S²)           scale rounding of W and of S (uniform ±d/2)
 *
 * i.e. relative σ ≈ √(CV²(1/n + 1/N) + (d²/12)(1/W² + 1/S²)). Example: CV 1 %, n = 10, N = 1000,
 * d = 0 gives σ ≈ 3.2 pieces; n = 50 gives ≈ 1.4 (matches the reference doc).
 *
 * Assumptions: pieces are independent with a common mean and CV (default 1 %; typical
 * 0.5–1.5 %); each net weight is one rounded reading (r = 1) when the container was tared on the
 * scale, or two (gross and the weighed container, r = 2) when `tareKg` is subtracted here; the
 * sample and the load are weighed on the same scale (same d); linearity and drift are ignored.
 */
import { ProtocolError } from '../errors.js';

/** A piece weight and the evidence behind it (kept so a re-baseline can weight by pieces). */
export interface PieceWeight {
  /** Average piece weight, kg. */
  apwKg: number;
  /** Pieces counted into the APW so far. */
  samplePieces: number;
  /** Their total net weight, kg. */
  sampleKg: number;
}

/** Input of {@link countByWeight}. All weights in kg. */
export interface CountInput {
  /** Weight of the counted sample, kg: net if the container was tared on the scale, else pass `tareKg`. */
  sampleKg: number;
  /** Pieces in the sample (integer >= 1). */
  samplePieces: number;
  /** Weight of the load to count, kg (net, or gross with `tareKg`). */
  netKg: number;
  /** Scale division d, kg. Default 0: the rounding term and the resolution warning are left out. */
  resolutionKg?: number;
  /** Container weight, kg, subtracted from both `sampleKg` and `netKg` (readings taken without taring). Default 0. */
  tareKg?: number;
  /** Scale capacity (Max), kg: enables the "sample below 0.1 % of capacity" warning. */
  capacityKg?: number;
  /** Piece-to-piece coefficient of variation (0.01 = 1 %). Default 0.01. */
  pieceCv?: number;
}

export type CountWarningCode = 'sample-too-small' | 'sample-below-capacity-fraction' | 'apw-below-resolution' | 'doubtful-count';

export interface CountWarning {
  code: CountWarningCode;
  message: string;
}

export interface CountResult {
  /** round(net / APW). */
  pieces: number;
  /** Average piece weight, kg (12 significant digits). */
  apwKg: number;
  /** One standard deviation of the count, in pieces (2 decimals). */
  uncertaintyPieces: number;
  warnings: CountWarning[];
  /** net / APW before rounding (4 decimals), to see how far from an integer it fell. */
  ratio: number;
}

/** Smallest recommended sample, pieces [device-protocols.md §1: >= 10, 50-100 better]. */
export const MIN_SAMPLE_PIECES = 10;
/** Smallest recommended sample as a fraction of capacity [device-protocols.md §1: >= 0.1 %]. */
export const MIN_SAMPLE_CAPACITY_FRACTION = 0.001;
/** A ratio further than this from an integer makes the count doubtful (the reference doc's heuristic). */
export const DOUBTFUL_FRACTION = 0.3;
/** Default piece CV. */
export const DEFAULT_PIECE_CV = 0.01;

function fail(field: string, why: string, code: 'SG_ERR_PROTO_ARGUMENT' | 'SG_ERR_PROTO_RANGE' = 'SG_ERR_PROTO_ARGUMENT'): never {
  throw new ProtocolError(code, `${field} ${why}`);
}

function finite(field: string, v: number): void {
  if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, `must be a finite number, got ${v}`);
}

/** APW from a counted sample; `tareKg` (default 0) is subtracted first. Throws on invalid input, naming the field. */
export function pieceWeight(sampleKg: number, samplePieces: number, tareKg = 0): PieceWeight {
  finite('sampleKg', sampleKg);
  finite('tareKg', tareKg);
  if (!Number.isInteger(samplePieces) || samplePieces < 1) fail('samplePieces', `must be an integer >= 1, got ${samplePieces}`);
  if (tareKg < 0) fail('tareKg', `must be >= 0, got ${tareKg}`);
  const net = sampleKg - tareKg;
  if (!(net > 0)) fail('sampleKg', `must be > 0 after the tare, got ${net}`, 'SG_ERR_PROTO_RANGE');
  return { apwKg: net / samplePieces, samplePieces, sampleKg: net };
}

/**
 * Re-baseline from a load whose count is known (counted by hand, or a full sealed carton): the
 * APW is recomputed over all pieces seen so far, i.e. weighted by pieces:
 * APW' = (S + W) / (n + N). Weights in kg; `tareKg` (default 0) is subtracted from `countedKg`.
 */
export function rebaseline(current: PieceWeight, countedKg: number, countedPieces: number, tareKg = 0): PieceWeight {
  const load = pieceWeight(countedKg, countedPieces, tareKg);
  const pieces = current.samplePieces + load.samplePieces;
  const kg = current.sampleKg + load.sampleKg;
  return { apwKg: kg / pieces, samplePieces: pieces, sampleKg: kg };
}

/** Count a load by weight. Throws ProtocolError naming the field for invalid input. */
export function countByWeight(input: CountInput): CountResult {
  const tareKg = input.tareKg ?? 0;
  const d = input.resolutionKg ?? 0;
  const cv = input.pieceCv ?? DEFAULT_PIECE_CV;
  finite('netKg', input.netKg);
  finite('resolutionKg', d);
  finite('pieceCv', cv);
  if (d < 0) fail('resolutionKg', `must be >= 0, got ${d}`);
  if (cv < 0 || cv >= 1) fail('pieceCv', `must be in [0, 1), got ${cv}`);
  if (input.capacityKg !== undefined) {
    finite('capacityKg', input.capacityKg);
    if (!(input.capacityKg > 0)) fail('capacityKg', `must be > 0, got ${input.capacityKg}`);
  }
  const pw = pieceWeight(input.sampleKg, input.samplePieces, tareKg);
  const net = input.netKg - tareKg;
  if (net < 0) fail('netKg', `must be >= 0 after the tare, got ${net}`, 'SG_ERR_PROTO_RANGE');

  const n = pw.samplePieces;
  const S = pw.sampleKg;
  const apw = pw.apwKg;
  // Round away binary noise first: 1.045 / 0.01 is 104.49999999999999 in doubles, and must count as 104.5.
  const N = Number((net / apw).toFixed(9));
  const readings = tareKg > 0 ? 2 : 1;
  const variance = cv * cv * ((N * N) / n + N) + ((readings * d * d) / 12) * (1 / (apw * apw) + (N * N) / (S * S));
  const pieces = Math.round(N);

  const warnings: CountWarning[] = [];
  if (n < MIN_SAMPLE_PIECES) {
    warnings.push({ code: 'sample-too-small', message: `sample of ${n} pieces; count at least ${MIN_SAMPLE_PIECES} (50-100 is better)` });
  }
  if (input.capacityKg !== undefined && S < MIN_SAMPLE_CAPACITY_FRACTION * input.capacityKg) {
    warnings.push({
      code: 'sample-below-capacity-fraction',
      message: `sample weighs ${S} kg, below 0.1 % of the ${input.capacityKg} kg capacity`,
    });
  }
  if (d > 0 && apw < d) {
    warnings.push({ code: 'apw-below-resolution', message: `one piece (${round(apw, 12)} kg) is lighter than the scale division ${d} kg` });
  }
  const frac = Math.abs(N - pieces);
  if (frac > DOUBTFUL_FRACTION) {
    warnings.push({ code: 'doubtful-count', message: `net/APW = ${round(N, 4)} is ${round(frac, 4)} from the nearest integer (> ${DOUBTFUL_FRACTION})` });
  }
  return {
    pieces: pieces === 0 ? 0 : pieces,
    apwKg: Number(apw.toPrecision(12)),
    uncertaintyPieces: round(Math.sqrt(variance), 2),
    warnings,
    ratio: round(N, 4),
  };
}

function round(v: number, decimals: number): number {
  const r = Number(v.toFixed(decimals));
  return r === 0 ? 0 : r;
}
