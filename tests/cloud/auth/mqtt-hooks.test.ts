import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import pino from 'pino';
import { MqttAuth } from '../../../cloud/auth/mqtt-hooks.js';
import { authDbPath, SqliteCredentialStore } from '../../../cloud/auth/sqlite.js';
import { EmbeddedBroker } from '../../../cloud/broker/aedes.js';
import { topics } from '../../../protocols/mqtt/index.js';
import { tempDir, waitFor } from '../../helpers/procs.js';

/**
 * The broker hooks on a real embedded aedes with real MQTT.js clients over TCP: authentication,
 * ACL, connection and publish limits, revocation.
 */
describe('embedded broker with MqttAuth hooks', () => {
  let creds: SqliteCredentialStore;
  let broker: EmbeddedBroker;
  let auth: MqttAuth;
  let url: string;
  const logs: Array<Record<string, unknown>> = [];
  const clients: MqttClient[] = [];
  const received: Array<{ topic: string; payload: string }> = [];
  const users: Record<string, { username: string; password: string }> = {};

  const connect = async (o: IClientOptions = {}): Promise<MqttClient> => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...o });
    clients.push(c);
    return c;
  };
  const refusal = (o: IClientOptions) => connect(o).then(() => 'connected', (err: { code?: number }) => err.code);
  /** SUBACK codes per filter (MQTT.js rejects when any is 0x80; the packet still has them all). */
  const grants = (c: MqttClient, filters: string[]): Promise<number[]> =>
    c.subscribeAsync(filters).then(
      (g) => g.map((x) => x.qos),
      (err: { packet?: { granted?: number[] } }) => (err.packet?.granted ? err.packet.granted : Promise.reject(err)),
    );
  const closed = (c: MqttClient) =>
    new Promise<void>((resolve, reject) => {
      if (!c.connected) return resolve();
      const t = setTimeout(() => reject(new Error('the broker did not disconnect the client within 10 s')), 10_000);
      c.once('close', () => (clearTimeout(t), resolve()));
    });

  beforeAll(async () => {
    creds = new SqliteCredentialStore(authDbPath(tempDir('sg-hooks-')));
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
        cb();
      },
    });
    auth = new MqttAuth(creds, pino({ level: 'info' }, sink), { maxConnPerUser: 2, publishRate: 10, publishBurst: 20 });
    broker = await EmbeddedBroker.start({ port: 0, hooks: auth.hooks });
    url = `mqtt://127.0.0.1:${broker.port}`;
    await broker.subscribe('stockgate/v1/#', (topic, payload) => received.push({ topic, payload: payload.toString() }));
    for (const e of ['e1', 'e2', 'e3', 'e4', 'e5']) users[e] = await creds.createMqttUser({ role: 'edge', site: 's1', edge: e });
    users.alerts = await creds.createMqttUser({ role: 'alerts', site: 's1' });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    await broker?.close();
    await creds?.close();
  });

  it('refuses anonymous (5), unknown users and wrong passwords (4)', async () => {
    expect(await refusal({})).toBe(5);
    expect(await refusal({ username: 's1/e1', password: 'wrong' })).toBe(4);
    expect(await refusal({ username: 's1/e1' })).toBe(4);
    expect(await refusal({ username: 's1/nobody', password: users.e1!.password })).toBe(4);
    expect(await refusal({ ...users.e1 })).toBe('connected');
    expect(logs.some((l) => l.msg === 'mqtt connect refused: bad username or password' && l.username === 's1/e1')).toBe(true);
  });

  it('delivers an edge\'s own publishes and disconnects it for another edge\'s topic', async () => {
    const c = await connect({ ...users.e1 });
    await c.publishAsync(topics.telemetry('s1', 'e1'), 'own', { qos: 1 });
    await waitFor(() => received.some((r) => r.payload === 'own'), 'own telemetry');
    const gone = closed(c);
    c.publish(topics.movements('s1', 'e2'), 'forged', { qos: 1 });
    await gone;
    // The forged message never reached the in-process subscriber (the ingester's seat).
    await c.endAsync(true);
    const probe = await connect({ ...users.e2 });
    await probe.publishAsync(topics.telemetry('s1', 'e2'), 'after', { qos: 1 });
    await waitFor(() => received.some((r) => r.payload === 'after'), 'probe');
    expect(received.some((r) => r.payload === 'forged')).toBe(false);
    expect(logs.some((l) => l.msg === 'mqtt publish denied: client disconnected' && l.topic === topics.movements('s1', 'e2'))).toBe(true);
    await probe.endAsync();
  });

  it('grants SUBACK 128 for another edge\'s acks and delivers only the own ones', async () => {
    const c = await connect({ ...users.e3 });
    const got: string[] = [];
    c.on('message', (t) => got.push(t));
    expect(await grants(c, [topics.acks('s1', 'e3'), topics.acks('s1', 'e4'), 'stockgate/v1/s1/+/acks'])).toEqual([0, 128, 128]);
    // The cloud's own in-process publishes pass no client ACL.
    await broker.publish(topics.acks('s1', 'e4'), 'not yours');
    await broker.publish(topics.acks('s1', 'e3'), 'yours');
    await waitFor(() => got.includes(topics.acks('s1', 'e3')), 'own ack');
    expect(got).toEqual([topics.acks('s1', 'e3')]);
    await c.endAsync();
  });

  it('alerts users subscribe to their site\'s alerts and publish nothing', async () => {
    const c = await connect({ ...users.alerts });
    expect(await grants(c, ['stockgate/v1/s1/alerts/#', 'stockgate/v1/s2/alerts/#', 'stockgate/v1/s1/+/movements'])).toEqual([0, 128, 128]);
    const gone = closed(c);
    c.publish('stockgate/v1/s1/alerts/fake', 'x');
    await gone;
    expect(received.some((r) => r.topic === 'stockgate/v1/s1/alerts/fake')).toBe(false);
  });

  it('limits live connections per user and refuses another user\'s client id', async () => {
    const a = await connect({ ...users.e4, clientId: 'e4-a' });
    await connect({ ...users.e4, clientId: 'e4-b' });
    expect(await refusal({ ...users.e4, clientId: 'e4-c' })).toBe(3);
    expect(logs.some((l) => l.msg === 'mqtt connect refused: too many connections for this user' && l.username === 's1/e4')).toBe(true);
    await a.endAsync();
    await waitFor(() => auth.connections('s1/e4') === 1, 'slot freed');
    expect(await refusal({ ...users.e4, clientId: 'e4-c' })).toBe('connected');
    // e5 may not take over e4's client id (it would kick e4 off).
    expect(await refusal({ ...users.e5, clientId: 'e4-b' })).toBe(2);
  });

  it('disconnects a client over its publish rate and logs it', async () => {
    const c = await connect({ ...users.e5 });
    const gone = closed(c);
    for (let i = 0; i < 40; i++) c.publish(topics.telemetry('s1', 'e5'), `t${i}`, { qos: 0 });
    await gone;
    expect(logs.some((l) => l.msg === 'mqtt publish rate exceeded: client disconnected' && l.username === 's1/e5')).toBe(true);
    expect(received.filter((r) => r.topic === topics.telemetry('s1', 'e5')).length).toBeLessThanOrEqual(20);
  });

  it('publishes an edge\'s own will; a will on another edge\'s topic is dropped', async () => {
    const c = await connect({ ...users.e2, clientId: 'will-own', will: { topic: topics.status('s1', 'e2'), payload: Buffer.from('own-will'), qos: 1, retain: true } });
    const d = await connect({ ...users.e2, clientId: 'will-forged', will: { topic: topics.status('s1', 'e1'), payload: Buffer.from('forged-will'), qos: 1, retain: true } });
    c.stream.destroy();
    d.stream.destroy();
    await waitFor(() => received.some((r) => r.payload === 'own-will'), 'own will');
    await waitFor(() => logs.some((l) => l.msg === 'mqtt publish denied: client disconnected' && l.will === true), 'forged will denied');
    expect(received.some((r) => r.payload === 'forged-will')).toBe(false);
  });

  it('closes live connections on revocation; the old password then fails', async () => {
    const u = await creds.createMqttUser({ role: 'edge', site: 's1', edge: 'revoked' });
    const c = await connect({ ...u });
    const gone = closed(c);
    await creds.revokeMqttUser(u.username);
    expect(auth.disconnect(u.username)).toBe(1);
    await gone;
    expect(await refusal({ ...u })).toBe(4);
  });
});
