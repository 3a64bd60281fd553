/**
 * The cloud's view of MQTT: subscribe and publish, nothing else. Two implementations:
 * `aedes.ts` (embedded broker, messages delivered in-process) and `mqtt.ts` (an external broker
 * such as Mosquitto or EMQX, through MQTT.js). Ingestion and alerts see only this interface.
 */
/**
 * `settle(true)` when the message is done with (for movements: after the ledger commit), `false`
 * when it should come again. Only the external broker uses it: it sends the QoS 1 PUBACK on
 * `settle(true)` (issue 8, finding 2); aedes has acked before delivery, and QoS 0 has no ack.
 * A handler that never calls it holds one of the broker's in-flight slots.
 */
export type BusHandler = (topic: string, payload: Buffer, settle: (ok: boolean) => void) => void;

export interface PublishOptions {
  /** Default 1. */
  qos?: 0 | 1;
  /** Default false. */
  retain?: boolean;
}

export interface SubscribeOptions {
  /**
   * Flow control, asked with the topic of each message published to the subscription's filter,
   * before it is delivered. While it returns a promise, the embedded broker reads no more from the
   * publishing client's socket (TCP then pushes back on the publisher) until the promise resolves;
   * the message it was asked for is still delivered. The ingester returns one while the publishing
   * edge, or the whole queue, is over its bound (`IngesterOptions.maxQueuedPerEdge`,
   * `maxQueuedMovements`). The other buses ignore it: they have their own bound, an external
   * broker's QoS 1 in-flight window (its PUBACK waits for `settle`) and NATS's consumer (max ack
   * pending).
   */
  backpressure?: (topic: string) => Promise<void> | undefined;
}

export interface Bus {
  /** Human-readable description for logs and /healthz, e.g. `aedes :1883`. */
  readonly describe: string;
  subscribe(filter: string, handler: BusHandler, opts?: SubscribeOptions): Promise<void>;
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  /** True while the bus can deliver (the external broker connection is up). */
  readonly healthy: boolean;
  close(): Promise<void>;
}
