import type { ScaleFrame } from '../protocols/scale/scale-frame.js';
import { decimalsOf, toKg } from '../protocols/scale/units.js';
import type { DeviceStatusReading, Reading, WeightReading } from './driver.js';
import { hex, type Tracked } from './raw-tracker.js';

/** What a scale driver knows beyond the frame (MT-SICS: the tare it set or queried). */
export interface ScaleContext {
  /** Current tare in kg when known; 0 = no tare (gross). */
  tareKg?: number;
}

/**
 * The reading for a decoded scale frame: weights (normalised to kg) and statuses (overload,
 * underload, MT-SICS errors). Returns undefined for frames that are not readings (acks, info,
 * counts) or weights in a unit we cannot convert exactly; the driver counts those.
 */
export function scaleReading(frame: ScaleFrame, raw: string, at: number, ctx: ScaleContext = {}): Reading | undefined {
  if (frame.kind === 'status') {
    const r: DeviceStatusReading = { kind: 'status', status: frame.status, raw, at };
    if (frame.command !== undefined) r.command = frame.command;
    return r;
  }
  if (frame.kind !== 'weight' || frame.weightKg === undefined) return undefined;
  const r: WeightReading = { kind: 'weight', weightKg: frame.weightKg, unit: frame.unit, raw, at };
  if (frame.stable !== undefined) r.stable = frame.stable;
  const net = frame.net ?? (ctx.tareKg === undefined ? undefined : ctx.tareKg !== 0);
  if (net !== undefined) r.net = net;
  const tareKg = frame.tareKg ?? (net ? ctx.tareKg : undefined);
  if (tareKg !== undefined && (net || frame.tareKg !== undefined)) r.tareKg = tareKg;
  if (frame.division !== undefined) {
    const d = toKg(frame.division, frame.unit, decimalsOf(frame.division));
    if (d !== undefined) r.divisionKg = d;
  }
  return r;
}

/** Readings from tracked scale frames: raw = the frame's bytes as hex. */
export function trackedScaleReadings(tracked: Tracked<ScaleFrame>[], at: number, onDrop: () => void): Reading[] {
  const out: Reading[] = [];
  for (const { frame, raw } of tracked) {
    const r = scaleReading(frame, hex(raw), at);
    if (r) out.push(r);
    else onDrop();
  }
  return out;
}

