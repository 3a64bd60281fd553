import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { CredentialError } from '../../../cloud/auth/credential-store.js';
import { authDbPath, SqliteCredentialStore } from '../../../cloud/auth/sqlite.js';
import { tempDir } from '../../helpers/procs.js';

const open: SqliteCredentialStore[] = [];
function store(dir = tempDir('sg-auth-')): { s: SqliteCredentialStore; path: string } {
  const path = authDbPath(dir);
  const s = new SqliteCredentialStore(path);
  open.push(s);
  return { s, path };
}
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

/** Every byte of the database after a checkpoint, as latin1 text (to search for secrets). */
function fileText(path: string): string {
  const db = new Database(path);
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  return readFileSync(path).toString('latin1');
}

describe('SqliteCredentialStore: API tokens', () => {
  it('issues, verifies and revokes tokens; stores only a hash', async () => {
    const { s, path } = store();
    const { token, record } = await s.issueToken({ name: 'board', roles: ['operator'], sites: ['s1'] });
    expect(token).toMatch(/^sgt_[0-9a-f]{16}_/);
    expect(record).toMatchObject({ name: 'board', roles: ['operator'], sites: ['s1'] });
    expect(await s.verifyToken(token)).toMatchObject({ id: record.id, roles: ['operator'], sites: ['s1'] });

    const secret = token.split('_').slice(2).join('_');
    expect(fileText(path)).not.toContain(secret);

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

  it('admin init: once, then refuses; --rotate replaces the token', async () => {
    const { s } = store();
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

  it('a token issued by another process is valid at once (admin init while the cloud runs)', async () => {
    const dir = tempDir('sg-auth-');
    const { s: cloud } = store(dir);
    const { s: cli } = store(dir);
    const { token } = await cli.initAdmin();
    expect(await cloud.verifyToken(token)).toBeDefined();
    expect(statSync(authDbPath(dir)).mode & 0o777).toBe(0o600);
  });
});

describe('SqliteCredentialStore: MQTT users', () => {
  it('edge credentials: verify, conflict, rotate (old stops working), revoke', async () => {
    const { s, path } = store();
    const { username, password } = await s.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
    expect(username).toBe('s1/e1');
    expect(password).toHaveLength(43);
    expect(await s.verifyMqttUser(username, password)).toMatchObject({ role: 'edge', username, site: 's1', edge: 'e1' });
    expect(await s.verifyMqttUser(username, 'wrong')).toBeUndefined();
    expect(await s.verifyMqttUser('s1/e2', password)).toBeUndefined();
    expect(fileText(path)).not.toContain(password);

    await expect(s.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' })).rejects.toMatchObject({ code: 'SG_ERR_CONFLICT' });
    expect(await s.verifyMqttUser(username, password)).toBeDefined();

    const rotated = await s.rotateMqttUser(username);
    expect(rotated?.username).toBe(username);
    expect(rotated?.password).not.toBe(password);
    expect(await s.verifyMqttUser(username, password)).toBeUndefined();
    expect(await s.verifyMqttUser(username, rotated!.password)).toMatchObject({ rotatedAt: expect.any(String) });
    expect(await s.rotateMqttUser('s1/nope')).toBeUndefined();

    expect(await s.revokeMqttUser(username)).toBe(true);
    expect(await s.verifyMqttUser(username, rotated!.password)).toBeUndefined();
    expect(await s.revokeMqttUser(username)).toBe(false);
    // Revoked: the same edge can be enrolled again, with a new password.
    const again = await s.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
    expect(await s.verifyMqttUser(username, rotated!.password)).toBeUndefined();
    expect(await s.verifyMqttUser(username, again.password)).toBeDefined();
  });

  it('alerts users: one per request, read-only role, listed', async () => {
    const { s } = store();
    const a = await s.createMqttUser({ role: 'alerts', site: 's1' });
    const b = await s.createMqttUser({ role: 'alerts', site: 's1' });
    expect(a.username).toMatch(/^alerts\.s1\.[0-9a-f]{8}$/);
    expect(a.username).not.toBe(b.username);
    expect(await s.verifyMqttUser(a.username, a.password)).toMatchObject({ role: 'alerts', site: 's1' });
    expect(await s.verifyMqttUser(a.username, b.password)).toBeUndefined();
    expect((await s.listMqttUsers()).map((u) => u.role)).toEqual(['alerts', 'alerts']);
  });

  it('survives a reopen', async () => {
    const dir = tempDir('sg-auth-');
    const first = new SqliteCredentialStore(join(dir, 'auth.db'));
    const { username, password } = await first.createMqttUser({ role: 'edge', site: 's1', edge: 'e1' });
    const { token } = await first.initAdmin();
    await first.close();
    const { s } = store(dir);
    expect(await s.verifyMqttUser(username, password)).toBeDefined();
    expect(await s.verifyToken(token)).toBeDefined();
  });
});
