import type { Transport } from './transport.js';

/**
 * In-process transport pairs, addressed by name (`memory://dock1`). One side is the device's
 * driver, the other a simulator or test. Used when no pseudo-terminal is available (the demo
 * without socat) and in unit tests; everything above the transport runs unchanged.
 */
export class MemoryTransport implements Transport {
  readonly uri: string;
  peer: MemoryTransport | undefined;
  private dataCb: ((b: Uint8Array) => void) | undefined;
  private closeCb: ((err?: Error & { disconnected?: boolean }) => void) | undefined;
  private isOpen = false;

  constructor(name: string) {
    this.uri = `memory://${name}`;
  }

  /** Two connected ends. */
  static pair(name: string): [MemoryTransport, MemoryTransport] {
    const a = new MemoryTransport(name);
    const b = new MemoryTransport(`${name}#peer`);
    a.peer = b;
    b.peer = a;
    return [a, b];
  }

  async open(): Promise<void> {
    this.isOpen = true;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (!this.isOpen) throw new Error(`${this.uri}: not open`);
    const copy = Uint8Array.from(bytes);
    const peer = this.peer;
    // Asynchronous like a real link, so a writer never re-enters the reader's stack.
    setImmediate(() => peer?.isOpen && peer.dataCb?.(copy));
  }

  async close(): Promise<void> {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.closeCb?.();
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: Error & { disconnected?: boolean }) => void): void {
    this.closeCb = cb;
  }
}

/** Named memory endpoints, so `--device x=scanner@memory://x` can meet an in-process simulator. */
const registry = new Map<string, [MemoryTransport, MemoryTransport]>();

/** The device-side end of the named pair (created on first use). */
export function memoryDeviceEnd(name: string): MemoryTransport {
  return memoryPair(name)[0];
}

/** The simulator-side end of the named pair. */
export function memorySimulatorEnd(name: string): MemoryTransport {
  return memoryPair(name)[1];
}

function memoryPair(name: string): [MemoryTransport, MemoryTransport] {
  let p = registry.get(name);
  if (!p) {
    p = MemoryTransport.pair(name);
    registry.set(name, p);
  }
  return p;
}
