import type { Transport } from './transport.js';

/**
 * A device reading handed to the edge: what the driver decoded plus the raw bytes/text it came
 * from (`raw`: the line as text for line protocols, upper-case hex for binary frames), so every
 * movement can be traced back to the frame that caused it.
 */
export type Reading = ScanReading | WeightReading | TagReading | DeviceStatusReading;

export interface ScanReading {
  kind: 'scan';
  /** Decoded scan data with any AIM prefix removed. */
  data: string;
  /** AIM symbology identifier, e.g. `]C1`, when the scanner sent one. */
  aim?: string;
  /** The line exactly as received (latin1), for the movement's `raw` field and the audit trail. */
  raw: string;
  /** ms since the epoch. */
  at: number;
}

export interface WeightReading {
  kind: 'weight';
  /** Net weight when the scale reports net, else gross, in kg. */
  weightKg: number;
  /** The scale's own stability flag (undefined when the format has none). */
  stable?: boolean;
  /** True when the weight is net of a tare. */
  net?: boolean;
  tareKg?: number;
  /** Unit as sent by the scale. */
  unit: string;
  /** Scale division (d) in kg, when the frame tells it. */
  divisionKg?: number;
  raw: string;
  at: number;
}

export interface TagReading {
  kind: 'tag';
  /** EPC, upper-case hex. */
  epc: string;
  antenna?: number;
  /** dBm where the reader reports dBm. */
  rssi?: number;
  /**
   * The reader's signal-strength byte as sent, for readers whose manual gives no unit (Chafon:
   * 0..255, larger = stronger). Never converted to dBm by guesswork.
   */
  rssiRaw?: number;
  raw: string;
  at: number;
}

/** A device-level status worth surfacing: scale overload, reader error, ... */
export interface DeviceStatusReading {
  kind: 'status';
  /**
   * What happened, e.g. `overload`, `underload` (scales, from `protocols/scale` `ScaleStatus`),
   * `transmission-error` (MT-SICS `ET`: parity or baud wrong), `error` (RFID reader error byte).
   */
  status: string;
  /** The device's own status/error byte, when it sent one. */
  code?: number;
  /** The command the status answers, when the protocol names one (MT-SICS `S`, `T`, `Z`). */
  command?: string;
  raw: string;
  at: number;
}

/** Operator feedback a driver can give on its device (beeper, LED), when the model supports it. */
export type Feedback = 'ok' | 'error';

/**
 * What a device model is, declaratively (after EdgeX device profiles): what it reads, its
 * default line settings, and its units. Kept apart from how it is read.
 */
export interface DeviceProfile {
  driver: string;
  description: string;
  reads: 'scan' | 'weight' | 'tag';
  /** Every reading kind the driver can emit (`reads` plus e.g. `status`). Default `[reads]`. */
  emits?: ReadonlyArray<Reading['kind']>;
  /** Units of what it reads: `kg` for weights (always normalised), `dBm` for RSSI. */
  units?: Readonly<Record<string, string>>;
  /** Transports the device is reachable over (URI schemes). */
  transports?: ReadonlyArray<'serial' | 'tcp' | 'hid' | 'memory'>;
  /** Default serial line settings; URI parameters override them. */
  line?: { baudRate?: number; dataBits?: 5 | 6 | 7 | 8; parity?: 'none' | 'even' | 'odd'; stopBits?: 1 | 2 };
  /** Driver parameters accepted in the device URI's query (beside the transport's own). */
  params?: Readonly<Record<string, ParamSpec>>;
  /**
   * Inter-byte idle time in ms after which the device runner calls `flush()` (a parser holding
   * back a partial frame gives up on it). Absent: never flushed on idle.
   */
  idleFlushMs?: number;
  /** The manual and section the driver follows. */
  source?: string;
}

/** One driver parameter, declaratively: an enumeration or a bounded integer, with its default. */
export type ParamSpec =
  | { type: 'enum'; values: readonly string[]; default: string; description: string }
  | { type: 'int'; min: number; max: number; default: number; description: string }
  | { type: 'text'; pattern: string; default?: string; description: string };

export interface DriverCounters {
  frames: number;
  droppedBytes: number;
  droppedFrames: number;
}

/**
 * A driver turns one transport's bytes into readings. It owns no I/O of its own: it is attached
 * to an open transport, and detached (`reset`) when the link drops, so partial frames from before
 * an unplug never merge with bytes after it.
 */
export interface Driver {
  readonly profile: DeviceProfile;
  /** Bytes in; readings out. Never throws. */
  push(bytes: Uint8Array): Reading[];
  /** Called after the transport (re)opens; may write init commands or start polling. */
  start?(transport: Transport): Promise<void>;
  /** Called before the transport closes or after it dropped: stop timers. */
  stop?(): void;
  /** Beep/LED on the device; absent when the model has no such command. */
  feedback?(transport: Transport, kind: Feedback): Promise<void>;
  /**
   * The line went idle (see `DeviceProfile.idleFlushMs`) or the input ended (a replayed
   * capture): return any reading a parser was still holding back. Never throws.
   */
  flush?(): Reading[];
  reset(): void;
  readonly counters: DriverCounters;
}
