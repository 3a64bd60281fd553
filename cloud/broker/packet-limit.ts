/**
 * Packet limits for the embedded aedes, applied on the fixed header (issue 8, finding 4).
 *
 * aedes reads a connection with `conn.read(null)` and hands the bytes to its mqtt-packet parser,
 * which appends them to a buffer list until the whole packet announced by the remaining-length
 * field (up to 256 MB) has arrived: two anonymous sockets announcing 256 MB CONNECTs took the
 * cloud from 95 MB to 599 MB. As EMQX and Mosquitto do with `max_packet_size`, we refuse the packet
 * as soon as its remaining length is known, before buffering its body: the parser's length state
 * is wrapped per connection, and a refusal is a parser error, which makes aedes destroy the socket.
 *
 * - Every client: a packet over `maxPacketBytes` (`--max-packet-bytes`, default 1 MiB) is refused.
 * - Before CONNACK (not yet authenticated): at most `preAuthBytes` (default 4 KiB) in all, CONNECT
 *   included, so an unauthenticated socket never holds more than that plus one socket read.
 *
 * This touches aedes internals (`client._parser`, mqtt-packet's `_parseLength` state), pinned by
 * tests/cloud/broker/packet-limit.test.ts against the installed versions.
 */
import type { MqttDoorErrorCodes } from '../errors.js';

export interface PacketLimits {
  /** Largest packet (fixed header + remaining length), bytes. */
  maxPacketBytes: number;
  /** Most bytes a connection may send before it is authenticated. */
  preAuthBytes: number;
}

export const DEFAULT_MAX_PACKET_BYTES = 1024 * 1024;
export const DEFAULT_PRE_AUTH_BYTES = 4 * 1024;

interface ParserInternals {
  packet: { length: number; cmd?: string };
  _parseLength(): boolean;
  _emitError(err: Error): void;
}
interface ClientInternals {
  _parser?: ParserInternals;
}

export class PacketLimitError extends Error {
  constructor(
    readonly code: keyof typeof MqttDoorErrorCodes,
    message: string,
  ) {
    super(message);
  }
}

/** Counters for /healthz and tests. */
export interface PacketLimitStats {
  refusedTooLarge: number;
  refusedPreAuth: number;
}

/**
 * Wrap one aedes client's parser. Returns false when the internals are not where expected (an
 * aedes upgrade): the caller must then refuse to start rather than run unbounded.
 */
export function limitClientPackets(client: unknown, limits: PacketLimits, stats: PacketLimitStats, isAuthenticated: (client: unknown) => boolean): boolean {
  const c = client as ClientInternals;
  const parser = c._parser;
  if (!parser || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') return false;
  const parseLength = parser._parseLength;
  let preAuth = 0;
  parser._parseLength = function limitedParseLength(this: ParserInternals): boolean {
    const ok = parseLength.call(this);
    if (!ok) return ok;
    // Fixed header: 1 byte of type/flags + 1-4 bytes of remaining length.
    const total = this.packet.length + 2;
    // Authenticated = the authenticate hook accepted it (aedes sets `connected` only after the
    // CONNACK and its session restore, so a client publishing right after CONNACK would count as
    // unauthenticated by that flag).
    if (!isAuthenticated(client)) {
      preAuth += total;
      if (preAuth > limits.preAuthBytes) {
        stats.refusedPreAuth++;
        this._emitError(new PacketLimitError('SG_ERR_MQTT_PRE_AUTH_LIMIT', `${this.packet.cmd ?? 'packet'}: ${preAuth} bytes before authentication exceed ${limits.preAuthBytes}`));
        return false;
      }
    }
    if (total > limits.maxPacketBytes) {
      stats.refusedTooLarge++;
      this._emitError(new PacketLimitError('SG_ERR_MQTT_PACKET_TOO_LARGE', `${this.packet.cmd ?? 'packet'}: remaining length ${this.packet.length} exceeds --max-packet-bytes ${limits.maxPacketBytes}`));
      return false;
    }
    return ok;
  };
  return true;
}
