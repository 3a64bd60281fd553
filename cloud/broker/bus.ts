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

export interface Bus {
  /** Human-readable description for logs and /healthz, e.g. `aedes :1883`. */
  readonly describe: string;
  subscribe(filter: string, handler: BusHandler): Promise<void>;
  publish(topic: string, payload: string | Buffer, opts?: PublishOptions): Promise<void>;
  /** True while the bus can deliver (the external broker connection is up). */
  readonly healthy: boolean;
  close(): Promise<void>;
}
