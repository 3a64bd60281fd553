import { EventEmitter } from 'node:events';
import type { DeviceHealth } from '../protocols/mqtt/index.js';
import type { Driver, Feedback, Reading } from './driver.js';
import type { Transport } from './transport.js';

export interface DeviceOptions {
  /** First reopen delay after a failure or unplug, ms; doubles up to `reopenMaxMs`. Default 200. */
  reopenMinMs?: number;
  /** Longest reopen delay, ms. Default 5000. */
  reopenMaxMs?: number;
}

export interface DeviceEvents {
  reading: [Reading];
  state: [DeviceHealth['state'], Error | undefined];
}

/**
 * Errors that mean "the device is not there" (unplugged, powered off, not yet back at its
 * /dev/serial/by-id path): the device stays `disconnected` while it is retried. Anything else
 * (permissions, a locked port, node-hid missing) is an `error`.
 */
function isAbsent(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | undefined;
  if (e?.code && ['ENOENT', 'ENODEV', 'ENXIO', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'SG_ERR_DEVICE_NOT_FOUND'].includes(e.code)) {
    return true;
  }
  // serialport's native binding reports a missing path as text only.
  return /No such file or directory|ENOENT/.test(e?.message ?? '');
}

/**
 * One configured device: a driver on a transport, kept open. When the link drops (unplug,
 * socat killed, TCP peer gone) it reopens the same path with backoff, so a device that comes back
 * at the same /dev/serial/by-id path (or address) resumes without a restart (node-red-nodes#564
 * locks up instead). Detection needs a read pending, which the transports' data listeners keep.
 *
 * The runner also gives drivers their idle flush: `profile.idleFlushMs` after the last byte, it
 * calls `driver.flush()` so a parser holding back a partial frame (RFID after a corrupted length
 * byte) lets go of what follows it.
 */
export class Device extends EventEmitter<DeviceEvents> {
  private stopped = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private state: DeviceHealth['state'] = 'disconnected';
  private told = false;
  private lastError: string | undefined;
  private lastFrameAt: number | undefined;
  private reconnects = 0;
  private opened = 0;
  /** True while we close the transport ourselves (a failed driver start): not an unplug. */
  private closingOurselves = false;
  private readonly o: Required<DeviceOptions>;

  constructor(
    readonly name: string,
    readonly driver: Driver,
    readonly transport: Transport,
    opts: DeviceOptions = {},
  ) {
    super();
    this.o = { reopenMinMs: 200, reopenMaxMs: 5000, ...opts };
    this.delay = this.o.reopenMinMs;
    transport.onData((bytes) => {
      this.deliver(this.driver.push(bytes));
      this.armIdleFlush();
    });
    transport.onClose((err) => {
      if (this.stopped || this.closingOurselves) return;
      clearTimeout(this.idleTimer);
      this.driver.stop?.();
      this.driver.reset();
      this.setState('disconnected', err ?? new Error('closed'));
      this.schedule();
    });
  }

  start(): void {
    this.stopped = false;
    void this.open();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    clearTimeout(this.idleTimer);
    this.driver.stop?.();
    await this.transport.close();
  }

  /** Current state: `connected`, `disconnected` (absent, being retried) or `error`. */
  get currentState(): DeviceHealth['state'] {
    return this.state;
  }

  /**
   * Operator feedback (beep/LED) when the driver supports it for this model. Resolves false when
   * it does not (see the driver's README), true once the command was written.
   */
  async feedback(kind: Feedback): Promise<boolean> {
    if (!this.driver.feedback || this.state !== 'connected') return false;
    await this.driver.feedback(this.transport, kind);
    return true;
  }

  health(): DeviceHealth {
    const h: DeviceHealth = {
      id: this.name,
      type: this.driver.profile.driver,
      state: this.state,
      reconnects: this.reconnects,
      droppedFrames: this.driver.counters.droppedFrames,
    };
    if (this.lastFrameAt) h.lastFrameAt = new Date(this.lastFrameAt).toISOString();
    if (this.lastError && this.state !== 'connected') h.error = this.lastError;
    return h;
  }

  private deliver(readings: Reading[]): void {
    for (const r of readings) {
      this.lastFrameAt = r.at;
      this.emit('reading', r);
    }
  }

  private armIdleFlush(): void {
    const ms = this.driver.profile.idleFlushMs;
    if (!this.driver.flush || ms === undefined) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => this.deliver(this.driver.flush!()), ms);
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.transport.open();
    } catch (err) {
      this.setState(isAbsent(err) ? 'disconnected' : 'error', err as Error);
      this.schedule();
      return;
    }
    if (this.stopped) {
      await this.transport.close();
      return;
    }
    try {
      if (this.opened++ > 0) this.reconnects++;
      this.driver.reset();
      await this.driver.start?.(this.transport);
      this.delay = this.o.reopenMinMs;
      this.setState('connected', undefined);
    } catch (err) {
      // The link is open but the device did not take its init commands: close and retry.
      this.driver.stop?.();
      this.closingOurselves = true;
      await this.transport.close().catch(() => undefined);
      this.closingOurselves = false;
      this.setState('error', err as Error);
      this.schedule();
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.open(), this.delay);
    this.delay = Math.min(this.o.reopenMaxMs, this.delay * 2);
  }

  private setState(s: DeviceHealth['state'], err: Error | undefined): void {
    this.lastError = err?.message;
    // The first open's outcome is always told, even `disconnected` (the initial state): a device
    // absent at start must be heard at once (issue 8, finding 12), not only when it comes back.
    if (s === this.state && this.told) return;
    this.told = true;
    this.state = s;
    this.emit('state', s, err);
  }
}
