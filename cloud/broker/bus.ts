/**
 * The cloud's view of MQTT: subscribe and publish, nothing else. Two implementations:
 * `aedes.ts` (embedded broker, messages delivered in-process) and `mqtt.ts` (an external broker
 * such as Mosquitto or EMQX, through MQTT.js). Ingestion and alerts see only this interface.
 */
export type BusHandler = (topic: string, payload: Buffer) => void;

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
