import { EventEmitter } from 'node:events';
import type { DeviceHealth } from '../protocols/mqtt/index.js';
import type { Driver, Reading } from './driver.js';
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
 * One configured device: a driver on a transport, kept open. When the link drops (unplug,
 * socat killed) it reopens the same path with backoff, so a scanner that comes back at the same
 * /dev/serial/by-id path resumes without a restart (node-red-nodes#564 locks up instead).
 */
export class Device extends EventEmitter<DeviceEvents> {
  private stopped = false;
  private delay: number;
  private timer: NodeJS.Timeout | undefined;
  private state: DeviceHealth['state'] = 'disconnected';
  private lastError: string | undefined;
  private lastFrameAt: number | undefined;
  private reconnects = 0;
  private opened = 0;
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
      for (const r of this.driver.push(bytes)) {
        this.lastFrameAt = r.at;
        this.emit('reading', r);
      }
    });
    transport.onClose((err) => {
      if (this.stopped) return;
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
    await this.transport.close();
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

  private async open(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.transport.open();
      if (this.opened++ > 0) this.reconnects++;
      this.delay = this.o.reopenMinMs;
      this.driver.reset();
      await this.driver.start?.(this.transport);
      this.setState('connected', undefined);
    } catch (err) {
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
    if (s === this.state) return;
    this.state = s;
    this.emit('state', s, err);
  }
}
