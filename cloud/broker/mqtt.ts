import mqtt, { type MqttClient } from 'mqtt';
import type { Bus, BusHandler, PublishOptions } from './bus.js';

export interface ExternalBrokerOptions {
  /** mqtt://HOST:PORT or mqtts://... */
  url: string;
  /**
   * Client id. Keep it stable per ingester instance: with a persistent session (clean: false)
   * the broker queues QoS 1 movements for this ingester while it restarts.
   */
  clientId: string;
  username?: string;
  password?: string;
  /**
   * Clean session instead of the persistent one. Members of a shared subscription group use it:
   * Mosquitto (2.0) keeps routing a share of the group's messages to a disconnected persistent
   * member and queues them there until that client id comes back; a clean member leaves the group
   * when its connection drops, so the survivors take all new messages. Default false.
   */
  clean?: boolean;
  /** MQTT keepalive, seconds: a dead connection is noticed after 1.5x this. Default 60 (MQTT.js). */
  keepalive?: number;
}

/**
 * An external broker (Mosquitto, EMQX) through MQTT.js. MQTT.js reconnects on its own here:
 * the cloud holds no outgoing state worth replaying (acks are re-derived from the ledger when an
 * edge resends), and subscriptions are restored by the persistent session or by `resubscribe`.
 */
export class ExternalBroker implements Bus {
  readonly describe: string;
  private readonly handlers: Array<{ filter: string; re: RegExp; handler: BusHandler }> = [];

  private constructor(private readonly client: MqttClient, url: string) {
    this.describe = `external broker ${url.replace(/\/\/[^@/]*@/, '//')}`;
    client.on('message', (topic, payload) => {
      for (const h of this.handlers) if (h.re.test(topic)) h.handler(topic, payload);
    });
  }

  get healthy(): boolean {
    return this.client.connected;
  }

  static async connect(opts: ExternalBrokerOptions): Promise<ExternalBroker> {
    const client = mqtt.connect(opts.url, {
      clientId: opts.clientId,
      clean: opts.clean ?? false,
      ...(opts.keepalive !== undefined ? { keepalive: opts.keepalive } : {}),
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
      username: opts.username,
      password: opts.password,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', (err) => {
        client.end(true);
        reject(err);
      });
    });
    return new ExternalBroker(client, opts.url);
  }

  async subscribe(filter: string, handler: BusHandler): Promise<void> {
    this.handlers.push({ filter, re: filterToRegExp(filter), handler });
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  }

  async close(): Promise<void> {
    // Forced: a QoS 1 message still arriving while a graceful end runs makes MQTT.js write its
    // PUBACK after the end (an uncaught "write after end"). The ingester has drained before this,
    // and not unsubscribing keeps the persistent session queueing movements until we are back.
    await this.client.endAsync(true);
  }
}

/** MQTT topic filter -> RegExp; a `$share/group/` prefix is not part of the matched topic. */
export function filterToRegExp(filter: string): RegExp {
  const f = filter.replace(/^\$share\/[^/]+\//, '');
  const parts = f.split('/').map((p) => (p === '+' ? '[^/]+' : p === '#' ? '.*' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp(`^${parts.join('/')}$`);
}
