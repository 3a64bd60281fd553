import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { topics } from '../../../protocols/mqtt/index.js';
import { ROOT, tempDir, waitFor } from '../../helpers/procs.js';
import { freePort } from '../../../bench/free-port.js';

/**
 * The shipped deploy/mosquitto/{stockgate.conf,acl} on a real Mosquitto 2 (its own process on
 * free ports, not the shared one on 1883): the external-broker mode enforces the same policy as
 * the embedded broker.
 */
describe('deploy/mosquitto on a real Mosquitto', () => {
  let proc: ChildProcess;
  let plain: string;
  let tls: string;
  let ca: Buffer;
  let log = '';
  const clients: MqttClient[] = [];
  const pw = { cloud: 'cloud-pw', e1: 'e1-pw', e2: 'e2-pw', alerts: 'alerts-pw' };
  const alertsUser = 'alerts.s1.0a1b2c3d';

  const connect = async (url: string, o: IClientOptions) => {
    const c = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...(url.startsWith('mqtts') ? { ca } : {}), ...o });
    clients.push(c);
    return c;
  };
  const edge = (e: 'e1' | 'e2') => connect(tls, { username: `s1/${e}`, password: pw[e] });

  beforeAll(async () => {
    const dir = tempDir('sg-mosq-');
    for (const bin of ['mosquitto', 'mosquitto_passwd', 'openssl']) {
      if (spawnSync('sh', ['-c', `command -v ${bin} || test -x /usr/sbin/${bin}`]).status !== 0) throw new Error(`${bin} not found (apt-get install mosquitto openssl)`);
    }
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-days', '1']);
    if (r.status !== 0) throw new Error(`openssl: ${r.stderr}`);
    ca = readFileSync(join(dir, 'cert.pem'));

    const passwd = join(dir, 'passwd');
    writeFileSync(passwd, '', { mode: 0o600 });
    for (const [u, p] of [['stockgate-cloud', pw.cloud], ['s1/e1', pw.e1], ['s1/e2', pw.e2], [alertsUser, pw.alerts]] as const) {
      const x = spawnSync('mosquitto_passwd', ['-b', passwd, u, p]);
      if (x.status !== 0) throw new Error(`mosquitto_passwd: ${x.stderr}`);
    }
    // The shipped ACL plus one alerts reader, as cloud/README.md tells.
    const acl = join(dir, 'acl');
    writeFileSync(acl, `${readFileSync(join(ROOT, 'deploy/mosquitto/acl'), 'utf8')}\nuser ${alertsUser}\ntopic read stockgate/v1/s1/alerts/#\n`);

    const [p1, p2] = [await freePort(), await freePort()];
    const subst: Array<[string, string]> = [
      ['/etc/mosquitto/stockgate.passwd', passwd],
      ['/etc/mosquitto/stockgate.acl', acl],
      ['/etc/mosquitto/certs/stockgate.crt', join(dir, 'cert.pem')],
      ['/etc/mosquitto/certs/stockgate.key', join(dir, 'key.pem')],
      ['listener 1883 127.0.0.1', `listener ${p1} 127.0.0.1`],
      ['listener 8883', `listener ${p2} 127.0.0.1`],
    ];
    let conf = readFileSync(join(ROOT, 'deploy/mosquitto/stockgate.conf'), 'utf8');
    for (const [from, to] of subst) {
      expect(conf, from).toContain(from);
      conf = conf.replaceAll(from, to);
    }
    // As root Mosquitto would switch to user "mosquitto", which cannot read the temp files.
    writeFileSync(join(dir, 'mosquitto.conf'), `${conf}\nuser ${userInfo().username}\n`);
    proc = spawn('mosquitto', ['-c', join(dir, 'mosquitto.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (d: Buffer) => (log += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    plain = `mqtt://127.0.0.1:${p1}`;
    tls = `mqtts://127.0.0.1:${p2}`;
    await waitFor(() => connect(plain, { username: 'stockgate-cloud', password: pw.cloud }).then(() => true), 'mosquitto up', 10_000, 200).catch((err: Error) => {
      throw new Error(`${err.message}\nmosquitto log:\n${log}`);
    });
  });

  afterAll(async () => {
    for (const c of clients) c.end(true);
    proc?.kill();
  });

  it('refuses anonymous clients and wrong passwords', async () => {
    const code = (o: IClientOptions) => connect(tls, o).then(() => 'connected', (err: { code?: number }) => err.code);
    expect(await code({})).toBe(5);
    expect([4, 5]).toContain(await code({ username: 's1/e1', password: 'wrong' }));
  });

  it('lets an edge publish only under its own site/edge; the cloud receives only those', async () => {
    const cloud = await connect(plain, { username: 'stockgate-cloud', password: pw.cloud, clientId: 'cloud-ingester' });
    const got: Array<{ topic: string; payload: string }> = [];
    cloud.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await cloud.subscribeAsync(['$share/ingest/stockgate/v1/+/+/movements', 'stockgate/v1/+/+/status'], { qos: 1 });
    const e1 = await edge('e1');
    await e1.publishAsync(topics.movements('s1', 'e2'), 'forged-edge', { qos: 1 });
    await e1.publishAsync(topics.movements('s2', 'e1'), 'forged-site', { qos: 1 });
    await e1.publishAsync(topics.status('s1', 'e2'), 'forged-status', { qos: 1, retain: true });
    await e1.publishAsync(topics.movements('s1', 'e1'), 'own', { qos: 1 });
    await e1.publishAsync(topics.status('s1', 'e1'), 'own-status', { qos: 1, retain: true });
    await waitFor(() => got.some((g) => g.payload === 'own-status'), 'own publishes');
    expect(got.map((g) => g.payload).sort()).toEqual(['own', 'own-status']);
  });

  it('delivers to an edge only its own acks, whatever it subscribes to', async () => {
    const cloud = await connect(plain, { username: 'stockgate-cloud', password: pw.cloud });
    const e1 = await edge('e1');
    const seen: string[] = [];
    e1.on('message', (t) => seen.push(t));
    await e1.subscribeAsync([topics.acks('s1', 'e1'), topics.acks('s1', 'e2'), 'stockgate/v1/#'], { qos: 1 });
    await cloud.publishAsync(topics.acks('s1', 'e2'), 'not yours', { qos: 1 });
    await cloud.publishAsync(topics.acks('s1', 'e1'), 'yours', { qos: 1 });
    await waitFor(() => seen.length >= 1, 'own ack');
    await new Promise((r) => setTimeout(r, 300));
    expect([...new Set(seen)]).toEqual([topics.acks('s1', 'e1')]);
  });

  it('an alerts reader gets its site\'s alerts and cannot publish', async () => {
    const cloud = await connect(plain, { username: 'stockgate-cloud', password: pw.cloud });
    const reader = await connect(tls, { username: alertsUser, password: pw.alerts });
    const seen: string[] = [];
    reader.on('message', (_t, p) => seen.push(p.toString()));
    await reader.subscribeAsync(['stockgate/v1/+/alerts/#', 'stockgate/v1/+/+/movements'], { qos: 1 });
    await reader.publishAsync('stockgate/v1/s1/alerts/low-stock', 'forged-alert', { qos: 1 });
    await reader.publishAsync(topics.movements('s1', 'e1'), 'forged-movement', { qos: 1 });
    await cloud.publishAsync('stockgate/v1/s2/alerts/low-stock', 'other site', { qos: 1 });
    await cloud.publishAsync('stockgate/v1/s1/alerts/low-stock', 'real', { qos: 1 });
    await waitFor(() => seen.includes('real'), 'real alert');
    await new Promise((r) => setTimeout(r, 300));
    expect(seen).toEqual(['real']);
  });
});
