import type { Transport } from './transport.js';

/** Callbacks of {@link tapTransport}. */
export interface Tap {
  /** Bytes from the device, as they arrive. */
  rx?(bytes: Uint8Array): void;
  /** Bytes written to the device (commands, polls). */
  tx?(bytes: Uint8Array): void;
}

/**
 * A transport that passes everything through and shows a copy of each chunk to `tap`: what
 * `stockgate devices record` captures. The driver above it runs unchanged (polling included).
 */
export function tapTransport(inner: Transport, tap: Tap): Transport {
  const t: Transport = {
    uri: inner.uri,
    open: () => inner.open(),
    close: () => inner.close(),
    write: (bytes) => {
      tap.tx?.(Uint8Array.from(bytes));
      return inner.write(bytes);
    },
    onData: (cb) =>
      inner.onData((bytes) => {
        tap.rx?.(Uint8Array.from(bytes));
        cb(bytes);
      }),
    onClose: (cb) => inner.onClose(cb),
  };
  if (inner.sendFeatureReport) t.sendFeatureReport = (bytes) => inner.sendFeatureReport!(bytes);
  return t;
}
