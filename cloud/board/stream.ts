import type { ServerResponse } from 'node:http';

/** Bounds of one stream's queue (issue 12 #3): past either, the stream is resynced, not grown. */
export interface StreamLimits {
  /** Frames waiting while the socket does not drain. Default 16 (4 s of frames). */
  maxFrames: number;
  /** Bytes waiting. Default 1 MiB. */
  maxBytes: number;
  /** A stream that has not drained for this long is destroyed, ms. Default 30000. */
  stallMs: number;
}

export const DEFAULT_LIMITS: StreamLimits = { maxFrames: 16, maxBytes: 1 << 20, stallMs: 30_000 };

/**
 * One SSE response with a bounded queue, after Grafana Live's and ThingsBoard's per-session guards.
 * A frame is written straight to the socket while it drains; once `write()` says the kernel buffer
 * is full, frames wait here - up to `maxFrames`/`maxBytes`. Beyond that the queue is dropped and
 * the stream is marked for resync: on the next drain it gets `event: resync` and is ended (the
 * page reloads its snapshot). A stream that never drains is destroyed after `stallMs`. So what a
 * stalled client costs the server is bounded by the socket buffer plus these limits, however long
 * it stalls and however fast the ledger moves.
 */
export class SseStream {
  private queue: string[] = [];
  private queuedBytes = 0;
  private blocked = false;
  private blockedSince = 0;
  private overflowed = false;
  private closed = false;
  /** Frames dropped by overflows (for /metrics and tests). */
  dropped = 0;

  constructor(
    readonly res: ServerResponse,
    private readonly limits: StreamLimits,
    private readonly onClose: () => void,
    /** Counted by the hub (its `stats`): the queue overflowed; `event: resync` was written. */
    private readonly on: { overflow?: () => void; resync?: () => void } = {},
  ) {
    res.on('close', () => this.close());
    res.on('drain', () => this.drained());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes this stream holds in its queue (the socket's own buffer aside). */
  get held(): number {
    return this.queuedBytes;
  }

  /** Send one event; `id` is a ledger position (the browser echoes it as `Last-Event-ID`). */
  event(name: string, data: string, id?: number): void {
    this.push(`event: ${name}\n${id === undefined ? '' : `id: ${id}\n`}data: ${data}\n\n`);
  }

  /** A comment line: keeps proxies from closing an idle stream; never queued behind frames. */
  heartbeat(now: number): void {
    if (this.closed) return;
    if (this.blocked) {
      if (now - this.blockedSince > this.limits.stallMs) this.res.destroy();
      return;
    }
    this.push(': hb\n\n');
  }

  /** End the stream after telling the page to reload its snapshot. */
  resync(reason: 'overflow' | 'too-far-behind'): void {
    if (this.closed) return;
    this.queue = [];
    this.queuedBytes = 0;
    if (this.blocked) {
      this.overflowed = true;
      return;
    }
    this.res.end(`event: resync\ndata: ${JSON.stringify({ reason })}\n\n`);
    this.on.resync?.();
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.queue = [];
    this.queuedBytes = 0;
    if (!this.res.writableEnded) this.res.end();
    this.onClose();
  }

  private push(chunk: string): void {
    if (this.closed || this.overflowed) return;
    if (!this.blocked) {
      if (!this.res.write(chunk)) {
        this.blocked = true;
        this.blockedSince = Date.now();
      }
      return;
    }
    this.queue.push(chunk);
    this.queuedBytes += chunk.length;
    if (this.queue.length > this.limits.maxFrames || this.queuedBytes > this.limits.maxBytes) {
      this.dropped += this.queue.length;
      this.queue = [];
      this.queuedBytes = 0;
      this.overflowed = true;
      this.on.overflow?.();
    }
  }

  private drained(): void {
    if (this.closed) return;
    this.blocked = false;
    if (this.overflowed) {
      this.overflowed = false;
      this.resync('overflow');
      return;
    }
    const q = this.queue;
    this.queue = [];
    this.queuedBytes = 0;
    for (const c of q) this.push(c);
  }
}
