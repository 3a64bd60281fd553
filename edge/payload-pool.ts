/**
 * Reusable payload buffers for the batches in flight. A batch is ~125 KB; as a fresh string or
 * Buffer per publish it lives until the PUBACK, long enough to be promoted out of V8's young
 * generation, so a drain grew the old space (or external memory) by ~40 MB between full GCs.
 * With the bytes written into one of `window` + 2 reused buffers, the only per-batch garbage is
 * the short-lived string SQLite returns, which dies young.
 */
export class PayloadPool {
  private readonly free: Buffer[] = [];
  constructor(private readonly keep: number) {}

  take(bytes: number): Buffer {
    const i = this.free.findIndex((b) => b.length >= bytes);
    if (i >= 0) return this.free.splice(i, 1)[0]!;
    return Buffer.allocUnsafeSlow(Math.max(bytes, 256 * 1024));
  }

  give(buf: Buffer): void {
    if (this.free.length < this.keep) this.free.push(buf);
  }
}
