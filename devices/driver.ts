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
  raw: string;
  at: number;
}

/** A device-level status worth surfacing: scale overload, reader error, ... */
export interface DeviceStatusReading {
  kind: 'status';
  status: string;
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
  /** Default serial line settings; URI parameters override them. */
  line?: { baudRate?: number; dataBits?: 5 | 6 | 7 | 8; parity?: 'none' | 'even' | 'odd'; stopBits?: 1 | 2 };
}

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
  reset(): void;
  readonly counters: DriverCounters;
}
