import type { SerialPort } from 'serialport';
import type { Transport } from './transport.js';

/** Line settings of a serial port. JSDoc defaults are serialport's except where noted. */
export interface SerialSettings {
  path: string;
  /** Bits per second. Default 9600. */
  baudRate?: number;
  /** 5-8. Default 8. */
  dataBits?: 5 | 6 | 7 | 8;
  /** Default 'none'. Toledo continuous output is usually 7E1. */
  parity?: 'none' | 'even' | 'odd' | 'mark' | 'space';
  /** Default 1. */
  stopBits?: 1 | 1.5 | 2;
}

/** Settings from URI query parameters (`?baudRate=9600&dataBits=7&parity=even&stopBits=1`). */
export function serialSettingsFromParams(path: string, params: Record<string, string>): SerialSettings {
  const s: SerialSettings = { path };
  const num = (k: string, allowed: number[]) => {
    const v = params[k];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!allowed.includes(n) && !(k === 'baudRate' && Number.isInteger(n) && n > 0)) {
      throw Object.assign(new Error(`serial ${path}: ${k}=${v} is not one of ${allowed.join(', ')}`), { code: 'SG_ERR_DEVICE_URI' });
    }
    return n;
  };
  const baud = num('baudRate', []);
  if (baud !== undefined) s.baudRate = baud;
  const db = num('dataBits', [5, 6, 7, 8]);
  if (db !== undefined) s.dataBits = db as SerialSettings['dataBits'];
  const sb = num('stopBits', [1, 1.5, 2]);
  if (sb !== undefined) s.stopBits = sb as SerialSettings['stopBits'];
  if (params.parity !== undefined) {
    if (!['none', 'even', 'odd', 'mark', 'space'].includes(params.parity)) {
      throw Object.assign(new Error(`serial ${path}: parity=${params.parity} is not none|even|odd|mark|space`), { code: 'SG_ERR_DEVICE_URI' });
    }
    s.parity = params.parity as SerialSettings['parity'];
  }
  for (const k of Object.keys(params)) {
    if (!['baudRate', 'dataBits', 'stopBits', 'parity'].includes(k)) {
      throw Object.assign(new Error(`serial ${path}: unknown parameter '${k}'`), { code: 'SG_ERR_DEVICE_URI' });
    }
  }
  return s;
}

/** The serialport binding: the whole of serial I/O in this project. */
export class SerialTransport implements Transport {
  readonly uri: string;
  private port: SerialPort | undefined;
  private dataCb: ((b: Uint8Array) => void) | undefined;
  private closeCb: ((err?: Error & { disconnected?: boolean }) => void) | undefined;

  constructor(private readonly settings: SerialSettings) {
    this.uri = `serial://${settings.path}`;
  }

  async open(): Promise<void> {
    // Loaded at the first open, not with the registry: serialport and its native binding are
    // ~4 MB of an edge's idle RSS, and an edge without serial devices never needs them (issue 14).
    const { SerialPort } = await import('serialport');
    const port = new SerialPort({
      path: this.settings.path,
      baudRate: this.settings.baudRate ?? 9600,
      dataBits: this.settings.dataBits ?? 8,
      parity: this.settings.parity ?? 'none',
      stopBits: this.settings.stopBits ?? 1,
      autoOpen: false,
    });
    this.port = port;
    // A data listener keeps a read pending, which is what lets serialport notice an unplug.
    port.on('data', (b: Buffer) => this.dataCb?.(b));
    port.on('close', (err?: Error & { disconnected?: boolean }) => this.closeCb?.(err));
    port.on('error', () => undefined);
    return new Promise((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
  }

  write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new Error(`${this.uri}: not open`));
    return new Promise((resolve, reject) => {
      port.write(Buffer.from(bytes), (err) => (err ? reject(err) : port.drain(() => resolve())));
    });
  }

  close(): Promise<void> {
    const port = this.port;
    this.port = undefined;
    if (!port?.isOpen) return Promise.resolve();
    return new Promise((resolve) => port.close(() => resolve()));
  }

  onData(cb: (bytes: Uint8Array) => void): void {
    this.dataCb = cb;
  }

  onClose(cb: (err?: Error & { disconnected?: boolean }) => void): void {
    this.closeCb = cb;
  }
}
