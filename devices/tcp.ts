import { Socket } from 'node:net';
import type { Transport } from './transport.js';
import { uriError } from './params.js';

/** Settings of a TCP link to a device with an Ethernet port (scale indicators, RFID readers, serial servers). */
export interface TcpSettings {
  host: string;
  port: number;
  /** Give up a connection attempt after this many ms. Default 5000. */
  connectTimeoutMs?: number;
  /**
   * Treat the link as dead when no byte arrived for this many ms (0 = never). For devices that
   * stream continuously (Toledo, XK3190), a power-cut indicator sends no FIN; this notices it.
   * Default 0.
   */
  idleTimeoutMs?: number;
}

/** `HOST:PORT` (or `[v6]:PORT`) plus URI parameters `connectTimeoutMs`, `idleTimeoutMs`. */
export function tcpSettingsFromUri(target: string, params: Record<string, string>): TcpSettings {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(target);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port < 1 || port > 65535) throw uriError(`tcp ${target}: expected HOST:PORT with a port 1..65535`);
  const s: TcpSettings = { host: m[1] ?? m[2]!, port };
  for (const [k, v] of Object.entries(params)) {
    if (k !== 'connectTimeoutMs' && k !== 'idleTimeoutMs') throw uriError(`tcp ${target}: unknown parameter '${k}' (connectTimeoutMs, idleTimeoutMs)`);
    if (!/^\d+$/.test(v)) throw uriError(`tcp ${target}: ${k}=${v} is not a whole number of ms`);
    s[k] = Number(v);
  }
  return s;
}

/**
 * A device on a TCP socket (node:net). Each `open()` is a fresh connection; when the peer closes,
 * resets or goes idle past `idleTimeoutMs`, `onClose` fires with `disconnected: true` and the
 * device runner (`device.ts`) reconnects with backoff. Keep-alive is on so a dead peer is noticed.
 */
export class TcpTransport implements Transport {
  readonly uri: string;
  private socket: Socket | undefined;
  private dataCb: ((b: Uint8Array) => void) | undefined;
  private closeCb: ((err?: Error & { disconnected?: boolean }) => void) | undefined;

  constructor(private readonly settings: TcpSettings) {
    this.uri = `tcp://${settings.host.includes(':') ? `[${settings.host}]` : settings.host}:${settings.port}`;
  }

  open(): Promise<void> {
    this.socket?.destroy();
    const socket = new Socket();
    this.socket = socket;
    const { host, port } = this.settings;
    return new Promise((resolve, reject) => {
      const fail = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      socket.setTimeout(this.settings.connectTimeoutMs ?? 5000, () => fail(Object.assign(new Error(`${this.uri}: connect timed out`), { code: 'ETIMEDOUT' })));
      socket.once('error', fail);
      socket.connect({ host, port }, () => {
        socket.removeListener('error', fail);
        socket.setTimeout(this.settings.idleTimeoutMs ?? 0);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 10_000);
        let reason: Error | undefined;
        socket.on('timeout', () => {
          reason = new Error(`${this.uri}: no data for ${this.settings.idleTimeoutMs} ms`);
          socket.destroy();
        });
        socket.on('error', (err) => (reason = err));
        socket.on('data', (b: Buffer) => this.dataCb?.(b));
        socket.once('close', () => {
          if (this.socket === socket) this.socket = undefined;
          this.closeCb?.(Object.assign(reason ?? new Error(`${this.uri}: connection closed by the device`), { disconnected: true }));
        });
        resolve();
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    const socket = this.socket;
    if (!socket || socket.destroyed || socket.connecting) return Promise.reject(new Error(`${this.uri}: not open`));
    return new Promise((resolve, reject) => socket.write(bytes, (err) => (err ? reject(err) : resolve())));
  }

  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    if (!socket || socket.destroyed) return Promise.resolve();
    return new Promise((resolve) => {
      socket.once('close', () => resolve());
      socket.destroy();
    });
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: Error & { disconnected?: boolean }) => void): void {
    this.closeCb = cb;
  }
}
