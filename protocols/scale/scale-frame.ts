/**
 * The frames every scale parser in `protocols/scale/` returns: one tagged union for all protocols,
 * so an edge driver can switch on `kind` without knowing which indicator is on the wire.
 *
 * Numbers are JSON numbers rounded to the decimals the device sent (no float artefacts);
 * `weightKg`/`tareKg` are the same values normalised to kilograms, or absent when the unit is not
 * a mass unit we know exactly (see `units.ts`): we never guess a conversion.
 */

/** The protocols `createScaleParser` knows. */
export type ScaleProtocol = 'mt-sics' | 'toledo' | 'ascii' | 'xk3190';

export const SCALE_PROTOCOLS: readonly ScaleProtocol[] = ['mt-sics', 'toledo', 'ascii', 'xk3190'];

/** A weight reading (gross or net) as displayed by the device. */
export interface WeightFrame {
  kind: 'weight';
  /** Signed weight in `unit`, as displayed (decimal point applied). */
  weight: number;
  /** Unit as the device named it (`g`, `kg`, `lb`, `t`, ...); the configured default when the format carries none. */
  unit: string;
  /** `weight` in kilograms; absent when `unit` is not a known mass unit. */
  weightKg?: number;
  /**
   * The device's stability flag (no motion). Absent when the format carries none (XK3190 streams,
   * the `ww` format): treat absent as "not known stable" and use `StabilityDetector` (stability.ts).
   */
  stable?: boolean;
  /** true = net, false = gross; absent when the format does not say. */
  net?: boolean;
  /** Tare in `unit`, when the format carries it. */
  tare?: number;
  /** `tare` in kilograms, when known. */
  tareKg?: number;
  /** Display division d in `unit` (increment size), when the format carries it (Toledo SWA). */
  division?: number;
  /** Device address / ID, for multi-drop formats that carry one (CAS ID byte, XK3190 address). */
  deviceId?: string;
}

/** A piece count (counting mode: A&D `QT`, Ohaus `PCS`). Not a weight, so no `weightKg`. */
export interface CountFrame {
  kind: 'count';
  /** Signed piece count as displayed. */
  count: number;
  /** Unit as sent (`PC`, `PCS`). */
  unit: string;
  /** The device's stability flag. */
  stable: boolean;
}

/** A tare value reported on its own (MT-SICS `T S`/`TI`/`TA A`, A&D header `TR`/`PT`, XK3190 command C). */
export interface TareFrame {
  kind: 'tare';
  /** Tare in `unit`. */
  tare: number;
  unit: string;
  /** `tare` in kilograms, when `unit` is known. */
  tareKg?: number;
  /** Stable when the tare was taken (MT-SICS `T S`/`TI S`); absent when the format does not say. */
  stable?: boolean;
  /** Preset (keyed-in) tare rather than a weighed one (A&D `PT`, MT-SICS `TA`). */
  preset?: boolean;
  deviceId?: string;
}

/**
 * Why the device gave no weight. `command` names the reply it came in when the protocol says
 * (MT-SICS `Z +` = zero range exceeded upwards: `{status:'overload', command:'Z'}`).
 */
export type ScaleStatus =
  /** Above capacity / above the allowed range (MT-SICS `+`, A&D `OL`, Toledo out of range and positive). */
  | 'overload'
  /** Below zero range / below the allowed range (MT-SICS `-`, A&D `OL,-`, XK3190-A12 `LO`). */
  | 'underload'
  /** Understood but not executable now: busy, or stability timeout (MT-SICS `I`). */
  | 'not-executable'
  /** Command not recognised (MT-SICS `ES`). */
  | 'syntax-error'
  /** Parity/overrun/baud problem on the line (MT-SICS `ET`). */
  | 'transmission-error'
  /** Command recognised but not allowed / wrong parameter (MT-SICS `EL`, `<cmd> L`). */
  | 'logic-error';

export interface StatusFrame {
  kind: 'status';
  status: ScaleStatus;
  /** Reply ID the status came in (MT-SICS `S`, `Z`, `T`, `I4`, ...), when the protocol names one. */
  command?: string;
}

/** A command acknowledged without data: MT-SICS `Z A`, `ZI S|D`, `TAC A`, XK3190 handshake (command A). */
export interface AckFrame {
  kind: 'ack';
  command: string;
  /** `ZI S` (stable) / `ZI D` (dynamic): under which condition the command was executed. */
  stable?: boolean;
  deviceId?: string;
}

/** Identification / information replies: MT-SICS `I0`..`I5` (the reply to `@` is `I4 A "<SN>"`). */
export interface InfoFrame {
  kind: 'info';
  command: string;
  /** The reply's parameters, quotes removed. */
  values: string[];
  /** MT-SICS status `B`: more lines of this reply follow. */
  more?: boolean;
  /** Convenience for `I4`: the serial number. */
  serialNumber?: string;
}

/**
 * Any other well-formed reply, kept raw: MT-SICS commands we do not model (`M21 A 0 0`), XK3190
 * order-method replies E (truck no.) / F (cargo no.) whose data the manual does not lay out.
 */
export interface ReplyFrame {
  kind: 'reply';
  command: string;
  status: string;
  values: string[];
}

export type ScaleFrame = WeightFrame | CountFrame | TareFrame | StatusFrame | AckFrame | InfoFrame | ReplyFrame;
