import mqtt, { type MqttClient } from 'mqtt';
import type { Bus, BusHandler, PublishOptions } from './bus.js';
import { filterToRegExp } from './topic-filter.js';

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

interface Held {
  topic: string;
  payload: Buffer;
  settle: (ok: boolean) => void;
}

/**
 * An external broker (Mosquitto, EMQX) through MQTT.js. MQTT.js reconnects on its own here:
 * the cloud holds no outgoing state worth replaying (acks are re-derived from the ledger when an
 * edge resends), and subscriptions are restored by the persistent session or by `resubscribe`.
 *
 * Issue 8, finding 2: with a persistent session the broker sends what it queued for us right after
 * CONNACK, before the ingester has subscribed; MQTT.js used to PUBACK those at once with no handler
 * listening, so they were lost. Now:
 * - the message hook is installed before CONNECT is even sent, and a message no handler matches
 *   yet is held (not acked) until `subscribe` registers one or `ready()` says none will come;
 * - a QoS 1 PUBACK is sent only when the handler settles the message (the ingester: after the
 *   ledger commit), so whatever a killed ingester had not committed is redelivered. MQTT.js hands
 *   us one packet at a time and writes the PUBACK when `handleMessage` calls back; we call back at
 *   once with a marker that makes it skip its own PUBACK (its handler then just reads the next
 *   packet, so many messages can wait for one group commit) and write the PUBACK ourselves, on the
 *   same connection only: after a reconnect the broker redelivers and the ledger deduplicates.
 */
export class ExternalBroker implements Bus {
  readonly describe: string;
  private readonly handlers: Array<{ filter: string; re: RegExp; handler: BusHandler }> = [];
  private held: Held[] = [];
  private isReady = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  /** Messages held because no handler matched yet, PUBACKs sent after settle, redeliveries forced. */
  readonly stats = { held: 0, pubacks: 0, unsettled: 0, forcedReconnects: 0 };

  private constructor(private readonly client: MqttClient, url: string) {
    this.describe = `external broker ${url.replace(/\/\/[^@/]*@/, '//')}`;
    client.handleMessage = (packet, callback) => {
      const stream = client.stream;
      const { topic, payload, qos, messageId } = packet;
      let settled = false;
      const settle = (ok: boolean) => {
        if (settled) return;
        settled = true;
        if (qos !== 1) return;
        if (!ok) {
          this.stats.unsettled++;
          this.forceRedelivery();
          return;
        }
        // A PUBACK belongs to the connection that delivered the message.
        if (client.stream !== stream || !client.connected || messageId === undefined) return;
        this.stats.pubacks++;
        (client as unknown as { _sendPacket(p: object, cb?: () => void): void })._sendPacket({ cmd: 'puback', messageId });
      };
      this.dispatch({ topic, payload: payload as Buffer, settle });
      // Non-null: MQTT.js skips its own PUBACK and goes on with the next packet (handlers/publish.ts).
      callback(qos === 1 ? SKIP_AUTO_ACK : undefined);
    };
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
    // Synchronously after mqtt.connect: the socket is not even open yet, so the hook is in place
    // before the broker can send the first queued message.
    const bus = new ExternalBroker(client, opts.url);
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => {
        client.off('connect', onConnect);
        client.end(true);
        reject(err);
      };
      // The start-up error handler must go once connected: MQTT.js emits 'error' for every failed
      // reconnect (ECONNREFUSED while the broker restarts), and this one ended the client for good,
      // so the cloud never came back after a broker restart (issue 14 §4, found by `npm run chaos`).
      const onConnect = () => {
        client.off('error', onError);
        resolve();
      };
      client.once('connect', onConnect);
      client.once('error', onError);
    });
    // Later errors are reconnect attempts: MQTT.js keeps retrying every reconnectPeriod.
    client.on('error', () => undefined);
    return bus;
  }

  private dispatch(m: Held): void {
    let matched = false;
    for (const h of this.handlers) {
      if (!h.re.test(m.topic)) continue;
      matched = true;
      h.handler(m.topic, m.payload, m.settle);
    }
    if (matched) return;
    if (this.isReady) return m.settle(true);
    // Not yet subscribed: hold it. QoS 1 is bounded by the broker's in-flight window (we have
    // not acked); QoS 0 (telemetry) beyond the bound is dropped, as QoS 0 may be.
    if (this.held.length >= 10_000) return m.settle(true);
    this.stats.held++;
    this.held.push(m);
  }

  async subscribe(filter: string, handler: BusHandler): Promise<void> {
    const re = filterToRegExp(filter);
    this.handlers.push({ filter, re, handler });
    const mine = this.held.filter((m) => re.test(m.topic));
    if (mine.length) {
      this.held = this.held.filter((m) => !re.test(m.topic));
      for (const m of mine) handler(m.topic, m.payload, m.settle);
    }
    await this.client.subscribeAsync(filter, { qos: 1 });
  }

  /** Every subscription is in place: messages no handler matches are acked and dropped from now on. */
  ready(): void {
    this.isReady = true;
    const rest = this.held;
    this.held = [];
    for (const m of rest) m.settle(true);
  }

  /**
   * A message could not be committed: drop the connection (once, after a second) so that the
   * broker redelivers every unacked message of the session on the reconnect; the ledger
   * deduplicates what had been applied meanwhile.
   */
  private forceRedelivery(): void {
    if (this.reconnectTimer) return;
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      this.stats.forcedReconnects++;
      this.client.stream?.destroy();
    }, 1000);
    this.reconnectTimer.unref();
  }

  async publish(topic: string, payload: string | Buffer, opts: PublishOptions = {}): Promise<void> {
    await this.client.publishAsync(topic, payload, { qos: opts.qos ?? 1, retain: opts.retain ?? false });
  }

  async close(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    // Forced: a QoS 1 message still arriving while a graceful end runs makes MQTT.js write its
    // PUBACK after the end (an uncaught "write after end"). The ingester has drained before this,
    // and not unsubscribing keeps the persistent session queueing movements until we are back.
    await this.client.endAsync(true);
  }
}

/** Passed to MQTT.js's `handleMessage` callback: any non-null value makes it skip its PUBACK. */
const SKIP_AUTO_ACK = Object.assign(new Error('PUBACK deferred until the ledger commit'), { code: 'SG_DEFERRED_ACK' });
