/**
 * The abstract contract of the CredentialStore (API tokens, MQTT users): SQLite and PostgreSQL
 * run it unchanged; only the harness differs. Two instances opened by one harness share one
 * database, as two processes do (`stockgate admin init` beside a running cloud; two ingesters on
 * one PostgreSQL schema).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialError, type CredentialStore } from '../../cloud/auth/credential-store.js';
import { deriveAckKey } from '../../protocols/mqtt/index.js';

export interface CredentialStoreHarness {
  /** Open a store on this test's database (again: another "process" on the same data). */
  open(): Promise<CredentialStore>;
  /** Every byte the backend keeps of the credentials, as text (to look for secrets in it). */
  storedText(): Promise<string>;
  /** Close whatever is still open and drop the database. */
  destroy(): Promise<void>;
}

export function credentialStoreContract(name: string, makeHarness: () => CredentialStoreHarness | Promise<CredentialStoreHarness>): void {
  describe(`CredentialStore contract: ${name}`, () => {
    let h: CredentialStoreHarness | undefined;
    const harness = async () => (h = await makeHarness());
    afterEach(async () => {
      await h?.destroy();
      h = undefined;
    });

    it('issues, verifies and revokes tokens; stores only a hash', async () => {
      const s = await (await harness()).open();
      const { token, record } = await s.issueToken({ name: 'board', roles: ['operator'], sites: ['s1'] });
      expect(token).toMatch(/^sgt_[0-9a-f]{16}_/);
      expect(record).toMatchObject({ name: 'board', roles: ['operator'], sites: ['s1'] });
      expect(await s.verifyToken(token)).toMatchObject({ id: record.id, roles: ['operator'], sites: ['s1'] });

      const secret = token.split('_').slice(2).join('_');
      const stored = await h!.storedText();
      expect(stored).toContain(record.id);
      expect(stored).not.toContain(secret);

      // Same id, other secret; malformed; unknown.
      expect(await s.verifyToken(`sgt_${record.id}_${'A'.repeat(43)}`)).toBeUndefined();
      expect(await s.verifyToken(token.slice(0, -1))).toBeUndefined();
      expect(await s.verifyToken('')).toBeUndefined();

      expect(await s.revokeToken(record.id)).toBe(true);
      expect(await s.verifyToken(token)).toBeUndefined();
      expect(await s.revokeToken(record.id)).toBe(false);
      expect(await s.revokeToken('nope')).toBe(false);
      expect((await s.listTokens())[0]).toMatchObject({ id: record.id, revokedAt: expect.any(String) });
    });

    it('lists tokens oldest first, with their sites only when scoped', async () => {
      const s = await (await harness()).open();
      const a = await s.issueToken({ name: 'a', roles: ['finance'] });
      await new Promise((r) => setTimeout(r, 2));
      const b = await s.issueToken({ name: 'b', roles: ['operator', 'maintenance'], sites: ['s2', 's1'] });
      const list = await s.listTokens();
      expect(list.map((t) => t.id)).toEqual([a.record.id, b.record.id]);
      expect(list[0]).not.toHaveProperty('sites');
      expect(list[0]).not.toHaveProperty('revokedAt');
      expect(list[1]).toMatchObject({ roles: ['operator', 'maintenance'], sites: ['s2', 's1'] });
    });

    it('admin init: once, then refuses; --rotate replaces the token', async () => {
      const s = await (await harness()).open();
      expect(await s.hasAdminToken()).toBe(false);
      const first = await s.initAdmin();
      expect(await s.hasAdminToken()).toBe(true);
      expect((await s.verifyToken(first.token))?.roles).toEqual(['admin']);

      const err = await s.initAdmin().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CredentialError);
      expect(err).toMatchObject({ code: 'SG_ERR_ALREADY_INITIALISED', message: expect.stringContaining('--rotate') });
      expect(await s.verifyToken(first.token)).toBeDefined();

      const second = await s.initAdmin({ rotate: true });
      expect(second.token).not.toBe(first.token);
      expect(await s.verifyToken(first.token)).toBeUndefined();
      expect(await s.verifyToken(second.token)).toBeDefined();

      // Revoking the only admin token leaves none; init still refuses without --rotate.
      await s.revokeToken(second.record.id);
      expect(await s.hasAdminToken()).toBe(false);
      await expect(s.initAdmin()).rejects.toMatchObject({ code: 'SG_ERR_ALREADY_INITIALISED' });
    });

    it('two admin inits at once (two processes): exactly one token', async () => {
      const hh = await harness();
      const [a, b] = [await hh.open(), await hh.open()];
      const results = await Promise.allSettled([a.initAdmin(), b.initAdmin(), a.initAdmin(), b.initAdmin()]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'SG_ERR_ALREADY_INITIALISED' });
      expect((await a.listTokens()).filter((t) => t.roles.includes('admin'))).toHaveLength(1);
    });

    it('what one process issues or revokes applies at once in another', async () => {
      const hh = await harness();
      const [cloud, cli] = [await hh.open(), await hh.open()];
      const { token, record } = await cli.initAdmin();
      expect(await cloud.verifyToken(token)).toMatchObject({ id: record.id });
      expect(await cloud.hasAdminToken()).toBe(true);
      const u = await cloud.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
      expect(await cli.verifyMqttUser(u.username, u.password)).toMatchObject({ role: 'edge' });
      await cli.revokeToken(record.id);
      expect(await cloud.verifyToken(token)).toBeUndefined();
      const rotated = await cli.rotateMqttUser(u.username);
      expect(await cloud.verifyMqttUser(u.username, u.password)).toBeUndefined();
      expect(await cloud.verifyMqttUser(u.username, rotated!.password)).toBeDefined();
    });

    it('edge credentials: verify, conflict, rotate (old stops working), revoke', async () => {
      const s = await (await harness()).open();
      const { username, password } = await s.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
      expect(username).toBe('s1/e1');
      expect(password).toHaveLength(43);
      expect(await s.verifyMqttUser(username, password)).toMatchObject({ role: 'edge', username, site: 's1', edge: 'e1', createdAt: expect.any(String) });
      expect(await s.verifyMqttUser(username, 'wrong')).toBeUndefined();
      expect(await s.verifyMqttUser('s1/e2', password)).toBeUndefined();
      expect(await h!.storedText()).not.toContain(password);

      await expect(s.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' })).rejects.toMatchObject({ code: 'SG_ERR_CONFLICT' });
      expect(await s.verifyMqttUser(username, password)).toBeDefined();

      const rotated = await s.rotateMqttUser(username);
      expect(rotated?.username).toBe(username);
      expect(rotated?.password).not.toBe(password);
      expect(await s.verifyMqttUser(username, password)).toBeUndefined();
      expect(await s.verifyMqttUser(username, rotated!.password)).toMatchObject({ rotatedAt: expect.any(String) });
      expect(await s.rotateMqttUser('s1/nope')).toBeUndefined();
      expect(await s.getMqttUser(username)).toMatchObject({ role: 'edge', edge: 'e1', rotatedAt: expect.any(String) });
      expect(await s.getMqttUser('s1/nope')).toBeUndefined();

      expect(await s.revokeMqttUser(username)).toBe(true);
      expect(await s.verifyMqttUser(username, rotated!.password)).toBeUndefined();
      expect(await s.revokeMqttUser(username)).toBe(false);
      // Revoked: the same edge can be enrolled again, with a new password.
      const again = await s.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
      expect(await s.verifyMqttUser(username, rotated!.password)).toBeUndefined();
      expect(await s.verifyMqttUser(username, again.password)).toBeDefined();
    });

    it('the same edge enrolled by two processes at once: one wins, the other gets SG_ERR_CONFLICT', async () => {
      const hh = await harness();
      const [a, b] = [await hh.open(), await hh.open()];
      const results = await Promise.allSettled([a.createMqttUser({ role: 'edge', site: 's1', edge: 'race' }), b.createMqttUser({ role: 'edge', site: 's1', edge: 'race' })]);
      const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<CredentialStore['createMqttUser']>>> => r.status === 'fulfilled');
      expect(ok).toHaveLength(1);
      expect(results.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'SG_ERR_CONFLICT' } });
      expect(await b.verifyMqttUser('s1/race', ok[0]!.value.password)).toBeDefined();
    });

    it('alerts users: one per request, read-only role, listed by site then name', async () => {
      const s = await (await harness()).open();
      const a = await s.createMqttUser({ role: 'alerts', site: 's1' });
      const b = await s.createMqttUser({ role: 'alerts', site: 's1' });
      const e = await s.createMqttUser({ role: 'edge', site: 's0', edge: 'e1' });
      expect(a.username).toMatch(/^alerts\.s1\.[0-9a-f]{8}$/);
      expect(a.username).not.toBe(b.username);
      expect(await s.verifyMqttUser(a.username, a.password)).toMatchObject({ role: 'alerts', site: 's1' });
      expect(await s.verifyMqttUser(a.username, b.password)).toBeUndefined();
      expect((await s.listMqttUsers()).map((u) => u.username)).toEqual([e.username, ...[a.username, b.username].sort()]);
      expect((await s.listMqttUsers())[1]).not.toHaveProperty('edge');
    });

    it('ack keys: stored at create and rotation, learnt only when missing, shared between processes', async () => {
      const hh = await harness();
      const [a, b] = [await hh.open(), await hh.open()];
      const u = await a.createMqttUser({ role: 'edge', site: 's1', edge: 'k1' });
      expect(await b.getAckKey(u.username)).toEqual(deriveAckKey(u.password));
      // A create or rotation stored the key: learning never overwrites it.
      expect(await b.learnAckKey(u.username, Buffer.alloc(32, 1))).toBe(false);
      const r = await b.rotateMqttUser(u.username);
      expect(await a.getAckKey(u.username)).toEqual(deriveAckKey(r!.password));
      expect(await a.getAckKey('s1/nobody')).toBeUndefined();
      expect(await a.learnAckKey('s1/nobody', Buffer.alloc(32, 1))).toBe(false);
    });

    it('survives a reopen', async () => {
      const hh = await harness();
      const first = await hh.open();
      const { username, password } = await first.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
      const { token } = await first.initAdmin();
      await first.close();
      const s = await hh.open();
      expect(await s.verifyMqttUser(username, password)).toBeDefined();
      expect(await s.verifyToken(token)).toBeDefined();
    });
  });
}
