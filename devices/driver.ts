import type { Transport } from './transport.js';

/** A device reading handed to the edge: what the driver decoded plus the raw text it came from. */
export type Reading = ScanReading;

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
  /** Called after the transport (re)opens; may write init commands. */
  start?(transport: Transport): Promise<void>;
  reset(): void;
  readonly counters: DriverCounters;
}
