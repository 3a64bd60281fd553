import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ParsedMail, simpleParser } from 'mailparser';
import pino from 'pino';
import { SMTPServer } from 'smtp-server';
import { ulid } from 'ulid';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Alert } from '../../../cloud/alerts/alert-store.js';
import { alertEvent } from '../../../cloud/alerts/events.js';
import { SqliteAlertStore } from '../../../cloud/alerts/sqlite.js';
import { ChannelDispatcher } from '../../../cloud/channels/service.js';

/** Email channels over a real SMTP server (smtp-server on a free port), read back with mailparser. */
const log = pino({ level: 'silent' });

let dir: string;
let store: SqliteAlertStore;
let smtp: SMTPServer;
let port: number;
let mails: ParsedMail[];
let logins: Array<{ user: string; pass: string }>;
/** Reply to RCPT TO with this code (0 = accept). */
let refuse: number;
let clock: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-email-'));
  store = new SqliteAlertStore(join(dir, 'alerts.db'));
  clock = Date.now() + 60_000;
  mails = [];
  logins = [];
  refuse = 0;
  smtp = new SMTPServer({
    authOptional: true,
    // Plain SMTP on loopback: the test server has no certificate to offer.
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, cb) {
      logins.push({ user: auth.username ?? '', pass: auth.password ?? '' });
      if (auth.password !== 'smtp-password') return cb(new Error('bad credentials'));
      cb(null, { user: auth.username });
    },
    onRcptTo(_addr, _session, cb) {
      if (refuse) return cb(Object.assign(new Error(refuse >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: refuse }));
      cb();
    },
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then((m) => {
          mails.push(m);
          cb();
        })
        .catch(cb);
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', r));
  port = (smtp.server.address() as AddressInfo).port;
});

afterEach(async () => {
  await new Promise<void>((r) => smtp.close(() => r()));
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

async function emailChannel(lang: 'zh-CN' | 'en'): Promise<string> {
  const c = await store.channels.addChannel({
    id: ulid(),
    createdAt: new Date().toISOString(),
    type: 'email',
    smtp: { host: '127.0.0.1', port, secure: false, user: 'alerts@stockgate.test', from: 'alerts@stockgate.test', to: ['buyer@site.test', 'lead@site.test'] },
    secret: 'smtp-password',
    routes: { types: ['reorder', 'device-offline'], sites: ['depot-1'] },
    lang,
  });
  return c.id;
}

function alert(o: Partial<Alert>): Alert {
  return { id: ulid(), type: 'reorder', site: 'depot-1', key: 'PIPE-20', sku: 'PIPE-20', value: 12.5, threshold: 20, state: 'open', raisedAt: new Date().toISOString(), resolvedAt: null, ackedAt: null, ackedBy: null, ...o };
}

const dispatcher = () => new ChannelDispatcher(store.channels, log, { now: () => new Date(clock), gatherMs: 0, uomOf: async () => 'm' });

describe('email channel (SMTP with nodemailer)', () => {
  it('sends a digest in Chinese to every recipient, logging in with the channel secret; routes filter sites', async () => {
    const id = await emailChannel('zh-CN');
    await store.openAlert(alert({}), alertEvent(alert({}), 'opened', ulid()));
    const dev = alert({ type: 'device-offline', key: 'dock-1/scale1', sku: undefined as never, value: undefined as never, threshold: undefined as never, edge: 'dock-1', device: 'scale1' });
    await store.openAlert(dev, alertEvent(dev, 'opened', ulid()));
    const other = alert({ site: 'depot-2' });
    await store.openAlert(other, alertEvent(other, 'opened', ulid()));
    expect(await dispatcher().runOnce()).toBe(1);
    expect(mails).toHaveLength(1);
    const m = mails[0]!;
    expect(logins).toEqual([{ user: 'alerts@stockgate.test', pass: 'smtp-password' }]);
    expect(m.subject).toBe('[stockgate] 2 条告警');
    expect(m.from?.text).toBe('alerts@stockgate.test');
    expect((Array.isArray(m.to) ? m.to : [m.to]).flatMap((t) => t!.value.map((v) => v.address))).toEqual(['buyer@site.test', 'lead@site.test']);
    expect(m.text).toContain('达到再订货点 · 站点 depot-1 · SKU PIPE-20 · 现有 12.5 m，再订货点 20 m');
    expect(m.text).toContain('设备离线 · 站点 depot-1 · 网关 dock-1 · 设备 scale1');
    expect(m.text).not.toContain('depot-2');
    expect(m.text).not.toContain('**');
    expect((await store.channels.listDeliveries({ channelId: id, limit: 10 })).map((d) => d.state)).toEqual(['delivered', 'delivered']);
  });

  it('SMTP 4xx is retried, 5xx fails the delivery', async () => {
    const id = await emailChannel('en');
    const d = dispatcher();
    refuse = 451;
    await store.openAlert(alert({}), alertEvent(alert({}), 'opened', ulid()));
    await d.runOnce();
    expect(await store.channels.listDeliveries({ channelId: id, limit: 10 })).toMatchObject([{ state: 'pending', attempts: 1, lastErrorCode: 'SMTP_451' }]);
    refuse = 0;
    clock += 1000;
    await d.runOnce();
    expect(mails.map((m) => m.subject)).toEqual(['[stockgate] Reorder point reached depot-1 PIPE-20']);
    refuse = 550;
    const b = alert({ key: 'B', sku: 'B' });
    await store.openAlert(b, alertEvent(b, 'opened', ulid()));
    clock += 1000;
    await d.runOnce();
    expect((await store.channels.listDeliveries({ channelId: id, limit: 10 }))[0]).toMatchObject({ state: 'failed', attempts: 1, lastErrorCode: 'SMTP_550' });
  });
});
